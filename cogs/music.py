"""/music: make songs, remix them, and browse what the server made. Thin: parse, call Services, render."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, Literal

import discord
from discord import app_commands
from discord.ext import commands

from bot.client import Tunesmith
from bot.domain.errors import InvalidRequest
from bot.domain.models import LYRICS_IDEA_MAX, LYRICS_MAX, PERSONA_NAME_MAX, TITLE_MAX, Operation
from bot.domain.sonic import VOX_RANGE_MAX_S, Tool
from bot.ui import render
from bot.ui.buttons import history_page, track_view
from bot.ui.choices import model_choices, persona_choices
from bot.ui.drafts import draft_lyrics
from bot.ui.flows import requester, save_persona, start_job
from bot.ui.modals import PersonaModal, compose_modal, remix_modal
from bot.ui.tool_posts import run_tool

log = logging.getLogger(__name__)

Interaction = discord.Interaction[Tunesmith]
Strength01 = app_commands.Range[float, 0.0, 1.0]
Strength02 = app_commands.Range[float, 0.2, 1.0]
# Sonic takes styles of up to 1000 characters (200 on its older models); the Producer's limit (199) is checked when
# the command arrives, with a message that names it.
STYLE_MAX = 1000
Style = app_commands.Range[str, 1, STYLE_MAX]
Title = app_commands.Range[str, 1, TITLE_MAX]
Seconds = app_commands.Range[float, 0.0, 3600.0]
UPLOAD_MAX_BYTES = 20 * 1024 * 1024
AUDIO_EXTENSIONS = (".mp3", ".wav", ".m4a", ".ogg", ".flac", ".aac", ".opus", ".webm")


def _age(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{int(seconds // size)}{unit} ago"
    return "just now"


async def track_autocomplete(interaction: Interaction, current: str) -> list[app_commands.Choice[int]]:
    """The server's tracks as ``title · author · age``, newest first, filtered by what was typed."""
    if interaction.guild_id is None:
        return []
    tracks = (await interaction.client.services.library.find(requester(interaction), current))[:25]
    guild = interaction.guild
    if guild is not None:
        # Without the (privileged) members intent the member cache is empty; asking for these ids by user id
        # needs no intent and caches them for the next keystrokes.
        missing = list({t.author_id for t in tracks if guild.get_member(t.author_id) is None})
        if missing:
            try:
                await asyncio.wait_for(guild.query_members(user_ids=missing, limit=100, cache=True), timeout=1.0)
            except (TimeoutError, discord.ClientException):
                log.warning("could not look up track authors for autocomplete", exc_info=True)
    now = time.time()
    choices = []
    for track in tracks:
        member = guild.get_member(track.author_id) if guild else None
        author = member.display_name if member else "a member"
        name = f"#{track.id} {track.display_title} · {author} · {_age(now - track.created_at.timestamp())}"
        choices.append(app_commands.Choice(name=render.clip(name, 100), value=track.id))
    return choices


async def job_autocomplete(interaction: Interaction, current: str) -> list[app_commands.Choice[int]]:
    """The caller's jobs still in the works."""
    if interaction.guild_id is None:
        return []
    jobs = await interaction.client.services.jobs.active_jobs(interaction.guild_id, interaction.user.id)
    return [
        app_commands.Choice(name=render.clip(f"#{j.id} {j.operation.label} · {j.state.value}", 100), value=j.id)
        for j in jobs
        if current.strip() in str(j.id)
    ][:25]


