"""SimCord harness: the real bot (real command tree, views, modals) on an in-memory Discord, with the real
core, SQLite in a temporary folder and the sandbox provider over loopback."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import inspect
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import discord
import pytest
import simcord

from bot.app import App, build, jobs_config
from bot.config import Settings
from bot.core.clock import SystemClock
from bot.domain.errors import TunesmithError
from bot.domain.requester import Requester
from bot.sandbox import Sandbox
from bot.ui.errors import unwrap

# The longest a test waits for the bot (in real time; it returns as soon as the condition holds): generous, so a
# machine busy with other work makes a test slower, never red.
WAIT_S = 30.0


class ShiftedClock(SystemClock):
    """Real time, that a test can move forward (a cooldown passing) without waiting for it."""

    def __init__(self) -> None:
        self.offset = 0.0

    def now(self) -> float:
        return time.time() + self.offset

    def shift(self, seconds: float) -> None:
        self.offset += seconds


@dataclass
class Studio:
    """One running world: the app, the SimCord env, a server with a #studio channel and members."""

    app: App
    env: simcord.Env
    guild: Any
    channel: Any
    ana: Any  # a member
    bo: Any  # another member
    admin: Any  # has Manage Server and Manage Messages
    clock: ShiftedClock
    # Errors a test provokes on purpose (beyond the refusals every command may answer with).
    expected_errors: tuple[type[BaseException], ...] = ()

    def unexpected_errors(self) -> list[BaseException]:
        """What the bot raised that is not a refusal shown to the member (SimCord records those too)."""
        expected = (TunesmithError, discord.app_commands.CheckFailure, *self.expected_errors)
        return [e for e in self.env.errors if not isinstance(unwrap(e), expected)]

    async def until(self, predicate: Callable[[], Any], timeout: float = WAIT_S) -> Any:
        """Wait (in real time: the job runtime runs outside the bot) until predicate() is truthy; return it.

        The predicate may be a coroutine function (e.g. to read a job from the store)."""
        async with asyncio.timeout(timeout):
            while True:
                await self.env.settle()
                value = predicate()
                if inspect.isawaitable(value):
                    value = await value
                if value:
                    return value
                await asyncio.sleep(0.05)

    def messages(self, channel: Any = None) -> list[discord.Message]:
        return (channel or self.channel).history()

    def track_posts(self, channel: Any = None) -> list[discord.Message]:
        return [m for m in self.messages(channel) if m.embeds and (m.embeds[0].footer.text or "").startswith("Track #")]

    async def wait_for_posts(self, count: int, channel: Any = None, timeout: float = WAIT_S) -> list[discord.Message]:
        return await self.until(lambda: (p := self.track_posts(channel)) and len(p) >= count and p, timeout)

    async def credits(self, member: Any = None) -> int:
        quota = await self.app.services.credits.quota(self.guild.id, (member or self.ana).id)
        return quota.server_remaining

    def as_admin(self) -> Requester:
        """The admin, as core sees them (for reading admin-only views directly)."""
        return Requester(guild_id=self.guild.id, channel_id=self.channel.id, user_id=self.admin.id, is_admin=True)


def settings_for(tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "discord_token": "simcord-token",
        "database_path": tmp_path / "tunesmith.sqlite3",
        "sandbox_render_seconds": 0.15,
        "poll_interval": 0.05,
        "sync_commands": True,
        "web_port": 0,
        "provider": "sandbox",
    }
    values.update(overrides)
    return Settings(**values)


@asynccontextmanager
async def running(
    tmp_path: Path, *, render_s: float | None = None, clip_seconds: float | None = 2.0, **overrides: Any
) -> AsyncIterator[Studio]:
    """The bot on SimCord. ``render_s``: how long core expects a render to take (a real provider's 30 s by
    default; the sandbox's own time when it is the provider), so the first poll is not half a minute away.
    ``clip_seconds``: the sandbox's songs are this long (short: quicker to synthesise and to attach); None for
    the sandbox's own 20-30 s songs."""
    async with contextlib.AsyncExitStack() as stack:
        sandbox = None
        if overrides.get("provider", "sandbox") in ("sandbox", "sonic"):
            render = overrides.get("sandbox_render_seconds", 0.15)
            sandbox = Sandbox(render_seconds=render, clip_seconds=clip_seconds)
            await sandbox.start()
            stack.push_async_callback(sandbox.stop)
            if overrides.get("provider") == "sonic":
                # Sonic against the sandbox's Sonic API, over loopback, with the real Sonic client.
                overrides = {"producer_base_url": sandbox.base_url, "producer_api_key": "sonic-test-key", **overrides}
        settings = settings_for(tmp_path, **overrides)
        clock = ShiftedClock()
        jobs = jobs_config(settings)
        if render_s is not None:
            jobs = dataclasses.replace(jobs, expected_render_s=render_s)
        app = await stack.enter_async_context(build(settings, start_web=False, clock=clock, jobs=jobs, sandbox=sandbox))
        env = simcord.Env(app.bot)
        await env.start()
        # The job runtime runs outside the bot's own tasks, as in production (bot/app.py: run).
        await app.core.runtime.start(app.notifier)
        try:
            guild = env.create_guild("Studio")
            channel = guild.create_text_channel("studio")
            admins = guild.create_role(
                "Admins", permissions=discord.Permissions(manage_guild=True, manage_messages=True)
            )
            world = Studio(
                app=app,
                env=env,
                guild=guild,
                channel=channel,
                ana=guild.add_member(env.create_user("ana")),
                bo=guild.add_member(env.create_user("bo")),
                admin=guild.add_member(env.create_user("admin"), roles=[admins]),
                clock=clock,
            )
            yield world
        finally:
            await app.core.runtime.stop()
            await env.shutdown()
        # Any unhandled error inside the bot fails the test, as SimCord's own fixture does; refusals the error
        # handler turns into ephemeral replies (TunesmithError) are the product working, not errors.
        unexpected = world.unexpected_errors()
        if unexpected:
            raise BaseExceptionGroup(f"bot raised {len(unexpected)} unexpected error(s)", unexpected)


@pytest.fixture
async def studio(tmp_path: Path) -> AsyncIterator[Studio]:
    async with running(tmp_path) as world:
        yield world
