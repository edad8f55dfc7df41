"""What only the PostgreSQL store has: migrations under a lock, the ledger's rules held by PostgreSQL itself, an index
for every statement, admission atomic across connections and processes, the one-process lock, no password in logs.

Each test has a schema of its own (tests/pg.py); they are skipped locally without a server, and fail under CI.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import os
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest

import bot.storage.postgres.store as statements
from bot.domain.errors import AlreadyRunning, DatabaseUnavailable, QuotaExceeded
from bot.domain.models import JobState, LedgerKind, Operation, Period
from bot.domain.outcomes import Failure, FailureKind
from bot.domain.ports import AdmissionSnapshot, Completion, Job
from bot.storage.postgres import PostgresStore
from bot.storage.postgres.migrations import LOCK_MIGRATIONS, LOCK_PROCESS, MIGRATIONS
from tests import pg
from tests.forked import Forked
from tests.storage.test_store_contract import NOW, PERIOD, admit, clip, ticket
from tests.waiting import until

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
async def schema() -> AsyncIterator[str]:
    async with pg.fresh_schema() as name:
        yield name


@pytest.fixture
async def store(schema: str) -> AsyncIterator[PostgresStore]:
    opened = await PostgresStore.open(pg.URL, schema=schema, lock=False, min_size=1)
    try:
        yield opened
    finally:
        await opened.close()


@pytest.fixture
async def raw(store: PostgresStore) -> AsyncIterator[asyncpg.Connection]:
    """A plain connection on the store's schema, for SQL the bot never runs."""
    conn = await pg.connect(store.schema)
    try:
        yield conn
    finally:
        await conn.close()


# --- migrations ---------------------------------------------------------------------------------------------------
async def test_migrations_create_the_schema_and_record_each_step(store: PostgresStore, raw: asyncpg.Connection) -> None:
    assert store.schema_version == len(MIGRATIONS)
    tables = {r[0] for r in await raw.fetch("SELECT tablename FROM pg_tables WHERE schemaname = $1", store.schema)}
    assert {"jobs", "tracks", "ledger", "webhook_events", "blocked_terms", "bans", "retired_operations"} <= tables
    assert {"guild_settings", "member_caps", "schema_version"} <= tables
    steps = await raw.fetch("SELECT version, applied_by FROM schema_version ORDER BY version")
    assert [r["version"] for r in steps] == list(range(1, len(MIGRATIONS) + 1))
    assert all(":" in r["applied_by"] for r in steps)  # host:pid of the process that applied it


async def test_reopening_keeps_the_data_and_does_not_migrate_again(schema: str) -> None:
    first = await PostgresStore.open(pg.URL, schema=schema, lock=False, min_size=1)
    job = await admit(first)
    await first.close()
    second = await PostgresStore.open(pg.URL, schema=schema, lock=False, min_size=1)
    try:
        assert [j.id for j in await second.unfinished_jobs()] == [job.id]
        conn = await pg.connect(schema)
        try:
            assert await conn.fetchval("SELECT COUNT(*) FROM schema_version") == len(MIGRATIONS)
        finally:
            await conn.close()
    finally:
        await second.close()


async def test_a_newer_schema_is_refused_with_one_line(store: PostgresStore, raw: asyncpg.Connection) -> None:
    await raw.execute("INSERT INTO schema_version (version, applied_by) VALUES ($1, 'the future')", len(MIGRATIONS) + 1)
    with pytest.raises(DatabaseUnavailable, match="newer than this Tunesmith knows"):
        await PostgresStore.open(pg.URL, schema=store.schema, lock=False)


_OPENER = textwrap.dedent(
    """
    import asyncio, sys
    from bot.storage.postgres import PostgresStore
    from bot.storage.postgres.migrations import migrate
    import asyncpg

    async def main():
        # The store's own start-up, reporting how many steps this process applied.
        conn = await asyncpg.connect(sys.argv[1], server_settings={"search_path": sys.argv[2]})
        migrated = await migrate(conn, schema=sys.argv[2])
        await conn.close()
        store = await PostgresStore.open(sys.argv[1], schema=sys.argv[2], lock=False, min_size=1)
        await store.close()
        print(migrated.applied)

    asyncio.run(main())
    """
)


