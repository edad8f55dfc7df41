"""The tracker: follows submitted tasks until they end, by polling on a schedule or by webhook, and gives up on
tasks past their deadline (after one last look)."""

from __future__ import annotations

import hashlib
import heapq
import hmac
import logging
import math
import secrets
from collections import Counter, OrderedDict
from collections.abc import Callable, Sequence
from typing import Protocol

from bot.core.catalog import Catalog
from bot.core.jobs.config import JobsConfig
from bot.core.jobs.estimate import Expected, RenderEstimates, RenderKey, Schedule, next_poll_in
from bot.core.jobs.finisher import Finisher
from bot.core.jobs.followup import FollowUps
from bot.core.jobs.gateway import TaskGateway
from bot.core.jobs.registry import InFlight, Phase, Registry
from bot.core.jobs.safety import SafetyNet
from bot.core.jobs.tasks import Tasks
from bot.core.metrics import Metrics
from bot.core.outbox import Outbox
from bot.domain.errors import ErrorKind, ProviderError
from bot.domain.models import Job, JobState, Operation, TaskState, TaskStatus, WebhookTarget
from bot.domain.outcomes import Failure, FailureKind, Progress
from bot.domain.ports import Clock, JobStore, MusicProvider, PollRoom, ProviderStateStore, WebhookReceipt

log = logging.getLogger(__name__)

SEEN_WEBHOOKS = 10_000  # ids remembered in memory; older repeats are caught by the store


PROBES = 3
"""Tasks per provider and operation polled early while their render time is unknown (see estimate.py)."""


class Neighbours(Protocol):
    """The other workers on one database (bot/core/jobs/cluster.py): polls are shared, so the provider is asked
    no more often for all of them than for one process holding every task. See ``ClusterStore.poll_room``."""

    async def poll_room(
        self,
        provider: str,
        *,
        mine: Sequence[tuple[int, float]],
        now: float,
        submitted_before: float,
        polled_before: float,
        limit: int,
    ) -> PollRoom: ...

    async def adopt_polled(self, job_id: int) -> None: ...


def poll_interval(
    *, age: float, polls: int, webhook: bool, expected: Expected, config: JobsConfig, probe: bool = False
) -> float:
    """Seconds to a task's next poll: rare for webhook tasks (a safety net), else from the learned schedule."""
    if webhook:
        return config.safety_poll_interval
    return next_poll_in(age=age, polls=polls, expected=expected, schedule=schedule_of(config), probe=probe)


def schedule_of(config: JobsConfig) -> Schedule:
    return Schedule(min_gap=config.min_poll_gap, max_gap=max(config.max_poll_interval, config.min_poll_gap))


