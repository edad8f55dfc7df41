"""What only the SQLite store has: its file, migrations and pragmas, the ledger's own guarantees, explicit
transactions, and the lock that keeps a second bot process off the same file."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from bot.domain.errors import AlreadyRunning
from bot.domain.models import JobState
from bot.domain.outcomes import Failure, FailureKind
from bot.storage.database import Database
from bot.storage.migrations import MIGRATIONS
from bot.storage.store import SqliteStore
from tests.forked import Forked
from tests.storage.test_store_contract import NOW, PERIOD, admit, ticket

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "tunesmith.sqlite3"


async def test_migrations_and_pragmas(db_path: Path) -> None:
    store = await SqliteStore.open(db_path)
    try:
        conn = sqlite3.connect(db_path)
        try:
            assert conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
            assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            indexes = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
        finally:
            conn.close()
        assert {"jobs", "tracks", "ledger", "webhook_events", "blocked_terms", "bans", "retired_operations"} <= tables
        assert "webhook_events_received" in indexes  # pruning old webhook ids reads them by age
        assert await store.database.read(lambda c: c.execute("PRAGMA foreign_keys").fetchone()[0]) == 1
        assert store.database.schema_version == len(MIGRATIONS)
    finally:
        await store.close()


async def test_reopening_keeps_the_data_and_does_not_migrate_again(db_path: Path) -> None:
    first = await SqliteStore.open(db_path)
    job = await admit(first)
    await first.close()
    second = await SqliteStore.open(db_path)
    try:
        assert [j.id for j in await second.unfinished_jobs()] == [job.id]
    finally:
        await second.close()


async def test_a_newer_schema_is_refused(db_path: Path) -> None:
    conn = sqlite3.connect(db_path)
    conn.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    conn.close()
    with pytest.raises(RuntimeError, match="newer than this Tunesmith knows"):
        await SqliteStore.open(db_path)
    # Nothing was held: the next open (of a sound file) works.
    os.remove(db_path)
    await (await SqliteStore.open(db_path)).close()


async def test_a_transaction_rolls_back_on_error(db_path: Path) -> None:
    store = await SqliteStore.open(db_path)
    try:
        job = await admit(store)

        def half_then_crash(conn: sqlite3.Connection) -> None:
            conn.execute("UPDATE jobs SET state = 'failed' WHERE id = ?", (job.id,))
            conn.execute(
                "INSERT INTO ledger (guild_id, job_id, kind, amount, period_key, created_at) VALUES (1, ?, 'refund',"
                " 10, ?, 0)",
                (job.id, PERIOD),
            )
            raise RuntimeError("crash between the two writes and the commit")

        with pytest.raises(RuntimeError):
            await store.database.transaction(half_then_crash)
        assert (await store.job(job.id)).state is JobState.QUEUED  # type: ignore[union-attr]
        assert (await store.balances(1, 2, PERIOD)).server_sum == -10
        # The connection is usable (no transaction left open).
        assert await store.end_job(job.id, JobState.FAILED, Failure(FailureKind.REJECTED), NOW) is not None
    finally:
        await store.close()


async def test_a_job_row_carries_its_reservation(db_path: Path) -> None:
    """The reservation is written by the job's own INSERT (a trigger): no job without its credits."""
    store = await SqliteStore.open(db_path)
    try:
        await store.database.read(
            lambda c: c.execute(
                "INSERT INTO jobs (guild_id, channel_id, user_id, operation, request, provider, state, cost,"
                " period_key, created_at) VALUES (1, 2, 3, 'create', '{}', 'sandbox', 'queued', 7, 'p', 0)"
            )
        )
        rows = await store.database.read(
            lambda c: [tuple(r) for r in c.execute("SELECT kind, amount, period_key FROM ledger").fetchall()]
        )
        assert rows == [("reserve", -7, "p")]
    finally:
        await store.close()


async def test_the_ledger_is_append_only_and_settles_once(db_path: Path) -> None:
    store = await SqliteStore.open(db_path)
    try:
        job = await admit(store)
        await store.end_job(job.id, JobState.FAILED, Failure(FailureKind.TIMEOUT), NOW)
        for sql in ("UPDATE ledger SET amount = 99", "DELETE FROM ledger"):
            with pytest.raises(sqlite3.IntegrityError, match="append-only"):
                await store.database.read(lambda c, sql=sql: c.execute(sql))
        with pytest.raises(sqlite3.IntegrityError):  # a second settlement of the same job
            await store.database.read(
                lambda c: c.execute(
                    "INSERT INTO ledger (guild_id, job_id, kind, amount, period_key, created_at)"
                    " VALUES (1, ?, 'refund', 10, ?, 0)",
                    (job.id, PERIOD),
                )
            )
    finally:
        await store.close()


async def test_a_second_store_on_the_same_file_is_refused(db_path: Path) -> None:
    first = await SqliteStore.open(db_path)
    try:
        with pytest.raises(AlreadyRunning, match="another Tunesmith process is using the database"):
            await SqliteStore.open(db_path)
    finally:
        await first.close()
    # Released on close: the next bot may start.
    await (await SqliteStore.open(db_path)).close()


