"""The SQLite database: one connection on one thread of its own, and a lock that keeps a second bot out.

Every use of the connection is a plain function run on the database thread, so a whole transaction (BEGIN
IMMEDIATE, the statements, COMMIT) costs one hop from the event loop, not one hop per statement:
:meth:`Database.transaction` is a transaction, :meth:`Database.read` is not. The thread runs one function at a
time, so transactions never interleave; ``BEGIN IMMEDIATE`` takes SQLite's write lock up front, so they are atomic
across processes too (a second process's writer waits for it, up to the busy timeout).

A second Tunesmith process on the same file would be a second owner of the same jobs (double submits, double
posts), so opening takes an exclusive lock on ``<database>.lock`` (released by the OS when the process dies,
even by ``kill -9``) and refuses with one clear line when another process holds it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any, TypeVar

from bot.domain.errors import AlreadyRunning
from bot.domain.models import Job
from bot.storage.migrations import migrate

try:
    import fcntl
except ImportError:  # pragma: no cover - not on POSIX: no process lock, SQLite's own locks still apply
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger(__name__)

T = TypeVar("T")
BUSY_TIMEOUT_MS = 5000


class _Worker(threading.Thread):
    """The database thread: runs one function at a time, in order, and hands each result back to the event loop.

    Leaner than a ThreadPoolExecutor (one asyncio future per call instead of a concurrent future wrapped in an
    asyncio one), which matters because every store call is one of these hops (aiosqlite works the same way).
    """

    def __init__(self) -> None:
        super().__init__(name="tunesmith-db", daemon=True)
        self._calls: queue.SimpleQueue[tuple[Callable[[], Any], asyncio.Future[Any], asyncio.AbstractEventLoop] | None]
        self._calls = queue.SimpleQueue()

    def call(self, fn: Callable[[], T]) -> asyncio.Future[T]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._calls.put((fn, future, loop))
        return future

    def stop(self) -> None:
        self._calls.put(None)
        self.join()

    def run(self) -> None:
        while (item := self._calls.get()) is not None:
            fn, future, loop = item
            try:
                result = fn()
            except BaseException as exc:  # handed to the awaiting coroutine, which raises it
                loop.call_soon_threadsafe(_settle, future, None, exc)
            else:
                loop.call_soon_threadsafe(_settle, future, result, None)


def _settle(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if future.cancelled():
        return  # the caller gave up waiting; the work itself was done (or rolled back) all the same
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


class Database:
    """Owns the connection and its thread. ``await Database.open(path)``; close with :meth:`close`."""

    def __init__(self, path: Path | str, *, lock: bool = True) -> None:
        self.path = Path(path)
        self._use_lock = lock and str(path) != ":memory:"
        self._lock_file: IO[bytes] | None = None
        self._conn: sqlite3.Connection | None = None
        self._worker: _Worker | None = None
        self.schema_version = 0

    @classmethod
    async def open(cls, path: Path | str, *, lock: bool = True) -> Database:
        """Open (creating and migrating) the database. ``lock=False`` only for tools and tests that open a
        second connection on purpose."""
        db = cls(path, lock=lock)
        await db.connect()
        return db

    async def connect(self) -> None:
        if str(self.path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
        if self._use_lock:
            self._take_lock()
        self._worker = _Worker()
        self._worker.start()
        try:
            self.schema_version = await self._run(self._connect)
        except BaseException:
            self._worker.stop()
            self._worker = None
            self._release_lock()
            raise
        log.info("database ready at %s (schema %d)", self.path, self.schema_version)

    def _connect(self) -> int:
        # isolation_level=None: we issue BEGIN/COMMIT ourselves, so a transaction is exactly what we say it is.
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        conn.row_factory = sqlite3.Row
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        _use_wal(conn)
        conn.execute("PRAGMA synchronous = NORMAL")  # WAL + NORMAL is durable across app crashes
        conn.execute("PRAGMA foreign_keys = ON")
        version = migrate(conn)
        self._conn = conn
        return version

    def _take_lock(self) -> None:
        if fcntl is None:  # pragma: no cover
            return
        lock_path = self.path.with_name(self.path.name + ".lock")
        handle = open(lock_path, "a+b")  # noqa: SIM115 - held open for the process's life, closed in close()
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            raise AlreadyRunning(
                f"another Tunesmith process is using the database {self.path}; stop it first "
                "(two processes on one SQLite file would both run the same jobs)"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n".encode())
        handle.flush()
        self._lock_file = handle

    def _release_lock(self) -> None:
        if self._lock_file is not None:
            with contextlib.suppress(OSError):
                self._lock_file.close()  # closing the file releases the flock
            self._lock_file = None

    async def close(self) -> None:
        worker, self._worker = self._worker, None
        if worker is not None:
            try:
                await worker.call(self._close_connection)
            finally:
                worker.stop()
        self._release_lock()

    def _close_connection(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    async def _run(self, fn: Callable[[], T]) -> T:
        if self._worker is None:
            raise RuntimeError("database is not open")
        return await self._worker.call(fn)

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            raise RuntimeError("database is not open")
        return self._conn

    async def read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``fn`` on the database thread without a transaction: each statement stands alone (reads, and
        writes that are one statement)."""
        return await self._run(lambda: fn(self._connection()))

    async def transaction(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``fn`` inside one transaction (BEGIN IMMEDIATE … COMMIT) on the database thread: everything it
        writes commits together, or nothing does if it raises. One hop from the event loop."""

        def run() -> T:
            conn = self._connection()
            conn.execute("BEGIN IMMEDIATE")
            try:
                result = fn(conn)
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            try:
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            return result

        return await self._run(run)

    async def dump(self) -> str:
        """The whole database as SQL (used by the secret-leak tests and for operator backups)."""
        return await self.read(lambda conn: "\n".join(conn.iterdump()))


def _use_wal(conn: sqlite3.Connection) -> None:
    """Switch the file to WAL. On a new file that another process is opening (and migrating) at the same moment,
    SQLite refuses the switch with "database is locked" without waiting (the busy timeout does not apply to it), so
    try again for as long as the busy timeout would have waited."""
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)  # on the database thread: the event loop is not held


def rows(cursor: sqlite3.Cursor) -> list[dict[str, Any]]:
    return [dict(r) for r in cursor.fetchall()]


def job_of(row: sqlite3.Row | dict[str, Any]) -> Job:
    """A jobs row as the domain's Job (its JSON columns decoded)."""
    data = dict(row)
    data["request"] = json.loads(data["request"])
    if data.get("followup") is not None:
        data["followup"] = json.loads(data["followup"])
    return Job.model_validate(data)
