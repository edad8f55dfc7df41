"""The safety net under every background step of a job (submitting, polling, a follow-up, the last look before a
deadline): an exception nobody expected ends the job instead of leaving it in flight without a live owner.

Such a job is failed like any other (its reservation refunded, its member told on the status message) with a short
reference that is logged with the traceback, so an admin can find what happened. A job already ended meanwhile is
left as it is. The net is one wrapper around the coroutine a step runs (``SafetyNet.guard``), so the steps
themselves keep only the errors they expect.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Awaitable, Iterable
from typing import TYPE_CHECKING

from bot.domain.outcomes import Failure, FailureKind

if TYPE_CHECKING:
    from bot.core.jobs.finisher import Finisher

log = logging.getLogger(__name__)


def reference() -> str:
    """A short id a member can quote and an operator can find in the log."""
    return secrets.token_hex(3).upper()


class SafetyNet:
    def __init__(self, finisher: Finisher) -> None:
        self._finisher = finisher

    async def guard(self, step: Awaitable[object], job_ids: Iterable[int], what: str) -> None:
        """Run one step of these jobs; if it raises unexpectedly, end each of them (failed, refunded, told)."""
        try:
            await step
        except asyncio.CancelledError:
            raise  # the runtime stopping: the store has every step, a restart carries on
        except Exception as exc:
            await self.end(list(job_ids), what, exc)

    async def end(self, job_ids: list[int], what: str, exc: BaseException) -> None:
        ref = reference()
        log.error("job(s) %s: %s failed unexpectedly (reference %s)", job_ids, what, ref, exc_info=exc)
        for job_id in job_ids:
            if self._finisher.settling(job_id):
                continue  # its results are being stored: that ends it (see Finisher._unstorable)
            try:
                await self._finisher.fail(job_id, Failure(FailureKind.INTERNAL, ref))
            except Exception:
                # Nothing more can be done here: the store still has the job unfinished, so the next start
                # recovers it; it is forgotten now so it stops holding a slot of the provider.
                log.exception("could not end job %d after an unexpected error (reference %s)", job_id, ref)
                self._finisher.abandon(job_id)
