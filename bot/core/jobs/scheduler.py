"""The scheduler: holds a new job until its status message exists, keeps the fair queue, dispatches jobs within
the provider's concurrency, and submits them with back-off on retryable errors."""

from __future__ import annotations

import heapq
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from bot.core.catalog import Catalog
from bot.core.jobs.config import JobsConfig
from bot.core.jobs.finisher import Finisher
from bot.core.jobs.registry import InFlight, Phase, Registry
from bot.core.jobs.safety import SafetyNet
from bot.core.jobs.tasks import Tasks
from bot.core.jobs.tracker import Tracker
from bot.core.metrics import Metrics
from bot.core.outbox import Outbox
from bot.domain.errors import ErrorKind, InvalidRequest, OperationUnavailable, ProviderError
from bot.domain.models import Job, JobState
from bot.domain.outcomes import Failure, FailureKind, Progress
from bot.domain.ports import Clock, JobStore, MusicProvider
from bot.domain.requests import JobRequest, load_job_request

if TYPE_CHECKING:
    from bot.core.jobs.cluster import SlotClaims

log = logging.getLogger(__name__)

SUBMIT_BACKOFF_MAX = 120.0


class Scheduler:
    def __init__(
        self,
        *,
        provider: MusicProvider,
        store: JobStore,
        registry: Registry,
        tracker: Tracker,
        finisher: Finisher,
        catalog: Catalog,
        outbox: Outbox,
        clock: Clock,
        metrics: Metrics,
        config: JobsConfig,
        tasks: Tasks,
        wake: Callable[[], None],
        slots: SlotClaims | None = None,
    ) -> None:
        self._provider = provider
        self._slots = slots  # many processes: the database hands out the provider's slots (bot/core/jobs/cluster.py)
        self._store = store
        self._registry = registry
        self._tracker = tracker
        self._finisher = finisher
        self._catalog = catalog
        self._outbox = outbox
        self._clock = clock
        self._metrics = metrics
        self._config = config
        self._tasks = tasks
        self._wake = wake
        self._net = SafetyNet(finisher)  # an unexpected error while submitting ends the job (bot/core/jobs/safety.py)
        # (when, job id): held jobs' release times and queued jobs' back-offs. Entries that no longer match their
        # record are stale and skipped, so nothing has to be removed when a job moves on or ends.
        self._timers: list[tuple[float, int]] = []
        # A Retry-After on a submit holds every submit (not the status polls: the tracker keeps its own).
        self._submit_not_before = 0.0

    # --- intake --------------------------------------------------------------------------------------------------
    def admitted(self, job: Job, request: JobRequest | None = None) -> int | None:
        """A job just admitted: held for its status message, or straight into the queue. Returns its place in
        line as the member should first see it."""
        now = self._clock.now()
        if self._config.status_grace_s > 0:
            record = self._registry.add(job, Phase.HELD, request)
            record.release_at = now + self._config.status_grace_s
            heapq.heappush(self._timers, (record.release_at, job.id))
            position: int | None = self._registry.waiting()
        else:
            self._registry.add(job, Phase.QUEUED, request)
            # Free provider slots take the whole line at the next loop turn; otherwise find its place.
            free = self._provider.max_concurrency - self._registry.at_provider()
            queue = self._registry.queue
            position = 1 if free >= len(queue) else queue.position(job.id)
        self._wake()
        return position

    def recovered(self, job: Job) -> None:
        """A job still queued when the bot stopped."""
        if job.id not in self._registry:
            self._registry.add(job, Phase.QUEUED)

    async def attach_status_message(self, job_id: int, message_id: int, channel_id: int | None = None) -> None:
        """Remember the status message (and the channel or thread it is in): later edits go by these ids."""
        await self._store.attach_status_message(job_id, message_id, channel_id)
        record = self._registry.get(job_id)
        if record is None:
            return
        changes: dict[str, int] = {"status_message_id": message_id}
        if channel_id is not None:
            changes["channel_id"] = channel_id
        record.job = record.job.model_copy(update=changes)
        if record.phase is Phase.HELD:
            self._registry.move(record, Phase.QUEUED)
            self._wake()

    # --- the loop's steps ----------------------------------------------------------------------------------------
    def release_held(self, now: float) -> None:
        """Run held jobs whose status message never came (the reply failed): they post a new message."""
        timers = self._timers
        while timers and timers[0][0] <= now:
            when, job_id = heapq.heappop(timers)
            record = self._registry.get(job_id)
            if record is not None and record.phase is Phase.HELD and record.release_at == when:
                self._registry.move(record, Phase.QUEUED)

    def next_due(self) -> float | None:
        timers = self._timers
        while timers:
            when, job_id = timers[0]
            record = self._registry.get(job_id)
            if record is not None and (
                (record.phase is Phase.HELD and record.release_at == when)
                or (record.phase is Phase.QUEUED and record.retry_at == when)
            ):
                break
            heapq.heappop(timers)
        due = timers[0][0] if timers else None
        if self._submit_not_before and len(self._registry.queue):
            # Queued jobs wait for the provider's Retry-After (cleared by dispatch once it has passed).
            due = self._submit_not_before if due is None else max(due, self._submit_not_before)
        return due

    def dispatch(self, now: float) -> None:
        if now < self._submit_not_before:
            return  # the provider asked us to wait before submitting again
        self._submit_not_before = 0.0
        if self._slots is not None:
            for granted in self._slots.granted(now):
                self._registry.move(granted, Phase.SUBMITTING)
                submit = self._net.guard(self._submit(granted), [granted.id], "submit")
                self._tasks.spawn(submit, f"submit-{granted.id}")
            return
        capacity = self._provider.max_concurrency - self._registry.at_provider()
        deferred: list[InFlight] = []
        while capacity > 0:
            record = self._registry.next_queued()
            if record is None:
                break
            if record.retry_at > now:
                deferred.append(record)
                continue
            self._registry.move(record, Phase.SUBMITTING)
            capacity -= 1
            self._tasks.spawn(self._net.guard(self._submit(record), [record.id], "submit"), f"submit-{record.id}")
        for record in deferred:
            self._registry.requeue(record)

    def report_positions(self) -> None:
        """Tell members whose job moved up the line (the notifier decides when to edit)."""
        queue = self._registry.queue
        if not len(queue):
            return
        for job_id, position in queue.positions().items():
            record = self._registry.get(job_id)
            if record is not None and record.position != position:
                record.position = position
                self._outbox.progress(record.job, Progress(state=JobState.QUEUED, position=position))

    # --- submitting ----------------------------------------------------------------------------------------------
    async def _submit(self, record: InFlight) -> None:
        job = record.job
        try:
            self._metrics.inc("tunesmith_provider_requests_total", call="submit")
            try:
                request = record.request or load_job_request(job.request)
                task_id = await self._tracker.gateway.submit(job, request, webhook=self._tracker.webhook_for(job))
            except ProviderError as exc:
                self._metrics.inc("tunesmith_provider_errors_total", kind=exc.kind.value)
                await self._submit_failed(record, exc)
                return
            except (OperationUnavailable, InvalidRequest) as exc:
                await self._finisher.fail(job.id, Failure(FailureKind.REJECTED, str(exc)))
                return
            now = self._clock.now()
            if not await self._store.mark_submitted(job.id, task_id, now):
                # Cancelled while we were submitting (the provider's task is simply ignored), or, with many
                # processes, submitted by a worker it had moved to: nothing of it is left to do here.
                if self._registry.get(job.id) is record:
                    self._registry.forget(job.id)
                return
            if self._registry.get(job.id) is not record:
                return
            self._metrics.observe("tunesmith_queue_wait_seconds", max(now - job.created_at.timestamp(), 0.0))
            record.job = job.model_copy(update={"state": JobState.SUBMITTED, "task_id": task_id})
            self._tracker.track(record, now)
            log.info("job %d submitted as task %s", job.id, task_id)
        finally:
            self._wake()

    async def _submit_failed(self, record: InFlight, exc: ProviderError) -> None:
        job = record.job
        if exc.kind is ErrorKind.RETIRED:
            await self._catalog.retire(job.operation, exc.message)
        now = self._clock.now()
        if exc.retryable and now - job.created_at.timestamp() < self._config.deadline:
            if self._registry.get(job.id) is not record:
                return  # cancelled while the submission was in flight: never send it again
            # The client already retried with backoff; keep the job queued and try again later.
            record.attempts += 1
            # The provider's Retry-After (capped: a million seconds would hold the queue past every deadline),
            # else exponential back-off.
            wait = self._config.honoured_wait(exc.retry_after)
            if wait:
                self._submit_not_before = max(self._submit_not_before, now + wait)
            delay = wait or min(self._config.submit_retry_base * 2 ** min(record.attempts - 1, 5), SUBMIT_BACKOFF_MAX)
            log.warning("job %d submit failed (%s); retrying in %.0fs", job.id, exc.kind.value, delay)
            record.retry_at = now + delay
            self._registry.move(record, Phase.QUEUED)
            heapq.heappush(self._timers, (record.retry_at, job.id))
            return
        await self._finisher.fail(job.id, Failure.of(exc.kind.value, exc.message))
