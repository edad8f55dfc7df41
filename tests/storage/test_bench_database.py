"""``python -m bot.bench --database URL``: the admission run on each database counts what it claims."""

from __future__ import annotations

import os

import asyncpg
import pytest

from bot.bench import AdmissionPlan, main, run_admissions
from tests import pg

PLAN = AdmissionPlan(guilds=3, attempts=120, coverage=0.5, concurrency=16)


async def test_admissions_on_sqlite_spend_exactly_the_budgets() -> None:
    result = await run_admissions(None, PLAN)
    assert (result.database, result.attempts, result.expected) == ("SQLite", 120, 60)
    assert (result.admitted, result.refused, result.failed, result.overspend) == (60, 60, 0, 0)


async def test_admissions_on_postgresql_spend_exactly_the_budgets_and_leave_nothing_behind() -> None:
    url = await pg.require()
    result = await run_admissions(url, PLAN)
    assert (result.database, result.admitted, result.refused, result.failed, result.overspend) == (
        "PostgreSQL",
        60,
        60,
        0,
        0,
    )
    conn = await asyncpg.connect(url)
    try:  # the run's schema is dropped afterwards
        mine = f"tunesmith_bench_{os.getpid()}_%"
        assert await conn.fetch("SELECT nspname FROM pg_namespace WHERE nspname LIKE $1", mine) == []
    finally:
        await conn.close()


def test_a_bad_database_url_is_refused_before_anything_runs(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--database", "mysql://root:hunter2@db/x", "--no-jobs"])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert "--database must start with sqlite:/// or postgresql://" in err and "hunter2" not in err