async def test_two_processes_starting_together_migrate_once(schema: str) -> None:
    """Both processes reach the migration while it is locked (as when they start in the same instant); when the lock
    is released, one applies every step and the other finds them applied."""
    holder = await asyncpg.connect(pg.URL)
    procs: list[Forked] = []
    try:
        async with holder.transaction():
            await holder.execute("SELECT pg_advisory_xact_lock($1, hashtext($2))", LOCK_MIGRATIONS, schema)
            procs = [await Forked.python("-c", _OPENER, pg.URL, schema, cwd=ROOT) for _ in range(2)]

            # Wait until both wait on the migration lock (PostgreSQL shows waiting advisory locks in pg_locks).
            async def both_waiting() -> bool:
                waiting = await holder.fetchval(
                    "SELECT COUNT(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND classid = $1",
                    LOCK_MIGRATIONS,
                )
                return bool(waiting >= 2)

            await until(both_waiting, timeout=60.0, interval=0.05)
        outputs = [await asyncio.wait_for(p.communicate(), timeout=60) for p in procs]
    finally:
        for proc in procs:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
        await holder.close()
    assert [p.returncode for p in procs] == [0, 0]
    assert sorted(int(out.strip()) for out, _ in outputs) == [0, len(MIGRATIONS)]
    conn = await pg.connect(schema)
    try:
        assert await conn.fetchval("SELECT COUNT(*) FROM schema_version") == len(MIGRATIONS)
    finally:
        await conn.close()


# --- the rules, held by PostgreSQL itself -------------------------------------------------------------------------
async def test_the_ledger_is_append_only_and_settles_once(store: PostgresStore, raw: asyncpg.Connection) -> None:
    job = await admit(store)
    await store.end_job(job.id, JobState.FAILED, Failure(FailureKind.TIMEOUT), NOW)
    for sql in ("UPDATE ledger SET amount = 99", "DELETE FROM ledger", "TRUNCATE ledger", "TRUNCATE jobs CASCADE"):
        with pytest.raises(asyncpg.RestrictViolationError, match="append-only"):
            await raw.execute(sql)
    with pytest.raises(asyncpg.UniqueViolationError, match="ledger_one_settlement"):  # a second refund
        await raw.execute(
            "INSERT INTO ledger (guild_id, job_id, kind, amount, period_key, created_at)"
            " VALUES (1, $1, 'refund', 10, $2, 0)",
            job.id,
            PERIOD,
        )
    with pytest.raises(asyncpg.UniqueViolationError, match="ledger_one_settlement"):  # a commit after the refund
        await raw.execute(
            "INSERT INTO ledger (guild_id, job_id, kind, amount, period_key, created_at)"
            " VALUES (1, $1, 'commit', 0, $2, 0)",
            job.id,
            PERIOD,
        )
    assert [(e.kind, e.amount) for e in await store.ledger_of_job(job.id)] == [
        (LedgerKind.RESERVE, -10),
        (LedgerKind.REFUND, 10),
    ]


async def test_ledger_lines_have_the_sign_of_their_kind(store: PostgresStore, raw: asyncpg.Connection) -> None:
    job = await admit(store, cost=0)
    insert = (
        "INSERT INTO ledger (guild_id, job_id, kind, amount, period_key, created_at) VALUES (1, $1, $2, $3, 'p', 0)"
    )
    for kind, amount in (("reserve", 5), ("refund", -5), ("commit", 3), ("reset", 1), ("bonus", 1)):
        with pytest.raises(asyncpg.CheckViolationError):
            await raw.execute(insert, job.id, kind, amount)
    with pytest.raises(asyncpg.CheckViolationError):  # a settlement names its job
        await raw.execute(insert, None, "refund", 5)


