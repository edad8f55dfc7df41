"""Delivery: hands every finished job to the notifier once, records where its tracks went, retries with back-off
when Discord fails, and emits the job's outcome (to the audit recorder and the metrics) once it is out.

A job stays undelivered until its outcome is recorded, so a restart delivers it again; what was posted before a
failed record is remembered, so a retry records it without posting it twice.

Posted exactly once, whatever stops the process: before a track is posted, the intent is recorded in the store
(``claim_deliveries``: one claim per job and track, shared by every process), with the nonce every attempt sends.
Discord drops a repeated create with the same nonce for a few minutes, and an attempt that finds a claim made
before (a retry, a restart after a kill between posting and recording, another process) tells the notifier to
look for the post first (``TrackCard.look_first``).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Protocol

from bot.core.catalog import Catalog
from bot.core.group_commit import GroupCommit
from bot.core.jobs.config import JobsConfig
from bot.core.jobs.tasks import Tasks
from bot.core.metrics import Metrics
from bot.core.outbox import NotAttached, Outbox
from bot.domain.models import Job, JobState, Track
from bot.domain.outcomes import Delivery as Posted
from bot.domain.outcomes import DeliveryIncomplete, Failure, FailureKind, JobOutcome, JobResult, TrackCard
from bot.domain.ports import Clock, JobStore, TrackStore

log = logging.getLogger(__name__)

OutcomeListener = Callable[[JobOutcome], Awaitable[None]]
RETRY_MAX_S = 300.0


def new_nonce() -> str:
    """A nonce for one post: 64 random bits in hex (Discord takes at most 25 characters), so no two posts of this
    bot, from any database or deployment, share one within Discord's window."""
    return f"ts{secrets.randbits(64):016x}"


class DeliveryStore(JobStore, TrackStore, Protocol):
    """What delivery reads and writes: jobs, their tracks, the claims made before posting and the records of where
    they were posted."""


@dataclass(slots=True, eq=False)
class _Pending:
    job_id: int
    job: Job | None = None  # known in memory when it just finished here; else read from the store
    tracks: list[Track] | None = None
    failures: int = 0
    retry_at: float = 0.0
    running: bool = False
    posted: list[Posted] | None = None  # posted to Discord, not yet recorded
    partial: list[Posted] = field(default_factory=list)  # posted before Discord failed midway (recorded)


