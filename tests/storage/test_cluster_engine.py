"""Two job engines (two "processes": two Cores, each with its own pool) on one PostgreSQL schema, through core's
real cluster code: caches follow each other within a second, a silent worker's jobs are taken over and finish
once, the provider's slots are shared, and a webhook reaching the other worker completes its job once.

The renders are fake (tests/fakes.py's provider on the real clock, a fraction of a second); every wait is for a
condition, with a generous bound.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator, Callable
from typing import Any, cast

import pytest

from bot.core.assembly import Core
from bot.core.clock import SystemClock
from bot.core.jobs.cluster import ClusterConfig
from bot.core.jobs.config import JobsConfig
from bot.core.settings import Defaults
from bot.domain.errors import Blocked
from bot.domain.models import GuildSettings, JobState, Operation, Period
from bot.domain.ports import PollRoom
from bot.domain.requester import Requester
from bot.storage.postgres import PostgresStore
from tests import pg
from tests.fakes import FakeClock, FakeProvider, RecordingNotifier

CONFIG = JobsConfig(poll_interval=0.05, max_poll_interval=0.1, expected_render_s=0.1, tick=0.005, sweep_interval=0.2)


async def until(check: Callable[[], Any], *, within: float = 15.0) -> float:
    """Wait for ``check()`` to be true; returns how long it took (fails past ``within``)."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return loop.time() - start
        if loop.time() - start > within:
            pytest.fail(f"not true within {within}s")
        await asyncio.sleep(0.02)


@contextlib.asynccontextmanager
async def engines(
    count: int,
    *,
    takeover_s: float = 30.0,
    concurrency: int = 10,
    render_s: float = 0.2,
    batch_size: int = 1,
    config: JobsConfig = CONFIG,
) -> AsyncIterator[tuple[list[Core], FakeProvider, str]]:
    async with pg.fresh_schema() as schema:
        clock = SystemClock()
        provider = FakeProvider(
            cast(FakeClock, clock), render_s=render_s, max_concurrency=concurrency, batch_size=batch_size
        )
        stores = [
            await PostgresStore.open(pg.URL, schema=schema, lock=False, min_size=1, max_size=5) for _ in range(count)
        ]
        cores = [
            Core(
                store=store,
                provider=provider,
                clock=clock,
                config=config,
                defaults=Defaults(budget=10_000, period=Period.MONTH, max_jobs_member=50, max_jobs_server=100),
                cluster=(store, ClusterConfig(worker=f"w{i}", takeover_s=takeover_s, sync_s=0.2)),
            )
            for i, store in enumerate(stores)
        ]
        try:
            yield cores, provider, schema
        finally:
            for core in cores:
                with contextlib.suppress(Exception):
                    await core.runtime.stop()
            for store in stores:
                await store.close()


def member(guild: int, user: int = 1) -> Requester:
    return Requester(guild_id=guild, channel_id=100 + guild, user_id=user)


async def states(schema: str) -> dict[int, str]:
    conn = await pg.connect(schema)
    try:
        return {int(r["id"]): r["state"] for r in await conn.fetch("SELECT id, state FROM jobs")}
    finally:
        await conn.close()


async def test_a_change_through_one_process_applies_in_the_other_within_a_second() -> None:
    async with engines(2) as (cores, _, _):
        a, b = cores
        for core in cores:
            await core.runtime.start(RecordingNotifier())
        assert (await b.settings.get(5)).budget == 10_000  # cached in b
        await b.blocklist.check(5, {"sound": "kazoo jazz"})  # filter compiled and cached in b
        assert not b.catalog.is_retired(Operation.COVER)

        await a.settings.save(GuildSettings(guild_id=5, budget=7, period=Period.MONTH))
        await a.blocklist.add(5, "kazoo", is_regex=False, added_by=1)
        await a.catalog.retire(Operation.COVER, "gone")

        # One read of the change feed (each worker's loop reads it every 0.5 s) and b follows all three.
        assert b.cluster is not None
        await b.cluster.sync()
        assert (await b.settings.get(5)).budget == 7
        with pytest.raises(Blocked):
            await b.blocklist.check(5, {"sound": "kazoo jazz"})
        assert b.catalog.is_retired(Operation.COVER)
        # And the running loop reads it by itself.
        await a.settings.save(GuildSettings(guild_id=5, budget=9, period=Period.MONTH))

        async def budget_seen() -> bool:
            return (await b.settings.get(5)).budget == 9

        await until(budget_seen)


async def test_a_silent_workers_jobs_are_taken_over_and_finish_once() -> None:
    async with engines(2, takeover_s=0.6) as (cores, provider, schema):
        dead, alive = cores
        # The first worker admits and says it is alive once, then falls silent (as if killed) before running them.
        await dead.cluster.start()  # type: ignore[union-attr]
        jobs = [
            (await dead.admission.admit(member(g), Operation.CREATE, {"sound": f"jazz {g}", "title": "T"})).job
            for g in range(1, 7)
        ]
        notifier = RecordingNotifier()
        await alive.runtime.start(notifier)
        await until(lambda: len(notifier.succeeded) >= len(jobs))
        assert sorted(r.job.id for r in notifier.succeeded) == sorted(j.id for j in jobs)
        assert provider.submits == len(jobs)
        assert set((await states(schema)).values()) == {JobState.SUCCEEDED.value}


