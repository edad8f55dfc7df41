"""The in-flight registry: one record per job, one way to forget it, and the jobs-in-flight gauge from memory."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.core.jobs.registry import Phase, Registry
from bot.domain.models import Job, JobState, Operation
from bot.domain.requester import Requester
from tests.core.rig import WHO, config, rig
from tests.fakes import MemoryStore


def job(job_id: int, guild_id: int = 1, user_id: int = 2) -> Job:
    return Job(
        id=job_id,
        guild_id=guild_id,
        channel_id=3,
        user_id=user_id,
        operation=Operation.CREATE,
        request={},
        provider="fake",
        state=JobState.QUEUED,
        cost=10,
        period_key="p",
        created_at=datetime.now(UTC),
    )


def test_forgetting_a_job_takes_it_out_of_line_and_out_of_the_gauge() -> None:
    registry = Registry()
    first = registry.add(job(1), Phase.QUEUED)
    registry.add(job(2), Phase.QUEUED)
    held = registry.add(job(3, user_id=9), Phase.HELD)
    assert registry.queue.positions() == {1: 1, 2: 2}
    assert registry.by_state() == {"queued": 3, "running": 0, "submitted": 0}
    registry.forget(1)
    assert registry.queue.positions() == {2: 1} and 1 not in registry
    registry.move(held, Phase.QUEUED)
    assert registry.queue.positions() == {2: 1, 3: 2}
    record = registry.next_queued()
    assert record is not None and record.id == 2
    registry.move(record, Phase.SUBMITTING)
    registry.move(record, Phase.RUNNING)
    assert (registry.waiting(), registry.at_provider()) == (1, 1)
    assert registry.by_state() == {"queued": 1, "running": 1, "submitted": 0}
    assert registry.forget(2) is record and registry.forget(2) is None
    assert registry.by_state() == {"queued": 1, "running": 0, "submitted": 0}
    assert first.phase is Phase.QUEUED  # a forgotten record is left as it was; nothing refers to it any more


async def test_the_gauge_follows_jobs_through_their_life() -> None:
    async with rig(render_s=10.0, max_concurrency=1) as r:
        await r.admit()
        await r.admit()
        gauge = r.core.web.in_flight_by_state
        await r.clock.advance(0.1)
        assert gauge() == {"queued": 1, "running": 0, "submitted": 1}
        await r.clock.advance(7.0)
        assert gauge() == {"queued": 1, "running": 1, "submitted": 0}
        await r.delivered(2)
        assert gauge() == {"queued": 0, "running": 0, "submitted": 0}


async def test_processed_webhook_ids_expire() -> None:
    store = MemoryStore()
    now = 1_800_000_000.0
    store.webhooks.update({"ancient": now - 30 * 86400, "recent": now - 3600})
    async with rig(store=store, jobs=config(webhook_retention_s=7 * 86400, sweep_interval=600.0)) as r:
        await r.clock.advance(1.0)  # pruned when core starts, then hourly
        assert set(store.webhooks) == {"recent"}
        store.webhooks["new"] = r.clock.now()
        await r.clock.advance(7 * 86400 - 7200)
        assert "new" in store.webhooks  # kept while a replay could still carry a valid signature
        await r.clock.advance(7200 + 3600)
        assert set(store.webhooks) == set()


class ChannelAccess:
    """What the ui would derive from Discord's permissions: moderation in some channels only."""

    def __init__(self, moderated: set[int]) -> None:
        self.moderated = moderated

    async def can_view(self, channel_id: int) -> bool:
        return True

    async def can_moderate(self, channel_id: int) -> bool:
        return channel_id in self.moderated


async def test_power_over_a_job_or_track_comes_from_where_it_lives() -> None:
    async with rig(render_s=600.0) as r:
        job_id = await r.admit()  # lives in channel 10
        elsewhere = Requester(1, 55, 300, access=ChannelAccess({55}))  # Manage Messages in #55 only
        try:
            await r.core.jobs.cancel(elsewhere, job_id)
            raise AssertionError("a moderator of another channel cancelled the job")
        except Exception as exc:
            assert "only cancel your own" in str(exc)
        here = Requester(1, 55, 300, access=ChannelAccess({10}))
        assert (await r.core.jobs.cancel(here, job_id)).state is JobState.CANCELLED
        assert await WHO.can_view(10)
