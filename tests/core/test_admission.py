"""Admission: the job row and its reservation commit together, and the budget is never overspent."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.core.engine import Defaults, Engine, Requester
from bot.domain.errors import QuotaExceeded
from bot.domain.models import CreateMusic, Operation, Period
from bot.providers import ProducerClient
from bot.storage.database import Database
from tests.support import RecordingNotifier


def make_engine(db: Database, *, budget: int, member_cap: int | None = None, jobs: int = 1000) -> Engine:
    # The provider is never called by admission; a real client pointed nowhere proves that.
    provider = ProducerClient(httpx.AsyncClient(), base_url="http://127.0.0.1:9", api_key="unused")
    defaults = Defaults(
        budget=budget, period=Period.MONTH, member_cap=member_cap, max_jobs_member=jobs, max_jobs_server=jobs
    )
    return Engine(uow=db.unit_of_work, provider=provider, notifier=RecordingNotifier(), defaults=defaults)


async def _admit_many(engine: Engine, count: int, *, members: int = 1) -> list[object]:
    return await asyncio.gather(
        *(
            engine.admit(Requester(guild_id=1, channel_id=2, user_id=100 + i % members), CreateMusic(sound="jazz"))
            for i in range(count)
        ),
        return_exceptions=True,
    )


async def test_200_concurrent_admissions_never_overspend(db: Database) -> None:
    engine = make_engine(db, budget=735)  # covers 73 creates of 10
    results = await _admit_many(engine, 200, members=7)
    admitted = [r for r in results if not isinstance(r, BaseException)]
    refused = [r for r in results if isinstance(r, QuotaExceeded)]
    assert len(admitted) == 73 and len(refused) == 127
    quota = await engine.quota(1, 100)
    assert quota.server_remaining == 5
    assert "5 credits left" in str(refused[0])
    async with db.unit_of_work(write=False) as uow:
        assert len(await uow.jobs.active()) == 73


async def test_member_cap_applies_inside_the_server_budget(db: Database) -> None:
    engine = make_engine(db, budget=1000, member_cap=25)
    results = await _admit_many(engine, 10, members=1)
    assert sum(not isinstance(r, BaseException) for r in results) == 2
    quota = await engine.quota(1, 100)
    assert (quota.server_remaining, quota.member_remaining) == (980, 5)
    with pytest.raises(QuotaExceeded, match="You have 5 of your 25 credits left"):
        await engine.admit(Requester(1, 2, 100), CreateMusic(sound="more"))


async def test_in_flight_limits(db: Database) -> None:
    engine = make_engine(db, budget=1000, jobs=2)
    who = Requester(1, 2, 100)
    await engine.admit(who, CreateMusic(sound="a"))
    await engine.admit(who, CreateMusic(sound="b"))
    with pytest.raises(QuotaExceeded, match="already have 2 song"):
        await engine.admit(who, CreateMusic(sound="c"))
    # A refusal costs nothing.
    assert (await engine.quota(1, 100)).server_remaining == 980


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(budget=st.integers(0, 400), cost=st.integers(1, 40), count=st.integers(1, 60), members=st.integers(1, 5))
async def test_any_budget_admits_exactly_what_it_covers(
    tmp_path_factory: pytest.TempPathFactory, budget: int, cost: int, count: int, members: int
) -> None:
    database = await Database.open(tmp_path_factory.mktemp("db") / "t.sqlite3")
    try:
        engine = make_engine(database, budget=budget)
        async with database.unit_of_work() as uow:
            settings_row = await engine.guild_settings(uow, 1)
            await engine.save_settings(uow, settings_row.model_copy(update={"costs": {Operation.CREATE: cost}}))
            await uow.commit()
        results = await _admit_many(engine, count, members=members)
        admitted = sum(not isinstance(r, BaseException) for r in results)
        assert admitted == min(count, budget // cost)
        assert (await engine.quota(1, 100)).server_remaining == budget - admitted * cost >= 0
    finally:
        await database.close()