@app_commands.guild_only()
class Music(commands.GroupCog, group_name="music", group_description="Make songs together"):
    def __init__(self, bot: Tunesmith) -> None:
        self.bot = bot
        super().__init__()

    async def _remix(
        self, interaction: Interaction, operation: Operation, track: int, values: dict[str, Any], form: bool
    ) -> None:
        """Start a remix at once, or open its form (pre-filled from the track and the options) for lyrics."""
        if form:
            services = interaction.client.services
            services.catalog.ensure_available(operation)
            parent = await services.library.track(requester(interaction), track)
            modal = remix_modal(operation, parent, services.catalog.dialect)
            for key, value in values.items():
                if value is not None and key in modal.inputs:
                    modal.inputs[key].default = f"{value:g}" if isinstance(value, float) else str(value)
            await interaction.response.send_modal(modal)
            return
        await start_job(interaction, operation, values, track_id=track)

    @app_commands.command(name="create", description="Make a song from a style description")
    @app_commands.describe(
        prompt="The style: genre, mood, instruments, voice",
        title="A title for the song",
        instrumental="No vocals",
        model="Which model to use",
        seed="Same seed, same result",
        lyrics_strength="How closely to follow lyrics (0–1)",
        sound_strength="How closely to follow the style (0.2–1)",
        weirdness="0 conventional … 1 experimental",
        cover_url="A link to cover art to use",
        persona="Sung by a voice saved in this server (/music persona save)",
    )
    @app_commands.autocomplete(model=model_choices)
    @app_commands.autocomplete(persona=persona_choices)
    async def create(
        self,
        interaction: Interaction,
        prompt: Style,
        title: Title | None = None,
        instrumental: bool = False,
        model: str | None = None,
        seed: app_commands.Range[str, 1, 64] | None = None,
        lyrics_strength: Strength01 | None = None,
        sound_strength: Strength02 | None = None,
        weirdness: Strength01 | None = None,
        cover_url: app_commands.Range[str, 1, 1000] | None = None,
        persona: int | None = None,
    ) -> None:
        """Make a song from a style description."""
        await start_job(
            interaction,
            Operation.CREATE,
            {
                "sound": prompt,
                "title": title,
                "instrumental": instrumental,
                "model": model,
                "seed": seed,
                "lyrics_strength": lyrics_strength,
                "sound_strength": sound_strength,
                "weirdness": weirdness,
                "cover_url": cover_url,
            },
            persona=persona,
        )

    @app_commands.command(name="compose", description="Write a song with your own lyrics (opens a form)")
    @app_commands.describe(
        model="Which model to use",
        instrumental="No vocals",
        seed="Same seed, same result",
        persona="Sung by a voice saved in this server",
    )
    @app_commands.autocomplete(model=model_choices)
    @app_commands.autocomplete(persona=persona_choices)
    async def compose(
        self,
        interaction: Interaction,
        model: str | None = None,
        instrumental: bool = False,
        seed: app_commands.Range[str, 1, 64] | None = None,
        persona: int | None = None,
    ) -> None:
        """Write a song with your own lyrics (opens a form)."""
        catalog = interaction.client.services.catalog
        catalog.ensure_available(Operation.CREATE)
        extra = {k: v for k, v in {"model": model, "instrumental": instrumental, "seed": seed}.items() if v}
        await interaction.response.send_modal(compose_modal(extra=extra, dialect=catalog.dialect, persona=persona))

    @app_commands.command(name="extend", description="Continue a track from a point in time")
    @app_commands.describe(
        track="The track to continue",
        at="Continue from this second",
        prompt="Style of the new part",
        lyrics="Open a form to write lyrics for the new part",
    )
    @app_commands.autocomplete(track=track_autocomplete)
    async def extend(
        self,
        interaction: Interaction,
        track: int,
        at: Seconds | None = None,
        prompt: Style | None = None,
        lyrics: bool = False,
    ) -> None:
        """Continue a track from a point in time."""
        await self._remix(interaction, Operation.EXTEND, track, {"starts_at": at, "sound": prompt}, lyrics)

    @app_commands.command(name="cover", description="The same song in another style")
    @app_commands.describe(
        track="The track to cover",
        prompt="The new style",
        strength="0.2 subtle … 1 dramatic",
        lyrics="Open a form to change the lyrics",
    )
    @app_commands.autocomplete(track=track_autocomplete)
    async def cover(
        self,
        interaction: Interaction,
        track: int,
        prompt: Style | None = None,
        strength: Strength02 | None = None,
        lyrics: bool = False,
    ) -> None:
        """The same song in another style."""
        values = {"sound": prompt, "cover_strength": strength}
        await self._remix(interaction, Operation.COVER, track, values, lyrics)

    @app_commands.command(name="replace", description="Regenerate one section of a track")
    @app_commands.describe(
        track="The track to change",
        start="Section start (seconds)",
        end="Section end (seconds; blank = the end)",
        prompt="Style of the new section",
        lyrics="Open a form to write the section's lyrics",
    )
    @app_commands.autocomplete(track=track_autocomplete)
    async def replace(
        self,
        interaction: Interaction,
        track: int,
        start: Seconds,
        end: Seconds | None = None,
        prompt: Style | None = None,
        lyrics: bool = False,
    ) -> None:
        """Regenerate one section of a track."""
        values = {"starts_at": start, "ends_at": end, "sound": prompt}
        await self._remix(interaction, Operation.REPLACE, track, values, lyrics)

    @app_commands.command(name="variation", description="Another take of the same idea")
    @app_commands.describe(track="The track to vary", model="Which model to use", seed="Same seed, same result")
    @app_commands.autocomplete(track=track_autocomplete)
    @app_commands.autocomplete(model=model_choices)
    async def variation(
        self,
        interaction: Interaction,
        track: int,
        model: str | None = None,
        seed: app_commands.Range[str, 1, 64] | None = None,
    ) -> None:
        """Another take of the same idea."""
        await start_job(interaction, Operation.VARIATION, {"model": model, "seed": seed}, track_id=track)

    @app_commands.command(name="swap-vocals", description="New vocals over the same backing")
    @app_commands.describe(track="The track", prompt="The new voice", lyrics="Open a form to change the lyrics")
    @app_commands.autocomplete(track=track_autocomplete)
    async def swap_vocals(self, interaction: Interaction, track: int, prompt: Style, lyrics: bool = False) -> None:
        """New vocals over the same backing."""
        if not lyrics:
            parent = await interaction.client.services.library.track(requester(interaction), track)
            if not parent.lyrics:
                raise InvalidRequest("This track has no lyrics to sing: set lyrics:True to write some.")
            # An extension's lyrics grow past what a request may carry; sing the part that fits.
            values: dict[str, Any] = {"sound": prompt, "lyrics": parent.lyrics[:LYRICS_MAX]}
            await start_job(interaction, Operation.SWAP_VOCALS, values, track_id=track)
            return
        await self._remix(interaction, Operation.SWAP_VOCALS, track, {"sound": prompt}, True)

    @app_commands.command(name="swap-sound", description="A new backing under the same vocals")
    @app_commands.describe(track="The track", prompt="The new arrangement", lyrics="Open a form to change the lyrics")
    @app_commands.autocomplete(track=track_autocomplete)
    async def swap_sound(self, interaction: Interaction, track: int, prompt: Style, lyrics: bool = False) -> None:
        """A new backing under the same vocals."""
        await self._remix(interaction, Operation.SWAP_SOUND, track, {"sound": prompt}, lyrics)

    @app_commands.command(name="upload", description="Bring your own audio in as a track others can remix")
    @app_commands.describe(file="An audio file (mp3, wav, m4a, ogg, flac)", title="A title for it")
    async def upload(self, interaction: Interaction, file: discord.Attachment, title: Title | None = None) -> None:
        """Bring your own audio in as a track others can remix."""
        kind = (file.content_type or "").split(";")[0]
        if not (kind.startswith("audio/") or file.filename.lower().endswith(AUDIO_EXTENSIONS)):
            raise InvalidRequest("That file isn't audio. Upload an mp3, wav, m4a, ogg or flac file.")
        if file.size > UPLOAD_MAX_BYTES:
            raise InvalidRequest(f"That file is {file.size / 1048576:.1f} MiB; the limit is 20 MiB.")
        values = {"audio_url": file.url, "title": title or file.filename.rsplit(".", 1)[0][:TITLE_MAX]}
        await start_job(interaction, Operation.UPLOAD, values, filename=file.filename)

    @app_commands.command(name="download", description="Get a download of a track as MP3 or WAV")
    @app_commands.describe(track="The track", format="mp3 or wav")
    @app_commands.autocomplete(track=track_autocomplete)
    async def download(self, interaction: Interaction, track: int, format: Literal["mp3", "wav"] = "mp3") -> None:
        """Get a download of a track as MP3 or WAV."""
        await start_job(interaction, Operation.DOWNLOAD, {"format": format}, track_id=track)

    @app_commands.command(name="lyrics", description="Draft lyrics from an idea, then compose a song with them")
    @app_commands.describe(idea="What the song is about")
    async def lyrics(self, interaction: Interaction, idea: app_commands.Range[str, 1, LYRICS_IDEA_MAX]) -> None:
        """Draft lyrics from an idea, then compose a song with them."""
        await draft_lyrics(interaction, idea)

    @app_commands.command(name="show", description="Post a track again, with working buttons")
    @app_commands.describe(track="The track to show")
    @app_commands.autocomplete(track=track_autocomplete)
    async def show(self, interaction: Interaction, track: int) -> None:
        """Post a track again, with working buttons."""
        showing = await interaction.client.services.library.show(requester(interaction), track)
        await interaction.response.defer(thinking=True)
        embed, files = await interaction.client.posts.track_post(showing.card)
        view = track_view(showing.card.track, showing.actions)
        await interaction.followup.send(embed=embed, files=files, view=view)

    @app_commands.command(name="history", description="Recent tracks of the server or of one member")
    @app_commands.describe(member="Only this member's tracks")
    async def history(self, interaction: Interaction, member: discord.Member | None = None) -> None:
        """Recent tracks of the server or of one member."""
        embed, view = await history_page(interaction, member.id if member else None, 0)
        await interaction.response.send_message(embed=embed, view=view)

    @app_commands.command(name="tree", description="A track's remix lineage: where it came from, what came of it")
    @app_commands.describe(track="The track")
    @app_commands.autocomplete(track=track_autocomplete)
    async def tree(self, interaction: Interaction, track: int) -> None:
        """A track's remix lineage: where it came from, what came of it."""
        lineage = await interaction.client.services.library.lineage(requester(interaction), track)
        await interaction.response.send_message(embed=render.tree_embed(lineage))

    @app_commands.command(name="mashup", description="Blend two tracks into one song (both authors are credited)")
    @app_commands.describe(
        track="The first track",
        other="The second track (anyone's)",
        prompt="Style of the mashup",
        title="A title for it",
    )
    @app_commands.autocomplete(track=track_autocomplete, other=track_autocomplete)
    async def mashup(
        self,
        interaction: Interaction,
        track: int,
        other: int,
        prompt: Style | None = None,
        title: Title | None = None,
    ) -> None:
        """Blend two tracks into one song; both authors are credited."""
        values = {"tags": prompt, "title": title}
        await start_job(interaction, Operation.MASHUP, values, track_id=track, second_track_id=other)

    @app_commands.command(name="sample", description="A section of a track seeds a new song")
    @app_commands.describe(
        track="The track to sample",
        start="Sample from (seconds)",
        end="Sample to (seconds)",
        prompt="Style of the new song",
        title="A title for it",
    )
    @app_commands.autocomplete(track=track_autocomplete)
    async def sample(
        self,
        interaction: Interaction,
        track: int,
        start: Seconds,
        end: Seconds,
        prompt: Style | None = None,
        title: Title | None = None,
    ) -> None:
        """A section of a track seeds a new song."""
        values = {"start_s": start, "end_s": end, "tags": prompt, "title": title}
        await start_job(interaction, Operation.SAMPLE, values, track_id=track)

    @app_commands.command(name="remaster", description="The same track, remastered")
    @app_commands.describe(track="The track", strength="How much to change it")
    @app_commands.autocomplete(track=track_autocomplete)
    async def remaster(
        self, interaction: Interaction, track: int, strength: Literal["subtle", "normal", "high"] = "normal"
    ) -> None:
        """The same track, remastered: subtly, normally or a lot."""
        await start_job(interaction, Operation.REMASTER, {"strength": strength}, track_id=track)

    @app_commands.command(name="add-vocals", description="Sing your lyrics over an instrumental (opens a form)")
    @app_commands.describe(track="The instrumental track")
    @app_commands.autocomplete(track=track_autocomplete)
    async def add_vocals(self, interaction: Interaction, track: int) -> None:
        """Sing your lyrics over an instrumental track (opens a form)."""
        await self._remix(interaction, Operation.ADD_VOCALS, track, {}, True)

    @app_commands.command(name="add-instrumental", description="A new backing under a track's vocals")
    @app_commands.describe(track="The track with the vocals", prompt="Style of the backing")
    @app_commands.autocomplete(track=track_autocomplete)
    async def add_instrumental(self, interaction: Interaction, track: int, prompt: Style | None = None) -> None:
        """A new backing under a track's vocals."""
        await start_job(interaction, Operation.ADD_INSTRUMENTAL, {"tags": prompt}, track_id=track)

    persona = app_commands.Group(name="persona", description="Voices saved from tracks, to sing new songs")

    @persona.command(name="save", description="Save the voice of a track as a persona of this server")
    @app_commands.describe(
        track="The track whose voice to keep",
        name="A name for the persona",
        description="What the voice is like",
        start="Where the voice is (from, seconds)",
        end="Where the voice is (until, seconds)",
    )
    @app_commands.autocomplete(track=track_autocomplete)
    async def persona_save(
        self,
        interaction: Interaction,
        track: int,
        name: app_commands.Range[str, 1, PERSONA_NAME_MAX] | None = None,
        description: app_commands.Range[str, 1, 500] | None = None,
        start: Seconds | None = None,
        end: Seconds | None = None,
    ) -> None:
        """Save the voice of a track as a persona of this server (without a name, opens a form)."""
        services = interaction.client.services
        if name is None:
            services.catalog.ensure_available(Operation.PERSONA)
            parent = await services.library.track(requester(interaction), track)
            await interaction.response.send_modal(PersonaModal(parent))
            return
        await save_persona(interaction, track, name=name, description=description, start_s=start, end_s=end)

    @persona.command(name="list", description="The personas saved in this server")
    async def persona_list(self, interaction: Interaction) -> None:
        """The personas saved in this server."""
        personas = await interaction.client.services.personas.of_server(requester(interaction).guild_id)
        lines = [render.persona_line(p) for p in personas] or ["No personas yet: save one with /music persona save."]
        embed = discord.Embed(title="Personas", description=render.clip("\n".join(lines), 4096), colour=render.BRAND)
        await interaction.response.send_message(embed=embed, ephemeral=True)

    @persona.command(name="forget", description="Forget a persona (its maker or a moderator)")
    @app_commands.describe(persona="The persona")
    @app_commands.autocomplete(persona=persona_choices)
    async def persona_forget(self, interaction: Interaction, persona: int) -> None:
        """Forget a persona; songs already made with it keep their voice."""
        gone = await interaction.client.services.personas.forget(requester(interaction), persona)
        await interaction.response.send_message(f"Forgot the persona **{render.clip(gone.name, 80)}**.", ephemeral=True)

    tools = app_commands.Group(name="tools", description="Studio tools: stems, MIDI, tempo, synced lyrics…")

    @tools.command(name="stems", description="Split a track into stems (vocals + instrumental, or every instrument)")
    @app_commands.describe(track="The track", every_instrument="A stem per instrument instead of two")
    @app_commands.autocomplete(track=track_autocomplete)
    async def tools_stems(self, interaction: Interaction, track: int, every_instrument: bool = False) -> None:
        """Split a track into stems, posted in its thread."""
        tool = Tool.STEMS_FULL if every_instrument else Tool.STEMS_BASIC
        await run_tool(interaction, tool, track_id=track)

    @tools.command(name="wav", description="A lossless WAV of a track")
    @app_commands.describe(track="The track")
    @app_commands.autocomplete(track=track_autocomplete)
    async def tools_wav(self, interaction: Interaction, track: int) -> None:
        """A lossless WAV of a track, posted in its thread."""
        await run_tool(interaction, Tool.WAV, track_id=track)

    @tools.command(name="midi", description="The notes of a track as a MIDI file, for your DAW")
    @app_commands.describe(track="The track")
    @app_commands.autocomplete(track=track_autocomplete)
    async def tools_midi(self, interaction: Interaction, track: int) -> None:
        """The notes of a track as a .mid file, posted in its thread."""
        await run_tool(interaction, Tool.MIDI, track_id=track)

    @tools.command(name="bpm", description="The tempo of a track")
    @app_commands.describe(track="The track")
    @app_commands.autocomplete(track=track_autocomplete)
    async def tools_bpm(self, interaction: Interaction, track: int) -> None:
        """The tempo of a track (beats per minute)."""
        await run_tool(interaction, Tool.BPM, track_id=track)

    @tools.command(name="lyrics-timeline", description="Synced lyrics (.lrc) beside the song, for karaoke")
    @app_commands.describe(track="The track")
    @app_commands.autocomplete(track=track_autocomplete)
    async def tools_timeline(self, interaction: Interaction, track: int) -> None:
        """Synced lyrics as an .lrc file, posted beside the song so players show them as karaoke."""
        await run_tool(interaction, Tool.LYRICS_TIMELINE, track_id=track)

    @tools.command(name="vox", description="The vocals of up to 30 seconds of a track")
    @app_commands.describe(track="The track", start="From (seconds)", end="Until (seconds; at most 30 s later)")
    @app_commands.autocomplete(track=track_autocomplete)
    async def tools_vox(
        self, interaction: Interaction, track: int, start: Seconds | None = None, end: Seconds | None = None
    ) -> None:
        """The vocals of up to 30 seconds of a track, as their own file."""
        if end is None and start is not None:
            end = start + VOX_RANGE_MAX_S
        await run_tool(interaction, Tool.VOX, track_id=track, options={"vocal_start_s": start, "vocal_end_s": end})

    @tools.command(name="richer-style", description="A richer style suggested for a short one")
    @app_commands.describe(style="Your style, e.g. 'lofi, rain'")
    async def tools_style(self, interaction: Interaction, style: Style) -> None:
        """A richer style for a short one, with a button to create a song with it."""
        await run_tool(interaction, Tool.UPSAMPLE_TAGS, options={"tags": style})

    @app_commands.command(name="cancel", description="Cancel a song of yours that is still in the works")
    @app_commands.describe(job="The job number (shown on its status message)")
    @app_commands.autocomplete(job=job_autocomplete)
    async def cancel(self, interaction: Interaction, job: int) -> None:
        """Cancel a song of yours that is still in the works; the credits come back."""
        cancelled = await interaction.client.services.jobs.cancel(requester(interaction), job)
        await interaction.response.send_message(
            f"Cancelled job #{cancelled.id}; {cancelled.cost} credits were returned.", ephemeral=True
        )


async def setup(bot: Tunesmith) -> None:
    await bot.add_cog(Music(bot))
