"""The job engine: admit -> queue -> submit -> track -> finish -> deliver, surviving restarts.

Every step is written to the database before the next one starts, so a new engine on the same file picks up
where a crashed one stopped (:meth:`Engine.start` recovers). Delivery goes through the Notifier port.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import heapq
import hmac
import json
import logging
import secrets
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any

from bot.core.credits import Quota, check_admission, costs_for, period_key, quota_from_sums
from bot.core.fair_queue import FairQueue
from bot.core.group_commit import GroupCommit
from bot.core.metrics import Metrics
from bot.domain.errors import (
    ErrorKind,
    InvalidRequest,
    NotAllowed,
    NotFound,
    OperationUnavailable,
    ProviderError,
)
from bot.domain.models import (
    DraftedLyrics,
    GuildSettings,
    Job,
    JobState,
    LedgerKind,
    MusicRequest,
    Operation,
    Period,
    TaskState,
    TaskStatus,
    Track,
    WebhookTarget,
    build_request,
)
from bot.domain.ports import (
    Clock,
    Delivery,
    DeliveryIncomplete,
    MusicProvider,
    Notifier,
    Progress,
    UnitOfWork,
    UnitOfWorkFactory,
)

log = logging.getLogger(__name__)

# Operations whose request goes through the provider's task queue (lyrics are answered at once).
_TASK_OPERATIONS = frozenset(Operation) - {Operation.LYRICS}


@dataclass(frozen=True, slots=True)
class Requester:
    """Who asked, and where: the Discord facts the core needs, without Discord."""

    guild_id: int
    channel_id: int
    user_id: int
    role_ids: frozenset[int] = frozenset()
    parent_channel_id: int | None = None  # when asked in a thread: the channel it belongs to
    is_admin: bool = False  # Manage Server
    is_moderator: bool = False  # Manage Messages


@dataclass(frozen=True, slots=True)
class Defaults:
    """The operator's defaults for servers that have not set their own (from Settings)."""

    budget: int = 1000
    period: Period = Period.MONTH
    member_cap: int | None = None
    max_jobs_member: int = 2
    max_jobs_server: int = 10
    costs: dict[Operation, int] = field(default_factory=dict)

    def settings_for(self, guild_id: int) -> GuildSettings:
        return GuildSettings(
            guild_id=guild_id,
            budget=self.budget,
            period=self.period,
            member_cap=self.member_cap,
            max_jobs_member=self.max_jobs_member,
            max_jobs_server=self.max_jobs_server,
        )


@dataclass(frozen=True, slots=True)
class EngineConfig:
    poll_interval: float = 5.0
    """Base seconds between status polls of a task; grows with the task's age."""
    max_poll_interval: float = 30.0
    deadline: float = 600.0
    """Seconds after submission before a task is given up and refunded."""
    webhook_url_base: str | None = None
    """``https://host/prefix``: when set and the provider supports it, tasks report back by webhook."""
    safety_poll_interval: float = 60.0
    """Poll interval for tasks that will report by webhook: only a safety net."""
    progress_interval: float = 5.0
    """Least seconds between two status-message edits of one job (Discord's edit budget)."""
    refresh_interval: float = 15.0
    """How often a rendering job's elapsed time is refreshed when nothing else changed."""
    submit_retry_base: float = 5.0
    max_parallel_polls: int = 4
    expected_render_s: float = 30.0
    delivery_retry_base: float = 5.0
    delivery_attempts: int = 8
    """Tries to hand a result to Discord (backing off from 5 s) before giving up on posting it."""
    webhook_key: bytes | None = field(default=None, repr=False)
    """The key per-job webhook secrets are derived from (kept outside the database)."""
    status_grace_s: float = 0.0
    """Hold a new job this long (at most) until its status message is attached, so a very fast job cannot
    finish before the message exists and leave it behind. 0 = no hold (no Discord, e.g. the benchmark)."""
    tick: float = 0.01
    """Least seconds between two scheduling passes while work keeps arriving."""
    write_linger: float = 0.02
    """Seconds a finished job waits for others to share its transaction (a burst of webhooks is one write)."""
    stop_grace: float = 5.0
    """Seconds :meth:`Engine.stop` gives pending writes before it cancels what is left."""


@dataclass(slots=True)
class _Tracked:
    job_id: int
    task_id: str
    submitted_at: float
    next_poll: float
    webhook: bool
    polls: int = 0


@dataclass(slots=True)
class _Shown:
    """What a job's status message last showed, and when."""

    at: float = 0.0
    state: JobState | None = None
    position: int | None = None
    pending: bool = False


@dataclass(frozen=True, slots=True)
class Admission:
    job: Job
    position: int | None
    remaining: int


