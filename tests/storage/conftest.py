"""The store fixture: every store the bot can run on, so the contract suite holds each to the same behaviour.

A store joins by adding its factory to ``STORES``: an async context manager that yields a fresh, empty store and
cleans up after it. PostgreSQL's gets a schema of its own per test (tests/pg.py), and is skipped locally when no
server answers (a failure under CI=true).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path

import pytest

from bot.domain.ports import Store
from bot.storage.store import SqliteStore
from tests import pg
from tests.fakes import MemoryStore


@asynccontextmanager
async def sqlite_store(tmp_path: Path) -> AsyncIterator[Store]:
    store = await SqliteStore.open(tmp_path / "tunesmith.sqlite3")
    try:
        yield store
    finally:
        await store.close()


@asynccontextmanager
async def memory_store(tmp_path: Path) -> AsyncIterator[Store]:
    yield MemoryStore()


@asynccontextmanager
async def postgres_store(tmp_path: Path) -> AsyncIterator[Store]:
    async with pg.postgres_store() as store:
        yield store


STORES: dict[str, Callable[[Path], AbstractAsyncContextManager[Store]]] = {
    "sqlite": sqlite_store,
    "memory": memory_store,
    "postgres": postgres_store,
}


@pytest.fixture(params=sorted(STORES))
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    async with STORES[request.param](tmp_path) as opened:
        yield opened
