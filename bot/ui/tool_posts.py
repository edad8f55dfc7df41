"""Studio tools on Discord: running one for a member, and posting what it made where the track's remixes go.

The files land in the track's remix thread (opened on first use, or the channel when threads are off), so the
whole server can use them: stems and VOX as audio files, MIDI as a ``.mid``, the lyrics timeline as an ``.lrc``
posted beside the song's audio (players and the playground show it as karaoke), BPM as a line of text. Files that
do not fit the server's upload limit together are zipped, and linked when even the zip is too big. The member
gets an ephemeral answer saying where it went and what it cost. A richer style (upsample tags) is only for the
member: it comes back ephemerally, with a button that opens the compose form with it.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import discord

from bot.domain.errors import ConfirmationNeeded
from bot.domain.lyrics_timeline import LyricsAlignment, to_lrc
from bot.domain.models import Job, Operation, Track
from bot.domain.sonic import Bpm, Midi, Stem, Tool, UpsampledTags, VoxClip, WavFile
from bot.ui import render
from bot.ui.confirm import ask_to_confirm
from bot.ui.errors import reply_error
from bot.ui.flows import remix_channel, requester, start_job
from bot.ui.modals import compose_modal

if TYPE_CHECKING:
    from bot.client import Tunesmith
    from bot.ui.posts import TrackPosts

ZIP_NAME = "stems.zip"


def _extension(url: str, default: str) -> str:
    path = url.split("?", 1)[0].lower()
    return next((e for e in ("wav", "mp3", "m4a", "ogg", "flac", "mid", "midi") if path.endswith("." + e)), default)


async def pack_files(
    posts: TrackPosts, named: Sequence[tuple[str, str]], limit: int
) -> tuple[list[discord.File], list[tuple[str, str]]]:
    """Files by (filename, url) as one message can carry them: attached when all fit the upload limit together,
    else zipped when the zip fits, else none attached; returns the files and what is left to link."""
    fetched: list[tuple[str, str, bytes | None]] = []
    for name, url in named:
        fetched.append((name, url, await posts.fetch(url, limit)))
    got = [(name, data) for name, _, data in fetched if data is not None]
    missing = [(name, url) for name, url, data in fetched if data is None]
    if sum(len(data) for _, data in got) <= limit:
        return [discord.File(io.BytesIO(data), filename=name) for name, data in got], missing
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in got:
            archive.writestr(name, data)
    if buffer.tell() <= limit:
        buffer.seek(0)
        return [discord.File(buffer, filename=ZIP_NAME)], missing
    return [], [(name, url) for name, url, _ in fetched]


def links_text(links: Sequence[tuple[str, str]]) -> str:
    if not links:
        return ""
    lines = "\n".join(f"🔗 [{name}]({url})" for name, url in links[:20])
    return f"\nToo large to attach here:\n{lines}"


def stems_of(job: Job) -> list[Stem]:
    """The stems a stems job stored (its result)."""
    try:
        items = json.loads(job.result_text or "[]")
    except ValueError:
        return []
    return [Stem(name=str(i.get("name") or "Stem"), audio_url=str(i["url"])) for i in items if i.get("url")]


async def stems_message(
    posts: TrackPosts, job: Job, source: Track | None, limit: int
) -> tuple[str, list[discord.File]]:
    """The stems' post: one audio file per stem, named for the track and the stem."""
    tool = Tool(job.operation.value)
    stems = stems_of(job)
    named = [
        (render.tool_filename(source, stem.name, _extension(stem.audio_url, "wav")), stem.audio_url) for stem in stems
    ]
    files, links = await pack_files(posts, named, limit)
    from_track = job.parent_track_id is not None  # None as ``source``: deleted since (see render.source_name)
    text = f"{render.tool_headline(tool, source, job.user_id, from_track=from_track)}: {render.stems_names(stems)}"
    return text + links_text(links), files