def test_a_second_bot_process_refuses_to_start_with_one_line(db_path: Path, tmp_path: Path) -> None:
    async def hold() -> None:
        store = await SqliteStore.open(db_path)
        try:
            env = {
                **os.environ,
                "TUNESMITH_DISCORD_TOKEN": "not-a-real-token",
                "TUNESMITH_DATABASE_PATH": str(db_path),
                "TUNESMITH_DISCORD_API_URL": "http://127.0.0.1:9/api/v10",
                "TUNESMITH_PROVIDER": "sandbox",
                "TUNESMITH_WEB_PORT": "0",
            }
            proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bot",
                cwd=tmp_path,  # no .env from the repository
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
            out, err = await asyncio.wait_for(proc.communicate(), timeout=60)
            assert proc.returncode == 2, (out, err)
            lines = err.decode().strip().splitlines()
            assert lines == [
                f"tunesmith: another Tunesmith process is using the database {db_path}; stop it first "
                "(two processes on one SQLite file would both run the same jobs)"
            ]
        finally:
            await store.close()

    asyncio.run(hold())


async def test_two_connections_on_one_file_never_overspend(db_path: Path) -> None:
    """Admission is atomic across connections (BEGIN IMMEDIATE), not only inside one process's thread: two stores
    on one file, each with its own connection and thread, admit against one budget."""
    first = await SqliteStore.open(db_path, lock=False)
    second = await SqliteStore.open(db_path, lock=False)
    budget, cost = 200, 10

    def within_budget(snapshot) -> int:  # type: ignore[no-untyped-def]
        if budget + snapshot.balances.server_sum < cost:
            from bot.domain.errors import QuotaExceeded

            raise QuotaExceeded("no credits")
        return cost

    try:
        results = await asyncio.gather(
            *((first if i % 2 else second).admit(ticket(user_id=100 + i), within_budget) for i in range(60)),
            return_exceptions=True,
        )
        admitted = [r for r in results if not isinstance(r, BaseException)]
        assert len(admitted) == budget // cost
        assert (await first.balances(1, 1, PERIOD)).server_sum == -budget
    finally:
        await first.close()
        await second.close()


_ADMITTER = textwrap.dedent(
    """
    import asyncio, sys
    from bot.domain.errors import QuotaExceeded
    from bot.storage.store import SqliteStore
    from tests.storage.test_store_contract import ticket

    def within(snapshot):
        if 100 + snapshot.balances.server_sum < 10:
            raise QuotaExceeded("no credits")
        return 10

    async def main():
        store = await SqliteStore.open(sys.argv[1], lock=False)
        admitted = 0
        for i in range(12):
            try:
                await store.admit(ticket(user_id=int(sys.argv[2]) * 100 + i), within)
                admitted += 1
            except QuotaExceeded:
                pass
        await store.close()
        print(admitted)

    asyncio.run(main())
    """
)


def test_two_processes_on_one_file_never_overspend(db_path: Path) -> None:
    """The overlapping-restart case of issue 9.9, with two real processes admitting against one budget."""
    asyncio.run(_create(db_path))

    async def admit_in_two_processes() -> tuple[list[int], list[int]]:
        procs = [await Forked.python("-c", _ADMITTER, str(db_path), str(n), cwd=ROOT) for n in (1, 2)]
        outputs = [await asyncio.wait_for(p.communicate(), timeout=60) for p in procs]
        return [int(out.strip()) for out, _ in outputs], [p.returncode for p in procs]

    counts, codes = asyncio.run(admit_in_two_processes())
    assert codes == [0, 0]
    assert sum(counts) == 10  # exactly the 100 credits, never 110
    conn = sqlite3.connect(db_path)
    try:
        assert conn.execute("SELECT SUM(amount) FROM ledger").fetchone()[0] == -100
    finally:
        conn.close()


async def _create(path: Path) -> None:
    await (await Database.open(path)).close()


_OPENER = textwrap.dedent(
    """
    import asyncio, sys
    from bot.storage.store import SqliteStore

    async def main():
        print("ready", flush=True)
        sys.stdin.readline()  # go: every process opens the new file at the same moment
        store = await SqliteStore.open(sys.argv[1], lock=False)
        print(store.database.schema_version, flush=True)
        await store.close()

    asyncio.run(main())
    """
)


def test_processes_opening_a_new_file_together_migrate_it_once(tmp_path: Path) -> None:
    """Tools (lock=False) starting together on a new file: each reads the version inside the write transaction
    that migrates, so the later ones find the schema made instead of making it again ("table already exists")."""

    async def race(path: Path) -> list[str]:
        procs = [await Forked.python("-c", _OPENER, str(path), cwd=ROOT) for _ in range(3)]
        for proc in procs:
            assert proc.stdout is not None
            assert (await asyncio.wait_for(proc.stdout.readline(), timeout=60)).strip() == b"ready"
        for proc in procs:
            assert proc.stdin is not None
            proc.stdin.write(b"go\n")
            await proc.stdin.drain()
        outputs = [await asyncio.wait_for(p.communicate(), timeout=60) for p in procs]
        assert [p.returncode for p in procs] == [0, 0, 0], [err.decode()[-300:] for _, err in outputs]
        return [out.decode().strip() for out, _ in outputs]

    for attempt in range(3):  # the race is real: a few rounds make a lost one visible
        path = tmp_path / f"new-{attempt}.sqlite3"
        assert asyncio.run(race(path)) == [str(len(MIGRATIONS))] * 3
        conn = sqlite3.connect(path)
        try:
            assert conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
            assert conn.execute("SELECT COUNT(*) FROM sqlite_master WHERE name = 'jobs'").fetchone()[0] == 1
        finally:
            conn.close()
