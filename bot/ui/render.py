"""Everything members read: status lines, track embeds, quota, history, lineage and settings embeds.

Pure functions from domain objects to text and ``discord.Embed``; sizes respect Discord's limits.
"""

from __future__ import annotations

from datetime import datetime

import discord

from bot.core.credits import Quota
from bot.core.studio import Lineage, StudioStatus
from bot.domain.models import GuildSettings, Job, JobState, Operation, Track
from bot.domain.ports import Progress

BRAND = discord.Colour.from_rgb(124, 92, 255)
FAIL = discord.Colour.from_rgb(220, 70, 70)

_LINEAGE = {
    Operation.EXTEND: "Extension of",
    Operation.COVER: "Cover of",
    Operation.REPLACE: "New section in",
    Operation.VARIATION: "Variation of",
    Operation.SWAP_VOCALS: "New vocals on",
    Operation.SWAP_SOUND: "New sound for",
}


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "unknown"
    total = round(seconds)
    return f"{total // 60}:{total % 60:02d}"


def relative(moment: datetime) -> str:
    return f"<t:{int(moment.timestamp())}:R>"


def job_headline(job: Job) -> str:
    request = job.request
    what = request.get("title") or request.get("sound") or request.get("idea") or ""
    detail = f" · “{clip(' '.join(str(what).split()), 60)}”" if what else ""
    return f"🎵 <@{job.user_id}> · **{job.operation.label}**{detail} · job #{job.id}"


def status_text(job: Job, progress: Progress | None = None) -> str:
    """The status message while a job waits or renders."""
    cost = f"{job.cost} credits"
    state = progress.state if progress else job.state
    if state is JobState.QUEUED:
        place = f" · #{progress.position} in line" if progress and progress.position else ""
        line = f"⏳ Queued{place} · {cost}"
    elif state is JobState.SUBMITTED:
        line = f"📨 Submitted to the provider · {cost}"
    else:
        elapsed = f" · {duration(progress.elapsed_s)} elapsed" if progress else ""
        eta = f" · about {duration(progress.eta_s)} left" if progress and progress.eta_s else ""
        line = f"🎛️ Rendering{elapsed}{eta} · {cost}"
    return f"{job_headline(job)}\n{line}"


def failure_text(job: Job, reason: str, refunded: int) -> str:
    icon = "🚫" if job.state is JobState.CANCELLED else "❌"
    money = f" Your {refunded} credits were returned." if refunded else ""
    return f"{job_headline(job)}\n{icon} {reason}{money}"


def lineage_line(track: Track, parent: Track | None) -> str | None:
    if parent is None:
        return None
    label = _LINEAGE.get(track.operation, "Remix of")
    return f"{label} *{clip(parent.display_title, 80)}* by <@{parent.author_id}>"


def track_embed(
    track: Track, parent: Track | None, *, image_attached: bool, audio_link: str | None = None
) -> discord.Embed:
    """The track post: title, style, model, duration, author, lineage, lyrics excerpt and the cover."""
    parts: list[str] = []
    line = lineage_line(track, parent)
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
    embed.add_field(name="Author", value=f"<@{track.author_id}>")
    embed.add_field(name="Duration", value=duration(track.duration_s))
    embed.add_field(name="Model", value=track.model or "default")
    lyrics = (track.lyrics or "").strip()
    if lyrics and lyrics.lower() != "[instrumental]":
        excerpt = "\n".join(lyrics.splitlines()[:8])
        embed.add_field(name="Lyrics", value=clip(excerpt, 1000), inline=False)
    if image_attached:
        embed.set_image(url=f"attachment://{cover_filename(track)}")
    elif track.image_url and track.image_url.startswith("https://"):
        embed.set_image(url=track.image_url)
    embed.set_footer(text=f"Track #{track.id} · {track.provider}")
    return embed


def cover_filename(track: Track) -> str:
    return f"cover-{track.id}.png"