class Tracker:
    def __init__(
        self,
        *,
        provider: MusicProvider,
        store: JobStore,
        webhooks: ProviderStateStore,
        registry: Registry,
        finisher: Finisher,
        catalog: Catalog,
        outbox: Outbox,
        clock: Clock,
        metrics: Metrics,
        config: JobsConfig,
        tasks: Tasks,
        wake: Callable[[], None],
    ) -> None:
        self._provider = provider
        self._store = store
        self._webhooks = webhooks
        self._registry = registry
        self._finisher = finisher
        self._catalog = catalog
        self._outbox = outbox
        self._clock = clock
        self._metrics = metrics
        self._config = config
        self._tasks = tasks
        self._wake = wake
        self._net = SafetyNet(finisher)  # an unexpected error while tracking ends the job (bot/core/jobs/safety.py)
        self.gateway = TaskGateway(provider)
        self.followups = FollowUps(
            provider=provider,
            store=store,
            webhooks=webhooks,
            finisher=finisher,
            catalog=catalog,
            clock=clock,
            webhook_for=self.webhook_for,
            resume=self._resume,
        )
        self.estimate = RenderEstimates(
            config.expected_render_s,
            seeds=config.render_seeds,
            floor_s=min(0.1, config.min_poll_gap),
            ceiling_s=config.deadline,
        )
        # (when, job id); entries whose time no longer matches the record are stale and skipped.
        self._heap: list[tuple[float, int]] = []
        self._poll_not_before = 0.0  # a rate limit on status calls holds every poll, not only one task's
        self._polls_in_flight = 0
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._probes: Counter[tuple[str, Operation]] = Counter()  # probes started per provider and operation
        # Without an operator key (tests, the benchmark) a per-process key still gives every job its own secret.
        self._webhook_key = config.webhook_key or secrets.token_bytes(32)
        # Many processes on one database: other workers' tasks fill this worker's polls (None: this one alone).
        self.neighbours: Neighbours | None = None
        self._marked: dict[int, float] = {}  # this worker's tasks: when this worker last marked them polled

    # --- tracking ------------------------------------------------------------------------------------------------
    def track(self, record: InFlight, now: float, *, first_poll: float | None = None) -> None:
        """Follow a submitted task (just submitted, or recovered after a restart with ``first_poll=now``)."""
        job = record.job
        record.submitted_at = job.submitted_at.timestamp() if job.submitted_at else now
        record.webhook = self.webhooks_on and self.gateway.uses_webhook(job)
        if first_poll is not None:
            record.unfinished_at = -1.0  # recovered: how long it really took is unknown (we were down)
        if record.phase not in (Phase.SUBMITTED, Phase.RUNNING):
            self._registry.move(record, Phase.RUNNING if job.state is JobState.RUNNING else Phase.SUBMITTED)
        if not record.webhook and not record.probe and not self.expected(record).learned:
            probes = (self._provider.name, job.operation)
            if self._probes[probes] < PROBES:
                self._probes[probes] += 1
                record.probe = True
        self._set_poll(record, first_poll if first_poll is not None else now + self._interval(record, now))
        if first_poll is None:
            self._outbox.progress(job, self.progress(record))

    def progress(self, record: InFlight) -> Progress:
        state = JobState.RUNNING if record.phase is Phase.RUNNING else JobState.SUBMITTED
        return Progress(
            state=state,
            started_at=record.submitted_at,
            expected_s=self.expected(record).seconds,
            joining=record.job.followup is not None,
        )

    def _resume(self, record: InFlight, now: float) -> None:
        """A follow-up step started the job's next task: poll it on the usual schedule, and say so."""
        if self._tracked(record.id) is not record:
            return
        self._set_poll(record, now + self._interval(record, now))
        self._outbox.progress(record.job, self.progress(record))
        self._wake()

    def _set_poll(self, record: InFlight, when: float) -> None:
        """Schedule a task's next poll. The heap keeps the loop O(due) instead of O(tracked) per turn."""
        record.next_poll = when
        heapq.heappush(self._heap, (when, record.id))

    def _tracked(self, job_id: int) -> InFlight | None:
        record = self._registry.get(job_id)
        if record is not None and record.phase in (Phase.SUBMITTED, Phase.RUNNING):
            return record
        return None

    def next_due(self) -> float | None:
        heap = self._heap
        while heap:
            when, job_id = heap[0]
            record = self._tracked(job_id)
            if record is not None and record.next_poll == when:
                if self.neighbours is not None:
                    # Many workers: polls fall on a grid shared by all (the horizon apart, on the wall clock), so
                    # they poll at the same moments and the first one's call carries the others' due tasks.
                    step = self._horizon()
                    when = math.ceil(when / step) * step if step > 0 else when
                return max(when, self._poll_not_before)
            heapq.heappop(heap)  # stale: the task finished or was rescheduled
        return None

    def render_key(self, job: Job) -> RenderKey:
        model = job.request.get("model")
        return RenderKey(self._provider.name, model if isinstance(model, str) else None, job.operation)

    def expected(self, record: InFlight) -> Expected:
        """How long this job's render is expected to take (learned; the status line's "about … left" too)."""
        return self.estimate.expected(self.render_key(record.job))

    def _interval(self, record: InFlight, now: float) -> float:
        return poll_interval(
            age=now - record.submitted_at,
            polls=record.polls,
            webhook=record.webhook,
            expected=self.expected(record),
            config=self._config,
            probe=record.probe,
        )

    # --- polling -------------------------------------------------------------------------------------------------
    def poll_due(self, now: float) -> None:
        if now < self._poll_not_before or self._polls_in_flight >= self._config.max_parallel_polls:
            return
        soonest = self.next_due()
        if soonest is None or soonest > now:
            return
        # Coalesce tasks due soon into the same calls, so batches fill up (FUZZ: 25 ids a call).
        # The horizon stays within one poll gap, so coalescing never pulls a poll far ahead of its task's end.
        horizon = now + self._horizon()
        size = max(1, self._provider.batch_size)
        room = (self._config.max_parallel_polls - self._polls_in_flight) * size
        due: list[InFlight] = []
        heap = self._heap
        while heap and len(due) < room and heap[0][0] <= horizon:
            when, job_id = heapq.heappop(heap)
            record = self._tracked(job_id)
            if record is not None and record.next_poll == when:
                due.append(record)
        for start in range(0, len(due), size):
            batch = due[start : start + size]
            for record in batch:
                # Pushed out now so the next loop turn does not poll them again while this call runs.
                self._set_poll(record, now + self._config.max_poll_interval)
            self._polls_in_flight += 1
            self._tasks.spawn(self._net.guard(self._poll(batch), [r.id for r in batch], "poll"), f"poll-{batch[0].id}")

    def _horizon(self) -> float:
        return min(self._config.poll_interval / 2, self._config.min_poll_gap)

    async def _poll(self, batch: Sequence[InFlight]) -> None:
        try:
            others: list[Job] = []
            if self.neighbours is not None:
                batch, others = await self._share(batch)
                if not batch:
                    return  # every task of it moved to another worker or ended there: no call for it
            self._metrics.inc("tunesmith_provider_requests_total", call="poll")
            try:
                statuses = await self.gateway.fetch([r.job for r in batch] + others)
            except ProviderError as exc:
                self._metrics.inc("tunesmith_provider_errors_total", kind=exc.kind.value)
                now = self._clock.now()
                wait = self._hold_polls(exc, now)
                for record in batch:
                    record.polls += 1
                    self._set_poll(record, now + max(wait, self._interval(record, now)))
                log.warning("status poll failed (%s); backing off", exc.kind.value)
                return
            now = self._clock.now()
            by_id = {s.task_id: s for s in statuses}
            for record in batch:
                if self._tracked(record.id) is not record:
                    continue  # finished meanwhile by a webhook, or cancelled
                # One task's answer at a time: an error handling it ends that job only (the net's way); the
                # batch's other jobs are handled all the same.
                try:
                    await self._polled(record, by_id.get(record.job.task_id or ""), now)
                except Exception as exc:
                    await self._net.end([record.id], "poll", exc)
            for job in others:
                await self._polled_for_other(job, by_id.get(job.task_id or ""), now)
        finally:
            self._polls_in_flight -= 1
            self._wake()

    async def _share(self, batch: Sequence[InFlight]) -> tuple[list[InFlight], list[Job]]:
        """Many processes: polls are shared by every worker. A task of the batch another worker leased meanwhile
        (or that ended there) is left out, one another worker polled since this one did waits for its next poll
        after that one; the call's room is filled with other workers' tasks at least as old as the batch's youngest
        (near their expected end; or, in a probe's call, as old as the probe: every worker's probes then share
        calls, where each worker exploring on its own multiplied the early polls by the workers). Every task
        polled is marked so in the database, so no worker polls it sooner than its schedule: the provider is asked
        about as often as by one process holding every task, however many share them."""
        assert self.neighbours is not None
        now = self._clock.now()
        horizon = now + self._horizon()
        size = max(1, self._provider.batch_size)
        schedule = schedule_of(self._config)
        soonest = min(self.expected(r).seconds for r in batch)
        gap = max(schedule.near * soonest, schedule.min_gap)
        # A task last polled after its cut was polled by another worker since this one did, and is not due yet:
        # the cut is the later of this worker's own last poll and the horizon less the task's interval.
        if len(self._marked) > 2 * len(self._registry) + 100:
            self._marked = {k: at for k, at in self._marked.items() if k in self._registry}
        cuts = {r.id: max(self._marked.get(r.id, -1.0), horizon - self._interval(r, now)) for r in batch}
        try:
            room = await self.neighbours.poll_room(
                self._provider.name,
                mine=list(cuts.items()),
                now=now,
                # As old as the youngest task of the batch (due by the horizon): near its end, or a probe's age.
                submitted_before=max(r.submitted_at for r in batch) + self._horizon(),
                polled_before=horizon - gap,
                limit=size,  # the call's size: other workers' tasks fill what this one's leave
            )
        except Exception:
            log.exception("sharing a status poll with other workers failed; polling this worker's own tasks")
            return list(batch), []
        poll = set(room.poll)
        out: list[InFlight] = []
        for record in batch:
            if record.id in poll:
                self._marked[record.id] = now
                out.append(record)
            elif record.id in room.polled:
                # Polled by another worker since this one did: its next poll counts from that one (later than the
                # horizon, since the poll came after the cut).
                self._set_poll(record, room.polled[record.id] + self._interval(record, now))
            else:
                # Leased by another worker now (its next heartbeat tells this one to drop it) or ended: not polled.
                self._set_poll(record, now + self._interval(record, now))
        return out, [job for job in room.due if job.id not in self._registry]

    async def _polled_for_other(self, job: Job, status: TaskStatus | None, now: float) -> None:
        """Another worker's task answered in this worker's poll. Finished: leased here and finished here, as a
        webhook reaching this worker would be; the conditional writes make it end once whoever else looks."""
        if status is None or not status.state.finished or self.neighbours is None:
            return  # still rendering: its own worker polls it on its schedule
        try:
            await self.neighbours.adopt_polled(job.id)
        except Exception:
            log.exception("taking over job %d found finished failed; its worker finishes it", job.id)
            return
        record = self._tracked(job.id)
        if record is None or record.job.task_id != status.task_id:
            return  # no longer at the provider (it ended meanwhile), or already on its next step
        try:
            record.polls += 1
            self._set_poll(record, now + self._interval(record, now))  # answered now: not polled again at once
            await self._apply(record, status)
        except Exception as exc:
            await self._net.end([record.id], "poll", exc)

    async def _polled(self, record: InFlight, status: TaskStatus | None, now: float) -> None:
        record.polls += 1
        if status is not None and not status.state.finished:
            record.unfinished_at = now - record.submitted_at
        self._set_poll(record, now + self._interval(record, now))
        if status is not None:
            await self._apply(record, status)

    async def _apply(self, record: InFlight, status: TaskStatus, webhook: WebhookReceipt | None = None) -> None:
        if status.state is TaskState.SUCCEEDED:
            self._succeeded(record, status, webhook)
        elif status.state is TaskState.FAILED:
            failure = status.failure
            kind = failure.kind if failure else ErrorKind.UNAVAILABLE.value
            message = failure.message if failure else "The provider could not make this song."
            if kind == ErrorKind.RETIRED.value:
                # A follow-up's task failing retires the step (the join), not the operation that started the job.
                step = Operation.CONCAT if record.job.followup is not None else record.job.operation
                await self._catalog.retire(step, message)
            await self._finisher.fail(record.id, Failure.of(kind, message))
        elif status.state is TaskState.RUNNING and record.phase is not Phase.RUNNING:
            # Conditional: a cancel or a webhook may have ended the job while this poll waited.
            await self._store.mark_running(record.id, record.polls)
            if self._tracked(record.id) is record:
                self._registry.move(record, Phase.RUNNING)
                record.job = record.job.model_copy(update={"state": JobState.RUNNING})
                self._outbox.progress(record.job, self.progress(record))

    def _succeeded(self, record: InFlight, status: TaskStatus, webhook: WebhookReceipt | None) -> None:
        if self.followups.wanted(record):
            # Not the end yet (an extension to join into the full song); one step at a time per job.
            if not record.advancing:
                record.advancing = True

                async def done() -> None:
                    record.advancing = False
                    self._wake()

                step = self.followups.advance(record, status, webhook, done)
                self._tasks.spawn(self._net.guard(step, [record.id], "follow-up"), f"followup-{record.id}")
            return
        seconds = max(self._clock.now() - record.submitted_at, 0.0)
        key = self.render_key(record.job)
        learned = self.estimate.expected(key).learned
        if webhook is not None:
            self.estimate.observe(key, seconds)  # the provider said when: exact
        elif record.unfinished_at >= 0:
            # Polled: it ended between the last "not yet" and now.
            self.estimate.observe_polled(key, not_done_at=record.unfinished_at, done_at=seconds)
        if not learned and self.estimate.expected(key).learned:
            self._replan(key)
        self._metrics.observe(
            "tunesmith_render_seconds", seconds, provider=self._provider.name, operation=record.job.operation.value
        )
        self._finisher.succeeded(record, status, webhook)

    def _replan(self, key: RenderKey) -> None:
        """The first render time of a provider's operation was learned: tasks waiting on the seed's guess are
        polled by what was learned instead (at once, when their render should be over). Once per key."""
        now = self._clock.now()
        for record in self._registry:
            if (
                record.webhook
                or record.job.operation is not key.operation
                or self._tracked(record.id) is not record
                or record.next_poll <= now
            ):
                continue
            when = now + self._interval(record, now)
            if when < record.next_poll:
                self._set_poll(record, when)
        self._wake()

    # --- deadlines -----------------------------------------------------------------------------------------------
    def expire(self, now: float) -> None:
        # While the provider tells us to wait, no deadline is enforced (a last look would be refused too), up to
        # the grace past it: a provider that never answers again still ends its jobs.
        limit = self._config.deadline
        if now < self._poll_not_before:
            limit += self._config.last_look_grace
        overdue = [
            r
            for r in self._registry
            if r.phase in (Phase.SUBMITTED, Phase.RUNNING)
            and not r.expiring
            and now - r.submitted_at > limit
            and now >= r.look_again_at
        ]
        size = max(1, self._provider.batch_size)
        for start in range(0, len(overdue), size):
            batch = overdue[start : start + size]
            for record in batch:
                record.expiring = True
            self._tasks.spawn(self._net.guard(self._expire_batch(batch), [r.id for r in batch], "last look"), "expire")

    async def _expire_batch(self, batch: Sequence[InFlight]) -> None:
        """Ask the provider one last time before giving up: a task may have finished while we were down or
        between two safety-net polls, and a finished song must not be thrown away as a timeout."""
        try:
            try:
                statuses = {s.task_id: s for s in await self.gateway.fetch([r.job for r in batch])}
            except ProviderError as exc:
                statuses = {}
                if exc.retryable:
                    # The provider cannot answer now (429, 5xx): a finished song must not be refunded for that.
                    # Look again after its wait, until the grace past the deadline runs out.
                    now = self._clock.now()
                    again = now + max(self._hold_polls(exc, now), self._config.poll_interval)
                    batch = [r for r in batch if not self._look_again(r, again)]
            for record in batch:
                if self._tracked(record.id) is not record:
                    continue  # finished meanwhile by a webhook or a poll
                status = statuses.get(record.job.task_id or "")
                try:
                    if status is not None and status.state.finished:
                        await self._apply(record, status)
                    else:
                        timeout = Failure(FailureKind.TIMEOUT, deadline_s=self._config.deadline)
                        await self._finisher.fail(record.id, timeout)
                except Exception as exc:
                    await self._net.end([record.id], "last look", exc)  # this job only, as in a poll
        finally:
            for record in batch:
                record.expiring = False

    def _hold_polls(self, exc: ProviderError, now: float) -> float:
        """The wait the provider asked for (capped: one Retry-After of a million seconds must not stop polling for
        days), held by every status poll and last look; submits keep their own back-off (the scheduler's)."""
        wait = self._config.honoured_wait(exc.retry_after) or 0.0
        if wait:
            self._poll_not_before = max(self._poll_not_before, now + wait)
        return wait

    def _look_again(self, record: InFlight, when: float) -> bool:
        """Defer a task's last look to ``when``; False once the grace past its deadline is spent."""
        if when - record.submitted_at > self._config.deadline + self._config.last_look_grace:
            return False
        record.look_again_at = when
        record.expiring = False
        return True

    # --- webhooks ------------------------------------------------------------------------------------------------
    @property
    def webhooks_on(self) -> bool:
        return bool(self._config.webhook_url_base) and self._provider.supports_webhooks

    def webhook_for(self, job: Job) -> WebhookTarget | None:
        if not self.webhooks_on or not self.gateway.uses_webhook(job):
            return None
        return WebhookTarget(
            url=f"{self._config.webhook_url_base}/webhooks/{self._provider.name}/{job.id}",
            secret=self.secret_for(job.id),
        )

    def secret_for(self, job_id: int) -> str:
        """A job's webhook secret: unique and unguessable per job, derived rather than stored, so neither the
        database nor its dump holds anything that could forge a webhook."""
        message = f"{self._provider.name}:{job_id}".encode()
        return hmac.new(self._webhook_key, message, hashlib.sha256).hexdigest()

    async def webhook_secret(self, job_id: int) -> tuple[str, str] | None:
        """(task_id, secret) of a job submitted with a webhook, or None when there is no such job.

        Finished jobs still answer, so a late duplicate is verified and acknowledged instead of refused.
        """
        if not self.webhooks_on:
            return None
        record = self._registry.get(job_id)
        job = record.job if record is not None and record.job.task_id else await self._store.job(job_id)
        if job is None or not job.task_id or job.provider != self._provider.name:
            return None
        return job.task_id, self.secret_for(job.id)

    async def accept_webhook(self, event_key: str, job_id: int, status: TaskStatus) -> bool:
        """Apply a verified webhook without waiting for the next poll; False when it was seen before.

        A final success is remembered in the same transaction that stores the job's tracks (one write for a burst
        of webhooks); anything else is remembered on its own. Repeats are caught in memory first, and across
        restarts by the store.
        """
        if event_key in self._seen:
            return False
        self._seen[event_key] = None
        if len(self._seen) > SEEN_WEBHOOKS:
            self._seen.popitem(last=False)
        receipt = WebhookReceipt(event_key, status.task_id)
        record = self._tracked(job_id)
        matches = record is not None and record.job.task_id == status.task_id
        if record is not None and matches and status.state is TaskState.SUCCEEDED:
            self._succeeded(record, status, receipt)
            return True
        if not await self._webhooks.record_webhook(receipt, self._clock.now()):
            return False
        record = self._tracked(job_id)
        if record is not None and record.job.task_id == status.task_id and status.state.finished:
            await self._apply(record, status)
        return True

    async def prune_webhooks(self, now: float) -> None:
        """Forget processed webhook ids past the retention period, so the table cannot grow without bound."""
        pruned = await self._webhooks.prune_webhooks(now - self._config.webhook_retention_s)
        if pruned:
            log.info(
                "forgot %d processed webhook ids older than %.0f days", pruned, self._config.webhook_retention_s / 86400
            )