async def test_the_providers_slots_are_shared_by_every_worker() -> None:
    async with engines(2, concurrency=2, render_s=0.15) as (cores, provider, schema):
        notifiers = [RecordingNotifier(), RecordingNotifier()]
        for core, notifier in zip(cores, notifiers, strict=True):
            await core.runtime.start(notifier)
        for g in range(1, 6):
            for core in cores:
                await core.admission.admit(member(g), Operation.CREATE, {"sound": "jazz", "title": "T"})
        conn = await pg.connect(schema)
        most = 0
        try:
            while sum(len(n.succeeded) for n in notifiers) < 10:
                taken = await conn.fetchval(
                    "SELECT COUNT(*) FROM jobs WHERE state IN ('submitted', 'running')"
                    " OR (state = 'queued' AND dispatched_at IS NOT NULL)"
                )
                most = max(most, int(taken))
                await asyncio.sleep(0.01)
        finally:
            await conn.close()
        assert 1 <= most <= 2
        assert provider.submits == 10
        assert all(len(n.succeeded) > 0 for n in notifiers)  # each worker ran its own jobs


async def test_a_webhook_reaching_the_other_worker_completes_the_job_once() -> None:
    async with engines(2, render_s=60.0) as (cores, provider, schema):
        a, b = cores
        notifiers = [RecordingNotifier(), RecordingNotifier()]
        for core, notifier in zip(cores, notifiers, strict=True):
            await core.runtime.start(notifier)
        job = (await a.admission.admit(member(1), Operation.CREATE, {"sound": "jazz", "title": "T"})).job

        async def submitted() -> bool:
            return (await states(schema))[job.id] != "queued"

        await until(submitted)
        task_id = next(iter(provider.tasks))
        status = provider.finished(task_id)
        assert await b.web.accept_webhook("event-1", job.id, status)
        # The same delivery again, at the first worker, before the second has written anything: both may try to
        # finish it; the store's conditional write lets one of them, and only that one delivers.
        await a.web.accept_webhook("event-1", job.id, status)
        await until(lambda: sum(len(n.succeeded) for n in notifiers) >= 1)
        await until(lambda: job.id not in a.registry and job.id not in b.registry)
        await asyncio.sleep(0.3)  # room for a second delivery, which must not come
        assert sum(len(n.succeeded) for n in notifiers) == 1
        assert (await states(schema))[job.id] == JobState.SUCCEEDED.value
        # A later replay, anywhere, is recognised.
        assert not await a.web.accept_webhook("event-1", job.id, status)
        assert not await b.web.accept_webhook("event-1", job.id, status)


async def test_a_paused_worker_learns_its_jobs_moved_and_drops_them() -> None:
    """A worker that was only paused (its heartbeat went stale, its jobs were taken over) hears so at its next
    heartbeat and lets go; the jobs finish once, where they went, without being submitted again."""
    # The renders last until the take-over is done (however slow the machine), then a fraction of a second.
    async with engines(2, render_s=3600.0) as (cores, provider, schema):
        paused, other = cores
        notifiers = [RecordingNotifier(), RecordingNotifier()]
        for core, notifier in zip(cores, notifiers, strict=True):
            await core.runtime.start(notifier)
        jobs = [
            (await paused.admission.admit(member(g), Operation.CREATE, {"sound": "jazz", "title": "T"})).job
            for g in (1, 2, 3)
        ]

        async def all_submitted() -> bool:
            return all(s != "queued" for s in (await states(schema)).values())

        await until(all_submitted)
        # The other worker scans as if the first had been silent for the whole take-over time.
        assert other.cluster is not None and paused.cluster is not None
        store = cast(PostgresStore, other.store)
        now = SystemClock().now()
        taken = await store.take_over(other.cluster.worker, now, stale_before=now + 1)
        assert sorted(j.id for j in taken.unfinished) == sorted(j.id for j in jobs)
        for task in provider.tasks.values():
            task.render_s = 0.2
        await other.adoption.adopt(taken.unfinished, taken.undelivered)
        await until(lambda: all(j.id not in paused.registry for j in jobs))
        await until(lambda: sum(len(n.succeeded) for n in notifiers) == len(jobs))
        assert sorted(r.job.id for n in notifiers for r in n.succeeded) == sorted(j.id for j in jobs)
        assert provider.submits == len(jobs)


