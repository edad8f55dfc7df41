"""The cluster contract: leases, take-over, the global queue, the change feed and the channel edit budget, the same
on every store that implements the ClusterStore port (SQLite and PostgreSQL).

PostgreSQL runs it with several connections at once too (the port is for many processes): claims and take-overs
racing from separate pools never hand out more slots than the provider has, nor one job to two workers.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, cast

import pytest

from bot.domain.models import GuildSettings, Job, JobState, Operation, Period
from bot.domain.outcomes import Failure, FailureKind
from bot.domain.ports import ClusterStore, Store
from bot.storage.postgres import PostgresStore
from tests import pg
from tests.storage.conftest import STORES
from tests.storage.test_store_contract import NOW, clip, finish, ticket

A, B, C = "worker-a", "worker-b", "worker-c"


class Both(Store, ClusterStore):
    """A store with the cluster port (for the type checker)."""


@pytest.fixture(params=["postgres", "sqlite"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Both]:
    async with STORES[request.param](tmp_path) as opened:
        yield cast(Both, opened)


async def admit(store: Both, owner: str | None, **changes: Any) -> Job:
    return await store.admit(dataclasses.replace(ticket(**changes), owner=owner), lambda snapshot: 10)


# --- leases ----------------------------------------------------------------------------------------------------
async def test_a_live_worker_keeps_its_jobs_and_a_silent_one_loses_them(store: Both) -> None:
    mine = await admit(store, A)
    other = await admit(store, B)
    assert await store.heartbeat(A, NOW, [mine.id]) == []
    assert await store.heartbeat(B, NOW, [other.id]) == []

    nothing = await store.take_over(C, NOW + 1, stale_before=NOW - 30)
    assert nothing.unfinished == [] and nothing.undelivered == []

    # B goes silent; A keeps beating. C takes B's job only, once (a worker beats before it scans, as core does).
    assert await store.heartbeat(A, NOW + 40, [mine.id]) == []
    assert await store.heartbeat(C, NOW + 40, []) == []
    taken = await store.take_over(C, NOW + 40, stale_before=NOW + 10)
    assert [j.id for j in taken.unfinished] == [other.id]
    assert (await store.take_over(A, NOW + 40, stale_before=NOW + 10)).unfinished == []
    # B comes back (a long pause): its heartbeat says the job is gone.
    assert await store.heartbeat(B, NOW + 41, [other.id]) == [other.id]


async def test_unowned_and_released_jobs_are_taken_at_once_and_finished_ones_to_deliver(store: Both) -> None:
    loose = await admit(store, None)
    held = await admit(store, A)
    done = await admit(store, A)
    await finish(store, done, clip(1))
    await store.heartbeat(A, NOW, [held.id])

    await store.heartbeat(B, NOW, [])
    taken = await store.take_over(B, NOW, stale_before=NOW - 30)
    assert [j.id for j in taken.unfinished] == [loose.id]

    await store.release(A)  # a clean stop
    taken = await store.take_over(B, NOW, stale_before=NOW - 30)
    assert [j.id for j in taken.unfinished] == [held.id]
    assert [j.id for j in taken.undelivered] == [done.id]
    assert taken.undelivered[0].state is JobState.SUCCEEDED
    # Delivered jobs are nobody's concern.
    await store.record_deliveries([], [done.id], NOW + 1)
    await store.release(B)
    await store.heartbeat(C, NOW + 2, [])
    assert (await store.take_over(C, NOW + 2, stale_before=NOW - 30)).undelivered == []


async def test_a_webhook_worker_adopts_a_live_job_only(store: Both) -> None:
    job = await admit(store, A)
    await store.heartbeat(A, NOW, [job.id])
    adopted = await store.adopt(B, job.id)
    assert adopted is not None and adopted.id == job.id
    assert await store.heartbeat(A, NOW + 1, [job.id]) == [job.id]
    assert await store.heartbeat(B, NOW + 1, [job.id]) == []
    await store.end_job(job.id, JobState.FAILED, Failure(FailureKind.TIMEOUT), NOW + 2)
    assert await store.adopt(A, job.id) is None


async def test_a_workers_strays_are_its_jobs_at_the_provider_it_does_not_hold(store: Both) -> None:
    held = await admit(store, A)
    stray = await admit(store, A)
    waiting = await admit(store, A)  # queued: not at the provider
    await admit(store, B)
    for job in (held, stray):
        assert await store.mark_submitted(job.id, f"task-{job.id}", NOW)
    found = await store.strays(A, [held.id, waiting.id - 100])
    assert [j.id for j in found] == [stray.id] and found[0].task_id == f"task-{stray.id}"
    assert await store.strays(A, [held.id, stray.id]) == []


# --- the global queue --------------------------------------------------------------------------------------------
async def test_slots_are_shared_by_every_worker_and_handed_out_fairly(store: Both) -> None:
    # Server 1 queues four jobs (through A), server 2 one (through B); the provider takes three at once.
    first = [await admit(store, A, guild_id=1, user_id=u) for u in (1, 1, 2, 2)]
    second = await admit(store, B, guild_id=2, user_id=5)
    mine = await store.claim_slots(A, "sandbox", 3, ready=[j.id for j in first], returned=[], now=NOW)
    # B's job is not ready yet (its status message is not there): A's take the slots, members in turn.
    assert set(mine) == {first[0].id, first[2].id, first[1].id}
    assert await store.claim_slots(B, "sandbox", 3, ready=[second.id], returned=[], now=NOW) == []

    # One of A's is submitted (still a slot), one fails to submit for now (returned): its slot goes to server 2,
    # which holds none (server 1 holds two).
    assert await store.mark_submitted(first[0].id, "task-0", NOW)
    mine = await store.claim_slots(A, "sandbox", 3, ready=[], returned=[first[2].id], now=NOW)
    assert set(mine) == {first[1].id}
    assert await store.claim_slots(B, "sandbox", 3, ready=[], returned=[], now=NOW) == [second.id]
    # A job that ends frees its slot; the next in line (server 1's, ready again) gets it.
    await store.end_job(first[0].id, JobState.FAILED, Failure(FailureKind.TIMEOUT), NOW + 1)
    mine = await store.claim_slots(A, "sandbox", 3, ready=[first[2].id], returned=[], now=NOW + 1)
    assert set(mine) == {first[1].id, first[2].id}


async def test_servers_take_turns_for_slots(store: Both) -> None:
    busy = [await admit(store, A, guild_id=1, user_id=1) for _ in range(5)]
    quiet = await admit(store, A, guild_id=2, user_id=1)
    granted = await store.claim_slots(A, "sandbox", 2, ready=[*(j.id for j in busy), quiet.id], returned=[], now=NOW)
    assert set(granted) == {busy[0].id, quiet.id}


async def test_other_providers_and_at_once_jobs_take_no_slot(store: Both) -> None:
    lyrics = await admit(store, A, operation=Operation.LYRICS)  # answered inside the command: never ready
    job = await admit(store, A)
    assert await store.claim_slots(A, "sandbox", 1, ready=[job.id], returned=[], now=NOW) == [job.id]
    assert await store.claim_slots(A, "other", 1, ready=[], returned=[], now=NOW) == []
    assert lyrics.id not in await store.claim_slots(A, "sandbox", 5, ready=[], returned=[], now=NOW)


# --- the change feed and the edit budget -----------------------------------------------------------------------
async def test_changes_to_cached_things_are_in_the_feed(store: Both) -> None:
    start = await store.latest_change()
    await store.save_settings(GuildSettings(guild_id=7, budget=5, period=Period.MONTH))
    await store.add_blocked_term(8, "kazoo", is_regex=False, added_by=1, now=NOW)
    await store.retire_operation("sandbox", Operation.COVER, message="gone", now=NOW)
    await store.reinstate_operation("sandbox", Operation.COVER)
    await store.remove_blocked_term(8, "kazoo")
    changes = await store.changes_since(start)
    assert [(c.scope, c.guild_id) for c in changes] == [
        ("settings", 7),
        ("blocklist", 8),
        ("catalog", 0),
        ("catalog", 0),
        ("blocklist", 8),
    ]
    assert [c.seq for c in changes] == sorted(c.seq for c in changes)
    assert await store.latest_change() == changes[-1].seq
    assert await store.changes_since(changes[-1].seq) == []
    assert await store.prune_changes(0.0) == 0


async def test_a_channels_edits_are_spaced_for_everyone(store: Both) -> None:
    assert await store.claim_channel_edit(42, NOW, 1.0) == 0.0
    assert await store.claim_channel_edit(42, NOW, 1.0) == pytest.approx(1.0)
    assert await store.claim_channel_edit(42, NOW + 0.5, 1.0) == pytest.approx(1.5)
    assert await store.claim_channel_edit(43, NOW, 1.0) == 0.0
    assert await store.claim_channel_edit(42, NOW + 10, 1.0) == 0.0


# --- PostgreSQL: many connections at once ----------------------------------------------------------------------
async def test_racing_claims_from_many_pools_never_exceed_the_providers_slots() -> None:
    async with pg.fresh_schema() as schema:
        stores = [await PostgresStore.open(pg.URL, schema=schema, lock=False, min_size=1, max_size=4) for _ in range(3)]
        try:
            workers = [f"w{i}" for i in range(3)]
            jobs = {
                w: [await admit(cast(Both, s), w, guild_id=g, user_id=g) for g in range(1, 11)]
                for w, s in zip(workers, stores, strict=True)
            }

            async def claim(i: int) -> list[int]:
                w = workers[i]
                return await stores[i].claim_slots(w, "sandbox", 7, ready=[j.id for j in jobs[w]], returned=[], now=NOW)

            results = await asyncio.gather(*(claim(i) for i in range(3)), *(claim(i) for i in range(3)))
            granted = set().union(*map(set, results))
            assert len(granted) == 7
            for i, w in enumerate(workers):
                assert set(await stores[i].claim_slots(w, "sandbox", 7, ready=[], returned=[], now=NOW)) <= {
                    j.id for j in jobs[w]
                }
        finally:
            for s in stores:
                await s.close()


async def test_racing_take_overs_never_give_one_job_to_two_workers() -> None:
    async with pg.fresh_schema() as schema:
        stores = [await PostgresStore.open(pg.URL, schema=schema, lock=False, min_size=1, max_size=4) for _ in range(4)]
        try:
            dead = [await admit(cast(Both, stores[0]), "dead") for _ in range(60)]
            await stores[0].heartbeat("dead", NOW - 100, [])
            for i, s in enumerate(stores[1:]):
                await s.heartbeat(f"w{i}", NOW, [])
            takes = await asyncio.gather(
                *(s.take_over(f"w{i}", NOW, stale_before=NOW - 30, limit=25) for i, s in enumerate(stores[1:]))
            )
            ids = [j.id for t in takes for j in t.unfinished]
            assert len(ids) == len(set(ids))
            more = await stores[1].take_over("w0", NOW, stale_before=NOW - 30)
            assert sorted(ids + [j.id for j in more.unfinished]) == sorted(j.id for j in dead)
        finally:
            for s in stores:
                await s.close()


_PARAMS: dict[str, tuple[Any, ...]] = {
    "HEARTBEAT": ("w", 0.0, [1, 2]),
    "TAKE_OVER": ("w", 0.0, 500),
    "ADOPT": ("w", 1),
    "STRAYS": ("w", [1, 2]),
    "RELEASE": ("w",),
    "RETURN_SLOTS": ([1], "w"),
    "MARK_READY": ([1], "w", 0.0),
    "GRANT_SLOTS": ("sandbox", 10, 0.0),
    "MY_SLOTS": ("w", "sandbox"),
    "LATEST_CHANGE": (),
    "CHANGES_SINCE": (0,),
    "PRUNE_CHANGES": (0.0,),
    "CLAIM_EDIT": (1, 0.0, 1.0),
    "QUEUE_LOCK": ("sandbox",),
    "POLL_LOCK": ("sandbox",),
    "POLL_MINE": ("w", [1, 2], 0.0, [0.0, 0.0]),
    "POLL_DUE": ("w", "sandbox", 0.0, 0.0, 0.0, 25),
}


async def test_every_cluster_statement_is_served_by_an_index() -> None:
    """As the store's own statements (tests/storage/test_postgres.py): no statement reads a table whole."""
    import json

    from bot.storage.postgres import cluster as statements
    from tests.storage.test_postgres import _TABLES, _nodes

    names = sorted(
        n
        for n, v in vars(statements).items()
        if n.isupper()
        and not n.startswith("_")
        and isinstance(v, str)
        and v.lstrip().startswith(("SELECT", "INSERT", "UPDATE", "DELETE", "WITH"))
    )
    assert names == sorted(_PARAMS), "a new statement: add its sample parameters to _PARAMS"
    async with pg.postgres_store() as store:
        raw = await pg.connect(store.schema)
        try:
            partial = await pg.partial_indexes(raw, store.schema)
            await raw.execute("SET enable_seqscan = off")
            tables = (*_TABLES, "workers", "cache_changes", "channel_edits")
            for name in names:
                sql = getattr(statements, name)
                plan = json.loads(await raw.fetchval(f"EXPLAIN (FORMAT JSON) {sql}", *_PARAMS[name]))
                whole = [
                    (node["Node Type"], node.get("Relation Name") or node.get("Index Name"))
                    for node in _nodes(plan)
                    if (node["Node Type"] == "Seq Scan" and node.get("Relation Name") in tables)
                    or (
                        node["Node Type"] in ("Index Scan", "Index Only Scan", "Bitmap Index Scan")
                        and "Index Cond" not in node
                        and node.get("Index Name") not in partial
                        and name not in ("LATEST_CHANGE",)  # MAX over the primary key: one step from its end
                    )
                ]
                assert whole == [], f"{name} reads a whole table: {whole}"
        finally:
            await raw.close()
