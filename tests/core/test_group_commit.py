"""Group commit: writes arriving together share one transaction, and nothing lingering is lost on stop."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.core.engine import EngineConfig
from bot.core.group_commit import GroupCommit
from bot.domain.models import JobState
from bot.providers.producer import parse_webhook
from bot.sandbox import Sandbox
from bot.web.server import WebServer
from bot.web.signatures import sign
from tests.core.test_engine import rig, wait_until
from tests.core.test_webhooks import PUBLIC, _success


class Writer:
    """Records each batch it is handed; can be told to fail or to take a while."""

    def __init__(self, *, fail: bool = False, takes: float = 0.0) -> None:
        self.batches: list[list[int]] = []
        self.fail = fail
        self.takes = takes

    async def __call__(self, items: list[int]) -> None:
        self.batches.append(items)
        if self.takes:
            await asyncio.sleep(self.takes)
        if self.fail:
            raise RuntimeError("disk full")


def spawner() -> tuple[list[asyncio.Task[None]], Any]:
    tasks: list[asyncio.Task[None]] = []

    def spawn(coro: Coroutine[Any, Any, None]) -> None:
        tasks.append(asyncio.create_task(coro))

    return tasks, spawn


async def test_a_burst_within_the_linger_is_one_write() -> None:
    writer = Writer()
    _, spawn = spawner()
    commits = GroupCommit(writer, spawn=spawn, linger=0.05)
    waiters = [commits.add(i) for i in range(5)]
    await asyncio.gather(*waiters)
    assert writer.batches == [[0, 1, 2, 3, 4]]


async def test_items_arriving_during_a_write_form_the_next_batch() -> None:
    writer = Writer(takes=0.05)
    _, spawn = spawner()
    commits = GroupCommit(writer, spawn=spawn)  # no linger: the first item goes at once
    first = commits.add(1)
    await asyncio.sleep(0.01)  # the first write is under way
    rest = [commits.add(i) for i in (2, 3, 4)]
    await asyncio.gather(first, *rest)
    assert writer.batches == [[1], [2, 3, 4]]


async def test_a_failed_write_fails_its_own_batch_only() -> None:
    writer = Writer(fail=True)
    _, spawn = spawner()
    commits = GroupCommit(writer, spawn=spawn)
    failed = commits.add(1)
    with pytest.raises(RuntimeError, match="disk full"):
        await failed
    writer.fail = False
    await commits.add(2)
    assert writer.batches == [[1], [2]]


async def test_drain_cuts_the_linger_short() -> None:
    writer = Writer()
    _, spawn = spawner()
    commits = GroupCommit(writer, spawn=spawn, linger=30.0)
    waiter = commits.add(1)
    started = time.monotonic()
    await commits.drain()
    assert waiter.done() and writer.batches == [[1]]
    assert time.monotonic() - started < 5.0
    await commits.drain()  # nothing pending: returns at once


async def test_cancelling_the_flush_cancels_its_waiters() -> None:
    writer = Writer()
    tasks, spawn = spawner()
    commits = GroupCommit(writer, spawn=spawn, linger=30.0)
    waiter = commits.add(1)
    await asyncio.sleep(0)
    tasks[0].cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert writer.batches == []


async def _webhook_rig_run(db_path: Path, linger: float, jobs: int, *, stop_at_once: bool) -> list[tuple[Any, ...]]:
    """Submit ``jobs`` jobs, post their success webhooks; return each job's (state, finished_at)."""
    config = EngineConfig(
        poll_interval=60, webhook_url_base=PUBLIC, safety_poll_interval=60, expected_render_s=60, write_linger=linger
    )
    async with (
        Sandbox(render_seconds=60, clip_seconds=0.5) as sandbox,
        rig(db_path, config=config, sandbox=sandbox) as r,
    ):
        web = WebServer(r.engine, parse_webhook)
        await web.start("127.0.0.1", 0)
        try:
            ids = [await r.admit() for _ in range(jobs)]
            await wait_until(lambda: len(r.engine._tracked) == jobs)
            now = int(time.time())
            async with httpx.AsyncClient() as client:

                async def post(job_id: int) -> int:
                    known = await r.engine.webhook_secret(job_id)
                    assert known is not None
                    task_id, secret = known
                    body = _success(task_id)
                    headers = {"X-Webhook-Timestamp": str(now), "X-Webhook-Signature": sign(secret, body, now)}
                    url = f"http://127.0.0.1:{web.port}/webhooks/sandbox/{job_id}"
                    return (await client.post(url, content=body, headers=headers)).status_code

                # One after another, each answered before the next is sent: only the linger can join them.
                assert [await post(j) for j in ids] == [200] * jobs
            if stop_at_once:
                await r.engine.stop()
            else:
                await r.notifier.wait_for(jobs)
        finally:
            await web.stop()
    conn = sqlite3.connect(db_path)
    try:
        return conn.execute("SELECT state, finished_at FROM jobs ORDER BY id").fetchall()
    finally:
        conn.close()


async def test_a_burst_of_webhooks_is_stored_in_one_transaction(db_path: Path) -> None:
    rows = await _webhook_rig_run(db_path, linger=0.3, jobs=5, stop_at_once=False)
    assert [state for state, _ in rows] == [JobState.SUCCEEDED.value] * 5
    # One transaction, one clock reading: every job of the burst carries the same finish time.
    assert len({finished for _, finished in rows}) == 1


async def test_stopping_writes_what_is_still_lingering(db_path: Path) -> None:
    # A 30 s linger that stop() must not wait out, and must not drop: the songs are done upstream.
    started = time.monotonic()
    rows = await _webhook_rig_run(db_path, linger=30.0, jobs=2, stop_at_once=True)
    assert [state for state, _ in rows] == [JobState.SUCCEEDED.value] * 2
    assert time.monotonic() - started < 20.0