def audio_filename(track: Track, url: str) -> str:
    path = url.split("?", 1)[0].lower()
    ext = next((e for e in (".wav", ".m4a", ".mp3", ".ogg", ".flac") if path.endswith(e)), ".mp3")
    raw = "".join(ch if ch.isalnum() else "-" for ch in track.display_title.lower())
    slug = "-".join(part for part in raw.split("-") if part)  # "Night (Cover)" -> night-cover, not night--cover-
    return f"{clip(slug, 60).rstrip('…') or 'track'}-{track.id}{ext}"


def quota_embed(quota: Quota, *, member_mention: str) -> discord.Embed:
    embed = discord.Embed(title="Credits", colour=BRAND)
    embed.add_field(
        name="Server", value=f"{quota.server_remaining} of {quota.server_budget} left this {quota.period.value}"
    )
    if quota.member_remaining is not None:
        embed.add_field(name=member_mention, value=f"{quota.member_remaining} of {quota.member_cap} left")
    else:
        embed.add_field(name=member_mention, value="no personal cap (the server's budget applies)")
    embed.add_field(name="Resets", value=relative(quota.resets_at))
    costs = "\n".join(f"{op.label}: {cost}" for op, cost in quota.costs.items())
    embed.add_field(name="What each operation costs", value=costs, inline=False)
    if quota.max_jobs_member:
        embed.set_footer(text=f"Songs in the works: {quota.member_active_jobs} of {quota.max_jobs_member}")
    return embed


def history_embed(tracks: list[Track], page: int, pages: int, *, whose: str) -> discord.Embed:
    embed = discord.Embed(title=f"Recent tracks · {whose}", colour=BRAND)
    if not tracks:
        embed.description = "No tracks yet. Make one with /music create!"
    else:
        lines = [
            f"`#{t.id}` **{clip(t.display_title, 60)}** · <@{t.author_id}> · {t.operation.label} · "
            f"{duration(t.duration_s)} · {relative(t.created_at)}"
            for t in tracks
        ]
        embed.description = clip("\n".join(lines), 4096)
    embed.set_footer(text=f"Page {page + 1} of {pages}")
    return embed


def tree_embed(lineage: Lineage) -> discord.Embed:
    track = lineage.track
    embed = discord.Embed(title=f"Lineage of {clip(track.display_title, 200)}", colour=BRAND)
    lines: list[str] = []
    for depth, ancestor in enumerate(lineage.ancestors):
        lines.append(f"{'　' * depth}↳ `#{ancestor.id}` {clip(ancestor.display_title, 60)} · <@{ancestor.author_id}>")
    depth = len(lineage.ancestors)
    lines.append(f"{'　' * depth}↳ **`#{track.id}` {clip(track.display_title, 60)}** · <@{track.author_id}>")
    for child in lineage.children:
        lines.append(
            f"{'　' * (depth + 1)}↳ `#{child.id}` {clip(child.display_title, 60)} · {child.operation.label} · "
            f"<@{child.author_id}>"
        )
    if not lineage.children:
        lines.append(f"{'　' * (depth + 1)}(no remixes yet)")
    embed.description = clip("\n".join(lines), 4096)
    return embed


def settings_embed(settings: GuildSettings) -> discord.Embed:
    embed = discord.Embed(title="Studio settings", colour=BRAND)
    channels = ", ".join(f"<#{c}>" for c in settings.allowed_channel_ids) or "everywhere"
    embed.add_field(name="Allowed channels", value=channels, inline=False)
    embed.add_field(
        name="Required role", value=f"<@&{settings.required_role_id}>" if settings.required_role_id else "none"
    )
    embed.add_field(name="Remix threads", value="on" if settings.remix_threads else "off")
    embed.add_field(name="Audit log", value=f"<#{settings.audit_channel_id}>" if settings.audit_channel_id else "off")
    embed.add_field(name="Default model", value=settings.default_model or "provider default")
    embed.add_field(name="Cooldown", value=f"{settings.cooldown_s:g} s" if settings.cooldown_s else "none")
    embed.add_field(name="Built-in block list", value="on" if settings.use_default_blocklist else "off")
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
