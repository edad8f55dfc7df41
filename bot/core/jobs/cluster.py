"""Many bot processes on one database: leases, take-over, the global queue, and caches that follow other processes.

Each process is a *worker* with an id of its own. The store (the ``ClusterStore`` port) keeps:

- **Leases.** Every job not yet delivered is leased to one worker (``jobs.owner``): the worker that admitted it,
  or the one that took it over. A worker says it is alive with a heartbeat every ``heartbeat_s``; the same call
  tells it which of its jobs another worker took (it forgets them at once). A worker whose heartbeat is older than
  ``takeover_s`` is dead: the next worker to scan (every heartbeat) leases its jobs and carries them on, exactly as
  a restart recovers them (polled at once, queued again, or delivered). A worker that stops gives its leases back
  first, so a rolling deploy loses no time. A webhook may reach any worker: that worker adopts the job (takes its
  lease) and applies it; the conditional writes in the store make it complete once whoever else looks.
- **The global queue** (:class:`SlotClaims`). The provider's concurrency is one number for all workers. A worker
  marks its queued jobs ready in the database and asks for slots; the store hands the free slots to the ready jobs
  of every worker in fair order (servers in turn, members in turn) under one lock, and answers which of this
  worker's jobs hold one. The scheduler submits exactly those (``Scheduler.dispatch``).
- **Caches.** Settings, block rules and retired operations are cached per process. Triggers in the database write
  a change feed; every worker reads it each ``sync_s`` and drops what changed, so a change made through one
  process holds in every process within a second.

Pure: no I/O of its own, only the ports.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bot.core.blocklist import BlockList
from bot.core.catalog import Catalog
from bot.core.jobs.delivery import Delivery
from bot.core.jobs.finisher import Finisher
from bot.core.jobs.registry import InFlight, Phase, Registry
from bot.core.jobs.scheduler import Scheduler
from bot.core.jobs.tasks import Tasks
from bot.core.jobs.tracker import Tracker
from bot.core.settings import SettingsBook
from bot.domain.models import Job, JobState, Operation
from bot.domain.outcomes import Failure, FailureKind
from bot.domain.ports import Clock, ClusterStore, MusicProvider, PollRoom

log = logging.getLogger(__name__)

PRUNE_CHANGES_EVERY_S = 3600.0
GAP_PATIENCE_S = 5.0  # how long a missing change number is waited for (a transaction still committing)


def new_worker_id() -> str:
    """A worker id no other process has: host, process id and a random part (a restarted process is a new one)."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


@dataclass(frozen=True, slots=True)
class ClusterConfig:
    worker: str
    takeover_s: float = 30.0
    """Seconds without a heartbeat after which a worker counts as dead and its jobs are taken over."""
    sync_s: float = 0.5
    """Seconds between two reads of the change feed (caches follow other processes within about this)."""
    claim_s: float = 0.05
    """Least seconds between two claims of provider slots while jobs of this worker wait for one."""
    claim_max_s: float = 0.5
    """Claims that change nothing back off, doubling up to this (a long line waiting for slots stays cheap)."""

    @property
    def heartbeat_s(self) -> float:
        """A heartbeat (and a take-over scan) at least three times within the take-over time, at most every second."""
        return max(min(1.0, self.takeover_s / 3), 0.05)


class Adoption:
    """Taking jobs into this process: unfinished work at start, jobs taken over from a dead worker, a job whose
    webhook reached this process. Each job continues where the store says it is; nothing is submitted twice."""

    def __init__(
        self,
        *,
        registry: Registry,
        scheduler: Scheduler,
        tracker: Tracker,
        finisher: Finisher,
        delivery: Delivery,
        clock: Clock,
    ) -> None:
        self._registry = registry
        self._scheduler = scheduler
        self._tracker = tracker
        self._finisher = finisher
        self._delivery = delivery
        self._clock = clock

    async def adopt(self, unfinished: Sequence[Job], undelivered: Sequence[Job], *, poll_now: bool = True) -> None:
        now = self._clock.now()
        for job in unfinished:
            if job.id in self._registry:
                continue
            if job.operation is Operation.LYRICS:
                # Drafting is answered inside the command; a restart cut it off and the member got an error.
                await self._finisher.fail(job.id, Failure(FailureKind.INTERRUPTED, "Interrupted."), deliver=False)
                continue
            if job.task_id:
                phase = Phase.RUNNING if job.state is JobState.RUNNING else Phase.SUBMITTED
                # Poll right away: a webhook may have been missed while nobody held the job.
                record = self._registry.add(job, phase)
                self._tracker.track(record, now, first_poll=now if poll_now else None)
            else:
                self._scheduler.recovered(job)
        for job in undelivered:
            self._delivery.recovered(job.id)


