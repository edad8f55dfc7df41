"""The Notifier port on Discord: edits status messages and posts finished tracks, by channel and message id."""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import aiohttp
import discord

from bot.domain.errors import ErrorKind, NotFound
from bot.domain.models import Job, JobState, Operation, Track
from bot.domain.ports import AuditEntry, Delivery, DeliveryIncomplete, Progress
from bot.ui import render
from bot.ui.buttons import track_view

if TYPE_CHECKING:
    from bot.ui.client import Tunesmith

log = logging.getLogger(__name__)

DEFAULT_UPLOAD_LIMIT = 10 * 1024 * 1024  # Discord's default for servers without boosts
IMAGE_LIMIT = 8 * 1024 * 1024


class DiscordNotifier:
    """Everything the engine tells members goes through here."""

    def __init__(self, bot: Tunesmith, *, session: aiohttp.ClientSession | None = None) -> None:
        self._bot = bot
        self._session = session
        self._own_session = session is None

    async def close(self) -> None:
        if self._own_session and self._session is not None:
            await self._session.close()
            self._session = None

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60, connect=10))
        return self._session

    async def fetch(self, url: str | None, limit: int) -> bytes | None:
        """Download a provider file; None when it is missing, unreachable or larger than ``limit``."""
        if not url or not url.startswith(("http://", "https://")):
            return None
        try:
            async with self._http().get(url) as response:
                if response.status != 200:
                    log.warning("file download answered HTTP %d", response.status)
                    return None
                if response.content_length is not None and response.content_length > limit:
                    return None
                data = bytearray()
                async for chunk in response.content.iter_chunked(64 * 1024):
                    data.extend(chunk)
                    if len(data) > limit:
                        return None
                return bytes(data)
        except (aiohttp.ClientError, TimeoutError):
            log.warning("file download failed", exc_info=True)
            return None

    def _channel(self, job: Job) -> discord.PartialMessageable:
        return self._bot.get_partial_messageable(job.channel_id, guild_id=job.guild_id)

    def upload_limit(self, guild_id: int) -> int:
        guild = self._bot.get_guild(guild_id)
        return guild.filesize_limit if guild is not None else DEFAULT_UPLOAD_LIMIT

    # --- the Notifier port -------------------------------------------------------------------------------------
    async def job_progress(self, job: Job, progress: Progress) -> None:
        if job.status_message_id is None:
            return
        await (
            self._channel(job)
            .get_partial_message(job.status_message_id)
            .edit(content=render.status_text(job, progress))
        )

    async def job_succeeded(self, job: Job, tracks: Sequence[Track]) -> list[Delivery]:
        if job.operation is Operation.DOWNLOAD:
            await self._post_download(job)
            return []
        deliveries: list[Delivery] = []
        available = self._bot.studio.engine.available_operations()
        in_thread = await self._in_thread(job)
        replace_status = job.status_message_id is not None
        posted: list[tuple[Track, discord.Message]] = []
        for track in tracks:
            if track.message_id is not None:
                replace_status = False  # the status message already became this track's post
                continue
            try:
                embed, files = await self.track_post(track)
                view = track_view(track, available)
                if replace_status:
                    message = await self._replace_status(job, content=None, embed=embed, files=files, view=view)
                    replace_status = False
                else:
                    message = await self._channel(job).send(embed=embed, files=files, view=view)
            except Exception as exc:
                if deliveries:
                    # FUZZ's first song is out: say so, so the retry posts only the rest.
                    raise DeliveryIncomplete(deliveries, exc) from exc
                raise
            deliveries.append(
                Delivery(
                    track_id=track.id,
                    channel_id=job.channel_id,
                    message_id=message.id,
                    thread_id=job.channel_id if in_thread else None,
                )
            )
            posted.append((track, message))
        if posted:
            await self._audit_tracks(job, posted)  # one entry per job, however many songs it made
        return deliveries

    async def _replace_status(
        self,
        job: Job,
        *,
        content: str | None,
        embed: discord.Embed | None = None,
        files: Sequence[discord.File] = (),
        view: discord.ui.View | None = None,
    ) -> discord.Message:
        """Edit the job's status message into its result, or post the result anew when there is none."""
        channel = self._channel(job)
        if job.status_message_id is not None:
            try:
                return await channel.get_partial_message(job.status_message_id).edit(
                    content=content, embed=embed, attachments=list(files), view=view
                )
            except discord.NotFound:
                # Deleted (by a moderator, say) while the job ran: without this the delivery would fail and be
                # retried forever, and the member would never get what they paid for.
                log.info("the status message of job %d is gone; posting its result anew", job.id)
                for file in files:
                    file.reset()  # the failed edit read them
        extra: dict[str, Any] = {"embed": embed} if embed is not None else {}
        if view is not None:
            extra["view"] = view
        return await channel.send(content, files=list(files), **extra)

    async def _in_thread(self, job: Job) -> bool:
        if job.parent_track_id is None:
            return False
        channel = self._bot.get_channel(job.channel_id)
        if channel is not None:
            return isinstance(channel, discord.Thread)
        try:
            fetched = await self._bot.fetch_channel(job.channel_id)
        except discord.HTTPException:
            return False
        return isinstance(fetched, discord.Thread)

    async def track_post(self, track: Track) -> tuple[discord.Embed, list[discord.File]]:
        """The embed and files of a track post: audio attached when it fits the server's limit, else linked."""
        limit = self.upload_limit(track.guild_id)
        audio, image = await asyncio.gather(
            self.fetch(track.audio_url, limit), self.fetch(track.image_url, min(IMAGE_LIMIT, limit))
        )
        files: list[discord.File] = []
        if audio is not None and track.audio_url:
            files.append(discord.File(io.BytesIO(audio), filename=render.audio_filename(track, track.audio_url)))
        # The limit is per message, so the cover only rides along when both fit.
        image_attached = image is not None and len(image) + len(audio or b"") <= limit
        if image is not None and image_attached:
            files.append(discord.File(io.BytesIO(image), filename=render.cover_filename(track)))
        link = track.audio_url if audio is None else None
        parent = await self._bot.studio.parent_of(track)
        embed = render.track_embed(track, parent, image_attached=image_attached, audio_link=link)
        return embed, files

    async def _post_download(self, job: Job) -> None:
        url = job.result_url
        fmt = str(job.request.get("format", "mp3")).upper()
        track = None
        # A track deleted since the download was asked for: the member paid for the file, so it is still delivered.
        with contextlib.suppress(NotFound):
            track = await self._bot.studio.track(job.guild_id, job.parent_track_id) if job.parent_track_id else None
        title = track.display_title if track else "your track"
        data = await self.fetch(url, self.upload_limit(job.guild_id))
        files = []
        if data is not None and url:
            name = render.audio_filename(track, url) if track else f"download.{fmt.lower()}"
            files.append(discord.File(io.BytesIO(data), filename=name))
        content = f"⬇️ {fmt} of *{render.clip(title, 80)}* for <@{job.user_id}>"
        if url:
            content += f": {url}"
        await self._replace_status(job, content=content, files=files)
        await self._audit(job, outcome=f"{fmt} delivered", credits=-job.cost)

    async def job_failed(self, job: Job, reason: str, refunded: int) -> None:
        await self._replace_status(job, content=render.failure_text(job, reason, refunded))
        outcome = "cancelled" if job.state is JobState.CANCELLED else f"failed: {reason}"
        if refunded:
            outcome += f" ({refunded} credits returned)"
        # The reservation came back, so the net movement is nothing; "+10 credits" would read like a gain.
        await self._audit(job, outcome=outcome, credits=0)
        if job.failure_kind == ErrorKind.MODERATION.value:
            strikes = self._bot.studio.note_moderation_failure(job)
            if strikes:
                await self._bot.studio.audit.record(
                    job.guild_id,
                    AuditEntry(
                        actor_id=job.user_id,
                        action="moderation-note",
                        summary=f"{strikes} requests refused by the provider's content filter in 10 minutes",
                        outcome="worth a look",
                    ),
                )

    async def _audit_tracks(self, job: Job, posted: list[tuple[Track, discord.Message]]) -> None:
        titles = ", ".join(f"track #{t.id} *{render.clip(t.display_title, 60)}*" for t, _ in posted)
        first = posted[0][1]
        link = f"https://discord.com/channels/{job.guild_id}/{job.channel_id}/{first.id}"
        await self._audit(job, outcome=titles, credits=-job.cost, link=link)

    async def _audit(self, job: Job, *, outcome: str, credits: int, link: str | None = None) -> None:
        request = job.request
        prompt = request.get("sound") or request.get("title") or request.get("audio_url") or ""
        await self._bot.studio.audit.record(
            job.guild_id,
            AuditEntry(
                actor_id=job.user_id,
                action=f"{job.operation.value} finished",
                summary=f"job #{job.id} · {render.clip(' '.join(str(prompt).split()), 100)}",
                outcome=outcome,
                credits=credits,
                link=link,
            ),
        )


class DiscordAuditLog:
    """The AuditLog port: one concise line per entry in the server's audit-log channel, when one is set."""

    def __init__(self, bot: Tunesmith) -> None:
        self._bot = bot

    async def record(self, guild_id: int, entry: AuditEntry) -> None:
        settings = await self._bot.studio.settings(guild_id)
        if settings.audit_channel_id is None:
            return
        parts = [f"<@{entry.actor_id}> **{entry.action}** · {entry.summary}"]
        if entry.outcome:
            parts.append(f"→ {entry.outcome}")
        if entry.credits:
            parts.append(f"({entry.credits:+d} credits)")
        if entry.link:
            parts.append(entry.link)
        if entry.admin_note:
            parts.append(f"[{entry.admin_note}]")
        text = render.clip(" ".join(parts), 2000)
        try:
            await self._bot.get_partial_messageable(settings.audit_channel_id, guild_id=guild_id).send(text)
        except discord.HTTPException:
            log.warning("could not write to the audit-log channel of guild %d", guild_id, exc_info=True)
