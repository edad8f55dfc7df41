"""Every track is posted exactly once, whatever point the bot is killed at.

The real bot runs as a process of its own (``python -m bot``'s entry point with its settings from the environment,
through ``tests/playground/bot_process.py``, forked by tests/forked.py) against the playground, with FUZZ (two
songs a job: the status message turns into the first, the second is a new message) from the sandbox. It is killed
with SIGKILL many times: exactly when a track post reaches Discord (the message made, the bot never told), exactly
before (the intent recorded, nothing posted), at a status message's edit into a post, and at random moments;
sometimes Discord's nonce window is made to pass before the restart, so only finding the post in the channel can
keep it from being posted twice. At the end every track of the bot's database is in its channel exactly once, as
a member sees it, and its recorded message is that post. On SQLite, and on PostgreSQL (where the claims are what
processes share).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import sqlite3
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from bot.playground import Playground
from bot.playground.errors import ApiError
from bot.playground.messages import NONCE_WINDOW, Messages
from bot.sandbox import Sandbox
from tests import pg
from tests.forked import Forked
from tests.playground.driver import JSON, Member, members

RENDER_S = 0.3
START_TIMEOUT = 60.0  # a busy machine's first life waits for the fork server to import the bot
LIFE_TIMEOUT = 40.0  # a kill point not reached by then: killed anyway
DONE_TIMEOUT = 120.0
COMMANDS_PER_LIFE = 2
TAKEOVER_S = 2.0

# Where each life of the bot ends, and whether Discord's nonce window passes before the next one starts.
PLAN: tuple[tuple[str, bool], ...] = (
    ("after-edit", False),  # the status message became the first song; the bot never heard
    ("after-create", True),  # the second song was posted; the bot never heard; the nonce is forgotten
    ("before-create", False),  # the second song was claimed, not posted
    ("after-create", False),
    ("before-edit", True),
    ("random", False),
    ("random", True),
    ("after-create", True),
)


@dataclass
class Database:
    """The bot's database, as the bot is told of it and as the test reads it."""

    path: Path | None = None  # SQLite
    schema: str | None = None  # PostgreSQL: a schema of the test server's

    def env(self) -> dict[str, str]:
        if self.schema is None:
            return {"TUNESMITH_DATABASE_PATH": str(self.path)}
        return {"TUNESMITH_DATABASE_URL": f"{pg.URL}{'&' if '?' in pg.URL else '?'}search_path={self.schema}"}

    async def fetch(self, sql: str) -> list[tuple[Any, ...]]:
        """Rows of ``sql``, or none while the bot has not made its tables yet."""
        if self.schema is None:
            assert self.path is not None
            if not self.path.exists():
                return []
            with contextlib.closing(sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=5)) as conn:
                try:
                    return list(conn.execute(sql).fetchall())
                except sqlite3.OperationalError:  # no such table yet
                    return []
        conn = await pg.connect(self.schema)
        try:
            return [tuple(r) for r in await conn.fetch(sql)]
        except asyncpg.UndefinedTableError:
            return []
        finally:
            await conn.close()


def _is_track_post(body: Any) -> bool:
    embeds = body.get("embeds") if isinstance(body, dict) else None
    return any(
        isinstance(e, dict) and str((e.get("footer") or {}).get("text", "")).startswith("Track #") for e in embeds or []
    )