async def test_a_job_row_carries_its_reservation(store: PostgresStore, raw: asyncpg.Connection) -> None:
    """The reservation is written by the job's own INSERT (a trigger): no job without its credits."""
    job_id = await raw.fetchval(
        "INSERT INTO jobs (guild_id, channel_id, user_id, operation, request, provider, state, cost, period_key,"
        " created_at) VALUES (1, 2, 3, 'create', '{}', 'sandbox', 'queued', 7, 'p', 0) RETURNING id"
    )
    rows = await raw.fetch("SELECT job_id, kind, amount, period_key FROM ledger")
    assert [tuple(r) for r in rows] == [(job_id, "reserve", -7, "p")]
    await raw.execute(
        "INSERT INTO jobs (guild_id, channel_id, user_id, operation, request, provider, state, cost, period_key,"
        " created_at) VALUES (1, 2, 3, 'create', '{}', 'sandbox', 'queued', 0, 'p', 0)"
    )
    assert await raw.fetchval("SELECT COUNT(*) FROM ledger") == 1  # a free job reserves nothing


async def test_enums_are_checked_and_match_the_domain(store: PostgresStore, raw: asyncpg.Connection) -> None:
    insert_job = (
        "INSERT INTO jobs (guild_id, channel_id, user_id, operation, request, provider, state, cost, period_key,"
        " created_at) VALUES (1, 2, 3, $1, '{}', 'sandbox', $2, 0, 'p', 0)"
    )
    for state in JobState:
        await raw.execute(insert_job, "create", state.value)
    for operation in Operation:  # a new operation needs no migration
        await raw.execute(insert_job, operation.value, "queued")
    for operation, state in (("create", "paused"), ("Create; DROP", "queued")):
        with pytest.raises(asyncpg.CheckViolationError):
            await raw.execute(insert_job, operation, state)
    # a job of its own for each settlement kind (one settlement per job)
    offsets = {LedgerKind.RESERVE: 0, LedgerKind.COMMIT: 1, LedgerKind.REFUND: 2}
    for kind in LedgerKind:
        amount = {"reserve": -1, "refund": 1}.get(kind.value, 0)
        job_id = await raw.fetchval("SELECT MAX(id) - $1 FROM jobs", offsets[kind]) if kind in offsets else None
        await raw.execute(
            "INSERT INTO ledger (guild_id, job_id, kind, amount, period_key, created_at)"
            " VALUES (1, $1, $2, $3, 'p', 0)",
            job_id,
            kind.value,
            amount,
        )
    settings = (
        "INSERT INTO guild_settings (guild_id, budget, period, max_jobs_member, max_jobs_server)"
        " VALUES ($1, 1, $2, 1, 1)"
    )
    for n, period in enumerate(Period):
        await raw.execute(settings, n, period.value)
    with pytest.raises(asyncpg.CheckViolationError):
        await raw.execute(settings, 99, "fortnight")


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
async def test_times_are_finite(store: PostgresStore, raw: asyncpg.Connection, value: float) -> None:
    with pytest.raises(asyncpg.CheckViolationError):
        await raw.execute("INSERT INTO webhook_events (event_key, task_id, received_at) VALUES ('e', 't', $1)", value)
    with pytest.raises(asyncpg.CheckViolationError):
        await admit(store, now=value)
    assert await store.unfinished_jobs() == []


async def test_requests_are_jsonb_and_ids_are_snowflakes(store: PostgresStore, raw: asyncpg.Connection) -> None:
    big = 1_234_567_890_123_456_789  # a snowflake well past 32 bits
    job = await store.admit(
        ticket(guild_id=big, user_id=big + 1, request={"operation": "create", "sound": "jazz", "n": [1, 2]}),
        lambda snapshot: 3,
    )
    assert (await store.job(job.id)) == job
    row = await raw.fetchrow("SELECT guild_id, request->>'sound' AS sound, pg_typeof(request)::text AS t FROM jobs")
    assert (row["guild_id"], row["sound"], row["t"]) == (big, "jazz", "jsonb")
    assert (await store.balances(big, big + 1, PERIOD)).member_sum == -3


