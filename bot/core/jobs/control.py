"""What members do to their jobs once admitted: attach the status message, cancel, list what is in the works."""

from __future__ import annotations

from bot.core.audit import AuditRecorder
from bot.core.jobs.finisher import Finisher
from bot.core.jobs.scheduler import Scheduler
from bot.domain.audit import JobCancelledByModerator
from bot.domain.errors import InvalidRequest, NotAllowed, NotFound
from bot.domain.models import Job, JobState, Operation
from bot.domain.outcomes import Failure, FailureKind
from bot.domain.ports import JobStore
from bot.domain.requester import Requester


class JobControl:
    def __init__(self, *, store: JobStore, scheduler: Scheduler, finisher: Finisher, audit: AuditRecorder) -> None:
        self._store = store
        self._scheduler = scheduler
        self._finisher = finisher
        self._audit = audit

    async def attach_status_message(self, job_id: int, message_id: int, *, channel_id: int | None = None) -> None:
        """The job's public status message: edited by these ids from now on (never by the interaction token)."""
        await self._scheduler.attach_status_message(job_id, message_id, channel_id)

    async def cancel(self, who: Requester, job_id: int) -> Job:
        """Cancel a job still in the works (the member's own, or any as a moderator); its credits come back."""
        job = await self._store.job(job_id)
        if job is None or job.guild_id != who.guild_id:
            raise NotFound(f"There is no job #{job_id} in this server.")
        if job.user_id != who.user_id and not await who.can_moderate(job.channel_id):
            raise NotAllowed("You can only cancel your own jobs.")
        if job.state.finished:
            raise InvalidRequest(f"Job #{job_id} already ended ({job.state.value}).")
        if job.operation is Operation.LYRICS:
            raise InvalidRequest("Lyrics are drafted in a few seconds; there is nothing to cancel.")
        cancelled = await self._finisher.cancel(job)
        # The job's own audit entry ("… → cancelled", with the refund) is written when the cancellation is
        # delivered; a second one here would break "one entry per job". Only a moderator stopping someone
        # else's job is worth its own line, as a moderation action.
        if job.user_id != who.user_id:
            await self._audit.record(who.guild_id, JobCancelledByModerator(who.user_id, job_id, job.user_id))
        return cancelled

    async def abandon(self, job: Job) -> Job | None:
        """The job's status message could not be posted, so it must not run (or cost): end it and refund it
        quietly (the member is told by the command that failed)."""
        return await self._finisher.fail(
            job.id, Failure(FailureKind.NOT_STARTED), deliver=False, state=JobState.CANCELLED
        )

    async def active_jobs(self, guild_id: int, user_id: int) -> list[Job]:
        return await self._store.active_jobs_of(guild_id, user_id)

    async def job(self, guild_id: int, job_id: int) -> Job | None:
        """A job of this server, as stored."""
        job = await self._store.job(job_id)
        return job if job is not None and job.guild_id == guild_id else None
