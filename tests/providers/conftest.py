"""Shared fixtures: recorded answers from the docs served at the wire through ``httpx.MockTransport``."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.clients import http_client

RECORDED = Path(__file__).parent / "recorded"

PRODUCER_KEY = "pk-live-7Hq2Zx9LmN4bV8cR1tY6"
FUZZ_KEY = "fz-3Kd8Wp1QsA6eJ0uM5nB2"
PRODUCER_URL = "https://producer.test"
FUZZ_URL = "https://fuzz.test/api/v2/fuzz"


def recorded(name: str, **overrides: Any) -> httpx.Response:
    """A recorded answer (``producer/task_success``); ``overrides`` replace its status, headers, body or text."""
    data = json.loads((RECORDED / f"{name}.json").read_text())
    data.update(overrides)
    headers = data.get("headers") or {}
    if "text" in data:
        return httpx.Response(data["status"], text=data["text"], headers=headers)
    return httpx.Response(data["status"], json=data["body"], headers=headers)


def recorded_body(name: str) -> Any:
    return json.loads((RECORDED / f"{name}.json").read_text())["body"]


Answer = httpx.Response | Exception | Callable[[httpx.Request], httpx.Response]


class Wire:
    """A scripted provider: answers per (method, path) in order, the last one repeating; records every request."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self._routes: dict[tuple[str, str], list[Answer]] = {}

    def on(self, method: str, path: str, *answers: Answer) -> Wire:
        self._routes[(method, path)] = list(answers)
        return self

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        queue = self._routes.get((request.method, request.url.path))
        if not queue:
            return httpx.Response(599, text=f"no scripted answer for {request.method} {request.url.path}")
        answer = queue.pop(0) if len(queue) > 1 else queue[0]
        if isinstance(answer, Exception):
            raise answer
        if callable(answer):
            return answer(request)
        return answer

    def bodies(self) -> list[Any]:
        return [json.loads(r.content) if r.content else None for r in self.requests]

    def last_json(self) -> Any:
        return json.loads(self.requests[-1].content)


class Sleeps:
    """An injectable ``sleep`` that records the delays instead of waiting."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)


@pytest.fixture
def wire() -> Wire:
    return Wire()


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
async def http(wire: Wire) -> AsyncIterator[httpx.AsyncClient]:
    async with http_client(transport=httpx.MockTransport(wire.handler), timeout=httpx.Timeout(5.0)) as client:
        yield client
