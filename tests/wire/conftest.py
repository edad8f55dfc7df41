"""Fixtures for wire tests: a started FakeDiscord, with discord.py pointed at it and restored afterwards."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from discord.gateway import DiscordWebSocket
from discord.http import Route

from bot.discord_endpoints import point_discord_at
from tests.wire.fake_discord import FakeDiscord


@pytest.fixture
def restore_discord_endpoints() -> Iterator[None]:
    """Put ``Route.BASE`` and ``DEFAULT_GATEWAY`` back after the test.

    They are class attributes, i.e. process-wide: a test that leaves them pointing at a stopped fake would
    break every later test that builds a discord.py Route.
    """
    base, gateway = Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY
    try:
        yield
    finally:
        Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY = base, gateway


@pytest.fixture
async def fake_discord(restore_discord_endpoints: None) -> AsyncIterator[FakeDiscord]:
    """A running FakeDiscord that discord.py already points at; stopped after the test."""
    fake = FakeDiscord()
    await fake.start()
    try:
        point_discord_at(fake.api_url, fake.gateway_url)
        yield fake
    finally:
        await fake.stop()