# --- an index for every statement ---------------------------------------------------------------------------------
_PARAMS: dict[str, tuple[Any, ...]] = {
    "ADMISSION_SNAPSHOT": (1, 2, "p", True),
    "ADMISSION_LOCK": (1,),
    "INSERT_JOB": (1, 2, 3, "create", "{}", "sandbox", 10, "p", None, 0.0, None, None),
    "JOB": (1,),
    "UNFINISHED_JOBS": (),
    "UNDELIVERED_JOBS": (),
    "ACTIVE_JOBS_OF": (1, 2, 25),
    "ATTACH_STATUS": (1, 2, None),
    "MARK_SUBMITTED": (1, "t", 0.0),
    "MARK_RUNNING": (1, 2),
    "REMEMBER_WEBHOOKS": (["e"], ["t"], 0.0),
    "FINISH_JOBS": ([1, 2], 0.0),
    "SET_RESULT_URLS": ([1], ["u"], [None]),
    "INSERT_TRACKS": (*([[1]] * 4), *([["x"]] * 5), [1.0], *([["x"]] * 4), [None], [None], [None], 0.0),
    "COMPLETE_AT_ONCE": (1, 0.0, "{}"),
    "RECORD_FOLLOWUP": (1, "t", '{"step": "concat"}'),
    "END_JOB": (1, "failed", 0.0, "timeout", None, None),
    "COMPLETE_LYRICS": (1, 0.0, "[]"),
    "CLAIM_DELIVERIES": (1, [2, 3], ["n", "m"], "host:1", 0.0),
    "DELIVERY_CLAIMS": (1, [2]),
    "RECORD_DELIVERIES": ([1], [2], [None], [1], 0.0),
    "TRACK": (1,),
    "TRACKS_OF_JOB": (1,),
    "ANCESTORS": (1, 25),
    "CHILDREN": (1,),
    "RECENT_TRACKS": (1, 25),
    "FIND_TRACKS": (1, "%a%", "a", 25),
    "COUNT_GUILD_TRACKS": (1,),
    "GUILD_TRACK_PAGE": (1, 10, 0),
    "COUNT_AUTHOR_TRACKS": (1, 2),
    "AUTHOR_TRACK_PAGE": (1, 2, 10, 0),
    "COUNT_SEEN_GUILD_TRACKS": (1, [3, 4], 2),
    "SEEN_GUILD_TRACK_PAGE": (1, [3, 4], 2, 10, 0),
    "COUNT_SEEN_AUTHOR_TRACKS": (1, 2, [3, 4], 2),
    "SEEN_AUTHOR_TRACK_PAGE": (1, 2, [3, 4], 2, 10, 0),
    "GUILD_TRACK_CHANNELS": (1,),
    "AUTHOR_TRACK_CHANNELS": (1, 2),
    "SET_THREAD": (1, 2),
    "SET_ALIGNMENT": (1, '{"words": []}'),
    "DELETE_TRACK": (1,),
    "BALANCES": (1, 2, "p"),
    "LEDGER_OF_JOB": (1,),
    "INSERT_LEDGER": (1, 2, None, "grant", 5, "p", None, 9, 0.0),
    "DELETE_CAP": (1, 2),
    "SET_CAP": (1, 2, 3),
    "GUILD_SETTINGS": (1,),
    "SAVE_SETTINGS": (1, 100, "month", None, 0, "{}", 2, 10, [], None, True, None, None, 0.0, True, 20),
    "BLOCKED_TERMS": (1,),
    "ADD_BLOCKED_TERM": (1, "x", False, 9, 0.0),
    "REMOVE_BLOCKED_TERM": (1, "x"),
    "BAN": (1, 2, None, 9, 0.0),
    "UNBAN": (1, 2),
    "BANS": (1,),
    "RETIRED_OPERATIONS": ("p",),
    "RETIRE_OPERATION": ("p", "cover", None, 0.0),
    "REINSTATE_OPERATION": ("p", "cover"),
    "RECORD_WEBHOOK": ("e", "t", 0.0),
    "PRUNE_WEBHOOKS": (0.0,),
    "SAVE_PERSONA": (1, 1, "p", "Nova", "persona-1", None, 9, 0.0),
    "PERSONAS": (1, "p"),
    "PERSONA": (1,),
    "DELETE_PERSONA": (1,),
}
_TABLES = (
    "jobs",
    "tracks",
    "ledger",
    "webhook_events",
    "blocked_terms",
    "bans",
    "retired_operations",
    "personas",
    "delivery_claims",
)


