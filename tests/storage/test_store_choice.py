"""The composition root opens the store TUNESMITH_DATABASE_URL names, and the whole bot runs on PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from bot.config import load_settings
from bot.database_url import DatabaseTarget
from bot.storage.factory import open_store
from bot.storage.postgres import PostgresStore
from bot.storage.store import SqliteStore
from tests import pg
from tests.storage.test_store_contract import admit
from tests.ui.conftest import running


def _in_schema(schema: str) -> str:
    """The test server's URL pointing at one schema (asyncpg passes search_path on as a server setting)."""
    return f"{pg.URL}{'&' if '?' in pg.URL else '?'}search_path={schema}"


@pytest.fixture
async def schema() -> AsyncIterator[str]:
    async with pg.fresh_schema() as name:
        conn = await asyncpg.connect(pg.URL)
        try:
            await conn.execute(f'CREATE SCHEMA "{name}"')  # a URL's search_path names a schema that exists
        finally:
            await conn.close()
        yield name


async def test_an_unset_url_or_a_sqlite_url_opens_the_sqlite_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TUNESMITH_DATABASE_PATH", str(tmp_path / "default.sqlite3"))
    store = await open_store(load_settings(_env_file=None).database)
    try:
        assert isinstance(store, SqliteStore) and store.database.path == tmp_path / "default.sqlite3"
        await admit(store)
    finally:
        await store.close()
    monkeypatch.setenv("TUNESMITH_DATABASE_URL", f"sqlite:///{tmp_path / 'named.sqlite3'}")  # absolute: 4 slashes
    store = await open_store(load_settings(_env_file=None).database)
    try:
        assert isinstance(store, SqliteStore) and store.database.path == tmp_path / "named.sqlite3"
    finally:
        await store.close()


async def test_a_postgresql_url_opens_postgresql(schema: str) -> None:
    store = await open_store(DatabaseTarget("postgresql", dsn=_in_schema(schema)))
    try:
        assert isinstance(store, PostgresStore) and store.schema == schema
        job = await admit(store)
        assert [j.id for j in await store.unfinished_jobs()] == [job.id]
    finally:
        await store.close()


async def test_the_bot_runs_end_to_end_on_postgresql(tmp_path: Path, schema: str) -> None:
    """The real bot (discord.py's command tree on SimCord), the real core, the sandbox over loopback, and
    PostgreSQL chosen by TUNESMITH_DATABASE_URL: a member makes a song, it is posted, the credits are spent."""
    async with running(tmp_path, database_url=_in_schema(schema)) as studio:
        assert isinstance(studio.app.store, PostgresStore)
        await studio.ana.slash(studio.channel, "music create", prompt="lofi beats")
        [post] = await studio.wait_for_posts(1)
        assert post.embeds[0].footer.text.startswith("Track #")
        quota = await studio.ana.slash(studio.channel, "quota")
        shown = {f.name: f.value for f in quota.response.embeds[0].fields}
        assert shown["Server"] == "990 of 1000 left this month"
    conn = await pg.connect(schema)
    try:
        jobs = await conn.fetch("SELECT state, delivered_at FROM jobs")
        assert [(j["state"], j["delivered_at"] is not None) for j in jobs] == [("succeeded", True)]
        ledger = await conn.fetch("SELECT kind, amount FROM ledger ORDER BY id")
        assert [tuple(r) for r in ledger] == [("reserve", -10), ("commit", 0)]
        assert await conn.fetchval("SELECT COUNT(*) FROM tracks WHERE message_id IS NOT NULL") >= 1
    finally:
        await conn.close()