@dataclass
class Bot:
    """The bot's process across its lives, and the kill switch the playground pulls."""

    playground: Playground
    sandbox: Sandbox
    folder: Path
    database: Database
    clock_offset: list[float]
    proc: Forked | None = None
    armed: str | None = None
    jump: bool = False
    fired: asyncio.Event = field(default_factory=asyncio.Event)
    kills: list[str] = field(default_factory=list)
    lives: int = 0

    @property
    def log(self) -> Path:
        return self.folder / "bot.log"

    async def start(self) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("TUNESMITH_")}
        env.update(
            KILL_TEST_RENDER_S=str(RENDER_S),
            TUNESMITH_DISCORD_TOKEN=self.playground.bot_token,
            TUNESMITH_DISCORD_API_URL=self.playground.api_url,
            TUNESMITH_DISCORD_GATEWAY_URL=self.playground.gateway_url,
            TUNESMITH_SYNC_COMMANDS="true",
            TUNESMITH_PROVIDER="fuzz",
            TUNESMITH_FUZZ_API_KEY="sandbox-key",
            TUNESMITH_FUZZ_BASE_URL=self.sandbox.fuzz_base_url,
            TUNESMITH_WEB_PORT="0",
            TUNESMITH_POLL_INTERVAL="0.05",
            TUNESMITH_MAX_JOBS_PER_MEMBER="100",
            TUNESMITH_MAX_JOBS_PER_SERVER="200",
            TUNESMITH_DEFAULT_SERVER_BUDGET="100000",
            # On PostgreSQL a restarted bot is a new worker: the killed one's jobs move to it once that one has
            # been silent this long (30 s by default, which would leave every life's jobs waiting for the last).
            TUNESMITH_TAKEOVER_SECONDS=str(TAKEOVER_S),
            **self.database.env(),
        )
        self.lives += 1
        with self.log.open("a") as log:
            log.write(f"--- life {self.lives}\n")
        self.proc = await Forked.call("tests.playground.bot_process:run", env=env, cwd=self.folder, log=self.log)
        online = asyncio.ensure_future(self.playground.wait_for_bot())
        exited = asyncio.ensure_future(self.proc.wait())
        try:
            await asyncio.wait({online, exited}, timeout=START_TIMEOUT, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in (online, exited):
                waiter.cancel()
        if not online.done() or online.cancelled():
            raise AssertionError(f"the bot did not come online (life {self.lives}):\n{self.tail()}")

    async def kill(self, why: str) -> None:
        """SIGKILL, and wait until the process is gone (so no reply it was waiting for can reach it)."""
        proc = self.proc
        if proc is not None and proc.returncode is None:
            proc.send_signal(signal.SIGKILL)
            await proc.wait()
        if self.jump:
            self.clock_offset[0] += NONCE_WINDOW + 1  # Discord no longer remembers the nonces
        self.kills.append(why)
        self.armed = None
        self.fired.set()

    async def offline(self) -> None:
        async with asyncio.timeout(15):
            await self.playground.wait_for_bot(online=False)

    def tail(self, lines: int = 60) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    async def undelivered(self) -> tuple[int, int]:
        """(jobs, jobs not yet delivered), read from the bot's database as it runs."""
        rows = await self.database.fetch("SELECT COUNT(*), COUNT(*) FILTER (WHERE delivered_at IS NULL) FROM jobs")
        return (int(rows[0][0]), int(rows[0][1])) if rows else (0, 0)


@pytest.fixture
def bot_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "bot"
    folder.mkdir()
    return folder


@pytest.fixture(params=["sqlite", "postgresql"])
async def database(request: pytest.FixtureRequest, bot_folder: Path) -> AsyncIterator[Database]:
    if request.param == "sqlite":
        yield Database(path=bot_folder / "tunesmith.sqlite3")
        return
    async with pg.fresh_schema() as schema:
        conn = await asyncpg.connect(pg.URL, timeout=10)
        try:
            await conn.execute(f'CREATE SCHEMA "{schema}"')  # a URL's search_path names a schema that exists
        finally:
            await conn.close()
        yield Database(schema=schema)


@contextlib.asynccontextmanager
async def world(folder: Path, database: Database, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[tuple[Bot, Member]]:
    """The playground (its clock can skip Discord's nonce window), the sandbox, and Ben connected as a member."""
    offset = [0.0]
    async with (
        Sandbox(render_seconds=RENDER_S, clip_seconds=0.5) as sandbox,
        Playground(
            state_path=folder.parent / "playground.sqlite3", port=0, clock=lambda: time.time() + offset[0]
        ) as playground,
    ):
        bot = Bot(playground, sandbox, folder, database, offset)
        _arm_the_playground(bot, monkeypatch)
        try:
            async with Member(playground.url, (await members(playground.url))["ben"]) as ben:
                yield bot, ben
        finally:
            await bot.kill("the end")


def _arm_the_playground(bot: Bot, monkeypatch: pytest.MonkeyPatch) -> None:
    """The kill switch, inside Discord: a track post's create or edit arrives, and the bot dies before (the post
    never made) or after it is made (the bot never hears of it)."""
    create, edit = Messages.create, Messages.edit

    async def creating(self: Messages, channel: JSON, author_id: int, body: JSON, *args: Any, **kwargs: Any) -> JSON:
        if _is_track_post(body) and bot.armed == "before-create":
            await bot.kill("before-create")
            raise ApiError(503, 0, "the bot is gone")
        message = await create(self, channel, author_id, body, *args, **kwargs)
        if _is_track_post(body) and bot.armed == "after-create":
            await bot.kill("after-create")
        return message

    async def editing(self: Messages, message: JSON, body: JSON, *args: Any, **kwargs: Any) -> JSON:
        if _is_track_post(body) and bot.armed == "before-edit":
            await bot.kill("before-edit")
            raise ApiError(503, 0, "the bot is gone")
        edited = await edit(self, message, body, *args, **kwargs)
        if _is_track_post(body) and bot.armed == "after-edit":
            await bot.kill("after-edit")
        return edited

    monkeypatch.setattr(Messages, "create", creating)
    monkeypatch.setattr(Messages, "edit", editing)


async def _channel_messages(member: Member, channel_id: str) -> list[JSON]:
    found: list[JSON] = []
    before: str | None = None
    while True:
        page = await member.history(channel_id, limit="100", **({"before": before} if before else {}))
        found.extend(page)
        if len(page) < 100:
            return found
        before = page[-1]["id"]


async def test_every_track_is_posted_exactly_once_across_kills_at_any_point(
    bot_folder: Path, database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed = random.randrange(2**32)
    rng = random.Random(seed)
    # PostgreSQL runs the plan but its last two lives: every kill point, fewer restarts.
    plan = PLAN if database.schema is None else PLAN[:-2]
    async with world(bot_folder, database, monkeypatch) as (bot, ben):
        # Each life's songs are asked for in both channels: Discord lets a bot post about 5 messages per 5 s in
        # one channel, and the posts waiting from earlier lives would otherwise queue behind that limit.
        channels = [ben.channel_id("studio"), ben.channel_id("lounge")]
        for n, (point, jump) in enumerate(plan):
            bot.fired.clear()
            bot.jump = jump
            await bot.start()
            if n == 0:
                await ben.command_index(refresh=True)  # synced by the bot as it started
            bot.armed = point
            for i in range(COMMANDS_PER_LIFE):
                title = f"Take {n}.{i}"
                with contextlib.suppress(Exception):  # the bot may already be gone: the member sees a failure
                    await ben.command("music create", channels[i % 2], {"prompt": "city pop", "title": title})
            if point == "random":
                await asyncio.sleep(rng.uniform(0.0, 3.0))  # a moment of the bot's life, by chance
                await bot.kill("random")
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(LIFE_TIMEOUT):
                    await bot.fired.wait()
            if not bot.fired.is_set():
                await bot.kill(f"{point} not reached")
            await bot.offline()

        # The last life: everything finishes and is posted.
        bot.jump = False
        await bot.start()
        async with asyncio.timeout(DONE_TIMEOUT):
            while (state := await bot.undelivered())[0] == 0 or state[1]:
                await asyncio.sleep(0.1)
        await bot.kill("done")
        messages = [message for channel in channels for message in await _channel_messages(ben, channel)]

    jobs = await database.fetch("SELECT id, state, delivered_at FROM jobs ORDER BY id")
    tracks = {int(t): m for t, m in await database.fetch("SELECT id, message_id FROM tracks ORDER BY id")}
    context = f"seed {seed}, kills {bot.kills}\n{bot.tail()}"
    assert all(delivered is not None for _, _, delivered in jobs), context
    posts: dict[int, list[str]] = {}
    for message in messages:
        for embed in message.get("embeds") or []:
            text = str((embed.get("footer") or {}).get("text", ""))
            if text.startswith("Track #"):
                posts.setdefault(int(text.removeprefix("Track #").split(" ")[0]), []).append(message["id"])
    twice = {track: ids for track, ids in posts.items() if len(ids) != 1}
    assert twice == {}, f"posted more than once: {twice}; {context}"
    assert set(posts) == set(tracks), f"tracks never posted: {set(tracks) - set(posts)}; {context}"
    assert {t: int(ids[0]) for t, ids in posts.items()} == tracks, context  # each recorded where it is
    # The kill points the plan is about were reached, not skipped.
    for needed in ("after-create", "after-edit", "before-create"):
        assert needed in bot.kills, context
    assert len(tracks) >= 2 * len(plan), context
