"""The SQLite database: one shared aiosqlite connection, guarded by one lock, and the unit of work.

Coroutines that share an aiosqlite connection also share its transaction, so every use of the connection goes
through :meth:`Database.unit_of_work`, which holds the lock from BEGIN to COMMIT/ROLLBACK.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from types import TracebackType

import aiosqlite

from bot.storage.migrations import migrate
from bot.storage.repositories import (
    JobRepository,
    LedgerRepository,
    ModerationRepository,
    ProviderRepository,
    SettingsRepository,
    TrackRepository,
)

log = logging.getLogger(__name__)


class Database:
    """Owns the connection. ``await Database.open(path)``; close with :meth:`close`."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._conn: aiosqlite.Connection | None = None
        self._lock = asyncio.Lock()

    @classmethod
    async def open(cls, path: Path | str) -> Database:
        db = cls(path)
        await db.connect()
        return db

    async def connect(self) -> None:
        if str(self.path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: we issue BEGIN/COMMIT ourselves, so a transaction is exactly a unit of work.
        conn = await aiosqlite.connect(self.path, isolation_level=None)
        conn.row_factory = aiosqlite.Row
        await conn.execute("PRAGMA journal_mode = WAL")
        await conn.execute("PRAGMA synchronous = NORMAL")  # WAL + NORMAL is durable across app crashes
        await conn.execute("PRAGMA foreign_keys = ON")
        await conn.execute("PRAGMA busy_timeout = 5000")
        version = await migrate(conn)
        log.info("database ready at %s (schema %d)", self.path, version)
        self._conn = conn
        # Repositories hold nothing but the connection: made once, shared by every unit of work.
        self._repositories = Repositories(conn)

    async def close(self) -> None:
        if self._conn is not None:
            async with self._lock:
                await self._conn.close()
                self._conn = None

    def unit_of_work(self, *, write: bool = True) -> UnitOfWork:
        """``write=True``: one transaction (BEGIN IMMEDIATE ... COMMIT). ``write=False``: no transaction, each
        statement stands alone (autocommit); for reads and for changes that are a single statement."""
        if self._conn is None:
            raise RuntimeError("database is not open")
        return UnitOfWork(self._conn, self._lock, self._repositories, write=write)

    async def dump(self) -> str:
        """The whole database as SQL (used by the secret-leak tests and for operator backups)."""
        if self._conn is None:
            raise RuntimeError("database is not open")
        async with self._lock:
            lines = [line async for line in self._conn.iterdump()]
        return "\n".join(lines)


class Repositories:
    def __init__(self, conn: aiosqlite.Connection) -> None:
        self.jobs = JobRepository(conn)
        self.tracks = TrackRepository(conn)
        self.ledger = LedgerRepository(conn)
        self.settings = SettingsRepository(conn)
        self.moderation = ModerationRepository(conn)
        self.providers = ProviderRepository(conn)


class UnitOfWork:
    """One transaction: everything done through its repositories commits together or not at all.

    Leaving the ``async with`` block without :meth:`commit` rolls back, so an exception never leaves half a job.
    """

    def __init__(
        self, conn: aiosqlite.Connection, lock: asyncio.Lock, repositories: Repositories, *, write: bool
    ) -> None:
        self._conn = conn
        self._lock = lock
        self._write = write
        self._open = False
        self.jobs = repositories.jobs
        self.tracks = repositories.tracks
        self.ledger = repositories.ledger
        self.settings = repositories.settings
        self.moderation = repositories.moderation
        self.providers = repositories.providers

    async def __aenter__(self) -> UnitOfWork:
        await self._lock.acquire()
        if not self._write:
            # Readers hold the lock but open no transaction: each statement sees committed data, and the
            # BEGIN/ROLLBACK pair would cost two round trips to aiosqlite's thread for nothing.
            return self
        try:
            if self._conn.in_transaction:
                # A unit cancelled between its BEGIN and our bookkeeping left a transaction open; nothing in it
                # was committed, so rolling it back is what that unit would have done.
                log.warning("rolling back a transaction left open by a cancelled unit of work")
                await asyncio.shield(self._conn.execute("ROLLBACK"))
            await asyncio.shield(self._conn.execute("BEGIN IMMEDIATE" if self._write else "BEGIN"))
        except BaseException:
            self._lock.release()
            raise
        self._open = True
        return self

    async def commit(self) -> None:
        if not self._open:
            return  # autocommit unit: every statement already committed itself
        # Shielded: once COMMIT is sent it completes, so a cancellation never leaves us unsure of the outcome.
        await asyncio.shield(self._conn.execute("COMMIT"))
        self._open = False

    async def rollback(self) -> None:
        if self._open:
            self._open = False
            if self._conn.in_transaction:
                await asyncio.shield(self._conn.execute("ROLLBACK"))

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            if self._open:
                # Read-only units simply end; writers that did not commit are rolled back.
                await self.rollback()
        finally:
            self._lock.release()
