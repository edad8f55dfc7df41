"""PostgreSQL for the tests: where it is, whether it runs, and a schema of their own for each test.

The server is ``TEST_DATABASE_URL`` (default: the local one, ``postgresql://postgres@127.0.0.1:5432/test``). Not a
``TUNESMITH_`` name on purpose: the bot warns about unknown ``TUNESMITH_*`` settings, and tests that start the bot
with the test run's environment compare its stderr line by line.
Locally, when nothing answers there, every PostgreSQL test is skipped and the run ends with one line saying so;
under CI (``CI=true``) a missing server fails those tests instead.

Each test gets a schema of its own, named after this run (``tunesmith_test_<pid>_<random>_<n>``), dropped when the
test ends, so several engineers' runs on one server never meet. Schemas left by a run that was killed are dropped
by the next run on this machine (their process is gone), and the dead rows that creating and dropping schemas
leave in the catalogs are vacuumed once they pile up (a server without autovacuum would otherwise get slower with
every run).
"""

from __future__ import annotations

import contextlib
import itertools
import os
import re
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import pytest

from bot.database_url import redact
from bot.storage.postgres import PostgresStore

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/test"
URL = os.environ.get("TEST_DATABASE_URL") or DEFAULT_URL
PREFIX = "tunesmith_test_"
RUN = f"{PREFIX}{os.getpid()}_{secrets.token_hex(3)}"
_names = itertools.count(1)
_problem: list[str] = []  # empty until checked; then [""] (reachable) or [the reason it is not]
skipped_reason: list[str] = []  # what the terminal summary says, once, when PostgreSQL tests were skipped


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


async def _check() -> str:
    try:
        conn = await asyncpg.connect(URL, timeout=5)
    except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        return f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}".rstrip(": ")
    try:
        await _drop_orphans(conn)
        await _vacuum_catalogs(conn)
    finally:
        await conn.close()
    return ""


async def _drop_orphans(conn: asyncpg.Connection) -> None:
    """Drop schemas of earlier test runs on this machine whose process is gone (a killed run leaves them)."""
    names = await conn.fetch("SELECT nspname FROM pg_namespace WHERE nspname LIKE $1", PREFIX + "%")
    for row in names:
        match = re.match(rf"^{PREFIX}(\d+)_", row["nspname"])
        if match is None or _alive(int(match.group(1))):
            continue
        with contextlib.suppress(asyncpg.PostgresError):
            await conn.execute(f'DROP SCHEMA IF EXISTS "{row["nspname"]}" CASCADE')


# The catalogs that creating and dropping a schema churns; one run of the suite leaves ~60k dead rows in
# pg_attribute alone, ~140k in all.
CHURNED_CATALOGS = (
    "pg_attribute",
    "pg_depend",
    "pg_class",
    "pg_index",
    "pg_constraint",
    "pg_trigger",
    "pg_type",
    "pg_attrdef",
)
DEAD_ROWS_WORTH_A_VACUUM = 200_000
_VACUUM_LOCK = 0x7E57_CA7A  # an advisory lock: one worker of a run vacuums, the others go on


async def _vacuum_catalogs(conn: asyncpg.Connection) -> None:
    """Vacuum the catalogs when earlier runs' dead rows have piled up in them.

    Where autovacuum is off (as on the machine CI runs on), nothing else removes them, and every schema a later run
    creates and drops costs more: after about twenty runs, migrating a new store took 146 ms instead of 90 ms.
    Vacuuming catalogs is the right of a superuser or the database's owner; for anyone else PostgreSQL warns and
    skips them, which is harmless."""
    dead = await conn.fetchval(
        "SELECT coalesce(sum(n_dead_tup), 0) FROM pg_stat_sys_tables WHERE relname = ANY($1::text[])",
        list(CHURNED_CATALOGS),
    )
    if dead < DEAD_ROWS_WORTH_A_VACUUM or not await conn.fetchval("SELECT pg_try_advisory_lock($1)", _VACUUM_LOCK):
        return
    try:
        with contextlib.suppress(asyncpg.PostgresError):
            await conn.execute("VACUUM " + ", ".join(f"pg_catalog.{name}" for name in CHURNED_CATALOGS))
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", _VACUUM_LOCK)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


async def require() -> str:
    """The test server's URL; skips the test (locally) or fails it (CI) when PostgreSQL does not answer."""
    if not _problem:
        _problem.append(await _check())
    if _problem[0]:
        line = (
            f"PostgreSQL tests skipped: nothing usable at {redact(URL)} ({_problem[0]}); start PostgreSQL or set "
            "TEST_DATABASE_URL (under CI=true this is a failure)"
        )
        if in_ci():
            pytest.fail(f"CI=true but PostgreSQL is not usable at {redact(URL)}: {_problem[0]}")
        if not skipped_reason:
            skipped_reason.append(line)
        pytest.skip(line)
    return URL


def schema_name() -> str:
    """A schema name no other test or run uses."""
    return f"{RUN}_{next(_names)}"


async def drop_schema(schema: str) -> None:
    conn = await asyncpg.connect(URL, timeout=10)
    try:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await conn.close()


@asynccontextmanager
async def fresh_schema() -> AsyncIterator[str]:
    """A schema name for one test (created by whoever opens a store in it), dropped afterwards."""
    await require()
    schema = schema_name()
    try:
        yield schema
    finally:
        await drop_schema(schema)


@asynccontextmanager
async def postgres_store(**options: Any) -> AsyncIterator[PostgresStore]:
    """A new, empty PostgreSQL store in a schema of its own, dropped afterwards."""
    async with fresh_schema() as schema:
        options.setdefault("lock", False)
        options.setdefault("min_size", 1)
        store = await PostgresStore.open(URL, schema=schema, **options)
        try:
            yield store
        finally:
            await store.close()


async def connect(schema: str) -> asyncpg.Connection:
    """A plain connection whose search_path is ``schema`` (for raw SQL in tests)."""
    return await asyncpg.connect(URL, server_settings={"search_path": schema}, timeout=10)


async def partial_indexes(conn: asyncpg.Connection, schema: str) -> set[str]:
    """The names of the partial indexes (``CREATE INDEX ... WHERE``) in ``schema``.

    Read from pg_index's predicate, not from pg_indexes' text: that view renders the definition of every index in
    the database before filtering by schema, and one a parallel test is dropping fails it ("could not open
    relation with OID")."""
    rows = await conn.fetch(
        "SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
        " JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND i.indpred IS NOT NULL",
        schema,
    )
    return {row["relname"] for row in rows}
