"""The Notifier port on Discord: posts results and audit lines, and edits status messages, by channel and message
id (never through an interaction token, which dies after 15 minutes and with a restart).

It only posts and edits: what to say comes from core as structured values, and every word is made in
``bot/ui/render.py``. It owns Discord's edit budget (``bot/ui/status.py``).
"""

from __future__ import annotations

import io
import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import discord

from bot.domain.audit import AuditEntry
from bot.domain.models import Job, Operation
from bot.domain.outcomes import Delivery, DeliveryIncomplete, Failure, JobResult, Progress, TrackCard
from bot.domain.ports import Clock
from bot.ui import render
from bot.ui.buttons import track_view
from bot.ui.status import ChannelBudget, StatusEdits
from bot.ui.tool_posts import stems_message

if TYPE_CHECKING:
    from bot.client import Tunesmith

log = logging.getLogger(__name__)

HISTORY_LIMIT = 1000  # messages read, at most, to find a post made before a restart (ten requests, rarely needed)
CLOCK_SKEW_S = 120.0  # how far this machine's clock may be ahead of Discord's


def _utc(unix: float) -> datetime:
    return datetime.fromtimestamp(unix, UTC)


class DiscordNotifier:
    """Everything core tells members and admins goes through here."""

    def __init__(
        self,
        bot: Tunesmith,
        *,
        clock: Clock,
        edit_interval: float = 5.0,
        refresh_interval: float = 15.0,
        channel_budget: ChannelBudget | None = None,
    ) -> None:
        self._bot = bot
        self._posts = bot.posts
        self._clock = clock
        self.status = StatusEdits(
            self._edit_status,
            self._clock,
            interval=edit_interval,
            refresh=refresh_interval,
            channel_budget=channel_budget,
        )

    async def close(self) -> None:
        await self.status.close()

    def _channel(self, job: Job) -> discord.PartialMessageable:
        return self._bot.get_partial_messageable(job.channel_id, guild_id=job.guild_id)

    # --- the Notifier port -------------------------------------------------------------------------------------
    def job_progress(self, job: Job, progress: Progress) -> None:
        self.status.report(job, progress)

    async def _edit_status(self, job: Job, progress: Progress) -> None:
        if job.status_message_id is None:
            return
        text = render.status_text(job, progress, now=self._clock.now())
        await self._channel(job).get_partial_message(job.status_message_id).edit(content=text)

    async def job_succeeded(self, result: JobResult) -> list[Delivery]:
        job = result.job
        self.status.finished(job.id)
        if job.operation is Operation.DOWNLOAD:
            await self._post_download(result)
            return []
        if job.operation.is_tool:
            # Stems: the status message (in the track's thread) becomes the post with the files.
            text, files = await stems_message(self._posts, job, result.source, self._posts.upload_limit(job.guild_id))
            await self._replace_status(job, content=text, files=files)
            return []
        deliveries: list[Delivery] = []
        in_thread = await self._in_thread(job)
        replace_status = job.status_message_id is not None and result.first_replaces_status
        # Posted before (by an attempt that was killed or failed before recording it): found, not posted again.
        earlier = await self._find_posts(job, [c for c in result.cards if c.look_first])
        for card in result.cards:
            try:
                nonce = card.claim.nonce if card.claim is not None else None
                message = earlier.get(card.track.id)
                if message is None:
                    embed, files = await self._posts.track_post(card)
                    view = track_view(card.track, result.actions)
                    if replace_status:
                        # An edit, so a repeat is harmless; posted anew (with the nonce) if the message is gone.
                        message = await self._replace_status(
                            job, content=None, embed=embed, files=files, view=view, nonce=nonce
                        )
                    else:
                        message = await self._send(job, nonce, embed=embed, files=files, view=view)
                replace_status = False
            except Exception as exc:
                if deliveries:
                    # FUZZ's first song is out: say so, so the retry posts only the rest.
                    raise DeliveryIncomplete(deliveries, exc) from exc
                raise
            deliveries.append(
                Delivery(
                    track_id=card.track.id,
                    channel_id=job.channel_id,
                    message_id=message.id,
                    thread_id=job.channel_id if in_thread else None,
                )
            )
        return deliveries

    async def job_failed(self, job: Job, failure: Failure, refunded: int) -> None:
        self.status.finished(job.id)
        await self._replace_status(job, content=render.failure_text(job, failure, refunded))

    async def audit(self, guild_id: int, channel_id: int, entry: AuditEntry) -> None:
        try:
            await self._bot.get_partial_messageable(channel_id, guild_id=guild_id).send(render.audit_line(entry))
        except discord.HTTPException:
            log.warning("could not write to the audit-log channel of guild %d", guild_id, exc_info=True)

    # --- posts ---------------------------------------------------------------------------------------------------
    async def _post_download(self, result: JobResult) -> None:
        job, source = result.job, result.source
        url = job.result_url
        data = await self._posts.fetch(url, self._posts.upload_limit(job.guild_id))
        files = []
        if data is not None and url:
            fmt = str(job.request.get("format", "mp3")).lower()
            name = render.audio_filename(source, url) if source else f"download.{fmt}"
            files.append(discord.File(io.BytesIO(data), filename=name))
        await self._replace_status(job, content=render.download_text(job, source), files=files)

    async def _send(
        self,
        job: Job,
        nonce: str | None,
        *,
        content: str | None = None,
        embed: discord.Embed | None = None,
        files: Sequence[discord.File] = (),
        view: discord.ui.View | None = None,
    ) -> discord.Message:
        """A new message in the job's channel. With a nonce, discord.py sends ``enforce_nonce``: a repeat of this
        create within Discord's window (a retry, another process) returns the first message instead of a second."""
        extra: dict[str, Any] = {"embed": embed} if embed is not None else {}
        if view is not None:
            extra["view"] = view
        if nonce is not None:
            extra["nonce"] = nonce
        return await self._channel(job).send(content, files=list(files), **extra)

    async def _find_posts(self, job: Job, cards: Sequence[TrackCard]) -> dict[int, discord.Message]:
        """The posts of these tracks already in the job's channel: the bot's messages made after the status
        message (or, without one, after the first claim less the clocks' skew), recognised by the nonce (Discord
        shows it to the session that created the message) or by the track's footer (what survives a restart). A
        command's answer (``/music show``) is not a delivery."""
        if not cards:
            return {}
        wanted = {render.track_footer(c.track): c.track.id for c in cards}
        nonces = {c.claim.nonce: c.track.id for c in cards if c.claim is not None}
        after = job.status_message_id
        if after is None:  # posted anew: not before the first claim (less this clock's error)
            claimed = min(c.claim.claimed_at for c in cards if c.claim is not None)
            after = discord.utils.time_snowflake(_utc(claimed - CLOCK_SKEW_S))
        me = self._bot.user.id if self._bot.user is not None else None
        found: dict[int, discord.Message] = {}
        try:
            async for message in self._channel(job).history(
                after=discord.Object(after), limit=HISTORY_LIMIT, oldest_first=True
            ):
                if (me is not None and message.author.id != me) or message.interaction_metadata is not None:
                    continue
                track_id = nonces.get(str(message.nonce)) if message.nonce is not None else None
                if track_id is None:
                    footers = [e.footer.text for e in message.embeds if e.footer.text]
                    track_id = next((wanted[f] for f in footers if f in wanted), None)
                if track_id is not None and track_id not in found:
                    found[track_id] = message
                    if len(found) == len(cards):
                        break
        except discord.HTTPException:
            # Without Read Message History the nonce alone guards a repeat (for Discord's few minutes).
            log.warning("could not read the history of channel %d to find job %d's posts", job.channel_id, job.id)
        if found:
            log.info("job %d: %d track(s) were posted before; not posting them again", job.id, len(found))
        return found

    async def _replace_status(
        self,
        job: Job,
        *,
        content: str | None,
        embed: discord.Embed | None = None,
        files: Sequence[discord.File] = (),
        view: discord.ui.View | None = None,
        nonce: str | None = None,
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
        return await self._send(job, nonce, content=content, embed=embed, files=files, view=view)

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