class SlotClaims:
    """This worker's side of the global queue: which of its queued jobs may take a provider slot now."""

    def __init__(
        self,
        *,
        store: ClusterStore,
        registry: Registry,
        provider: MusicProvider,
        config: ClusterConfig,
        clock: Clock,
        tasks: Tasks,
        wake: Callable[[], None],
    ) -> None:
        self._store = store
        self._registry = registry
        self._provider = provider
        self._config = config
        self._clock = clock
        self._tasks = tasks
        self._wake = wake
        self._offered: set[int] = set()  # marked ready in the store (and maybe holding a slot)
        self._grants: set[int] = set()  # hold a slot, per the last claim: to submit
        self._claiming = False
        self._next_claim = 0.0
        self._interval = config.claim_s
        self._waiting = False

    def granted(self, now: float) -> list[InFlight]:
        """Queued jobs of this worker that hold a provider slot: the scheduler submits them now."""
        out: list[InFlight] = []
        for job_id in list(self._grants):
            record = self._registry.get(job_id)
            if record is None or record.phase is not Phase.QUEUED:
                self._grants.discard(job_id)
            elif record.retry_at <= now:
                self._grants.discard(job_id)
                out.append(record)
        self._claim_if_due(now)
        return out

    def next_due(self) -> float | None:
        return self._next_claim if self._waiting and not self._claiming else None

    def _claim_if_due(self, now: float) -> None:
        if self._claiming or now < self._next_claim:
            return
        ready: list[int] = []
        returned: list[int] = []
        live: set[int] = set()
        waiting = False
        for record in self._registry:
            if record.phase is Phase.SUBMITTING:
                live.add(record.id)
            if record.phase is not Phase.QUEUED:
                continue
            waiting = True
            live.add(record.id)
            if record.retry_at > now:
                if record.id in self._offered:
                    returned.append(record.id)  # its submit failed: back in line, its slot freed, until retry_at
                    self._offered.discard(record.id)
            elif record.id not in self._offered:
                ready.append(record.id)
                self._offered.add(record.id)
        self._offered &= live
        self._waiting = waiting
        if not waiting and not returned:
            return
        if ready or returned:
            self._interval = self._config.claim_s  # something new to tell: ask again soon
        self._claiming = True
        self._next_claim = now + self._interval
        self._tasks.spawn(self._claim(ready, returned, now), "claim-slots")

    async def _claim(self, ready: list[int], returned: list[int], now: float) -> None:
        try:
            granted = await self._store.claim_slots(
                self._config.worker,
                self._provider.name,
                self._provider.max_concurrency,
                ready=ready,
                returned=returned,
                now=now,
            )
            fresh = set(granted) - self._grants
            self._grants = set(granted)
            # Nothing new: the line waits for slots other workers hold; ask less often, up to claim_max_s.
            self._interval = self._config.claim_s if fresh else min(self._interval * 2, self._config.claim_max_s)
        except Exception:
            log.exception("claiming provider slots failed; retrying")
            self._offered.difference_update(ready)  # offered again next time
            self._next_claim = self._clock.now() + 1.0
        finally:
            self._claiming = False
            self._wake()


