"""Discord's edit budget for status messages: core reports every change, this decides when to edit.

A channel takes about five messages every five seconds, so a status message is edited at most once every
``interval`` seconds (the latest state wins; states in between are skipped), and while a job renders its elapsed
time is refreshed every ``refresh`` seconds when nothing else changed. The first edit waits ``interval`` after the
job was admitted: the status message was just posted then.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from bot.domain.models import Job, JobState
from bot.domain.outcomes import Progress
from bot.domain.ports import Clock

log = logging.getLogger(__name__)

Edit = Callable[[Job, Progress], Awaitable[None]]
ChannelBudget = Callable[[int], Awaitable[float]]
"""Reserves a channel's next edit slot, shared by every process on the database; returns the seconds to wait."""


@dataclass(slots=True, eq=False)
class _Slot:
    job: Job
    last_edit: float
    pending: Progress | None = None
    shown: Progress | None = None
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None


class StatusEdits:
    def __init__(
        self,
        edit: Edit,
        clock: Clock,
        *,
        interval: float = 5.0,
        refresh: float = 15.0,
        channel_budget: ChannelBudget | None = None,
    ) -> None:
        self._edit = edit
        self._channel_budget = channel_budget  # many processes: a channel's edits are spaced across all of them
        self._clock = clock
        self._interval = interval
        self._refresh = refresh
        self._slots: dict[int, _Slot] = {}

    def __len__(self) -> int:
        return len(self._slots)

    def report(self, job: Job, progress: Progress) -> None:
        """A job moved. Returns at once; the edit follows when the budget allows."""
        if job.status_message_id is None or job.state.finished:
            return
        slot = self._slots.get(job.id)
        if slot is None:
            slot = self._slots[job.id] = _Slot(job=job, last_edit=job.created_at.timestamp())
        slot.job = job
        slot.pending = progress
        slot.changed.set()
        if slot.task is None or slot.task.done():
            slot.task = asyncio.get_running_loop().create_task(self._run(slot), name=f"status-{job.id}")

    def finished(self, job_id: int) -> None:
        """The job's result replaces the status message: no edit may follow (nor race) it."""
        slot = self._slots.pop(job_id, None)
        if slot is not None and slot.task is not None:
            slot.task.cancel()

    async def close(self) -> None:
        slots, self._slots = list(self._slots.values()), {}
        tasks = [s.task for s in slots if s.task is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def _run(self, slot: _Slot) -> None:
        while self._slots.get(slot.job.id) is slot:
            if slot.pending is None:
                if slot.shown is None or slot.shown.state is not JobState.RUNNING:
                    return  # nothing to show until the next report
                # Rendering: refresh the elapsed time unless something new arrives first.
                slot.changed.clear()
                wait = slot.last_edit + self._refresh - self._clock.now()
                if wait > 0:
                    with contextlib.suppress(TimeoutError):
                        async with self._clock.timeout(wait):
                            await slot.changed.wait()
                if slot.pending is None:
                    slot.pending = slot.shown
            wait = slot.last_edit + self._interval - self._clock.now()
            if wait > 0:
                await self._clock.sleep(wait)
            if self._channel_budget is not None and slot.pending is not None:
                try:
                    turn = await self._channel_budget(slot.job.channel_id)
                except Exception:  # the database is away: the per-message interval still holds
                    log.warning("could not reserve an edit of channel %d", slot.job.channel_id, exc_info=True)
                    turn = 0.0
                if turn > 0:
                    await self._clock.sleep(turn)  # the latest state is taken after the wait
            progress, slot.pending = slot.pending, None
            if progress is None:
                continue
            slot.last_edit = self._clock.now()
            slot.shown = progress
            try:
                await self._edit(slot.job, progress)
            except asyncio.CancelledError:
                raise
            except Exception:  # a failed edit must not hurt the job itself
                log.warning("status update for job %d failed", slot.job.id, exc_info=True)
