"""Group commit: writes arriving together share one transaction, and nothing lingering is lost on stop."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

import pytest

from bot.core.group_commit import GroupCommit
from bot.domain.models import JobState
from tests.core.rig import config, rig
from tests.fakes import FakeClock


class Writer:
    """Records each batch it is handed; can be told to fail or to take a while (on the fake clock)."""

    def __init__(self, clock: FakeClock, *, fail: bool = False, takes: float = 0.0) -> None:
        self.clock = clock
        self.batches: list[list[int]] = []
        self.fail = fail
        self.takes = takes

    async def __call__(self, items: list[int]) -> None:
        self.batches.append(items)
        if self.takes:
            await self.clock.sleep(self.takes)
        if self.fail:
            raise RuntimeError("disk full")


def spawner() -> tuple[list[asyncio.Task[None]], Any]:
    tasks: list[asyncio.Task[None]] = []

    def spawn(coro: Coroutine[Any, Any, None]) -> None:
        tasks.append(asyncio.create_task(coro))

    return tasks, spawn


def group(writer: Writer, clock: FakeClock, linger: float = 0.0) -> tuple[list[asyncio.Task[None]], GroupCommit[int]]:
    tasks, spawn = spawner()
    return tasks, GroupCommit(writer, spawn=spawn, linger=linger, timeout=clock.timeout)


async def test_a_burst_within_the_linger_is_one_write() -> None:
    clock = FakeClock()
    writer = Writer(clock)
    _, commits = group(writer, clock, linger=0.05)
    waiters = [commits.add(i) for i in range(5)]
    await clock.advance(0.01)
    assert writer.batches == []  # still lingering
    waiters.append(commits.add(5))
    await clock.advance(0.05)
    await asyncio.gather(*waiters)
    assert writer.batches == [[0, 1, 2, 3, 4, 5]]


async def test_items_arriving_during_a_write_form_the_next_batch() -> None:
    clock = FakeClock()
    writer = Writer(clock, takes=0.05)
    _, commits = group(writer, clock)  # no linger: the first item goes at once
    first = commits.add(1)
    await clock.advance(0.01)  # the first write is under way
    rest = [commits.add(i) for i in (2, 3, 4)]
    await clock.advance(1.0)
    await asyncio.gather(first, *rest)
    assert writer.batches == [[1], [2, 3, 4]]


async def test_a_failed_write_fails_its_own_batch_only() -> None:
    clock = FakeClock()
    writer = Writer(clock, fail=True)
    _, commits = group(writer, clock)
    failed = commits.add(1)
    with pytest.raises(RuntimeError, match="disk full"):
        await failed
    writer.fail = False
    await commits.add(2)
    assert writer.batches == [[1], [2]]


async def test_drain_cuts_the_linger_short() -> None:
    clock = FakeClock()
    writer = Writer(clock)
    _, commits = group(writer, clock, linger=30.0)
    waiter = commits.add(1)
    started = clock.now()
    await commits.drain()  # no fake time passes: the linger is cut, not waited out
    assert waiter.done() and writer.batches == [[1]]
    assert clock.now() == started
    await commits.drain()  # nothing pending: returns at once


async def test_cancelling_the_flush_cancels_its_waiters() -> None:
    clock = FakeClock()
    writer = Writer(clock)
    tasks, commits = group(writer, clock, linger=30.0)
    waiter = commits.add(1)
    await asyncio.sleep(0)
    tasks[0].cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert writer.batches == []


async def _webhook_burst(jobs: int, linger: float, *, stop_at_once: bool) -> list[tuple[JobState, float | None]]:
    """Submit ``jobs`` jobs, deliver their success webhooks one after another; return each job's (state,
    finished_at) as stored."""
    settings = config(
        webhook_url_base="https://tunesmith.example",
        safety_poll_interval=600.0,
        expected_render_s=600.0,
        write_linger=linger,
    )
    async with rig(jobs=settings) as r:
        ids = [await r.admit() for _ in range(jobs)]
        await r.until(lambda: r.provider.submits == jobs)
        for job_id, task_id in zip(ids, r.provider.tasks, strict=True):
            # Each answered before the next is sent: only the linger can join them.
            assert await r.core.web.accept_webhook(f"evt-{job_id}", job_id, r.provider.finished(task_id))
            await r.clock.advance(linger / 10)
        if stop_at_once:
            await r.core.runtime.stop()
        else:
            await r.delivered(jobs)
        stored = [r.store.jobs[j] for j in ids]
        assert len(r.store.webhooks) == jobs  # the webhook ids were written with the completions
        return [(j.state, j.finished_at.timestamp() if j.finished_at else None) for j in stored]


async def test_a_burst_of_webhooks_is_stored_in_one_transaction() -> None:
    rows = await _webhook_burst(5, linger=0.3, stop_at_once=False)
    assert [state for state, _ in rows] == [JobState.SUCCEEDED] * 5
    # One transaction, one clock reading: every job of the burst carries the same finish time.
    assert len({finished for _, finished in rows}) == 1


async def test_stopping_writes_what_is_still_lingering() -> None:
    # A 30 s linger that stop() must not wait out, and must not drop: the songs are done upstream.
    rows = await _webhook_burst(2, linger=30.0, stop_at_once=True)
    assert [state for state, _ in rows] == [JobState.SUCCEEDED] * 2
