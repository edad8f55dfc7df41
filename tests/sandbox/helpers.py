"""Shared helpers for the sandbox provider tests."""

from __future__ import annotations

from typing import Any

import httpx

RENDER_S = 10.0  # in fake-clock seconds; the clock only moves when a test advances it
KEY = "test-key"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.reads = 0  # how often the sandbox looked at the time

    def __call__(self) -> float:
        self.reads += 1
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


async def submit(producer: httpx.AsyncClient, **body: Any) -> str:
    response = await producer.post("/producer/create", json={"task_type": "create_music", **body})
    assert response.status_code == 200, response.text
    return response.json()["task_id"]


async def finish(producer: httpx.AsyncClient, clock: FakeClock, task_id: str) -> dict[str, Any]:
    """Move the clock past the render time and return the final poll answer."""
    clock.advance(RENDER_S + 0.01)
    response = await producer.get(f"/producer/task/{task_id}")
    assert response.status_code == 200, response.text
    return response.json()


async def create_clip(producer: httpx.AsyncClient, clock: FakeClock, **body: Any) -> dict[str, Any]:
    """A finished Producer clip."""
    answer = await finish(producer, clock, await submit(producer, **{"sound": "jazz lounge", **body}))
    assert answer["status"] == "SUCCESS", answer
    return answer["data"][0]