def _nodes(plan: Any) -> list[dict[str, Any]]:
    found = []
    if isinstance(plan, dict):
        if "Node Type" in plan:
            found.append(plan)
        for value in plan.values():
            found.extend(_nodes(value))
    elif isinstance(plan, list):
        for value in plan:
            found.extend(_nodes(value))
    return found


async def test_every_statement_is_served_by_an_index(store: PostgresStore, raw: asyncpg.Connection) -> None:
    """Each statement the store runs, explained with table scans priced out. A plan that still reads a table whole
    (a sequential scan, or a walk over a whole index with no condition on it) has no index to use: on real tables
    of real size it would read every row. A walk over a partial index is fine: it holds only the rows asked for
    (the live jobs, the undelivered ones)."""
    names = sorted(
        name
        for name, value in vars(statements).items()
        if name.isupper()
        and not name.startswith("_")
        and isinstance(value, str)
        and value.lstrip().startswith(("SELECT", "INSERT", "UPDATE", "DELETE", "WITH"))
    )
    assert names == sorted(_PARAMS), "a new statement: add its sample parameters to _PARAMS"
    partial = await pg.partial_indexes(raw, store.schema)
    await raw.execute("SET enable_seqscan = off")
    for name in names:
        plan = json.loads(await raw.fetchval(f"EXPLAIN (FORMAT JSON) {getattr(statements, name)}", *_PARAMS[name]))
        whole = [
            (node["Node Type"], node.get("Relation Name") or node.get("Index Name"))
            for node in _nodes(plan)
            if (node["Node Type"] == "Seq Scan" and node.get("Relation Name") in _TABLES)
            or (
                node["Node Type"] in ("Index Scan", "Index Only Scan", "Bitmap Index Scan")
                and "Index Cond" not in node
                and node.get("Index Name") not in partial
            )
        ]
        assert whole == [], f"{name} reads a whole table: {whole}"


# --- admission across connections and processes -------------------------------------------------------------------
def _rules(budget: int, cost: int, *, cap: int | None = None, max_member: int = 10**6, max_server: int = 10**6) -> Any:
    """Admission's questions over a snapshot, as core asks them: in-flight limits, the server budget, a cap."""

    def decide(snapshot: AdmissionSnapshot) -> int:
        b = snapshot.balances
        if b.member_active >= max_member or b.server_active >= max_server:
            raise QuotaExceeded("too many in flight")
        if budget + b.server_sum < cost:
            raise QuotaExceeded("no credits")
        member_cap = b.member_cap if b.member_cap is not None else cap
        if member_cap is not None and member_cap + b.member_sum < cost:
            raise QuotaExceeded("member cap")
        return cost

    return decide


async def test_admissions_from_many_connections_admit_exactly_what_the_limits_allow(schema: str) -> None:
    """Three stores (three pools, like three processes) admit at once into four servers, each bound by another
    limit; every limit admits exactly what it covers, never one more."""
    stores = [await PostgresStore.open(pg.URL, schema=schema, lock=False, min_size=1, max_size=4) for _ in range(3)]
    try:
        for member in range(40, 46):
            await stores[0].set_member_cap(4, member, 30)
        cases = {
            1: (_rules(200, 10), [100 + i % 12 for i in range(60)]),  # the budget: 20 jobs
            2: (_rules(10**6, 10, max_member=2), [200 + i % 10 for i in range(60)]),  # 2 in flight each: 20
            3: (_rules(10**6, 10, max_server=7), [300 + i % 20 for i in range(40)]),  # 7 in flight in all
            4: (_rules(10**6, 10), [40 + i % 6 for i in range(48)]),  # caps of 30: 3 each, 18
        }
        attempts = [(guild, member) for guild, (_, members) in cases.items() for member in members]
        attempts = attempts[::2] + attempts[1::2]  # servers interleaved
        results = await asyncio.gather(
            *(
                stores[n % 3].admit(ticket(guild_id=guild, user_id=member), cases[guild][0])
                for n, (guild, member) in enumerate(attempts)
            ),
            return_exceptions=True,
        )
        assert all(isinstance(r, Job | QuotaExceeded) for r in results), [r for r in results if not isinstance(r, Job)]
        admitted = [r for r in results if isinstance(r, Job)]
        by_guild = {g: [j for j in admitted if j.guild_id == g] for g in cases}
        assert {g: len(jobs) for g, jobs in by_guild.items()} == {1: 20, 2: 20, 3: 7, 4: 18}
        assert all(sum(1 for j in by_guild[2] if j.user_id == m) == 2 for m in range(200, 210))
        assert all(sum(1 for j in by_guild[4] if j.user_id == m) == 3 for m in range(40, 46))
        assert (await stores[1].balances(1, 0, PERIOD)).server_sum == -200
    finally:
        for opened in stores:
            await opened.close()


