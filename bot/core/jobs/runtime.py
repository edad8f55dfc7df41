"""The job runtime: recovers unfinished work at start, runs the scheduling loop, and stops without losing a write.

The loop wakes when something happens (an admission, a submit or poll coming back) or when the next timer is
due (a poll, a back-off, a held job's release), and runs each step in turn. A pass right after another waits a
tick (10 ms), so a burst of admissions is dispatched, and answered, together.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from bot.core.catalog import Catalog
from bot.core.jobs.cluster import Adoption, Cluster
from bot.core.jobs.config import JobsConfig
from bot.core.jobs.delivery import Delivery
from bot.core.jobs.finisher import Finisher
from bot.core.jobs.registry import Registry
from bot.core.jobs.scheduler import Scheduler
from bot.core.jobs.tasks import Tasks
from bot.core.jobs.tracker import Tracker
from bot.core.outbox import Outbox
from bot.domain.ports import Clock, JobStore, Notifier

log = logging.getLogger(__name__)

PRUNE_EVERY_S = 3600.0


class JobRuntime:
    def __init__(
        self,
        *,
        store: JobStore,
        registry: Registry,
        scheduler: Scheduler,
        tracker: Tracker,
        finisher: Finisher,
        delivery: Delivery,
        catalog: Catalog,
        outbox: Outbox,
        clock: Clock,
        config: JobsConfig,
        tasks: Tasks,
        wakeup: asyncio.Event,
        adoption: Adoption,
        cluster: Cluster | None = None,
    ) -> None:
        self._store = store
        self._registry = registry
        self._scheduler = scheduler
        self._tracker = tracker
        self._finisher = finisher
        self._delivery = delivery
        self._catalog = catalog
        self._outbox = outbox
        self._clock = clock
        self._config = config
        self._tasks = tasks
        self._wakeup = wakeup
        self._adoption = adoption
        self._cluster = cluster  # many processes on one database (bot/core/jobs/cluster.py); None: this one alone
        self._loop_task: asyncio.Task[None] | None = None
        self._stopping = False
        self._last_sweep = 0.0
        self._last_prune = 0.0

    @property
    def running(self) -> bool:
        return self._loop_task is not None

    def wake(self) -> None:
        self._wakeup.set()

    # --- lifecycle -----------------------------------------------------------------------------------------------
    async def start(self, notifier: Notifier | None = None) -> None:
        """Recover unfinished work, attach the notifier (results go out through it from now on), run the loop."""
        await self._catalog.load()
        if self._cluster is not None:
            # Among many workers: take over what nobody runs (a stopped worker's jobs, a dead one's once it is
            # silent for the take-over time), not everything unfinished.
            await self._cluster.start()
            self.wake()
        else:
            await self.recover()
        if notifier is not None:
            self._outbox.attach(notifier)
        self._stopping = False
        self._loop_task = asyncio.create_task(self._run(), name="tunesmith-jobs")

    async def stop(self) -> None:
        """Stop scheduling. In-flight provider calls are abandoned; the store already has every step."""
        self._stopping = True
        self.wake()
        # Finished jobs and delivery records still lingering are written first: a post whose record were lost
        # would be posted again after the restart.
        with contextlib.suppress(TimeoutError):
            async with self._clock.timeout(self._config.stop_grace):
                await self._finisher.drain()
                await self._delivery.drain()
        if self._loop_task is not None:
            self._loop_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._loop_task
            self._loop_task = None
        await self._tasks.cancel_all()
        if self._cluster is not None:
            # Only now that nothing of this worker runs any more: other workers carry its jobs on at once.
            with contextlib.suppress(Exception):
                async with self._clock.timeout(self._config.stop_grace):
                    await self._cluster.stop()
        self._outbox.detach()

    async def recover(self) -> None:
        unfinished = await self._store.unfinished_jobs()
        undelivered = await self._store.undelivered_jobs()
        await self._adoption.adopt(unfinished, undelivered)
        if unfinished or undelivered:
            log.info("recovered %d unfinished and %d undelivered jobs", len(unfinished), len(undelivered))
        self.wake()

    # --- the loop ------------------------------------------------------------------------------------------------
    async def _run(self) -> None:
        while not self._stopping:
            self._wakeup.clear()
            try:
                now = self._clock.now()
                if self._cluster is not None:
                    self._cluster.tick(now)
                self._scheduler.release_held(now)
                self._scheduler.dispatch(now)
                self._tracker.poll_due(now)
                self._delivery.retry_due(now)
                if now - self._last_sweep >= self._config.sweep_interval:
                    # Whole-set sweeps, at most once a sweep interval however often the loop wakes.
                    self._last_sweep = now
                    self._tracker.expire(now)
                    self._scheduler.report_positions()
                if now - self._last_prune >= PRUNE_EVERY_S:
                    self._last_prune = now
                    self._tasks.spawn(self._tracker.prune_webhooks(now), "prune-webhooks")
                delay = self._next_wake(now)
            except Exception:  # the loop must survive any bug in one step
                log.exception("job loop step failed")
                delay = 1.0
            if self._config.tick > 0:
                # A pass right after another waits a moment, so a burst of admissions is dispatched (and its
                # answers come back) together instead of one loop turn per job. The first wake after a quiet
                # spell is still served at once.
                await self._clock.sleep(self._config.tick)
            with contextlib.suppress(TimeoutError):
                async with self._clock.timeout(max(delay, 0.001)):
                    await self._wakeup.wait()

    def _next_wake(self, now: float) -> float:
        candidates = [self._last_sweep + self._config.sweep_interval - now]
        if self._cluster is not None:
            candidates.append(self._cluster.next_due() - now)
        for due in (self._scheduler.next_due(), self._tracker.next_due(), self._delivery.next_due()):
            if due is not None:
                candidates.append(due - now)
        return min(candidates)
