"""Admission: every rule in one place, the reservation with the job, and nothing spent on a refusal."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.domain.audit import Refused
from bot.domain.errors import (
    Blocked,
    CreditsExhausted,
    InvalidRequest,
    MissingRole,
    NotAllowed,
    NotFound,
    OperationUnavailable,
    QuotaExceeded,
    WrongChannel,
)
from bot.domain.models import Operation
from bot.domain.requester import Requester
from tests.core.rig import ADMIN, WHO, Rig, rig


async def _admit_many(r: Rig, count: int, *, members: int = 1) -> list[object]:
    return await asyncio.gather(
        *(
            r.core.admission.admit(Requester(1, 2, 100 + i % members), Operation.CREATE, {"sound": "jazz"})
            for i in range(count)
        ),
        return_exceptions=True,
    )


async def test_200_concurrent_admissions_never_overspend() -> None:
    async with rig(budget=735, max_jobs_member=1000, max_jobs_server=1000, start=False) as r:  # 73 creates of 10
        results = await _admit_many(r, 200, members=7)
        admitted = [x for x in results if not isinstance(x, BaseException)]
        refused = [x for x in results if isinstance(x, QuotaExceeded)]
        assert len(admitted) == 73 and len(refused) == 127
        quota = await r.core.credits.quota(1, 100)
        assert quota.server_remaining == 5
        assert "5 credits left" in str(refused[0])
        assert len(await r.store.unfinished_jobs()) == 73


async def test_member_cap_applies_inside_the_server_budget() -> None:
    async with rig(budget=1000, member_cap=25, max_jobs_member=1000, start=False) as r:
        results = await _admit_many(r, 10, members=1)
        assert sum(not isinstance(x, BaseException) for x in results) == 2
        quota = await r.core.credits.quota(1, 100)
        assert (quota.server_remaining, quota.member_remaining) == (980, 5)
        with pytest.raises(QuotaExceeded, match="You have 5 of your 25 credits left") as refused:
            await r.core.admission.admit(Requester(1, 2, 100), Operation.CREATE, {"sound": "more"})
        assert isinstance(refused.value, CreditsExhausted) and refused.value.resets_at == quota.resets_at


async def test_in_flight_limits() -> None:
    async with rig(max_jobs_member=2, max_jobs_server=3, start=False) as r:
        await r.admit({"sound": "a"})
        await r.admit({"sound": "b"})
        with pytest.raises(QuotaExceeded, match="already have 2 song"):
            await r.admit({"sound": "c"})
        await r.admit({"sound": "d"}, who=Requester(1, 10, 200))
        with pytest.raises(QuotaExceeded, match="This server already has 3 songs"):
            await r.admit({"sound": "e"}, who=Requester(1, 10, 300))
        # A refusal costs nothing.
        assert await r.remaining() == 970


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(budget=st.integers(0, 400), cost=st.integers(1, 40), count=st.integers(1, 60), members=st.integers(1, 5))
async def test_any_budget_admits_exactly_what_it_covers(budget: int, cost: int, count: int, members: int) -> None:
    async with rig(budget=budget, max_jobs_member=1000, max_jobs_server=1000, confirm_above=100, start=False) as r:
        await r.core.credits.set_cost(ADMIN, Operation.CREATE, cost)
        results = await _admit_many(r, count, members=members)
        admitted = sum(not isinstance(x, BaseException) for x in results)
        assert admitted == min(count, budget // cost)
        assert await r.remaining() == budget - admitted * cost >= 0


async def test_blocked_content_is_refused_before_any_database_lock_and_audited() -> None:
    async with rig() as r:
        await r.core.studio.update_settings(ADMIN, audit_channel_id=77)
        await r.core.studio.block_add(ADMIN, "kazoo", is_regex=False)
        before = r.store.calls["admit"]
        with pytest.raises(Blocked, match="Your style contains a blocked word"):
            await r.admit({"sound": "k a z o o anthem"})
        # The content check ran before the store's admission transaction was even opened (9.10).
        assert r.store.calls["admit"] == before
        assert await r.remaining() == 1000
        refused = [e for _, channel, e in r.notifier.audits if isinstance(e, Refused)]
        assert len(refused) == 1 and refused[0].error.rule == "word: kazoo"  # type: ignore[attr-defined]


async def test_bans_channels_roles_and_cooldown() -> None:
    async with rig(start=False) as r:
        await r.core.studio.update_settings(ADMIN, allowed_channel_ids=[10], required_role_id=5, cooldown_s=30)
        with pytest.raises(WrongChannel) as wrong:
            await r.admit(who=Requester(1, 11, 100, role_ids=frozenset({5})))
        assert wrong.value.allowed_channel_ids == (10,)
        # A thread belongs to its channel.
        threaded = Requester(1, 99, 100, role_ids=frozenset({5}), parent_channel_id=10)
        with pytest.raises(MissingRole) as role:
            await r.admit(who=Requester(1, 10, 100))
        assert role.value.role_id == 5
        await r.admit(who=threaded)
        with pytest.raises(NotAllowed, match=r"Slow down a little: you can start another song in 30 s\."):
            await r.admit(who=threaded)
        await r.clock.advance(20.0)
        with pytest.raises(NotAllowed, match=r"in 10 s\."):
            await r.admit(who=threaded)
        await r.clock.advance(11.0)
        await r.admit(who=threaded)
        # Admins are held to none of these.
        await r.admit(who=Requester(1, 42, 900, is_admin=True))
        await r.admit(who=Requester(1, 42, 900, is_admin=True))
        await r.core.studio.ban(ADMIN, 100, "spamming")
        with pytest.raises(NotAllowed, match=r"banned from making music in this server\. Reason: spamming"):
            await r.admit(who=threaded)
        assert await r.remaining() == 1000 - 4 * 10


async def test_unavailable_operations_and_missing_tracks_are_refused_for_free() -> None:
    async with rig(start=False, operations=frozenset({Operation.CREATE, Operation.EXTEND})) as r:
        with pytest.raises(OperationUnavailable, match="isn't offered by the current music provider"):
            await r.admit({}, operation=Operation.COVER, track_id=1)
        with pytest.raises(NotFound, match=r"There is no track #42 in this server\."):
            await r.admit({}, operation=Operation.EXTEND, track_id=42)
        with pytest.raises(InvalidRequest, match="Pick a track"):
            await r.admit({}, operation=Operation.EXTEND)
        with pytest.raises(InvalidRequest, match="Describe a style"):
            await r.admit({})
        assert r.store.calls["admit"] == 0 and await r.remaining() == 1000


async def test_the_server_s_default_model_is_used_when_none_is_picked() -> None:
    async with rig(start=False) as r:
        await r.core.studio.update_settings(ADMIN, default_model="fuzz-2.0 pro")
        assert (await r.core.studio.settings(1)).default_model == "FUZZ-2.0 Pro"
        job_id = await r.admit({"sound": "lofi"})
        assert (await r.store.job(job_id)).request["model"] == "FUZZ-2.0 Pro"  # type: ignore[union-attr]
        job_id = await r.admit({"sound": "lofi", "model": "FUZZ-2.0"})
        assert (await r.store.job(job_id)).request["model"] == "FUZZ-2.0"  # type: ignore[union-attr]


async def test_the_first_place_in_line_is_what_the_member_sees() -> None:
    async with rig(start=False, max_concurrency=1) as r:
        positions = [(await r.admitted(who=Requester(1, 10, 100 + i))).position for i in range(3)]
        assert positions == [1, 2, 3]
    assert await WHO.can_moderate(10) is False and await ADMIN.can_moderate(10) is True