async def test_one_poll_answers_both_workers_tasks_and_each_job_finishes_once() -> None:
    """Polling is shared: a batched poll with room left carries the other worker's due tasks, and one found
    finished is leased here and finished here (its worker drops it); every job ends and is delivered once."""
    async with engines(2, render_s=0.3, batch_size=25) as (cores, provider, schema):
        a, b = cores
        # The second worker polls nothing of its own (as if always behind): only the first one's polls can
        # answer its tasks.
        b.tracker._poll_not_before = float("inf")
        notifiers = [RecordingNotifier(), RecordingNotifier()]
        for core, notifier in zip(cores, notifiers, strict=True):
            await core.runtime.start(notifier)
        b_jobs = [
            (await b.admission.admit(member(g), Operation.CREATE, {"sound": "jazz", "title": "T"})).job
            for g in (1, 2, 3)
        ]
        a_jobs = [
            (await a.admission.admit(member(g), Operation.CREATE, {"sound": "jazz", "title": "T"})).job
            for g in (4, 5, 6)
        ]
        everyone = sorted(j.id for j in a_jobs + b_jobs)
        await until(lambda: sum(len(n.succeeded) for n in notifiers) >= len(everyone))
        await until(lambda: all(j.id not in b.registry for j in b_jobs))  # b let go of what a finished
        await asyncio.sleep(0.3)  # room for a second delivery, which must not come
        assert sorted(r.job.id for n in notifiers for r in n.succeeded) == everyone
        assert provider.submits == len(everyone)
        assert set((await states(schema)).values()) == {JobState.SUCCEEDED.value}
        # One status call carried tasks of both workers (b's tasks were submitted by b, so their ids are b's).
        conn = await pg.connect(schema)
        try:
            owner_of = {r["task_id"]: r["id"] for r in await conn.fetch("SELECT id, task_id FROM jobs")}
        finally:
            await conn.close()
        b_ids = {j.id for j in b_jobs}
        a_ids = {j.id for j in a_jobs}
        mixed = [
            call
            for call in provider.fetches
            if {owner_of[t] for t in call} & b_ids and {owner_of[t] for t in call} & a_ids
        ]
        assert mixed, provider.fetches
        assert len(notifiers[0].succeeded) == len(everyone)  # all delivered by the worker that polled


async def test_a_shared_poll_skips_tasks_polled_elsewhere_not_near_their_end_or_moved_away() -> None:
    """What a worker about to poll is told: other workers' tasks ride along only once submitted long enough ago
    and not polled since their cut (never its own, never a queued or finished job); of its own batch, which
    another worker polled since it did (not polled again yet) and which another worker leased meanwhile."""
    # The engines never poll by themselves here: a poll of theirs holds the rows it reads (FOR UPDATE SKIP LOCKED),
    # and a row held at the moment this test asks would be left out of its answer.
    quiet = dataclasses.replace(CONFIG, expected_render_s=3600.0)
    async with engines(2, render_s=60.0, batch_size=25, config=quiet) as (cores, provider, schema):
        a, b = cores
        for core in cores:
            await core.runtime.start(RecordingNotifier())
        b_job = (await b.admission.admit(member(1), Operation.CREATE, {"sound": "jazz", "title": "T"})).job
        a_job = (await a.admission.admit(member(2), Operation.CREATE, {"sound": "jazz", "title": "T"})).job

        async def submitted() -> bool:
            return all(s != "queued" for s in (await states(schema)).values())

        await until(submitted)
        store = cast(PostgresStore, a.store)
        now = SystemClock().now() + 1000  # later than any poll the engines make by themselves

        async def room(at: float, *, mine: float | None = None, submitted: float = 0, polled: float = 0) -> PollRoom:
            cuts = [] if mine is None else [(a_job.id, mine)]
            return await store.poll_room(
                "w0",
                provider.name,
                mine=cuts,
                now=at,
                submitted_before=now + submitted,
                polled_before=now + polled,
                limit=25,
            )

        # Submitted less long ago than the cut: not near its end, not polled from here.
        assert (await room(now, mine=now, submitted=-1010)).due == []
        first = await room(now, mine=now)
        assert first.poll == [a_job.id] and first.lost == [] and [j.id for j in first.due] == [b_job.id]
        # Polled just now: b's task does not ride along again before its gap.
        assert (await room(now + 1, mine=now + 1, polled=-1)).due == []
        # Nothing of its own to poll: no call, so nothing of the others is marked polled either.
        assert (await room(now + 2, polled=1)).due == []
        # b polls a's task (filling its own call); a, whose own last poll was at ``now``, waits for its next one.
        b_store = cast(PostgresStore, b.store)
        by_b = await b_store.poll_room(
            "w1",
            provider.name,
            mine=[(b_job.id, now)],
            now=now + 3,
            submitted_before=now,
            polled_before=now + 2,
            limit=25,
        )
        assert [j.id for j in by_b.due] == [a_job.id]
        later = await room(now + 4, mine=now)
        assert later.poll == [] and later.polled == {a_job.id: now + 3}
        # b takes a's job (a webhook reached it): a's next poll leaves it out.
        assert b.cluster is not None
        await b.cluster.adopt_for_webhook(a_job.id)
        assert (await room(now + 5, mine=now + 5)).lost == [a_job.id]
