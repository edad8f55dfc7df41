"""Benchmark-scale load: 500 tasks per provider with polls, every answer right, no per-task background work.

How long it takes is measured by ``python -m bot.sandbox.bench --requests`` (no test asserts speed).
"""

from __future__ import annotations

import asyncio

import aiohttp

from bot.sandbox import Sandbox
from tests.sandbox.helpers import KEY, FakeClock

TASKS = 500


async def test_500_tasks_per_provider_are_answered_without_background_work() -> None:
    clock = FakeClock()
    async with Sandbox(render_seconds=5.0, clock=clock) as sandbox, aiohttp.ClientSession() as http:
        producer_headers = {"Authorization": f"Bearer {KEY}"}
        fuzz_headers = {"api-key": KEY}

        async def producer_submit(i: int) -> str:
            async with http.post(
                f"{sandbox.base_url}/api/v1/producer/create",
                headers=producer_headers,
                json={"task_type": "create_music", "sound": f"style {i}"},
            ) as response:
                return (await response.json())["task_id"]

        async def producer_poll(task_id: str) -> str:
            async with http.get(
                f"{sandbox.base_url}/api/v1/producer/task/{task_id}", headers=producer_headers
            ) as response:
                return (await response.json())["status"]

        async def fuzz_submit(i: int) -> str:
            async with http.post(
                f"{sandbox.fuzz_base_url}/task", headers=fuzz_headers, json={"lyrics": "", "tags": f"style {i}"}
            ) as response:
                return (await response.json())["task_id"]

        async def fuzz_poll(ids: list[str]) -> list[str]:
            async with http.get(
                f"{sandbox.fuzz_base_url}/task", headers=fuzz_headers, params={"ids": ",".join(ids)}
            ) as response:
                return [task["status"] for task in await response.json()]

        producer_ids = await asyncio.gather(*(producer_submit(i) for i in range(TASKS)))
        fuzz_ids = await asyncio.gather(*(fuzz_submit(i) for i in range(TASKS)))
        assert sandbox.background_work == 0  # no timers without webhooks
        clock.advance(5.0)
        statuses = await asyncio.gather(*(producer_poll(t) for t in producer_ids))
        batches = await asyncio.gather(*(fuzz_poll(fuzz_ids[i : i + 25]) for i in range(0, TASKS, 25)))

        assert set(statuses) == {"SUCCESS"}
        assert [s for batch in batches for s in batch] == ["completed"] * TASKS
        assert sandbox.stats.submits == 2 * TASKS
        assert sandbox.stats.polls == TASKS + TASKS // 25 and sandbox.stats.poll_ids == 2 * TASKS
        assert len(sandbox.finished_at) == 2 * TASKS
