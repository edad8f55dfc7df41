"""The database itself: migrations, pragmas, the unit of work and the ledger's guarantees."""

from __future__ import annotations

import sqlite3

import pytest

from bot.domain.models import CreateMusic, JobState, LedgerKind, Operation
from bot.storage.database import Database
from bot.storage.migrations import MIGRATIONS


async def _add_job(uow, *, guild_id: int = 1, user_id: int = 2, cost: int = 10):  # type: ignore[no-untyped-def]
    return await uow.jobs.add(
        guild_id=guild_id,
        channel_id=3,
        user_id=user_id,
        operation=Operation.CREATE,
        request=CreateMusic(sound="jazz").model_dump(mode="json", exclude_none=True),
        provider="sandbox",
        cost=cost,
        period_key="month:2026-11-01#0",
        parent_track_id=None,
        now=1_800_000_000.0,
    )


async def test_migrations_and_pragmas(db: Database, db_path) -> None:  # type: ignore[no-untyped-def]
    conn = sqlite3.connect(db_path)
    try:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    finally:
        conn.close()
    assert {"jobs", "tracks", "ledger", "webhook_events", "blocked_terms", "bans", "retired_operations"} <= tables
    async with db.unit_of_work(write=False) as uow:
        assert await uow.jobs._scalar("PRAGMA foreign_keys") == 1


async def test_reopening_does_not_migrate_again(db_path) -> None:  # type: ignore[no-untyped-def]
    first = await Database.open(db_path)
    async with first.unit_of_work() as uow:
        await _add_job(uow)
        await uow.commit()
    await first.close()
    second = await Database.open(db_path)
    async with second.unit_of_work(write=False) as uow:
        assert len(await uow.jobs.active()) == 1
    await second.close()


async def test_unit_of_work_rolls_back_on_error(db: Database) -> None:
    with pytest.raises(RuntimeError):
        async with db.unit_of_work() as uow:
            job = await _add_job(uow)
            await uow.ledger.append(
                guild_id=1, user_id=None, kind=LedgerKind.GRANT, amount=50, period_key=job.period_key, now=1.0
            )
            raise RuntimeError("crash between the job row and the commit")
    async with db.unit_of_work(write=False) as uow:
        assert await uow.jobs.active() == []
        assert (await uow.ledger.balances(1, 2, "month:2026-11-01#0"))["server_sum"] == 0


async def test_a_job_row_carries_its_reservation(db: Database) -> None:
    """The reservation is written by the job's own INSERT: no job without its credits, even in autocommit."""
    async with db.unit_of_work(write=False) as uow:
        paid = await _add_job(uow, cost=10)
        await _add_job(uow, cost=0)  # free: no ledger row
        rows = await uow.ledger._all("SELECT job_id, kind, amount, period_key FROM ledger ORDER BY id")
    assert rows == [{"job_id": paid.id, "kind": "reserve", "amount": -10, "period_key": "month:2026-11-01#0"}]


async def test_ledger_is_append_only_and_settles_once(db: Database) -> None:
    async with db.unit_of_work() as uow:
        job = await _add_job(uow)
        entry = await uow.ledger.append(
            guild_id=1, user_id=2, job_id=job.id, kind=LedgerKind.REFUND, amount=10, period_key="p", now=1.0
        )
        await uow.commit()
    async with db.unit_of_work() as uow:
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            await uow.jobs._conn.execute("UPDATE ledger SET amount = 99 WHERE id = ?", (entry,))
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            await uow.jobs._conn.execute("DELETE FROM ledger WHERE id = ?", (entry,))
        with pytest.raises(sqlite3.IntegrityError):
            await uow.ledger.append(
                guild_id=1, user_id=2, job_id=job.id, kind=LedgerKind.REFUND, amount=10, period_key="p", now=2.0
            )


async def test_member_grants_do_not_raise_the_server_balance(db: Database) -> None:
    async with db.unit_of_work() as uow:
        await uow.ledger.append(guild_id=1, user_id=None, kind=LedgerKind.GRANT, amount=50, period_key="p", now=1.0)
        await uow.ledger.append(guild_id=1, user_id=7, kind=LedgerKind.GRANT, amount=5, period_key="p", now=1.0)
        await uow.commit()
    async with db.unit_of_work(write=False) as uow:
        sums = await uow.ledger.balances(1, 7, "p")
        assert (sums["server_sum"], sums["member_sum"]) == (50, 5)
        assert (await uow.ledger.balances(1, 7, "other period"))["server_sum"] == 0


async def test_job_update_refuses_fixed_columns(db: Database) -> None:
    async with db.unit_of_work() as uow:
        job = await _add_job(uow)
        await uow.jobs.update(job.id, state=JobState.SUBMITTED, task_id="t-1")
        with pytest.raises(ValueError):
            await uow.jobs.update(job.id, cost=0)
        await uow.commit()
    async with db.unit_of_work(write=False) as uow:
        stored = await uow.jobs.get(job.id)
    assert stored is not None and stored.state is JobState.SUBMITTED and stored.task_id == "t-1"
    assert stored.music_request() == CreateMusic(sound="jazz")
