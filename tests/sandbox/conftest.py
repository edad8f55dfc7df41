"""Fixtures for the sandbox provider tests: a started sandbox on loopback with a hand-driven clock."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from bot.sandbox import Sandbox
from tests.clients import http_client
from tests.sandbox.helpers import KEY, RENDER_S, FakeClock


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def sandbox(clock: FakeClock) -> AsyncIterator[Sandbox]:
    # Songs at their own length (20-30 s), as the bot and the playground get them.
    async with Sandbox(render_seconds=RENDER_S, clock=clock) as running:
        yield running


@pytest.fixture
async def producer(sandbox: Sandbox) -> AsyncIterator[httpx.AsyncClient]:
    async with http_client(base_url=sandbox.base_url + "/api/v1", headers={"Authorization": f"Bearer {KEY}"}) as client:
        yield client


@pytest.fixture
async def fuzz(sandbox: Sandbox) -> AsyncIterator[httpx.AsyncClient]:
    async with http_client(base_url=sandbox.fuzz_base_url, headers={"api-key": KEY}) as client:
        yield client


@pytest.fixture
async def anon(sandbox: Sandbox) -> AsyncIterator[httpx.AsyncClient]:
    """No credentials: for auth tests, control endpoints and files."""
    async with http_client(base_url=sandbox.base_url) as client:
        yield client
