"""Core's one way out to members and admins: the Notifier the ui attaches while the bot runs.

Core is built before the bot (the bot needs the Services), and the Discord notifier needs the bot, so the
notifier cannot be a constructor argument of core without a cycle. Instead the job runtime attaches it when it
starts and detaches it when it stops: core never holds a reference to the ui object graph, and nothing is
patched into an object after it was built. Until a notifier is attached, results wait (they are delivered once
one is), progress is not shown and audit entries are logged only.
"""

from __future__ import annotations

import logging

from bot.domain.audit import AuditEntry
from bot.domain.models import Job
from bot.domain.outcomes import Delivery, Failure, JobResult, Progress
from bot.domain.ports import Notifier

log = logging.getLogger(__name__)


class NotAttached(RuntimeError):
    """No notifier is attached (the bot is not running): the result stays undelivered for now."""


class Outbox:
    def __init__(self) -> None:
        self._notifier: Notifier | None = None

    def attach(self, notifier: Notifier) -> None:
        if self._notifier is not None and self._notifier is not notifier:
            raise RuntimeError("another notifier is already attached")
        self._notifier = notifier

    def detach(self) -> None:
        self._notifier = None

    @property
    def attached(self) -> bool:
        return self._notifier is not None

    def _target(self) -> Notifier:
        if self._notifier is None:
            raise NotAttached("no notifier is attached")
        return self._notifier

    def progress(self, job: Job, progress: Progress) -> None:
        if self._notifier is not None:
            try:
                self._notifier.job_progress(job, progress)
            except Exception:  # a status line must never hurt the job itself
                log.warning("reporting progress of job %d failed", job.id, exc_info=True)

    async def succeeded(self, result: JobResult) -> list[Delivery]:
        return await self._target().job_succeeded(result)

    async def failed(self, job: Job, failure: Failure, refunded: int) -> None:
        await self._target().job_failed(job, failure, refunded)

    async def audit(self, guild_id: int, channel_id: int, entry: AuditEntry) -> None:
        if self._notifier is None:
            log.info("audit entry for guild %d not posted (no notifier attached): %s", guild_id, type(entry).__name__)
            return
        await self._notifier.audit(guild_id, channel_id, entry)
