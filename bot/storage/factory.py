"""The store for a database URL: SQLite for one process (the default), PostgreSQL for scale."""

from __future__ import annotations

from bot.database_url import DatabaseTarget
from bot.domain.ports import Store
from bot.storage.store import SqliteStore


async def open_store(target: DatabaseTarget, *, lock: bool = True) -> Store:
    """Open (creating and migrating) the store ``target`` names.

    ``lock``: refuse to start when another bot process uses the same database (AlreadyRunning); only tools and
    tests that open a second store on purpose pass False. PostgreSQL that cannot be reached raises
    DatabaseUnavailable (one line, without the password).
    """
    if target.kind == "postgresql":
        assert target.dsn is not None
        from bot.storage.postgres import PostgresStore  # asyncpg is loaded only by a bot that uses it

        # Many bot processes may share PostgreSQL: jobs are leased to one process at a time (bot/core/jobs/cluster.py),
        # so no process lock is taken there.
        return await PostgresStore.open(target.dsn, lock=False)
    assert target.path is not None
    return await SqliteStore.open(target.path, lock=lock)