class Engine:
    """Owns the life of every job. Create with ports, ``await start()``, ``await stop()``."""

    def __init__(
        self,
        *,
        uow: UnitOfWorkFactory,
        provider: MusicProvider,
        notifier: Notifier,
        config: EngineConfig | None = None,
        defaults: Defaults | None = None,
        clock: Clock = time.time,
        metrics: Metrics | None = None,
    ) -> None:
        self._uow = uow
        self.provider = provider
        self.notifier = notifier
        self.config = config or EngineConfig()
        self.defaults = defaults or Defaults()
        self._clock = clock
        self.metrics = metrics or Metrics()
        self._queue = FairQueue()
        self._queued_jobs: dict[int, Job] = {}
        self._jobs: dict[int, Job] = {}  # active jobs as last written, so status updates need no read
        self._poll_heap: list[tuple[float, int]] = []
        self._last_maintenance = 0.0
        self._maintenance_interval = min(1.0, max(self.config.progress_interval / 2, 0.05))
        # (job, final status, webhook (event key, task id) to record with it); stored a burst at a time.
        self._completions: GroupCommit[tuple[int, TaskStatus, tuple[str, str] | None]] = GroupCommit(
            self._store_completions,
            spawn=lambda flush: self._spawn(flush, "store-completions"),
            linger=self.config.write_linger,
        )
        # (job, or None when only some of its songs went out; where its songs were posted)
        # No linger here: a post is clickable the moment it exists, and its buttons need it recorded.
        self._delivery_records: GroupCommit[tuple[int | None, list[Delivery]]] = GroupCommit(
            self._store_deliveries, spawn=lambda flush: self._spawn(flush, "store-deliveries")
        )
        self._seen_webhooks: OrderedDict[str, None] = OrderedDict()
        self._held: dict[int, tuple[Job, float]] = {}  # job -> (job, release time), awaiting its status message
        self._retry_at: dict[int, float] = {}  # queued job -> not before (submit backoff)
        self._attempts: dict[int, int] = {}  # queued job -> failed submit attempts
        self._submitting: set[int] = set()
        self._tracked: dict[int, _Tracked] = {}  # job id -> tracking state
        self._by_task: dict[str, int] = {}
        self._shown: dict[int, _Shown] = {}
        self._settings: dict[int, GuildSettings] = {}
        # Without an operator key (tests, the benchmark) a per-process key still gives every job its own secret.
        self._webhook_key = self.config.webhook_key or secrets.token_bytes(32)
        self._expiring: set[int] = set()
        self._posted: dict[int, list[Delivery]] = {}  # posted to Discord, not yet recorded
        self._delivering: set[int] = set()
        self._delivery_failures: dict[int, int] = {}
        self._undelivered: set[int] = set()
        self._retired: dict[Operation, str | None] = {}
        self._poll_not_before = 0.0
        self._polls_in_flight = 0
        self._render_estimate = self.config.expected_render_s
        self._wake = asyncio.Event()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._loop_task: asyncio.Task[None] | None = None
        self._stopping = False

    # --- lifecycle ---------------------------------------------------------------------------------------------
    async def start(self) -> None:
        """Recover unfinished work from the database, then start the scheduling loop."""
        await self.recover()
        self._stopping = False
        self._loop_task = asyncio.create_task(self._run(), name="tunesmith-engine")

    async def stop(self) -> None:
        """Stop scheduling. In-flight provider calls are abandoned; the database already has every step."""
        self._stopping = True
        self._wake.set()
        # Finished jobs and delivery records still lingering are written first: a post whose record were
        # lost would be posted again after the restart.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self.config.stop_grace):
                await self._completions.drain()
                await self._delivery_records.drain()
        tasks = [t for t in (self._loop_task, *self._tasks) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._loop_task = None
        self._tasks.clear()

    async def recover(self) -> None:
        now = self._clock()
        async with self._uow(write=False) as uow:
            active = await uow.jobs.active()
            undelivered = await uow.jobs.undelivered()
            self._retired = await uow.providers.retired(self.provider.name)
        for job in active:
            if job.operation is Operation.LYRICS:
                # Drafting is answered inside the command; a restart cut it off and the member got an error.
                await self._finish_failed(job.id, ErrorKind.UNAVAILABLE.value, "Interrupted.", deliver=False)
                continue
            if job.task_id:
                # Poll right away: a webhook may have been missed while we were down.
                self._track(job, now, first_poll=now)
            else:
                self._enqueue(job)
        for job in undelivered:
            self._undelivered.add(job.id)
        if active or undelivered:
            log.info("recovered %d unfinished and %d undelivered jobs", len(active), len(undelivered))
        self._wake.set()

    # --- what the cogs call ------------------------------------------------------------------------------------
    def available_operations(self) -> frozenset[Operation]:
        """What members may ask for now: the provider's operations minus those it retired."""
        return self.provider.operations - set(self._retired)

    def ensure_available(self, operation: Operation) -> None:
        if operation not in self.provider.operations:
            raise OperationUnavailable(
                f"{operation.label} isn't offered by the current music provider ({self.provider.name})."
            )
        if operation in self._retired:
            raise OperationUnavailable(
                f"{operation.label} was retired by the music provider, so it's switched off for now. "
                "Nothing was charged."
            )

    async def guild_settings(self, uow: UnitOfWork, guild_id: int) -> GuildSettings:
        """A server's settings, cached: every admission needs them and only /studio and /quota-admin change
        them, through :meth:`save_settings`."""
        cached = self._settings.get(guild_id)
        if cached is None:
            cached = await uow.settings.get(guild_id) or self.defaults.settings_for(guild_id)
            self._settings[guild_id] = cached
        return cached

    async def save_settings(self, uow: UnitOfWork, settings: GuildSettings) -> None:
        """Store a server's settings inside the caller's unit of work; the cache follows at once."""
        await uow.settings.save(settings)
        # Dropped rather than replaced: if the caller's transaction rolls back, the next read reloads.
        self._settings.pop(settings.guild_id, None)

    async def quota(self, guild_id: int, user_id: int) -> Quota:
        now = self._clock()
        async with self._uow(write=False) as uow:
            settings = await self.guild_settings(uow, guild_id)
            quota, _ = await self._read_quota(uow, settings, user_id, now)
        return quota

    async def _read_quota(
        self, uow: UnitOfWork, settings: GuildSettings, user_id: int, now: float
    ) -> tuple[Quota, int]:
        """The member's quota in the current period, and the server's jobs in flight (one query)."""
        key = period_key(now, settings.period, settings.reset_epoch)
        sums = await uow.ledger.balances(settings.guild_id, user_id, key)
        quota = quota_from_sums(
            settings,
            now=now,
            server_sum=int(sums["server_sum"] or 0),
            member_sum=int(sums["member_sum"] or 0),
            member_cap=sums["member_cap"],
            costs=costs_for(settings, self.defaults.costs or None),
            member_active_jobs=int(sums["member_active"] or 0),
        )
        return quota, int(sums["server_active"] or 0)

    async def admit(
        self,
        who: Requester,
        request: MusicRequest,
        *,
        parent_track_id: int | None = None,
        precheck: Callable[[UnitOfWork, GuildSettings], Awaitable[None]] | None = None,
    ) -> Admission:
        """Reserve the cost and record the job in one statement, then queue it. Raises before spending."""
        operation = Operation(request.operation)
        self.ensure_available(operation)
        now = self._clock()
        # No transaction needed: the unit's lock keeps every other use of the database out between the balance
        # read and the write, and the job row and its reservation are one statement (a trigger writes the
        # reservation), so they commit together or not at all. Two round trips to the database thread, not five.
        async with self._uow(write=False) as uow:
            job, remaining = await self._reserve(uow, who, request, parent_track_id, now, precheck)
        position: int | None = None
        if operation in _TASK_OPERATIONS:
            if self.config.status_grace_s > 0:
                self._held[job.id] = (job, now + self.config.status_grace_s)
                position = len(self._queue) + len(self._held)
            else:
                self._enqueue(job)
            self._shown[job.id] = _Shown(at=now, state=JobState.QUEUED)
            self._wake.set()
        if job.id in self._queue:
            # Free provider slots take the whole line at the next loop turn; otherwise find its place.
            free = self.provider.max_concurrency - self.in_flight()
            position = 1 if free >= len(self._queue) else self._queue.position(job.id)
        self._shown.setdefault(job.id, _Shown(at=now)).position = position
        log.info("job %d admitted: %s for guild %d, cost %d", job.id, operation.value, who.guild_id, job.cost)
        return Admission(job=job, position=position, remaining=remaining)

    async def _reserve(
        self,
        uow: UnitOfWork,
        who: Requester,
        request: MusicRequest,
        parent_track_id: int | None,
        now: float,
        precheck: Callable[[UnitOfWork, GuildSettings], Awaitable[None]] | None,
    ) -> tuple[Job, int]:
        operation = Operation(request.operation)
        settings = await self.guild_settings(uow, who.guild_id)
        if precheck is not None:
            await precheck(uow, settings)
        key = period_key(now, settings.period, settings.reset_epoch)
        quota, server_active = await self._read_quota(uow, settings, who.user_id, now)
        cost = quota.costs[operation]
        check_admission(
            quota,
            cost=cost,
            operation=operation,
            member_active=quota.member_active_jobs,
            server_active=server_active,
            settings=settings,
        )
        job = await uow.jobs.add(
            guild_id=who.guild_id,
            channel_id=who.channel_id,
            user_id=who.user_id,
            operation=operation,
            request=request.model_dump(mode="json", exclude_none=True),
            provider=self.provider.name,
            cost=cost,
            period_key=key,
            parent_track_id=parent_track_id,
            now=now,
        )  # writes the reservation too
        return job, quota.available_to_member - cost

    async def draft_lyrics(self, who: Requester, idea: str) -> tuple[Job, list[DraftedLyrics]]:
        """Lyrics are answered at once, but still admitted and charged like any job (refunded on failure)."""
        request = build_request(Operation.LYRICS, idea=idea)
        admission = await self.admit(who, request)
        job = admission.job
        try:
            drafts = await self.provider.draft_lyrics(idea)
        except (ProviderError, OperationUnavailable) as exc:
            kind = exc.kind.value if isinstance(exc, ProviderError) else ErrorKind.RETIRED.value
            await self._finish_failed(job.id, kind, str(exc), deliver=False)
            raise
        self.metrics.inc("tunesmith_provider_requests_total", call="lyrics")
        now = self._clock()
        async with self._uow() as uow:
            drafted = json.dumps([d.model_dump() for d in drafts])
            await uow.jobs.update(
                job.id, state=JobState.SUCCEEDED, finished_at=now, delivered_at=now, result_text=drafted
            )
            await uow.ledger.append(
                guild_id=job.guild_id,
                user_id=job.user_id,
                job_id=job.id,
                kind=LedgerKind.COMMIT,
                amount=0,
                period_key=job.period_key,
                now=now,
            )
            await uow.commit()
        self.metrics.inc("tunesmith_jobs_finished_total", state="succeeded")
        return job, drafts

    async def attach_status_message(self, job_id: int, message_id: int, *, channel_id: int | None = None) -> None:
        """Remember the status message (and the channel or thread it is in): later edits go by these ids."""
        changes: dict[str, Any] = {"status_message_id": message_id}
        if channel_id is not None:
            changes["channel_id"] = channel_id
        async with self._uow(write=False) as uow:  # one statement: autocommits
            await uow.jobs.update(job_id, **changes)
        self._update_cached(job_id, **changes)
        held = self._held.pop(job_id, None)
        if held is not None:
            self._enqueue(held[0].model_copy(update=changes))
            self._wake.set()

    def _update_cached(self, job_id: int, **changes: Any) -> None:
        """Keep the in-memory copy of an active job in step with what was just written."""
        cached = self._jobs.get(job_id)
        if cached is not None:
            self._jobs[job_id] = cached.model_copy(update=changes)

    def _release_held(self, now: float) -> None:
        for job_id, (job, release_at) in list(self._held.items()):
            if now >= release_at:
                # The status message never came (the reply failed): run the job anyway, it posts a new message.
                del self._held[job_id]
                self._enqueue(job)

    async def cancel(
        self, job_id: int, *, user_id: int, guild_id: int, moderator: bool = False, notify: bool = True
    ) -> Job:
        """Cancel a queued or running job; its credits come back. The provider may still finish it upstream.

        ``notify=False`` when the member is told some other way (the command that started it failed).
        """
        now = self._clock()
        async with self._uow() as uow:
            job = await uow.jobs.get(job_id)
            if job is None or job.guild_id != guild_id:
                raise NotFound(f"There is no job #{job_id} in this server.")
            if job.user_id != user_id and not moderator:
                raise NotAllowed("You can only cancel your own jobs.")
            if job.state.finished:
                raise InvalidRequest(f"Job #{job_id} already ended ({job.state.value}).")
            if job.operation is Operation.LYRICS:
                raise InvalidRequest("Lyrics are drafted in a few seconds; there is nothing to cancel.")
            await self._settle_failure(uow, job, JobState.CANCELLED, "cancelled", "Cancelled.", now)
            if not notify:
                await uow.jobs.update(job_id, delivered_at=now)
            await uow.commit()
        self._forget(job_id)
        self.metrics.inc("tunesmith_jobs_finished_total", state="cancelled")
        cancelled = job.model_copy(update={"state": JobState.CANCELLED})
        if notify:
            self._schedule_delivery(cancelled.id)
        return cancelled

    async def job(self, job_id: int) -> Job | None:
        async with self._uow(write=False) as uow:
            return await uow.jobs.get(job_id)

    async def job_counts(self) -> dict[str, int]:
        async with self._uow(write=False) as uow:
            return await uow.jobs.counts_by_state()

    def queue_depth(self) -> int:
        return len(self._queue) + len(self._held)

    def in_flight(self) -> int:
        return len(self._tracked) + len(self._submitting)

    # --- webhooks ----------------------------------------------------------------------------------------------
    async def webhook_secret(self, job_id: int) -> tuple[str, str] | None:
        """(task_id, secret) of a job submitted with a webhook, or None when there is no such job.

        Finished jobs still answer, so a late duplicate is verified and acknowledged instead of refused.
        """
        if not self._webhooks_on:
            return None
        job = self._jobs.get(job_id)
        if job is None or not job.task_id:
            async with self._uow(write=False) as uow:
                job = await uow.jobs.get(job_id)
        if job is None or not job.task_id or job.provider != self.provider.name:
            return None
        return job.task_id, self._secret_for(job.id)

    def _secret_for(self, job_id: int) -> str:
        """A job's webhook secret: unique and unguessable per job, derived rather than stored, so neither the
        database nor its dump holds anything that could forge a webhook."""
        message = f"{self.provider.name}:{job_id}".encode()
        return hmac.new(self._webhook_key, message, hashlib.sha256).hexdigest()

    async def record_webhook(self, event_key: str, task_id: str) -> bool:
        """Store a webhook's id; False if it was processed before."""
        async with self._uow(write=False) as uow:  # one statement: autocommits
            return await uow.providers.record_webhook(event_key, task_id, self._clock())

    async def accept_webhook(self, event_key: str, job_id: int, status: TaskStatus) -> bool:
        """Apply a verified webhook without waiting for the next poll; False when it was seen before.

        A final success is recorded in the same transaction that stores the job's tracks (one write for a burst
        of webhooks); anything else is recorded on its own. Repeats are caught in memory first, and across
        restarts by the table of processed ids.
        """
        if event_key in self._seen_webhooks:
            return False
        self._seen_webhooks[event_key] = None
        if len(self._seen_webhooks) > 10_000:
            self._seen_webhooks.popitem(last=False)
        tracked = self._tracked.get(job_id)
        if tracked is not None and tracked.task_id == status.task_id and status.state is TaskState.SUCCEEDED:
            self._note_success(tracked, status, webhook=(event_key, status.task_id))
            return True
        if not await self.record_webhook(event_key, status.task_id):
            return False
        if tracked is not None and tracked.task_id == status.task_id and status.state.finished:
            await self._apply(tracked, status)
        return True

    # --- the loop ----------------------------------------------------------------------------------------------
    async def _run(self) -> None:
        while not self._stopping:
            self._wake.clear()
            try:
                now = self._clock()
                self._release_held(now)
                self._dispatch(now)
                self._poll_due(now)
                if now - self._last_maintenance >= self._maintenance_interval:
                    # Whole-set sweeps, at most a few times a second however often the loop wakes.
                    self._last_maintenance = now
                    self._expire(now)
                    self._refresh_progress(now)
                    self._retry_deliveries()
                delay = self._next_wake(now)
            except Exception:  # the loop must survive any bug in one step
                log.exception("engine loop step failed")
                delay = 1.0
            if self.config.tick > 0:
                # A pass right after another waits a moment, so a burst of admissions is dispatched (and its
                # answers come back) together instead of one loop turn per job. The first wake after a quiet
                # spell is still served at once.
                await asyncio.sleep(self.config.tick)
            with contextlib.suppress(TimeoutError):
                # asyncio.timeout, not wait_for: no extra task (and loop turns) for every wake-up.
                async with asyncio.timeout(max(delay, 0.01)):
                    await self._wake.wait()

    def _next_wake(self, now: float) -> float:
        candidates = [self.config.progress_interval, self._maintenance_interval]
        soonest = self._soonest_poll()
        if soonest is not None:
            candidates.append(max(soonest, self._poll_not_before) - now)
        if self._retry_at:
            candidates.append(min(self._retry_at.values()) - now)
        if self._held:
            candidates.append(min(release for _, release in self._held.values()) - now)
        return min(candidates)

    def _spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> None:
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("engine task %s failed", task.get_name(), exc_info=task.exception())

    # --- queue and submission ----------------------------------------------------------------------------------
    def _enqueue(self, job: Job) -> None:
        self._jobs[job.id] = job
        self._queued_jobs[job.id] = job
        self._queue.push(job.id, job.guild_id, job.user_id)

    def _dispatch(self, now: float) -> None:
        capacity = self.provider.max_concurrency - self.in_flight()
        deferred: list[int] = []
        while capacity > 0 and len(self._queue):
            job_id = self._queue.pop()
            if job_id is None:
                break
            if self._retry_at.get(job_id, 0.0) > now:
                deferred.append(job_id)
                continue
            job = self._queued_jobs.pop(job_id)
            self._retry_at.pop(job_id, None)
            self._submitting.add(job_id)
            capacity -= 1
            self._spawn(self._submit(job), f"submit-{job_id}")
        for job_id in deferred:
            job = self._queued_jobs[job_id]
            self._queue.push(job_id, job.guild_id, job.user_id)

    async def _submit(self, job: Job) -> None:
        try:
            webhook = self._webhook_for(job)
            self.metrics.inc("tunesmith_provider_requests_total", call="submit")
            try:
                task_id = await self.provider.submit(job.music_request(), webhook=webhook)
            except ProviderError as exc:
                self.metrics.inc("tunesmith_provider_errors_total", kind=exc.kind.value)
                await self._submit_failed(job, exc)
                return
            except (OperationUnavailable, InvalidRequest) as exc:
                await self._finish_failed(job.id, ErrorKind.REJECTED.value, str(exc))
                return
            now = self._clock()
            async with self._uow(write=False) as uow:  # one conditional statement: autocommits
                if not await uow.jobs.mark_submitted(job.id, task_id, now):
                    # Cancelled while we were submitting: the provider's task is simply ignored.
                    return
            job = job.model_copy(update={"state": JobState.SUBMITTED, "task_id": task_id})
            self._jobs[job.id] = job
            self._track(job, now)
            self._progress(job.id, JobState.SUBMITTED, now)
            log.info("job %d submitted as task %s", job.id, task_id)
        finally:
            self._submitting.discard(job.id)
            self._wake.set()

    @property
    def _webhooks_on(self) -> bool:
        return bool(self.config.webhook_url_base) and self.provider.supports_webhooks

    def _webhook_for(self, job: Job) -> WebhookTarget | None:
        if not self._webhooks_on:
            return None
        return WebhookTarget(
            url=f"{self.config.webhook_url_base}/webhooks/{self.provider.name}/{job.id}",
            secret=self._secret_for(job.id),
        )

    async def _submit_failed(self, job: Job, exc: ProviderError) -> None:
        if exc.kind is ErrorKind.RETIRED:
            await self._retire(Operation(job.operation), exc.message)
        age = self._clock() - job.created_at.timestamp()
        if exc.retryable and age < self.config.deadline:
            current = await self.job(job.id)
            if current is None or current.state is not JobState.QUEUED:
                return  # cancelled while the submission was in flight: never send it again
            # The client already retried with backoff; keep the job queued and try again later.
            attempt = self._attempts[job.id] = self._attempts.get(job.id, 0) + 1
            delay = exc.retry_after or min(self.config.submit_retry_base * 2 ** min(attempt - 1, 5), 120.0)
            log.warning("job %d submit failed (%s); retrying in %.0fs", job.id, exc.kind.value, delay)
            self._retry_at[job.id] = self._clock() + delay
            self._enqueue(job)
            return
        await self._finish_failed(job.id, exc.kind.value, _failure_text(exc.kind, exc.message))

    async def _retire(self, operation: Operation, message: str | None) -> None:
        if operation in self._retired:
            return
        self._retired[operation] = message
        async with self._uow() as uow:
            await uow.providers.retire(self.provider.name, operation, message=message, now=self._clock())
            await uow.commit()
        log.warning("provider %s retired operation %s; it is now switched off", self.provider.name, operation.value)

    async def reinstate(self, operation: Operation) -> bool:
        """An operator switches a retired operation back on."""
        self._retired.pop(operation, None)
        async with self._uow() as uow:
            changed = await uow.providers.reinstate(self.provider.name, operation)
            await uow.commit()
        return changed

    # --- tracking ----------------------------------------------------------------------------------------------
    def _track(self, job: Job, now: float, *, first_poll: float | None = None) -> None:
        assert job.task_id is not None
        webhook = self._webhooks_on
        submitted = job.submitted_at.timestamp() if job.submitted_at else now
        tracked = _Tracked(job.id, job.task_id, submitted, 0.0, webhook)
        self._tracked[job.id] = tracked
        self._by_task[job.task_id] = job.id
        self._set_poll(tracked, first_poll if first_poll is not None else now + self._interval(tracked, now))

    def _set_poll(self, tracked: _Tracked, when: float) -> None:
        """Schedule a task's next poll. The heap keeps the loop O(due) instead of O(tracked) per turn; entries
        whose time no longer matches the task's are stale and skipped."""
        tracked.next_poll = when
        heapq.heappush(self._poll_heap, (when, tracked.job_id))

    def _soonest_poll(self) -> float | None:
        heap = self._poll_heap
        while heap:
            when, job_id = heap[0]
            tracked = self._tracked.get(job_id)
            if tracked is not None and tracked.next_poll == when:
                return when
            heapq.heappop(heap)  # stale: the task finished or was rescheduled
        return None

    def _interval(self, tracked: _Tracked, now: float) -> float:
        """Seconds to the next poll: rare for webhook tasks, else growing with age, first near the expected end."""
        if tracked.webhook:
            return self.config.safety_poll_interval
        age = now - tracked.submitted_at
        base = self.config.poll_interval
        if tracked.polls == 0:
            return max(base, 0.6 * self._render_estimate - age)
        return min(base * (1.0 + age / 60.0), self.config.max_poll_interval)

    def _poll_due(self, now: float) -> None:
        if now < self._poll_not_before or self._polls_in_flight >= self.config.max_parallel_polls:
            return
        soonest = self._soonest_poll()
        if soonest is None or soonest > now:
            return
        # Coalesce tasks due soon into the same calls, so batches fill up (FUZZ: 25 ids a call).
        horizon = now + self.config.poll_interval / 2
        size = max(1, self.provider.batch_size)
        room = (self.config.max_parallel_polls - self._polls_in_flight) * size
        due: list[_Tracked] = []
        while self._poll_heap and len(due) < room and self._poll_heap[0][0] <= horizon:
            when, job_id = heapq.heappop(self._poll_heap)
            tracked = self._tracked.get(job_id)
            if tracked is not None and tracked.next_poll == when:
                due.append(tracked)
        for start in range(0, len(due), size):
            batch = due[start : start + size]
            for tracked in batch:
                # Pushed out now so the next loop turn does not poll them again while this call runs.
                self._set_poll(tracked, now + self.config.max_poll_interval)
            self._polls_in_flight += 1
            self._spawn(self._poll(batch), f"poll-{batch[0].job_id}")

    async def _poll(self, batch: Sequence[_Tracked]) -> None:
        try:
            self.metrics.inc("tunesmith_provider_requests_total", call="poll")
            try:
                statuses = await self.provider.fetch([t.task_id for t in batch])
            except ProviderError as exc:
                self.metrics.inc("tunesmith_provider_errors_total", kind=exc.kind.value)
                now = self._clock()
                if exc.retry_after:
                    self._poll_not_before = now + exc.retry_after
                for tracked in batch:
                    tracked.polls += 1
                    self._set_poll(tracked, now + max(exc.retry_after or 0.0, self._interval(tracked, now)))
                log.warning("status poll failed (%s); backing off", exc.kind.value)
                return
            now = self._clock()
            by_id = {s.task_id: s for s in statuses}
            for tracked in batch:
                tracked.polls += 1
                self._set_poll(tracked, now + self._interval(tracked, now))
                status = by_id.get(tracked.task_id)
                if status is not None and tracked.job_id in self._tracked:
                    await self._apply(tracked, status)
        finally:
            self._polls_in_flight -= 1
            self._wake.set()

    def _note_success(self, tracked: _Tracked, status: TaskStatus, *, webhook: tuple[str, str] | None = None) -> None:
        self._render_estimate = 0.7 * self._render_estimate + 0.3 * max(self._clock() - tracked.submitted_at, 0.1)
        # Not awaited: the write logs its own failure, and the job stays tracked so a later poll retries it.
        self._completions.add((tracked.job_id, status, webhook))

    async def _apply(self, tracked: _Tracked, status: TaskStatus) -> None:
        now = self._clock()
        if status.state is TaskState.SUCCEEDED:
            self._note_success(tracked, status)
        elif status.state is TaskState.FAILED:
            failure = status.failure
            kind = failure.kind if failure else ErrorKind.UNAVAILABLE.value
            message = failure.message if failure else "The provider could not make this song."
            if kind == ErrorKind.RETIRED.value:
                job = await self.job(tracked.job_id)
                if job is not None:
                    await self._retire(job.operation, message)
            await self._finish_failed(tracked.job_id, kind, _failure_text(ErrorKind(kind), message))
        elif status.state is TaskState.RUNNING:
            shown = self._shown.get(tracked.job_id)
            if shown is None or shown.state is not JobState.RUNNING:
                async with self._uow(write=False) as uow:  # one conditional statement: autocommits
                    # Conditional: a cancel or a webhook may have ended the job while this poll waited.
                    await uow.jobs.mark_running(tracked.job_id, tracked.polls)
                self._update_cached(tracked.job_id, state=JobState.RUNNING)
                self._progress(tracked.job_id, JobState.RUNNING, now)

    def _expire(self, now: float) -> None:
        overdue = [
            t
            for t in self._tracked.values()
            if now - t.submitted_at > self.config.deadline and t.job_id not in self._expiring
        ]
        size = max(1, self.provider.batch_size)
        for start in range(0, len(overdue), size):
            batch = overdue[start : start + size]
            self._expiring.update(t.job_id for t in batch)
            self._spawn(self._expire_batch(batch), "expire")

    async def _expire_batch(self, batch: Sequence[_Tracked]) -> None:
        """Ask the provider one last time before giving up: a task may have finished while we were down or
        between two safety-net polls, and a finished song must not be thrown away as a timeout."""
        try:
            try:
                statuses = {s.task_id: s for s in await self.provider.fetch([t.task_id for t in batch])}
            except ProviderError:
                statuses = {}
            minutes = self.config.deadline / 60
            text = f"The music provider did not finish within {minutes:g} minutes, so the job was given up."
            for tracked in batch:
                status = statuses.get(tracked.task_id)
                if tracked.job_id not in self._tracked:
                    continue  # finished meanwhile by a webhook or a poll
                if status is not None and status.state.finished:
                    await self._apply(tracked, status)
                else:
                    await self._finish_failed(tracked.job_id, ErrorKind.TIMEOUT.value, text)
        finally:
            self._expiring.difference_update(t.job_id for t in batch)

    def _forget(self, job_id: int) -> None:
        self._held.pop(job_id, None)
        self._jobs.pop(job_id, None)
        tracked = self._tracked.pop(job_id, None)
        if tracked is not None:
            self._by_task.pop(tracked.task_id, None)
        if self._queue.remove(job_id):
            self._queued_jobs.pop(job_id, None)
        self._retry_at.pop(job_id, None)
        self._attempts.pop(job_id, None)

    # --- finishing ---------------------------------------------------------------------------------------------
    async def _store_completions(self, items: list[tuple[int, TaskStatus, tuple[str, str] | None]]) -> None:
        """Completions arriving together (a FUZZ batch, a burst of webhooks) are stored in one transaction."""
        batch = {job_id: status for job_id, status, _ in items}
        webhooks = [webhook for _, _, webhook in items if webhook is not None]
        try:
            await self._finish_succeeded(batch, webhooks)
        except Exception:  # the jobs stay tracked: the next poll (or the safety net) retries them
            log.exception("storing %d finished jobs failed; they will be retried", len(batch))

    async def _finish_succeeded(self, batch: dict[int, TaskStatus], webhooks: list[tuple[str, str]]) -> None:
        now = self._clock()
        async with self._uow() as uow:
            await uow.providers.record_webhooks(webhooks, now)
            jobs: dict[int, Job] = {}
            for job_id in batch:
                job = self._jobs.get(job_id) or await uow.jobs.get(job_id)
                if job is not None:
                    jobs[job_id] = job
            # The conditional update is the guard: a webhook and a poll may race; the first one does the work.
            done = await uow.jobs.finish_many(list(jobs), JobState.SUCCEEDED, now)
            rows: list[dict[str, Any]] = []
            results: dict[int, str | None] = {}
            for job_id in done:
                job, clips = jobs[job_id], batch[job_id].clips
                if job.operation is Operation.DOWNLOAD:
                    results[job_id] = next((c.audio_url for c in clips if c.audio_url), None)
                    await uow.jobs.update(job_id, result_url=results[job_id])
                    continue
                rows.extend(
                    {
                        "clip": clip,
                        "job_id": job_id,
                        "guild_id": job.guild_id,
                        "channel_id": job.channel_id,
                        "author_id": job.user_id,
                        "provider": job.provider,
                        "operation": job.operation,
                        "parent_track_id": job.parent_track_id,
                        "title": job.request.get("title"),
                    }
                    for clip in clips
                )
            tracks = await uow.tracks.add_many(rows, now=now)
            await uow.ledger.append_many(
                [
                    {
                        "guild_id": jobs[j].guild_id,
                        "user_id": jobs[j].user_id,
                        "job_id": j,
                        "kind": LedgerKind.COMMIT,
                        "amount": 0,
                        "period_key": jobs[j].period_key,
                    }
                    for j in done
                ],
                now=now,
            )
            await uow.commit()
        for job_id in done:
            self._forget(job_id)
            self.metrics.inc("tunesmith_jobs_finished_total", state="succeeded")
            log.info("job %d succeeded with %d clip(s)", job_id, len(batch[job_id].clips))
            finished = jobs[job_id].model_copy(update={"state": JobState.SUCCEEDED, "result_url": results.get(job_id)})
            self._schedule_delivery(job_id, (finished, tracks.get(job_id, [])))

    def _polls(self, job_id: int) -> int:
        tracked = self._tracked.get(job_id)
        return tracked.polls if tracked else 0

    async def _finish_failed(self, job_id: int, kind: str, message: str, *, deliver: bool = True) -> None:
        now = self._clock()
        async with self._uow() as uow:
            job = await uow.jobs.get(job_id)
            if job is None or job.state.finished:
                return
            await self._settle_failure(uow, job, JobState.FAILED, kind, message, now)
            if not deliver:
                await uow.jobs.update(job_id, delivered_at=now)
            await uow.commit()
        self._forget(job_id)
        self.metrics.inc("tunesmith_jobs_finished_total", state="failed")
        log.info("job %d failed (%s)", job_id, kind)
        if deliver:
            self._schedule_delivery(job_id)

    async def _settle_failure(
        self, uow: UnitOfWork, job: Job, state: JobState, kind: str, message: str, now: float
    ) -> None:
        await uow.jobs.update(job.id, state=state, finished_at=now, failure_kind=kind, failure_message=message)
        if job.cost and not await uow.ledger.settled(job.id):
            await uow.ledger.append(
                guild_id=job.guild_id,
                user_id=job.user_id,
                job_id=job.id,
                kind=LedgerKind.REFUND,
                amount=job.cost,
                period_key=job.period_key,
                now=now,
                note=kind,
            )

    # --- delivery ----------------------------------------------------------------------------------------------
    def _schedule_delivery(self, job_id: int, known: tuple[Job, list[Track]] | None = None) -> None:
        self._undelivered.add(job_id)
        if known is not None and job_id not in self._delivering:
            # Just finished here: deliver from memory, without reading back what was just written.
            self._delivering.add(job_id)
            self._spawn(self._deliver(job_id, known), f"deliver-{job_id}")
        self._retry_deliveries()

    def _retry_deliveries(self) -> None:
        for job_id in list(self._undelivered):
            if job_id not in self._delivering:
                self._delivering.add(job_id)
                self._spawn(self._deliver(job_id), f"deliver-{job_id}")

    async def _deliver(self, job_id: int, known: tuple[Job, list[Track]] | None = None) -> None:
        """Hand a finished job to the notifier once; on failure it stays undelivered and is retried."""
        try:
            if known is not None:
                job, tracks = known
            else:
                async with self._uow(write=False) as uow:
                    job = await uow.jobs.get(job_id)  # type: ignore[assignment]
                    tracks = await uow.tracks.for_job(job_id) if job else []
            if job is None or job.delivered_at is not None:
                self._undelivered.discard(job_id)
                return
            if job.state is JobState.SUCCEEDED:
                deliveries = self._posted.get(job_id)
                if deliveries is None:
                    try:
                        deliveries = await self.notifier.job_succeeded(job, tracks)
                    except DeliveryIncomplete as partial:
                        # Some songs went out before Discord failed: remember them so the retry skips them.
                        if partial.deliveries:
                            await self._record_delivery(job_id, list(partial.deliveries), final=False)
                        raise
                    self._posted[job_id] = deliveries  # posted: a failed record must not post them again
                await self._record_delivery(job_id, deliveries)
                self._posted.pop(job_id, None)
            else:
                refunded = job.cost  # every failure path refunds the full reservation
                await self.notifier.job_failed(job, job.failure_message or "The job failed.", refunded)
                async with self._uow(write=False) as uow:  # one statement: autocommits
                    await uow.jobs.update(job_id, delivered_at=self._clock())
            self._undelivered.discard(job_id)
            self._delivery_failures.pop(job_id, None)
            self._shown.pop(job_id, None)
            self.metrics.inc("tunesmith_deliveries_total", outcome="ok")
        except asyncio.CancelledError:
            raise
        except Exception:
            self.metrics.inc("tunesmith_deliveries_total", outcome="error")
            failures = self._delivery_failures[job_id] = self._delivery_failures.get(job_id, 0) + 1
            if failures >= self.config.delivery_attempts:
                # Discord keeps refusing (channel gone, permissions removed). The outcome stays in the database
                # (the track can be shown again with /music show); stop retrying instead of looping forever.
                log.exception("delivering job %d failed %d times; giving up", job_id, failures)
                await self._give_up_delivery(job_id)
            else:
                log.warning("delivering job %d failed (attempt %d); will retry", job_id, failures, exc_info=True)
                await asyncio.sleep(min(self.config.delivery_retry_base * 2 ** (failures - 1), 300.0))
        finally:
            self._delivering.discard(job_id)

    async def _give_up_delivery(self, job_id: int) -> None:
        async with self._uow(write=False) as uow:  # one statement: autocommits
            await uow.jobs.update(job_id, delivered_at=self._clock())
        self._undelivered.discard(job_id)
        self._delivery_failures.pop(job_id, None)
        self.metrics.inc("tunesmith_deliveries_total", outcome="abandoned")

    async def _record_delivery(self, job_id: int, deliveries: list[Delivery], *, final: bool = True) -> None:
        """Store where a job's tracks were posted (and, when ``final``, that the job is delivered).
        Deliveries finishing together share one transaction."""
        await self._delivery_records.add((job_id if final else None, deliveries))

    async def _store_deliveries(self, items: list[tuple[int | None, list[Delivery]]]) -> None:
        async with self._uow() as uow:
            await uow.tracks.set_messages([d for _, posted in items for d in posted])
            await uow.jobs.mark_delivered([j for j, _ in items if j is not None], self._clock())
            await uow.commit()

    # --- progress ----------------------------------------------------------------------------------------------
    def _progress(self, job_id: int, state: JobState, now: float) -> None:
        shown = self._shown.setdefault(job_id, _Shown())
        if shown.state is state and not shown.pending:
            return
        shown.state = state
        shown.pending = True
        if now - shown.at >= self.config.progress_interval:
            self._send_progress(job_id, shown, now)

    def _refresh_progress(self, now: float) -> None:
        positions = self._queue.positions() if len(self._queue) else {}
        for job_id, shown in list(self._shown.items()):
            if now - shown.at < self.config.progress_interval:
                continue
            position = positions.get(job_id)
            moved = shown.state is JobState.QUEUED and position != shown.position
            stale = shown.state is JobState.RUNNING and now - shown.at >= self.config.refresh_interval
            if shown.pending or moved or stale:
                shown.position = position
                self._send_progress(job_id, shown, now)

    def _send_progress(self, job_id: int, shown: _Shown, now: float) -> None:
        shown.at = now
        shown.pending = False
        state = shown.state or JobState.QUEUED
        tracked = self._tracked.get(job_id)
        elapsed = now - tracked.submitted_at if tracked else 0.0
        eta = max(self._render_estimate - elapsed, 0.0) if tracked else None
        progress = Progress(state=state, position=shown.position, elapsed_s=elapsed, eta_s=eta)
        self._spawn(self._notify_progress(job_id, progress), f"progress-{job_id}")

    async def _notify_progress(self, job_id: int, progress: Progress) -> None:
        job = self._jobs.get(job_id) or await self.job(job_id)
        if job is None or job.state.finished:
            return
        try:
            await self.notifier.job_progress(job, progress)
        except Exception:  # a failed edit must not hurt the job itself
            log.warning("status update for job %d failed", job_id, exc_info=True)


def _failure_text(kind: ErrorKind, message: str) -> str:
    """What the member reads when a job fails: the provider's reason where it helps, plain words otherwise."""
    if kind is ErrorKind.MODERATION:
        if "content filter" in message:
            return message  # already says it (FUZZ gives no reason beyond "moderation")
        return f"The provider's content filter refused this: {message}"
    if kind is ErrorKind.RETIRED:
        return "This operation was retired by the provider, so it's switched off for now."
    if kind is ErrorKind.UNAVAILABLE:
        return "The music provider is down right now."
    if kind in (ErrorKind.AUTH, ErrorKind.CREDITS):
        return "The music provider refused the bot's account; an admin has to fix it."
    return message