class Delivery:
    def __init__(
        self,
        *,
        store: DeliveryStore,
        outbox: Outbox,
        catalog: Catalog,
        clock: Clock,
        metrics: Metrics,
        config: JobsConfig,
        tasks: Tasks,
        listeners: Sequence[OutcomeListener] = (),
        nonces: Callable[[], str] = new_nonce,
    ) -> None:
        self._store = store
        self._nonces = nonces
        self._outbox = outbox
        self._catalog = catalog
        self._clock = clock
        self._metrics = metrics
        self._config = config
        self._tasks = tasks
        self._listeners = tuple(listeners)
        self._pending: dict[int, _Pending] = {}
        # (job, or None when only some of its songs went out; where its songs were posted). No linger: a post is
        # clickable the moment it exists, and its buttons need it recorded.
        self._records: GroupCommit[tuple[int | None, list[Posted]]] = GroupCommit(
            self._store_records, spawn=lambda flush: tasks.spawn(flush, "store-deliveries"), timeout=clock.timeout
        )

    def __len__(self) -> int:
        return len(self._pending)

    def __contains__(self, job_id: object) -> bool:
        return job_id in self._pending

    # --- intake --------------------------------------------------------------------------------------------------
    def succeeded(self, job: Job, tracks: Sequence[Track]) -> None:
        """Just finished here: delivered from memory, without reading back what was just written."""
        self._take(_Pending(job.id, job, list(tracks)))

    def failed(self, job: Job) -> None:
        self._take(_Pending(job.id, job))

    def recovered(self, job_id: int) -> None:
        """Finished before a restart and not yet delivered: read back when its turn comes."""
        self._take(_Pending(job_id))

    def _take(self, pending: _Pending) -> None:
        if pending.job_id in self._pending:
            return
        self._pending[pending.job_id] = pending
        self._start(pending)

    def _start(self, pending: _Pending) -> None:
        if self._outbox.attached and not pending.running:
            pending.running = True
            self._tasks.spawn(self._deliver(pending), f"deliver-{pending.job_id}")

    def retry_due(self, now: float) -> None:
        """Start every delivery whose back-off ran out (and, once a notifier is attached, every waiting one)."""
        for pending in list(self._pending.values()):
            if not pending.running and pending.retry_at <= now:
                self._start(pending)

    def next_due(self) -> float | None:
        waiting = [p.retry_at for p in self._pending.values() if not p.running]
        return min(waiting) if waiting and self._outbox.attached else None

    async def drain(self) -> None:
        await self._records.drain()

    # --- delivering ----------------------------------------------------------------------------------------------
    async def _deliver(self, pending: _Pending) -> None:
        try:
            job = pending.job or await self._store.job(pending.job_id)
            if job is None or job.delivered_at is not None:
                self._pending.pop(pending.job_id, None)
                return
            pending.job = job
            if job.state is JobState.SUCCEEDED:
                outcome = await self._deliver_success(pending, job)
            else:
                outcome = await self._deliver_failure(job)
            self._pending.pop(pending.job_id, None)
            self._metrics.inc("tunesmith_deliveries_total", outcome="ok")
            for listener in self._listeners:
                try:
                    await listener(outcome)
                except Exception:
                    log.exception("an outcome listener failed for job %d", job.id)
        except asyncio.CancelledError:
            raise
        except NotAttached:
            pass  # the bot is not running: delivered once a notifier is attached
        except Exception:
            self._metrics.inc("tunesmith_deliveries_total", outcome="error")
            pending.failures += 1
            if pending.failures >= self._config.delivery_attempts:
                # Discord keeps refusing (channel gone, permissions removed). The outcome stays in the database
                # (the track can be shown again with /music show); stop retrying instead of looping forever.
                log.exception("delivering job %d failed %d times; giving up", pending.job_id, pending.failures)
                await self._give_up(pending)
            else:
                log.warning(
                    "delivering job %d failed (attempt %d); will retry",
                    pending.job_id,
                    pending.failures,
                    exc_info=True,
                )
                delay = min(self._config.delivery_retry_base * 2 ** (pending.failures - 1), RETRY_MAX_S)
                pending.retry_at = self._clock.now() + delay
        finally:
            pending.running = False

    async def _deliver_success(self, pending: _Pending, job: Job) -> JobOutcome:
        if pending.tracks is None:
            pending.tracks = await self._store.tracks_of_job(job.id)
        if pending.posted is None:
            result = await self._claimed(await self._result(job, pending.tracks))
            try:
                posted = await self._outbox.succeeded(result)
            except DeliveryIncomplete as partial:
                # Some songs went out before Discord failed: record them, so the retry posts only the rest.
                if partial.deliveries:
                    await self._records.add((None, list(partial.deliveries)))
                    self._mark_posted(pending, partial.deliveries)
                raise
            pending.posted = posted  # posted: a failed record must not post them again
            if job.finished_at is not None:  # completion -> post, as members feel it
                delay = self._clock.now() - job.finished_at.timestamp()
                self._metrics.observe("tunesmith_delivery_delay_seconds", max(delay, 0.0))
        await self._records.add((job.id, pending.posted))
        posted_ids = {d.track_id for d in [*pending.partial, *pending.posted]}
        return JobOutcome(
            job=job,
            tracks=tuple(t for t in pending.tracks if t.id in posted_ids),
            deliveries=(*pending.partial, *pending.posted),
        )

    def _mark_posted(self, pending: _Pending, deliveries: Sequence[Posted]) -> None:
        where = {d.track_id: d for d in deliveries}
        pending.partial.extend(deliveries)
        pending.tracks = [
            t.model_copy(update={"message_id": where[t.id].message_id}) if t.id in where else t
            for t in pending.tracks or []
        ]

    async def _result(self, job: Job, tracks: Sequence[Track]) -> JobResult:
        parent = await self._store.track(job.parent_track_id) if job.parent_track_id is not None else None
        if not job.operation.makes_tracks:
            # A download or a tool's files (stems). A track deleted since they were asked for: the member paid for
            # the files, so they are still delivered, without naming the track.
            source = parent if parent is not None and not parent.deleted else None
            return JobResult(job=job, source=source, actions=self._catalog.available())
        second = await self._store.track(job.second_parent_track_id) if job.second_parent_track_id is not None else None
        # A track another track of the job was made from (an extension's take, joined into the full song) is kept
        # in the lineage but not posted.
        postable = [t for t in tracks if t.id not in {u.parent_track_id for u in tracks}]
        fresh = [t for t in postable if t.message_id is None]
        cards = tuple(TrackCard(track=t, parent=parent, second_parent=second) for t in fresh)
        return JobResult(
            job=job,
            cards=cards,
            actions=self._catalog.available(),
            first_replaces_status=len(fresh) == len(postable),
        )

    async def _claimed(self, result: JobResult) -> JobResult:
        """Each card with its claim, recorded before anything is posted (or the claim an earlier attempt made)."""
        if not result.cards:
            return result
        claims = await self._store.claim_deliveries(
            result.job.id, {c.track.id: self._nonces() for c in result.cards}, self._config.owner, self._clock.now()
        )
        if not all(c.fresh for c in claims):
            log.info("job %d may have been posted before; looking for its posts first", result.job.id)
        return replace(
            result, cards=tuple(replace(card, claim=claim) for card, claim in zip(result.cards, claims, strict=True))
        )

    async def _deliver_failure(self, job: Job) -> JobOutcome:
        failure = self.failure_of(job)
        refunded = job.cost  # every failure path refunds the full reservation
        await self._outbox.failed(job, failure, refunded)
        await self._records.add((job.id, []))
        return JobOutcome(job=job, failure=failure, refunded=refunded)

    def failure_of(self, job: Job) -> Failure:
        failure = Failure.of(job.failure_kind or FailureKind.UNAVAILABLE.value, job.failure_message)
        if failure.kind is FailureKind.TIMEOUT:
            return Failure(FailureKind.TIMEOUT, failure.detail, deadline_s=self._config.deadline)
        return failure

    async def _give_up(self, pending: _Pending) -> None:
        try:
            await self._records.add((pending.job_id, []))
        except Exception:
            log.exception("could not record that delivering job %d was given up", pending.job_id)
            return
        self._pending.pop(pending.job_id, None)
        self._metrics.inc("tunesmith_deliveries_total", outcome="abandoned")

    async def _store_records(self, items: list[tuple[int | None, list[Posted]]]) -> None:
        deliveries = [d for _, posted in items for d in posted]
        delivered = [job_id for job_id, _ in items if job_id is not None]
        await self._store.record_deliveries(deliveries, delivered, self._clock.now())