_ADMITTER = textwrap.dedent(
    """
    import asyncio, sys
    from bot.domain.errors import QuotaExceeded
    from bot.storage.postgres import PostgresStore
    from tests.storage.test_store_contract import ticket

    def within(snapshot):
        if 100 + snapshot.balances.server_sum < 10:
            raise QuotaExceeded("no credits")
        return 10

    async def one(store, user_id):
        try:
            await store.admit(ticket(user_id=user_id), within)
            return 1
        except QuotaExceeded:
            return 0

    async def main():
        store = await PostgresStore.open(sys.argv[1], schema=sys.argv[2], lock=False, min_size=4, max_size=4)
        print("ready", flush=True)
        sys.stdin.readline()  # go: every process starts admitting at the same moment
        n = int(sys.argv[3])
        admitted = sum(await asyncio.gather(*(one(store, n * 100 + i) for i in range(15))))
        await store.close()
        print(admitted, flush=True)

    asyncio.run(main())
    """
)


async def test_admissions_from_several_processes_never_overspend(schema: str) -> None:
    """Three real processes, four connections each, 45 admissions at once against 100 credits: exactly 10."""
    await (await PostgresStore.open(pg.URL, schema=schema, lock=False, min_size=1)).close()  # migrated up front
    procs = [await Forked.python("-c", _ADMITTER, pg.URL, schema, str(n), cwd=ROOT) for n in (1, 2, 3)]
    try:
        for proc in procs:
            assert proc.stdout is not None
            assert (await asyncio.wait_for(proc.stdout.readline(), timeout=60)).strip() == b"ready"
        for proc in procs:
            assert proc.stdin is not None
            proc.stdin.write(b"go\n")
            await proc.stdin.drain()
        outputs = [await asyncio.wait_for(p.communicate(), timeout=60) for p in procs]
    finally:
        for proc in procs:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
    assert [p.returncode for p in procs] == [0, 0, 0]
    assert sum(int(out.strip()) for out, _ in outputs) == 10  # exactly the 100 credits, never 110
    conn = await pg.connect(schema)
    try:
        assert await conn.fetchval("SELECT SUM(amount) FROM ledger") == -100
        assert await conn.fetchval("SELECT COUNT(*) FROM jobs") == 10
    finally:
        await conn.close()


# --- one process per database, and the password never shown -----------------------------------------------------
async def test_a_second_bot_on_the_same_schema_is_refused(schema: str) -> None:
    first = await PostgresStore.open(pg.URL, schema=schema, min_size=1)
    try:
        with pytest.raises(AlreadyRunning, match="another Tunesmith process is using the database"):
            await PostgresStore.open(pg.URL, schema=schema, min_size=1)
        # Tools and tests may open a second store on purpose.
        await (await PostgresStore.open(pg.URL, schema=schema, lock=False, min_size=1)).close()
    finally:
        await first.close()
    # Released on close: the next bot may start.
    await (await PostgresStore.open(pg.URL, schema=schema, min_size=1)).close()


async def test_losing_the_lock_connection_is_logged(schema: str, caplog: pytest.LogCaptureFixture) -> None:
    store = await PostgresStore.open(pg.URL, schema=schema, min_size=1)
    try:
        conn = await pg.connect(schema)
        try:  # the server drops the session holding the lock (a restart, an admin)
            # This schema's lock only: other tests (other xdist workers) hold their own at the same time.
            await conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND classid = $1"
                " AND objid = (hashtext($2)::bigint & 4294967295)::oid AND granted",
                LOCK_PROCESS,
                schema,
            )
        finally:
            await conn.close()
        # asyncpg reports the lost connection from its protocol; nothing to await
        lost = "lost the connection that keeps other Tunesmith"
        await until(lambda: any(lost in r.getMessage() for r in caplog.records))
        # Without the lock another bot can start, which is what the operator is told.
        await (await PostgresStore.open(pg.URL, schema=schema, min_size=1)).close()
        assert await store.job(1) is None  # the pool's own connections still work
    finally:
        await store.close()
    assert sum("lost the connection" in r.getMessage() for r in caplog.records) == 1  # close() is not a loss


