"""The audit recorder: every audit entry of a server goes through here, to its audit-log channel when one is set.

It writes one entry per job (its outcome, heard from delivery), per refusal, per admin change, and a moderation
note when the provider's content filter refuses one member several times in a short while.
"""

from __future__ import annotations

import logging
from collections import defaultdict, deque

from bot.core.outbox import Outbox
from bot.core.settings import SettingsBook
from bot.domain.audit import AuditEntry, JobFinished, ModerationNote
from bot.domain.outcomes import FailureKind, JobOutcome
from bot.domain.ports import Clock

log = logging.getLogger(__name__)

# Provider moderation failures by one member that make the audit log raise a note, and the window they count in.
MODERATION_STRIKES = 3
MODERATION_WINDOW_S = 600.0


class AuditRecorder:
    def __init__(
        self,
        settings: SettingsBook,
        outbox: Outbox,
        clock: Clock,
        *,
        strikes: int = MODERATION_STRIKES,
        window_s: float = MODERATION_WINDOW_S,
    ) -> None:
        self._settings = settings
        self._outbox = outbox
        self._clock = clock
        self._strike_limit = strikes
        self._window_s = window_s
        self._strikes: dict[tuple[int, int], deque[float]] = defaultdict(deque)

    async def record(self, guild_id: int, entry: AuditEntry) -> None:
        """Write an entry to the server's audit-log channel, if it has one. Never fails the action it records."""
        settings = await self._settings.get(guild_id)
        if settings.audit_channel_id is None:
            return
        try:
            await self._outbox.audit(guild_id, settings.audit_channel_id, entry)
        except Exception:
            log.warning("could not write to the audit-log channel of guild %d", guild_id, exc_info=True)

    async def job_outcome(self, outcome: JobOutcome) -> None:
        """A job's one entry, once its member was told; and a note when moderation keeps refusing a member."""
        job = outcome.job
        await self.record(job.guild_id, JobFinished(job.user_id, outcome))
        if outcome.failure is not None and outcome.failure.kind is FailureKind.MODERATION:
            strikes = self._strike(job.guild_id, job.user_id)
            if strikes:
                await self.record(job.guild_id, ModerationNote(job.user_id, strikes, self._window_s))

    def _strike(self, guild_id: int, user_id: int) -> int | None:
        """Count a provider moderation failure; returns the member's recent count when it warrants a note."""
        now = self._clock.now()
        strikes = self._strikes[(guild_id, user_id)]
        strikes.append(now)
        while strikes and now - strikes[0] > self._window_s:
            strikes.popleft()
        if len(strikes) < self._strike_limit:
            return None
        # One note per burst: the count starts again, so a member refused ten times in a row is noted three
        # times, not eight.
        count = len(strikes)
        strikes.clear()
        return count