class Cluster:
    """This worker among the others: heartbeat, lost and taken-over leases, the change feed, stopping cleanly."""

    def __init__(
        self,
        *,
        store: ClusterStore,
        config: ClusterConfig,
        registry: Registry,
        adoption: Adoption,
        slots: SlotClaims,
        settings: SettingsBook,
        blocklist: BlockList,
        catalog: Catalog,
        clock: Clock,
        tasks: Tasks,
    ) -> None:
        self._store = store
        self.config = config
        self._registry = registry
        self._adoption = adoption
        self.slots = slots
        self._settings = settings
        self._blocklist = blocklist
        self._catalog = catalog
        self._clock = clock
        self._tasks = tasks
        self._seq = 0
        self._gaps: dict[int, float] = {}  # change numbers not seen yet although later ones were: when first missed
        self._next_beat = 0.0
        self._next_sync = 0.0
        self._next_prune = 0.0
        self._beating = False
        self._syncing = False

    @property
    def worker(self) -> str:
        return self.config.worker

    # --- lifecycle -----------------------------------------------------------------------------------------------
    async def start(self) -> None:
        """Join: read where the change feed is, say this worker is alive, take over what nobody runs."""
        self._seq = await self._store.latest_change()
        await self._beat()
        now = self._clock.now()
        self._next_beat = now + self.config.heartbeat_s
        self._next_sync = now + self.config.sync_s
        self._next_prune = now + PRUNE_CHANGES_EVERY_S

    async def stop(self) -> None:
        """Leave: give the leases back, so other workers carry this one's jobs on at once."""
        await self._store.release(self.worker)
        log.info("worker %s released its jobs", self.worker)

    def tick(self, now: float) -> None:
        """One pass of the job loop: heartbeat and take-over scan, change feed, pruning, each when due."""
        if now >= self._next_beat and not self._beating:
            self._next_beat = now + self.config.heartbeat_s
            self._beating = True
            self._tasks.spawn(self._beat_once(), "heartbeat")
        if now >= self._next_sync and not self._syncing:
            self._next_sync = now + self.config.sync_s
            self._syncing = True
            self._tasks.spawn(self._sync_once(), "cache-sync")
        if now >= self._next_prune:
            self._next_prune = now + PRUNE_CHANGES_EVERY_S
            self._tasks.spawn(self._store.prune_changes(now - PRUNE_CHANGES_EVERY_S), "prune-changes")

    def next_due(self) -> float:
        due = min(self._next_beat, self._next_sync)
        claim = self.slots.next_due()
        return due if claim is None else min(due, claim)

    # --- leases --------------------------------------------------------------------------------------------------
    async def _beat_once(self) -> None:
        try:
            await self._beat()
        except Exception:
            log.exception("heartbeat failed (worker %s)", self.worker)
        finally:
            self._beating = False

    async def _beat(self) -> None:
        now = self._clock.now()
        held = [record.id for record in self._registry]
        for job_id in await self._store.heartbeat(self.worker, now, held):
            # Another worker took it while this one was silent (a long pause): it runs there now.
            # (Or its task was found finished by another worker's poll, which finishes it: polls are shared.)
            if self._registry.forget(job_id) is not None:
                log.info("job %d is leased to another worker now; dropped here", job_id)
        # A job of this worker at the provider that it does not hold (it let go in a race with the worker it had
        # moved to, which then moved it back): taken up again, so no job is left without anyone following it.
        strays = [j for j in await self._store.strays(self.worker, held) if j.id not in self._registry]
        if strays:
            log.warning("worker %s takes up %d of its jobs it was not following", self.worker, len(strays))
            await self._adoption.adopt(strays, [])
        taken = await self._store.take_over(self.worker, now, now - self.config.takeover_s)
        if taken.unfinished or taken.undelivered:
            log.info(
                "worker %s took over %d unfinished and %d undelivered jobs",
                self.worker,
                len(taken.unfinished),
                len(taken.undelivered),
            )
            await self._adoption.adopt(taken.unfinished, taken.undelivered)

    async def adopt_for_webhook(self, job_id: int) -> None:
        """A webhook for a job another worker runs reached this one: lease it here and apply it here."""
        await self._adopt_one(job_id, poll_now=False)

    async def adopt_polled(self, job_id: int) -> None:
        """This worker's poll found another worker's task finished: lease it here and finish it here. Its old
        worker drops it at its next heartbeat (or skips it at its next poll); the writes are conditional."""
        await self._adopt_one(job_id, poll_now=True)

    async def _adopt_one(self, job_id: int, *, poll_now: bool) -> None:
        if job_id in self._registry:
            return
        job = await self._store.adopt(self.worker, job_id)
        if job is not None:
            await self._adoption.adopt([job], [], poll_now=poll_now)

    async def poll_room(
        self,
        provider: str,
        *,
        mine: Sequence[tuple[int, float]],
        now: float,
        submitted_before: float,
        polled_before: float,
        limit: int,
    ) -> PollRoom:
        """Shared polling (the tracker's ``Neighbours``): see ``ClusterStore.poll_room``."""
        return await self._store.poll_room(
            self.worker,
            provider,
            mine=mine,
            now=now,
            submitted_before=submitted_before,
            polled_before=polled_before,
            limit=limit,
        )

    # --- caches --------------------------------------------------------------------------------------------------
    async def _sync_once(self) -> None:
        try:
            await self.sync()
        except Exception:
            log.exception("reading the change feed failed")
        finally:
            self._syncing = False

    async def sync(self) -> None:
        """Drop cached values other processes changed (and this one: harmless, they are read again)."""
        now = self._clock.now()
        self._gaps = {seq: at for seq, at in self._gaps.items() if now - at < GAP_PATIENCE_S}
        since = min(self._seq, min(self._gaps) - 1) if self._gaps else self._seq
        changes = await self._store.changes_since(since)
        catalog = False
        for change in changes:
            if change.seq <= self._seq and change.seq not in self._gaps:
                continue  # seen already (read again because an earlier number was missing)
            self._gaps.pop(change.seq, None)
            for missing in range(self._seq + 1, change.seq):
                self._gaps.setdefault(missing, now)  # committed later, or never (a rolled-back transaction)
            self._seq = max(self._seq, change.seq)
            if change.scope == "catalog":
                catalog = True
            else:
                self._settings.forget(change.guild_id)
                self._blocklist.forget(change.guild_id)
        if catalog:
            await self._catalog.load()