async def tool_message(
    posts: TrackPosts, tool: Tool, result: Any, track: Track | None, user_id: int, limit: int
) -> tuple[str, list[discord.File]]:
    """What a tool's post says and carries."""
    headline = render.tool_headline(tool, track, user_id)
    detail = render.tool_result_text(result)
    text = f"{headline}: {detail}" if detail else headline
    named: list[tuple[str, str]] = []
    extra: list[discord.File] = []
    match result:
        case WavFile(url=url):
            named.append((render.tool_filename(track, "", _extension(url, "wav")), url))
        case Midi(url=url):
            named.append((render.tool_filename(track, "", "mid"), url))
        case VoxClip(audio_url=url) if url:
            named.append((render.tool_filename(track, "vocals", _extension(url, "wav")), url))
        case LyricsAlignment():
            named_track = track is not None and not track.deleted
            lrc = to_lrc(
                result,
                title=track.display_title if track is not None and named_track else None,
                length_s=track.duration_s if track else None,
            ).encode()
            extra.append(discord.File(io.BytesIO(lrc), filename=render.tool_filename(track, "", "lrc")))
            if track is not None and named_track and track.audio_url:
                # (Not the song of a track deleted meanwhile: its author took it down.)
                # The song beside its timeline, in one message: players (and the playground) pair them as karaoke.
                named.append((render.audio_filename(track, track.audio_url), track.audio_url))
                limit -= len(lrc)
        case Bpm() | UpsampledTags():
            pass
    files, links = await pack_files(posts, named, limit) if named else ([], [])
    return text + links_text(links), [*files, *extra]


async def run_tool(
    interaction: discord.Interaction[Tunesmith],
    tool: Tool | str,
    *,
    track_id: int | None = None,
    options: Mapping[str, Any] | None = None,
    confirmed_cost: int | None = None,
) -> None:
    """Run a studio tool for a member: stems as a job (status message in the track's thread), the others at once."""
    tool = Tool(tool)
    if tool.asynchronous:
        await start_job(
            interaction, tool.operation, dict(options or {}), track_id=track_id, confirmed_cost=confirmed_cost
        )
        return
    bot = interaction.client
    who = requester(interaction)
    if not interaction.response.is_done():
        await interaction.response.defer(ephemeral=True, thinking=True)
    try:
        answer = await bot.services.tools.run(
            who, tool, track_id=track_id, options=options, confirmed_cost=confirmed_cost
        )
    except ConfirmationNeeded as needed:
        args = {"tool": tool.value, "track_id": track_id, "options": dict(options or {})}
        await ask_to_confirm(interaction, who, needed, action="tool", args=args)
        return
    cost = render.credits_phrase(answer.cost)
    if isinstance(answer.result, UpsampledTags):
        view = discord.ui.View(timeout=None)
        if answer.job is not None:
            view.add_item(StyleButton(answer.job.id))
        await interaction.edit_original_response(
            content=f"✨ A richer style ({cost}):\n>>> {render.clip(answer.result.tags, 1800)}", view=view
        )
        return
    track = answer.track
    target = await remix_channel(bot, track, who.channel_id) if track is not None else who.channel_id
    text, files = await tool_message(
        bot.posts, tool, answer.result, track, who.user_id, bot.posts.upload_limit(who.guild_id)
    )
    await bot.get_partial_messageable(target, guild_id=who.guild_id).send(text, files=files)
    where = "here" if target == who.channel_id else f"in {render.channel(target)}"
    await interaction.edit_original_response(
        content=f"{render.TOOL_ICONS[tool]} {tool.label}: posted {where} ({cost})."
    )


class StyleButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=r"tunesmith:style:create:(?P<job>\d+)"):
    """Under a suggested richer style: opens the compose form with it (the suggestion is the job's stored answer)."""

    def __init__(self, job_id: int) -> None:
        super().__init__(
            discord.ui.Button(
                label="Create with this style",
                style=discord.ButtonStyle.primary,
                custom_id=f"tunesmith:style:create:{job_id}",
            )
        )
        self.job_id = job_id

    @classmethod
    async def from_custom_id(  # type: ignore[override]
        cls, interaction: discord.Interaction[Tunesmith], item: discord.ui.Button[Any], match: re.Match[str]
    ) -> StyleButton:
        return cls(int(match["job"]))

    async def callback(self, interaction: discord.Interaction[Tunesmith]) -> None:  # type: ignore[override]
        try:
            services = interaction.client.services
            tags = await services.tools.suggestion(requester(interaction).guild_id, self.job_id)
            services.catalog.ensure_available(Operation.CREATE)
            modal = compose_modal({"sound": tags}, dialect=services.catalog.dialect, lyrics_required=False)
            await interaction.response.send_modal(modal)
        except Exception as exc:
            await reply_error(interaction, exc)