def _with_password(url: str, password: str) -> str:
    """The test URL with a password (the test server trusts local connections, so any password connects)."""
    scheme, rest = url.split("://", 1)
    userinfo, at, hosts = rest.rpartition("@")
    if not at:
        return f"{scheme}://postgres:{password}@{rest}"
    return f"{scheme}://{userinfo.split(':', 1)[0]}:{password}@{hosts}"


async def test_no_password_in_logs_or_errors(schema: str, caplog: pytest.LogCaptureFixture) -> None:
    secret = "Pg-s3cret-for-the-log-test"
    url = _with_password(pg.URL, secret)
    caplog.set_level(logging.DEBUG)
    store = await PostgresStore.open(url, schema=schema, min_size=1)
    try:
        job = await admit(store)
        await store.end_job(job.id, JobState.FAILED, Failure(FailureKind.TIMEOUT), NOW)
        with pytest.raises(AlreadyRunning) as running:
            await PostgresStore.open(url, schema=schema, min_size=1)
    finally:
        await store.close()
    unreachable = url.replace(f"@{url.rpartition('@')[2].split('/')[0]}", "@127.0.0.1:9")
    with pytest.raises(DatabaseUnavailable) as down:
        await PostgresStore.open(unreachable, schema=schema, connect_timeout=5)
    texts = [r.getMessage() for r in caplog.records] + [str(running.value), str(down.value)]
    assert any("database ready: PostgreSQL at " in t and ":***@" in t for t in texts)
    assert str(down.value).startswith("could not use PostgreSQL at ") and ":***@127.0.0.1:9" in str(down.value)
    assert not [t for t in texts if secret in t]


async def test_the_bot_stops_with_one_line_when_postgresql_is_unreachable(tmp_path: Path) -> None:
    secret = "Pg-s3cret-for-the-start-test"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("TUNESMITH_")},
        "TUNESMITH_DISCORD_TOKEN": "not-a-real-token",
        "TUNESMITH_DATABASE_URL": f"postgresql://tunesmith:{secret}@127.0.0.1:9/music",
        "TUNESMITH_DISCORD_API_URL": "http://127.0.0.1:9/api/v10",
        "TUNESMITH_PROVIDER": "sandbox",
        "TUNESMITH_WEB_PORT": "0",
        "TUNESMITH_LOG_LEVEL": "DEBUG",
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout=60)
    assert proc.returncode == 1, (out, err)
    lines = err.decode().strip().splitlines()
    assert lines[-1].startswith("tunesmith: could not use PostgreSQL at postgresql://tunesmith:***@127.0.0.1:9/music: ")
    assert "Traceback" not in err.decode()
    assert secret not in (out + err).decode()


async def test_a_job_ends_once_even_when_two_processes_race(store: PostgresStore, schema: str) -> None:
    """A webhook's completion and a cancel arriving on two connections at once: one wins, one settlement."""
    other = await PostgresStore.open(pg.URL, schema=schema, lock=False, min_size=1)
    try:
        for _ in range(10):
            job = await admit(store)
            finished, ended = await asyncio.gather(
                store.finish_jobs([Completion(job, (clip(),))], [], NOW + 1),
                other.end_job(job.id, JobState.CANCELLED, Failure(FailureKind.CANCELLED), NOW + 1),
            )
            assert (job.id in finished) != (ended is not None)
            kinds = [e.kind for e in await store.ledger_of_job(job.id)]
            assert kinds in ([LedgerKind.RESERVE, LedgerKind.COMMIT], [LedgerKind.RESERVE, LedgerKind.REFUND])
    finally:
        await other.close()
