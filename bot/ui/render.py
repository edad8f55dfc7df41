"""Everything members read: status lines, failure reasons, track embeds, quota, history, lineage, settings, the
provider, audit lines and refusals. All Discord markup (mentions, ``<t:…>`` timestamps, links) is made here.

Pure functions from domain values to text and ``discord.Embed``; sizes respect Discord's limits.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import discord

from bot.core.catalog import ProviderInfo
from bot.core.credits import Quota
from bot.core.library import Lineage
from bot.core.studio import StudioStatus
from bot.domain import audit
from bot.domain.errors import ConfirmationNeeded, CreditsExhausted, MissingRole, WrongChannel
from bot.domain.lyrics_timeline import LyricsAlignment
from bot.domain.models import GuildSettings, Job, JobState, Operation, Persona, Track
from bot.domain.outcomes import Failure, FailureKind, JobOutcome, Progress
from bot.domain.requests import JobRequest
from bot.domain.sonic import Bpm, Midi, Stem, Tool, UpsampledTags, VoxClip, WavFile

BRAND = discord.Colour.from_rgb(124, 92, 255)
FAIL = discord.Colour.from_rgb(220, 70, 70)

_LINEAGE = {
    Operation.EXTEND: "Extension of",
    # A full song joined from an extension: credited to what was extended (its parent is the extension's take).
    Operation.CONCAT: "Extension of",
    Operation.COVER: "Cover of",
    Operation.REPLACE: "New section in",
    Operation.VARIATION: "Variation of",
    Operation.SWAP_VOCALS: "New vocals on",
    Operation.SWAP_SOUND: "New sound for",
    Operation.SAMPLE: "Sampled from",
    Operation.REMASTER: "Remaster of",
    Operation.ADD_VOCALS: "Vocals added to",
    Operation.ADD_INSTRUMENTAL: "Backing added to",
    Operation.MASHUP: "Mashup of",
}
# Emoji of the studio tools' answers.
TOOL_ICONS = {
    Tool.STEMS_BASIC: "🎚️",
    Tool.STEMS_FULL: "🎚️",
    Tool.WAV: "💾",
    Tool.MIDI: "🎹",
    Tool.BPM: "🥁",
    Tool.LYRICS_TIMELINE: "🎤",
    Tool.VOX: "🗣️",
    Tool.UPSAMPLE_TAGS: "✨",
}


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def excerpt(text: str | None, limit: int = 80) -> str:
    """Text on one line, cut to ``limit``."""
    if not text:
        return ""
    return clip(" ".join(text.split()), limit)


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "unknown"
    total = round(seconds)
    return f"{total // 60}:{total % 60:02d}"


def span(seconds: float) -> str:
    """A length of time in words, as a member reads it: "45 seconds", "1 minute", "2.5 minutes", "2 hours"."""
    for unit, size in (("hour", 3600.0), ("minute", 60.0)):
        if seconds >= size:
            amount = round(seconds / size, 1)
            return f"{amount:g} {unit}{'' if amount == 1 else 's'}"
    amount = round(seconds)
    return f"{amount:g} second{'' if amount == 1 else 's'}"


def relative(moment: datetime) -> str:
    return f"<t:{int(moment.timestamp())}:R>"


def user(user_id: int) -> str:
    return f"<@{user_id}>"


def channel(channel_id: int) -> str:
    return f"<#{channel_id}>"


def role(role_id: int) -> str:
    return f"<@&{role_id}>"


def message_link(guild_id: int, channel_id: int, message_id: int) -> str:
    return f"https://discord.com/channels/{guild_id}/{channel_id}/{message_id}"


# --- jobs ---------------------------------------------------------------------------------------------------------
_TITLE_FIRST = ("title", "sound", "tags", "description", "name", "idea")
_STYLE_FIRST = ("sound", "tags", "description", "title", "name", "idea")


def request_summary(request: dict[str, Any], keys: tuple[str, ...] = _TITLE_FIRST) -> str:
    """The words that name what a job makes, from its stored request (either vocabulary, or a tool's options)."""
    raw = request.get("options")
    options: dict[str, Any] = raw if isinstance(raw, dict) else {}
    return str(next((v for k in keys if (v := request.get(k) or options.get(k))), ""))


def job_headline(job: Job) -> str:
    what = request_summary(job.request)
    detail = f" · “{clip(' '.join(str(what).split()), 60)}”" if what else ""
    return f"🎵 {user(job.user_id)} · **{job.operation.label}**{detail} · job #{job.id}"


def status_text(job: Job, progress: Progress | None = None, *, now: float | None = None) -> str:
    """The status message while a job waits or renders."""
    cost = f"{job.cost} credits"
    state = progress.state if progress else job.state
    if state is JobState.QUEUED:
        place = f" · #{progress.position} in line" if progress and progress.position else ""
        line = f"⏳ Queued{place} · {cost}"
    elif state is JobState.SUBMITTED:
        line = f"📨 Submitted to the provider · {cost}"
    elif progress is not None and progress.joining:
        line = f"🧩 Joining the new part into the full song · {cost}"
    else:
        elapsed_s = (now - progress.started_at) if progress and progress.started_at and now is not None else None
        elapsed = f" · {duration(max(elapsed_s, 0.0))} elapsed" if elapsed_s is not None else ""
        left = (progress.expected_s - elapsed_s) if progress and progress.expected_s and elapsed_s is not None else 0
        eta = f" · about {duration(left)} left" if left > 0 else ""
        line = f"🎛️ Rendering{elapsed}{eta} · {cost}"
    return f"{job_headline(job)}\n{line}"


def failure_reason(failure: Failure) -> str:
    """Why a job failed, in plain words: the provider's reason where it helps."""
    kind, detail = failure.kind, failure.detail
    if kind is FailureKind.MODERATION:
        if detail and "content filter" in detail:
            return detail  # already says it (FUZZ gives no reason beyond "moderation")
        return f"The provider's content filter refused this: {detail}"
    if kind is FailureKind.RETIRED:
        return "This operation was retired by the provider, so it's switched off for now."
    if kind is FailureKind.UNAVAILABLE:
        return "The music provider is down right now."
    if kind in (FailureKind.AUTH, FailureKind.CREDITS):
        return "The music provider refused the bot's account; an admin has to fix it."
    if kind is FailureKind.TIMEOUT:
        return f"The music provider did not finish within {span(failure.deadline_s or 600.0)}, so the job was given up."
    if kind is FailureKind.CANCELLED:
        return "Cancelled."
    if kind is FailureKind.NOT_STARTED:
        return "Could not start."
    if kind is FailureKind.INTERRUPTED:
        return "Interrupted."
    if kind is FailureKind.INTERNAL:
        reference = f" If it keeps happening, give an admin this reference: **{detail}**." if detail else ""
        return f"Something went wrong on our side, so the job was stopped.{reference}"
    return detail or "The job failed."


def failure_text(job: Job, failure: Failure, refunded: int) -> str:
    icon = "🚫" if job.state is JobState.CANCELLED else "❌"
    money = f" Your {refunded} credits were returned." if refunded else ""
    return f"{job_headline(job)}\n{icon} {failure_reason(failure)}{money}"


def source_name(track: Track | None) -> str:
    """The track a download or a tool's files were made from, as their post names it: a track deleted since they
    were asked for (core gives None, or the track flagged deleted) is "a deleted track", as in a lineage."""
    return clip(track.display_title, 80) if track is not None and not track.deleted else DELETED_TRACK


def download_text(job: Job, source: Track | None) -> str:
    fmt = str(job.request.get("format", "mp3")).upper()
    content = f"⬇️ {fmt} of *{source_name(source)}* for {user(job.user_id)}"
    if job.result_url:
        content += f": {job.result_url}"
    return content


# --- errors -------------------------------------------------------------------------------------------------------
def refusal(error: Exception) -> str:
    """A refusal as the member reads it: with mentions and the reset in their own time where it helps."""
    if isinstance(error, CreditsExhausted):
        return error.sentence(relative(error.resets_at))
    if isinstance(error, WrongChannel):
        return f"Music can't be made in this channel. Try {', '.join(channel(c) for c in error.allowed_channel_ids)}."
    if isinstance(error, MissingRole):
        return f"You need the {role(error.role_id)} role to make music here."
    return str(error)


# --- tracks -------------------------------------------------------------------------------------------------------
DELETED_TRACK = "a deleted track"
PRIVATE_TRACK = "a track in a private channel"


def credit(track: Track, hidden: frozenset[int] = frozenset()) -> str:
    """A track named in a lineage: title and author; neither for a deleted track, nor for one the member who
    asked can't view (``hidden``: its channel is private to them)."""
    if track.deleted:
        return DELETED_TRACK
    if track.id in hidden:
        return PRIVATE_TRACK
    return f"*{clip(track.display_title, 80)}* by {user(track.author_id)}"


def lineage_line(
    track: Track, parent: Track | None, second_parent: Track | None = None, hidden: frozenset[int] = frozenset()
) -> str | None:
    if parent is None:
        return None
    label = _LINEAGE.get(track.operation, "Remix of")
    line = f"{label} {credit(parent, hidden)}"
    if second_parent is not None:
        # Both authors are credited.
        line += f" and {credit(second_parent, hidden)}"
    return line


def track_embed(
    track: Track,
    parent: Track | None,
    *,
    image_attached: bool,
    audio_link: str | None = None,
    second_parent: Track | None = None,
    hidden: frozenset[int] = frozenset(),
) -> discord.Embed:
    """The track post: title, style, model, duration, author, lineage, lyrics excerpt and the cover."""
    parts: list[str] = []
    line = lineage_line(track, parent, second_parent, hidden)
    if line:
        parts.append(line)
    if track.tags:
        parts.append(f"**Style:** {clip(track.tags, 600)}")
    if audio_link:
        parts.append(f"🔗 [Download the audio]({audio_link}) (too large to attach here)")
    embed = discord.Embed(
        title=clip(track.display_title, 256),
        description=clip("\n".join(parts), 4096) or None,
        colour=BRAND,
        timestamp=track.created_at,
    )
    embed.add_field(name="Author", value=user(track.author_id))
    embed.add_field(name="Duration", value=duration(track.duration_s))
    embed.add_field(name="Model", value=track.model or "default")
    lyrics = (track.lyrics or "").strip()
    if lyrics and lyrics.lower() != "[instrumental]":
        lines = "\n".join(lyrics.splitlines()[:8])
        embed.add_field(name="Lyrics", value=clip(lines, 1000), inline=False)
    if image_attached:
        embed.set_image(url=f"attachment://{cover_filename(track)}")
    elif track.image_url and track.image_url.startswith("https://"):
        embed.set_image(url=track.image_url)
    embed.set_footer(text=track_footer(track))
    return embed


def track_footer(track: Track) -> str:
    """A track post's footer: members read the track's number, and the notifier finds a post by it after a
    restart (each track has one job)."""
    return f"Track #{track.id} · {track.provider}"


def cover_filename(track: Track) -> str:
    return f"cover-{track.id}.png"


def audio_filename(track: Track, url: str) -> str:
    path = url.split("?", 1)[0].lower()
    ext = next((e for e in (".wav", ".m4a", ".mp3", ".ogg", ".flac") if path.endswith(e)), ".mp3")
    raw = "".join(ch if ch.isalnum() else "-" for ch in track.display_title.lower())
    slug = "-".join(part for part in raw.split("-") if part)  # "Night (Cover)" -> night-cover, not night--cover-
    return f"{clip(slug, 60).rstrip('…') or 'track'}-{track.id}{ext}"


def quota_embed(quota: Quota, *, member_name: str) -> discord.Embed:
    embed = discord.Embed(title="Credits", colour=BRAND)
    embed.add_field(
        name="Server", value=f"{quota.server_remaining} of {quota.server_budget} left this {quota.period.value}"
    )
    if quota.member_remaining is not None:
        embed.add_field(name=member_name, value=f"{quota.member_remaining} of {quota.member_cap} left")
    else:
        embed.add_field(name=member_name, value="no personal cap (the server's budget applies)")
    embed.add_field(name="Resets", value=relative(quota.resets_at))
    costs = "\n".join(f"{op.label}: {cost}" for op, cost in quota.costs.items())
    embed.add_field(name="What each operation costs", value=costs, inline=False)
    if quota.max_jobs_member:
        embed.set_footer(text=f"Songs in the works: {quota.member_active_jobs} of {quota.max_jobs_member}")
    return embed


def history_embed(tracks: list[Track], page: int, pages: int, *, author_id: int | None) -> discord.Embed:
    whose = user(author_id) if author_id else "this server"
    embed = discord.Embed(title=f"Recent tracks · {whose}", colour=BRAND)
    if not tracks:
        embed.description = "No tracks yet. Make one with /music create!"
    else:
        lines = [
            f"`#{t.id}` **{clip(t.display_title, 60)}** · {user(t.author_id)} · {t.operation.label} · "
            f"{duration(t.duration_s)} · {relative(t.created_at)}"
            for t in tracks
        ]
        embed.description = clip("\n".join(lines), 4096)
    embed.set_footer(text=f"Page {page + 1} of {pages}")
    return embed


def tree_embed(lineage: Lineage) -> discord.Embed:
    track = lineage.track
    embed = discord.Embed(title=f"Lineage of {clip(track.display_title, 200)}", colour=BRAND)

    def entry(t: Track, *, operation: bool = False) -> str:
        # A deleted track, or one in a channel the member can't view, is there but not named.
        if t.deleted:
            return f"*{DELETED_TRACK}*"
        if t.id in lineage.hidden:
            return f"*{PRIVATE_TRACK}*"
        kind = f" · {t.operation.label}" if operation else ""
        return f"`#{t.id}` {clip(t.display_title, 60)}{kind} · {user(t.author_id)}"

    lines: list[str] = []
    for depth, ancestor in enumerate(lineage.ancestors):
        lines.append(f"{'　' * depth}↳ {entry(ancestor)}")
    depth = len(lineage.ancestors)
    second = lineage.second_parent
    if second is not None:
        # A mashup has two parents: the other one beside the first, at the same depth.
        lines.append(f"{'　' * max(depth - 1, 0)}↳ {entry(second)}")
    lines.append(f"{'　' * depth}↳ **`#{track.id}` {clip(track.display_title, 60)}** · {user(track.author_id)}")
    for child in lineage.children:
        lines.append(f"{'　' * (depth + 1)}↳ {entry(child, operation=True)}")
    if not lineage.children:
        lines.append(f"{'　' * (depth + 1)}(no remixes yet)")
    embed.description = clip("\n".join(lines), 4096)
    return embed


def drafts_text(idea: str, cost: int) -> str:
    return f"Lyrics for “{clip(idea, 80)}” ({cost} credit{'' if cost == 1 else 's'}). Pick one to compose:"


# --- confirmation, tools, personas ---------------------------------------------------------------------------------
def confirmation_text(needed: ConfirmationNeeded) -> str:
    """The question asked before an expensive job: nothing is reserved until the member confirms."""
    return (
        f"**{needed.operation}**: this costs **{needed.cost} credits** (you have {needed.remaining} left). "
        "Confirm to start it; nothing is charged until you do."
    )


def credits_phrase(cost: int) -> str:
    if cost == 0:
        return "free: already known"
    return f"{cost} credit" + ("" if cost == 1 else "s")


def slug(text: str) -> str:
    raw = "".join(ch if ch.isalnum() else "-" for ch in text.lower())
    return clip("-".join(part for part in raw.split("-") if part), 60).rstrip("…") or "track"


def tool_filename(track: Track | None, suffix: str, extension: str) -> str:
    """``night-drive-3-vocals.wav``, ``night-drive-3.mid``, ``night-drive-3.lrc`` (``tunesmith…`` for a deleted
    track)."""
    base = f"{slug(track.display_title)}-{track.id}" if track is not None and not track.deleted else "tunesmith"
    return f"{base}{'-' + slug(suffix) if suffix else ''}.{extension}"


def tool_headline(tool: Tool, track: Track | None, user_id: int, *, from_track: bool | None = None) -> str:
    """``from_track``: whether the tool was asked of a track (default: when one is given); a track deleted since
    is named "a deleted track"."""
    from_track = track is not None if from_track is None else from_track
    what = f" of *{source_name(track)}*" if from_track else ""
    return f"{TOOL_ICONS[tool]} **{tool.label}**{what} for {user(user_id)}"


def bpm_text(bpm: Bpm) -> str:
    if round(bpm.min) == round(bpm.max):
        return f"**{bpm.avg:.0f} BPM**"
    return f"**{bpm.avg:.0f} BPM** on average (from {bpm.min:.0f} to {bpm.max:.0f})"


def midi_text(midi: Midi) -> str:
    notes = sum(len(i.notes) for i in midi.instruments)
    if not midi.instruments:
        return "the notes as a MIDI file"
    names = ", ".join(clip(i.name, 30) for i in midi.instruments[:8])
    return f"{len(midi.instruments)} instrument(s) ({names}), {notes} notes"


def lrc_text(alignment: LyricsAlignment) -> str:
    lines = alignment.lines()
    return f"{len(lines)} timed line(s): open the `.lrc` beside the audio in a player that shows synced lyrics"


def stems_names(stems: list[Stem]) -> str:
    return ", ".join(clip(s.name, 40) for s in stems) or "none"


def tool_result_text(result: object) -> str:
    """One line about a tool's answer, beside its file."""
    match result:
        case Bpm():
            return bpm_text(result)
        case Midi():
            return midi_text(result)
        case LyricsAlignment():
            return lrc_text(result)
        case VoxClip(start_s=start, end_s=end) if start is not None and end is not None:
            return f"the vocals from {duration(start)} to {duration(end)}"
        case VoxClip():
            return "the vocals"
        case WavFile():
            return "lossless audio"
        case UpsampledTags(tags=tags):
            return clip(tags, 1500)
    return ""


def persona_line(persona: Persona) -> str:
    return f"**{clip(persona.name, 80)}** · saved by {user(persona.created_by)} {relative(persona.created_at)}"


# --- administration -----------------------------------------------------------------------------------------------
def settings_embed(settings: GuildSettings) -> discord.Embed:
    embed = discord.Embed(title="Studio settings", colour=BRAND)
    channels = ", ".join(channel(c) for c in settings.allowed_channel_ids) or "everywhere"
    embed.add_field(name="Allowed channels", value=channels, inline=False)
    embed.add_field(
        name="Required role", value=role(settings.required_role_id) if settings.required_role_id else "none"
    )
    embed.add_field(name="Remix threads", value="on" if settings.remix_threads else "off")
    embed.add_field(name="Audit log", value=channel(settings.audit_channel_id) if settings.audit_channel_id else "off")
    embed.add_field(name="Default model", value=settings.default_model or "provider default")
    embed.add_field(name="Cooldown", value=f"{settings.cooldown_s:g} s" if settings.cooldown_s else "none")
    embed.add_field(name="Built-in block list", value="on" if settings.use_default_blocklist else "off")
    embed.add_field(name="Ask to confirm above", value=f"{settings.confirm_above} credits")
    embed.add_field(name="Budget", value=f"{settings.budget} credits per {settings.period.value}", inline=False)
    return embed


def status_embed(status: StudioStatus) -> discord.Embed:
    colour = BRAND if status.healthy else FAIL
    embed = discord.Embed(title="Studio status", colour=colour)
    embed.add_field(
        name="Provider", value=f"{status.provider} · {'✅ ' if status.healthy else '⚠️ '}{clip(status.detail, 200)}"
    )
    embed.add_field(name="Queue", value=f"{status.queue_depth} waiting")
    embed.add_field(name="In flight", value=str(status.in_flight))
    credits = "not reported" if status.provider_credits is None else f"{status.provider_credits:g}"
    embed.add_field(name="Provider credits", value=credits)
    if status.retired:
        embed.add_field(name="Retired by the provider", value=", ".join(o.label for o in status.retired), inline=False)
    return embed


def provider_embed(info: ProviderInfo) -> discord.Embed:
    """/studio provider: the provider, each of its operations, and which it retired."""
    embed = discord.Embed(title=f"Provider · {info.name}", colour=BRAND)
    lines = []
    for op in info.operations:
        if op.retired:
            said = f" ({clip(op.message, 120)})" if op.message else ""
            lines.append(f"⛔ **{op.operation.label}** (`{op.operation.value}`): retired by the provider{said}")
        else:
            lines.append(f"✅ **{op.operation.label}** (`{op.operation.value}`)")
    embed.description = clip("\n".join(lines) or "No operations.", 4096)
    if info.models:
        embed.add_field(name="Models", value=clip(", ".join(info.models), 1024), inline=False)
    if any(op.retired for op in info.operations):
        embed.set_footer(text="Switch a retired operation back on with /studio provider reinstate:<operation>")
    return embed


# --- the audit log ------------------------------------------------------------------------------------------------
_SETTING_LABELS = {
    "allowed_channel_ids": "allowed channels",
    "required_role_id": "required role",
    "remix_threads": "remix threads",
    "audit_channel_id": "audit log",
    "default_model": "default model",
    "cooldown_s": "cooldown",
    "use_default_blocklist": "built-in block list",
    "confirm_above": "confirmation threshold",
}


def _setting_value(key: str, value: Any) -> str:
    """A setting's value as admins read it in the audit log: mentions, not raw ids (mentions don't ping here)."""
    if key == "allowed_channel_ids":
        return ", ".join(channel(v) for v in value) or "everywhere"
    if value is None:
        return "none" if key in ("required_role_id", "default_model") else "off"
    if isinstance(value, bool):
        return "on" if value else "off"
    if key == "required_role_id":
        return role(value)
    if key == "audit_channel_id":
        return channel(value)
    if key == "cooldown_s":
        return f"{float(value):g} s" if value else "none"
    return str(value)


def describe_request(request: JobRequest) -> str:
    """What was asked, on one line (the audit log's summary of a refused request)."""
    parts: list[str] = []
    for name in ("title", "sound", "tags", "description", "name", "idea", "audio_url"):
        value = getattr(request, name, None)
        if value:
            parts.append(excerpt(str(value)))
    lyrics = getattr(request, "lyrics", None)
    if lyrics:
        parts.append(f"lyrics: {excerpt(lyrics, 60)}")
    return " · ".join(parts) or request.operation.label


def _job_outcome_parts(outcome: JobOutcome) -> tuple[str, str, int | None, str | None]:
    """(summary, outcome, credits moved, link) of a job's entry."""
    job = outcome.job
    request = job.request
    prompt = request_summary(request, _STYLE_FIRST) or request.get("audio_url") or ""
    summary = f"job #{job.id} · {clip(' '.join(str(prompt).split()), 100)}"
    if outcome.failure is not None:
        said = "cancelled" if job.state is JobState.CANCELLED else f"failed: {failure_reason(outcome.failure)}"
        if outcome.refunded:
            said += f" ({outcome.refunded} credits returned)"
        # The reservation came back, so the net movement is nothing; "+10 credits" would read like a gain.
        return summary, said, 0, None
    if job.operation is Operation.DOWNLOAD:
        fmt = str(request.get("format", "mp3")).upper()
        return summary, f"{fmt} delivered", -job.cost, None
    if job.operation.is_tool:
        return summary, f"{job.operation.label.lower()} delivered", -job.cost, None
    titles = ", ".join(f"track #{t.id} *{clip(t.display_title, 60)}*" for t in outcome.tracks)
    first = outcome.deliveries[0] if outcome.deliveries else None
    link = message_link(job.guild_id, first.channel_id, first.message_id) if first else None
    return summary, titles, -job.cost, link


def audit_line(entry: audit.AuditEntry) -> str:
    """One concise line of the audit-log channel."""
    action: str
    summary: str
    outcome: str | None = None
    credits: int | None = None
    link: str | None = None
    note: str | None = None
    match entry:
        case audit.JobFinished(outcome=job_outcome):
            action = f"{job_outcome.job.operation.value} finished"
            summary, outcome, credits, link = _job_outcome_parts(job_outcome)
        case audit.LyricsDrafted(idea=idea, job_id=job_id, drafts=drafts, cost=cost, error=error):
            action = f"{Operation.LYRICS.value} finished"
            if error is not None:
                summary, outcome, credits = excerpt(idea, 100), f"failed: {error} (credits returned)", 0
            else:
                summary, outcome, credits = f"job #{job_id} · {excerpt(idea, 100)}", f"{drafts} lyric draft(s)", -cost
        case audit.ToolUsed(operation=operation, track_id=track_id, job_id=job_id, cost=cost, error=error):
            action = f"{operation.value} finished"
            summary = f"job #{job_id} · track #{track_id}" if track_id is not None else f"job #{job_id}"
            if error is not None:
                outcome, credits = f"failed: {error} (credits returned)", 0
            else:
                outcome, credits = f"{operation.label.lower()} delivered", -cost
        case audit.PersonaChanged(name=name, saved=saved, track_id=track_id, cost=cost, error=error):
            action = "persona"
            if not saved:
                summary, outcome = f"“{excerpt(name, 80)}” forgotten", None
            elif error is not None:
                summary = f"“{excerpt(name, 80)}” from track #{track_id}"
                outcome, credits = f"failed: {error} (credits returned)", 0
            else:
                summary, outcome, credits = f"“{excerpt(name, 80)}” saved from track #{track_id}", None, -cost
        case audit.Refused(operation=operation, request=request, error=error):
            action, summary, credits = "refused", f"{operation.label}: {describe_request(request)}", 0
            outcome = refusal(error)
            rule = getattr(error, "rule", None)
            note = f"rule hit: {rule}" if rule else None
        case audit.SettingsChanged(changes=changes):
            action = "settings"
            summary = ", ".join(f"{_SETTING_LABELS.get(k, k)} = {_setting_value(k, v)}" for k, v in changes)
        case audit.BudgetChanged(budget=budget, period=period):
            action, summary = "settings", f"server budget set to {budget}" + (f" per {period.value}" if period else "")
        case audit.CostChanged(operation=operation, cost=cost):
            action, summary = "settings", f"{operation.label} now costs {cost}"
        case audit.DefaultCapChanged(cap=cap):
            action, summary = "settings", f"default member cap set to {cap}"
        case audit.MemberCapChanged(member_id=member_id, cap=cap):
            action = "member-cap"
            summary = (
                f"cap of {user(member_id)} set to {cap}" if cap is not None else f"cap of {user(member_id)} removed"
            )
        case audit.Granted(amount=amount, member_id=member_id):
            action, credits = "grant", amount
            summary = f"to {user(member_id) if member_id else 'the server'}"
        case audit.PeriodReset():
            action, summary = "reset", "credits reset to full budget"
        case audit.BlockRuleChanged(pattern=pattern, is_regex=is_regex, added=added):
            action = "block"
            summary = f"added {'regex' if is_regex else 'word'}: {pattern}" if added else f"removed {pattern!r}"
        case audit.BanChanged(member_id=member_id, banned=banned, reason=reason):
            action, summary = ("ban" if banned else "unban"), user(member_id)
            outcome = (reason or "no reason") if banned else None
        case audit.JobCancelledByModerator(job_id=job_id, owner_id=owner_id):
            action, summary = "cancel", f"job #{job_id} of {user(owner_id)}"
        case audit.TrackDeleted(track_id=track_id, title=title):
            action, summary = "delete", f"track #{track_id} {title}"
        case audit.ModerationNote(strikes=strikes, window_s=window_s):
            action = "moderation-note"
            summary = f"{strikes} requests refused by the provider's content filter in {span(window_s)}"
            outcome = "worth a look"
        case audit.OperationReinstated(provider=provider, operation=operation):
            action, summary = "provider", f"{operation.label} switched back on ({provider})"
    parts = [f"{user(entry.actor_id)} **{action}** · {summary}"]
    if outcome:
        parts.append(f"→ {outcome}")
    if credits:
        parts.append(f"({credits:+d} credits)")
    if link:
        parts.append(link)
    if note:
        parts.append(f"[{note}]")
    return clip(" ".join(parts), 2000)
