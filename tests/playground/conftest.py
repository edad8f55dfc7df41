"""Fixtures: a started playground (state in a temporary folder, any free port), members acting through it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager
from pathlib import Path

import discord
import pytest
from discord.gateway import DiscordWebSocket
from discord.http import Route

from bot.discord_endpoints import point_discord_at
from bot.playground import Playground
from tests.playground.driver import Member, members

log = logging.getLogger(__name__)

Acting = Callable[[str], AbstractAsyncContextManager[Member]]


class FakeClock:
    """Wall-clock seconds that only move when a test says so (token lifetimes, nonce windows, rate limits)."""

    def __init__(self, start: float = 1_750_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def restore_discord_endpoints() -> Iterator[None]:
    """Put ``Route.BASE`` and ``DEFAULT_GATEWAY`` back after the test (they are process-wide)."""
    base, gateway = Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY
    try:
        yield
    finally:
        Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY = base, gateway


@pytest.fixture(autouse=True)
def no_playground_errors(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """A bug in the playground answers 500 and logs; any such log fails the test that caused it."""
    caplog.set_level(logging.INFO, logger="bot.playground")
    yield
    problems = [r for r in caplog.records if r.name.startswith("bot.playground") and r.levelno >= logging.ERROR]
    assert problems == [], [r.getMessage() for r in problems]


@pytest.fixture
def state_path(tmp_path: Path) -> Path:
    return tmp_path / "playground.sqlite3"


@pytest.fixture
async def playground(state_path: Path, restore_discord_endpoints: None) -> AsyncIterator[Playground]:
    """A running playground that discord.py already points at."""
    server = Playground(state_path=state_path, port=0)
    await server.start()
    try:
        point_discord_at(server.api_url, server.gateway_url)
        yield server
    finally:
        await server.stop()


@pytest.fixture
def acting_as(playground: Playground) -> Acting:
    """``async with acting_as("ben") as ben:`` a member connected to the playground's gateway."""

    @contextlib.asynccontextmanager
    async def connect(name: str) -> AsyncIterator[Member]:
        info = (await members(playground.url))[name]
        async with Member(playground.url, info) as member:
            yield member

    return connect


@contextlib.asynccontextmanager
async def bot_running(
    bot: discord.Client, playground: Playground, *, token: str | None = None, timeout: float = 15.0
) -> AsyncIterator[asyncio.Task[None]]:
    """``bot.start()`` in a task until the bot is ready; closed (and waited for) on exit.

    A bot that fails to start raises its own error here instead of a timeout. Give the bot
    ``guild_ready_timeout=0.05``: discord.py otherwise waits 2 s after the last GUILD_CREATE before it is ready.
    """
    task = asyncio.create_task(bot.start(token or playground.bot_token), name="test-bot")
    try:
        async with asyncio.timeout(timeout):
            ready = asyncio.ensure_future(bot.wait_until_ready())
            await asyncio.wait({ready, task}, return_when=asyncio.FIRST_COMPLETED)
            if not ready.done():
                ready.cancel()
                task.result()
                raise RuntimeError("bot.start() returned before the bot was ready")
        yield task
        crashed = task.done()
    finally:
        await bot.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(asyncio.shield(task), timeout=timeout)
    if crashed:
        task.result()
        raise RuntimeError("the bot stopped during the test")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def clocked(state_path: Path, clock: FakeClock, restore_discord_endpoints: None) -> AsyncIterator[Playground]:
    """A playground whose time only moves with ``clock.advance`` (for deadlines, lifetimes, windows)."""
    server = Playground(state_path=state_path, port=0, clock=clock)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@contextlib.asynccontextmanager
async def member_of(server: Playground, name: str) -> AsyncIterator[Member]:
    info = (await members(server.url))[name]
    async with Member(server.url, info) as member:
        yield member
