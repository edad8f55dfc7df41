"""Fixtures for the sandbox provider tests: a started sandbox on loopback with a hand-driven clock."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from bot.sandbox import Sandbox
from tests.sandbox.helpers import KEY, RENDER_S, FakeClock


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def sandbox(clock: FakeClock) -> AsyncIterator[Sandbox]:
    # Short clips keep the file tests fast; the audio tests that care about length use their own value.
    async with Sandbox(render_seconds=RENDER_S, clip_seconds=1.0, clock=clock) as running:
        yield running


@pytest.fixture
async def producer(sandbox: Sandbox) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        base_url=sandbox.base_url + "/api/v1", headers={"Authorization": f"Bearer {KEY}"}
    ) as client:
        yield client


@pytest.fixture
async def fuzz(sandbox: Sandbox) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=sandbox.fuzz_base_url, headers={"api-key": KEY}) as client:
        yield client


@pytest.fixture
async def anon(sandbox: Sandbox) -> AsyncIterator[httpx.AsyncClient]:
    """No credentials: for auth tests, control endpoints and files."""
    async with httpx.AsyncClient(base_url=sandbox.base_url) as client:
        yield client
