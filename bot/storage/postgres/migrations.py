"""Versioned PostgreSQL schema migrations, applied in order at start-up. Never edit a shipped step: add a new one.

Every step runs in one transaction, under a transaction-level advisory lock (one key per schema), so processes
starting together migrate once: the first applies the pending steps, the others wait for its commit and then
find nothing left to do. ``schema_version`` has one row per applied step (when, and by which host and process).

Types, and why:
- Discord ids (guilds, channels, users, messages, roles, threads) are BIGINT snowflakes; our own ids are BIGINT
  identities. Credits are BIGINT.
- Times are ``unix_time``: DOUBLE PRECISION unix seconds (UTC), as the domain passes them (floats from the Clock
  port). They round-trip exactly (a TIMESTAMPTZ would round to microseconds, and a cooldown compares the floats);
  the domain's CHECK keeps them finite (NaN and ±Infinity are refused). ``to_timestamp(created_at)`` reads them
  as timestamps.
- Requests and cost overrides are JSONB objects; the allowed channels are a BIGINT[].
- Closed enums (job states, ledger kinds, periods) are TEXT with a CHECK listing the values. Operations and
  failure kinds grow with the providers, so their CHECK is the shape of a value, not a list (a new operation
  needs no migration; the domain validates what it reads back).

The rules live in the database, as in SQLite: the ledger is append-only (a trigger refuses UPDATE, DELETE and
TRUNCATE), a job settles at most once (a partial unique index over commits and refunds), a job's reservation is
written by the job's own INSERT (a trigger), and a processed webhook id is remembered once (its primary key).

Indexes, one per question the store asks (the store's docstrings name the query; tests/storage/test_postgres.py
explains every statement with sequential scans off and fails on a table scan):
- ``jobs_active`` (partial, live jobs only: small): admission's in-flight counts per member and per server, a
  member's active jobs, the unfinished jobs at start-up.
- ``jobs_undelivered`` (partial): finished jobs whose outcome has not reached Discord (start-up recovery).
- ``jobs_member_latest`` (partial, lyrics drafts excluded): a member's latest job, for the cooldown.
- ``ledger_period`` / ``ledger_member``: the period sums admission reads, as index-only scans (INCLUDE amount);
  the ledger is append-only, so its pages stay all-visible after a vacuum.
- ``ledger_job``: a job's ledger lines; ``ledger_one_settlement`` / ``ledger_one_reservation`` are rules.
- ``tracks_guild_recent`` / ``tracks_author_recent`` (partial, not deleted): newest first, search and pages.
- ``tracks_parent``, ``tracks_second_parent``, ``tracks_job``: lineage (a mashup's second parent too) and a job's
  tracks. ``webhook_events_received``: pruning by age. ``personas_name``: a server's personas, by name.
- ``delivery_claims``: its primary key (job, slot) is both the rule (one claim per post) and the lookup.
- Primary keys serve the rest (settings, caps, bans, block list, retired operations, lookups by id).

Room to grow: the multi-process work (leases, heartbeats, a global queue) adds nullable columns to ``jobs`` and
its own tables by new steps here; nothing in this schema assumes one process.
"""

from __future__ import annotations

import logging
import os
import re
import socket
from dataclasses import dataclass

import asyncpg

log = logging.getLogger(__name__)

# Advisory lock classes (the first key of the two-key form), distinct so Tunesmith's locks never meet each other;
# the second key is a hash of the schema (migrations, the process lock) or of the guild (admission).
LOCK_MIGRATIONS = 1_702_013_101
LOCK_ADMISSION = 1_702_013_102
LOCK_PROCESS = 1_702_013_103
LOCK_QUEUE = 1_702_013_104  # the global queue: one dispatch decision at a time per provider

SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")

_SCHEMA_VERSION = """
CREATE TABLE IF NOT EXISTS schema_version (
    version    INTEGER     PRIMARY KEY,
    applied_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    applied_by TEXT        NOT NULL
)
"""

MIGRATIONS: tuple[str, ...] = (
    # 1: the first schema (the SQLite schema's three steps, in PostgreSQL's types)
    r"""
    CREATE DOMAIN unix_time AS DOUBLE PRECISION CHECK (VALUE > -1e12 AND VALUE < 1e12);

    CREATE TABLE guild_settings (
        guild_id              BIGINT           PRIMARY KEY,
        budget                BIGINT           NOT NULL,
        period                TEXT             NOT NULL CHECK (period IN ('day', 'week', 'month')),
        member_cap            BIGINT,
        reset_epoch           INTEGER          NOT NULL DEFAULT 0,
        costs                 JSONB            NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(costs) = 'object'),
        max_jobs_member       INTEGER          NOT NULL,
        max_jobs_server       INTEGER          NOT NULL,
        allowed_channel_ids   BIGINT[]         NOT NULL DEFAULT '{}',
        required_role_id      BIGINT,
        remix_threads         BOOLEAN          NOT NULL DEFAULT TRUE,
        audit_channel_id      BIGINT,
        default_model         TEXT,
        cooldown_s            DOUBLE PRECISION NOT NULL DEFAULT 0 CHECK (cooldown_s >= 0 AND cooldown_s < 1e12),
        use_default_blocklist BOOLEAN          NOT NULL DEFAULT TRUE
    );

    CREATE TABLE member_caps (
        guild_id BIGINT NOT NULL,
        user_id  BIGINT NOT NULL,
        cap      BIGINT NOT NULL,
        PRIMARY KEY (guild_id, user_id)
    );

    CREATE TABLE jobs (
        id                BIGINT    GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        guild_id          BIGINT    NOT NULL,
        channel_id        BIGINT    NOT NULL,
        user_id           BIGINT    NOT NULL,
        operation         TEXT      NOT NULL CHECK (operation ~ '^[a-z][a-z0-9_]*$'),
        request           JSONB     NOT NULL CHECK (jsonb_typeof(request) = 'object'),
        provider          TEXT      NOT NULL,
        state             TEXT      NOT NULL
                          CHECK (state IN ('queued', 'submitted', 'running', 'succeeded', 'failed', 'cancelled')),
        cost              BIGINT    NOT NULL CHECK (cost >= 0),
        period_key        TEXT      NOT NULL,
        parent_track_id   BIGINT,   -- REFERENCES tracks (id), added below (the two tables point at each other)
        task_id           TEXT,
        status_message_id BIGINT,
        failure_kind      TEXT      CHECK (failure_kind ~ '^[a-z][a-z0-9_]*$'),
        failure_message   TEXT,
        result_url        TEXT,
        result_text       TEXT,
        created_at        unix_time NOT NULL,
        submitted_at      unix_time,
        finished_at       unix_time,
        delivered_at      unix_time,
        poll_count        INTEGER   NOT NULL DEFAULT 0
    );
    CREATE INDEX jobs_active ON jobs (guild_id, user_id, id)
        WHERE state IN ('queued', 'submitted', 'running');
    CREATE INDEX jobs_undelivered ON jobs (id) WHERE delivered_at IS NULL;
    CREATE INDEX jobs_member_latest ON jobs (guild_id, user_id, created_at) WHERE operation <> 'lyrics';

    CREATE TABLE tracks (
        id              BIGINT           GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        job_id          BIGINT           REFERENCES jobs (id),
        guild_id        BIGINT           NOT NULL,
        channel_id      BIGINT           NOT NULL,
        author_id       BIGINT           NOT NULL,
        provider        TEXT             NOT NULL,
        clip_id         TEXT             NOT NULL,
        title           TEXT,
        audio_url       TEXT,
        image_url       TEXT,
        duration_s      DOUBLE PRECISION CHECK (duration_s > -1e12 AND duration_s < 1e12),
        lyrics          TEXT,
        tags            TEXT,
        model           TEXT,
        operation       TEXT             NOT NULL CHECK (operation ~ '^[a-z][a-z0-9_]*$'),
        parent_track_id BIGINT           REFERENCES tracks (id),
        message_id      BIGINT,
        thread_id       BIGINT,
        created_at      unix_time        NOT NULL,
        deleted         BOOLEAN          NOT NULL DEFAULT FALSE
    );
    ALTER TABLE jobs ADD CONSTRAINT jobs_parent_track_fkey FOREIGN KEY (parent_track_id) REFERENCES tracks (id);
    CREATE INDEX tracks_guild_recent ON tracks (guild_id, id DESC) WHERE NOT deleted;
    CREATE INDEX tracks_author_recent ON tracks (guild_id, author_id, id DESC) WHERE NOT deleted;
    CREATE INDEX tracks_parent ON tracks (parent_track_id);
    CREATE INDEX tracks_job ON tracks (job_id);

    CREATE TABLE ledger (
        id         BIGINT    GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        guild_id   BIGINT    NOT NULL,
        user_id    BIGINT,
        job_id     BIGINT    REFERENCES jobs (id),
        kind       TEXT      NOT NULL CHECK (kind IN ('reserve', 'commit', 'refund', 'grant', 'reset')),
        amount     BIGINT    NOT NULL,
        period_key TEXT      NOT NULL,
        note       TEXT,
        actor_id   BIGINT,
        created_at unix_time NOT NULL,
        -- the sign of each kind: a reservation spends, a refund gives back, a commit and a reset are markers
        CONSTRAINT ledger_amount_fits_kind CHECK (CASE kind
            WHEN 'reserve' THEN amount < 0 AND job_id IS NOT NULL
            WHEN 'refund' THEN amount > 0 AND job_id IS NOT NULL
            WHEN 'commit' THEN amount = 0 AND job_id IS NOT NULL
            WHEN 'reset' THEN amount = 0
            ELSE TRUE END)
    );
    CREATE INDEX ledger_period ON ledger (guild_id, period_key) INCLUDE (kind, user_id, amount);
    CREATE INDEX ledger_member ON ledger (guild_id, user_id, period_key) INCLUDE (amount);
    CREATE INDEX ledger_job ON ledger (job_id);
    -- at most one settlement (commit or refund) per job, and one reservation: the database refuses a double refund
    CREATE UNIQUE INDEX ledger_one_settlement ON ledger (job_id) WHERE kind IN ('commit', 'refund');
    CREATE UNIQUE INDEX ledger_one_reservation ON ledger (job_id) WHERE kind = 'reserve';

    CREATE FUNCTION ledger_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION 'the ledger is append-only' USING ERRCODE = 'restrict_violation';
    END
    $$;
    CREATE TRIGGER ledger_append_only BEFORE UPDATE OR DELETE ON ledger
        FOR EACH ROW EXECUTE FUNCTION ledger_is_append_only();
    CREATE TRIGGER ledger_no_truncate BEFORE TRUNCATE ON ledger
        FOR EACH STATEMENT EXECUTE FUNCTION ledger_is_append_only();

    -- A job's reservation is written by the statement that writes the job, so the two cannot come apart.
    -- search_path is pinned to this schema's, so the trigger writes this schema's ledger whoever inserts.
    CREATE FUNCTION jobs_reserve_cost() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
    BEGIN
        INSERT INTO ledger (guild_id, user_id, job_id, kind, amount, period_key, created_at)
        VALUES (NEW.guild_id, NEW.user_id, NEW.id, 'reserve', -NEW.cost, NEW.period_key, NEW.created_at);
        RETURN NULL;
    END
    $$;
    CREATE TRIGGER jobs_reserve_cost AFTER INSERT ON jobs
        FOR EACH ROW WHEN (NEW.cost > 0) EXECUTE FUNCTION jobs_reserve_cost();

    -- Processed webhook deliveries: the key is the rule (a replay is recognised); they expire by age.
    CREATE TABLE webhook_events (
        event_key   TEXT      PRIMARY KEY,
        task_id     TEXT      NOT NULL,
        received_at unix_time NOT NULL
    );
    CREATE INDEX webhook_events_received ON webhook_events (received_at);

    CREATE TABLE blocked_terms (
        id         BIGINT    GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        guild_id   BIGINT    NOT NULL,
        pattern    TEXT      NOT NULL,
        is_regex   BOOLEAN   NOT NULL,
        added_by   BIGINT,
        created_at unix_time NOT NULL,
        UNIQUE (guild_id, pattern, is_regex)
    );

    CREATE TABLE bans (
        guild_id   BIGINT    NOT NULL,
        user_id    BIGINT    NOT NULL,
        reason     TEXT,
        banned_by  BIGINT,
        created_at unix_time NOT NULL,
        PRIMARY KEY (guild_id, user_id)
    );

    CREATE TABLE retired_operations (
        provider   TEXT      NOT NULL,
        operation  TEXT      NOT NULL CHECK (operation ~ '^[a-z][a-z0-9_]*$'),
        message    TEXT,
        retired_at unix_time NOT NULL,
        PRIMARY KEY (provider, operation)
    );
    """,
    # 2: Sonic in Discord (SQLite's step 4): a mashup's second parent, a job's follow-up step (an extension joined
    # into the full song), a track's lyrics timeline, the confirmation threshold per server, the server's personas
    r"""
    ALTER TABLE jobs ADD COLUMN second_parent_track_id BIGINT REFERENCES tracks (id);
    ALTER TABLE jobs ADD COLUMN followup JSONB CHECK (jsonb_typeof(followup) = 'object');
    ALTER TABLE tracks ADD COLUMN second_parent_track_id BIGINT REFERENCES tracks (id);
    ALTER TABLE tracks ADD COLUMN alignment JSONB CHECK (jsonb_typeof(alignment) = 'object');
    CREATE INDEX tracks_second_parent ON tracks (second_parent_track_id);
    ALTER TABLE guild_settings ADD COLUMN confirm_above BIGINT NOT NULL DEFAULT 20 CHECK (confirm_above >= 0);

    CREATE TABLE personas (
        id         BIGINT    GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        guild_id   BIGINT    NOT NULL,
        provider   TEXT      NOT NULL,
        name       TEXT      NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
        persona_id TEXT      NOT NULL,
        track_id   BIGINT    REFERENCES tracks (id),
        created_by BIGINT    NOT NULL,
        created_at unix_time NOT NULL
    );
    -- one name per server and provider, whatever its case; also the index a server's list is read by
    CREATE UNIQUE INDEX personas_name ON personas (guild_id, provider, lower(name));
    """,
    # 3: posted exactly once (SQLite's step 5): the intent to post each track of a job, with the nonce every
    # attempt from any process sends, recorded before posting (one per job and track: the primary key is the rule)
    r"""
    CREATE TABLE delivery_claims (
        job_id     BIGINT    NOT NULL REFERENCES jobs (id),
        slot       BIGINT    NOT NULL,
        nonce      TEXT      NOT NULL CHECK (length(nonce) BETWEEN 1 AND 25),
        owner      TEXT      NOT NULL,
        claimed_at unix_time NOT NULL,
        PRIMARY KEY (job_id, slot)
    );
    """,
    # 4: many processes on one database (SQLite's step 6). A job is leased to one worker (``owner``) while it is
    # alive (its ``workers`` row's heartbeat); the global queue marks jobs ready (their status message exists) and
    # dispatched (holding one of the provider's slots); ``cache_changes`` is the feed every process polls to drop
    # cached settings, block rules and retired operations another process changed (written by triggers, so no
    # store method can forget it); ``channel_edits`` spaces status-message edits per channel across processes.
    r"""
    ALTER TABLE jobs ADD COLUMN owner TEXT;
    ALTER TABLE jobs ADD COLUMN ready_at unix_time;
    ALTER TABLE jobs ADD COLUMN dispatched_at unix_time;
    -- a worker's jobs (heartbeat: lost leases; release), and the take-over scan: every job not yet delivered
    CREATE INDEX jobs_leased ON jobs (owner, id) WHERE delivered_at IS NULL;
    -- the global queue, and the provider's slots taken: live jobs by provider
    CREATE INDEX jobs_waiting ON jobs (provider, id) WHERE state IN ('queued', 'submitted', 'running');

    CREATE TABLE workers (
        id           TEXT      PRIMARY KEY,
        heartbeat_at unix_time NOT NULL,
        started_at   unix_time NOT NULL
    );

    CREATE TABLE cache_changes (
        seq        BIGINT    GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        scope      TEXT      NOT NULL CHECK (scope IN ('settings', 'blocklist', 'catalog')),
        guild_id   BIGINT    NOT NULL,
        changed_at unix_time NOT NULL DEFAULT extract(epoch FROM clock_timestamp())
    );
    CREATE INDEX cache_changes_at ON cache_changes (changed_at);

    CREATE TABLE channel_edits (
        channel_id BIGINT    PRIMARY KEY,
        next_at    unix_time NOT NULL
    );

    CREATE FUNCTION tunesmith_guild_changed() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
    BEGIN
        IF TG_OP = 'DELETE' THEN
            INSERT INTO cache_changes (scope, guild_id) VALUES (TG_ARGV[0], OLD.guild_id);
        ELSE
            INSERT INTO cache_changes (scope, guild_id) VALUES (TG_ARGV[0], NEW.guild_id);
        END IF;
        RETURN NULL;
    END $$;
    CREATE FUNCTION tunesmith_catalog_changed() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
    BEGIN
        INSERT INTO cache_changes (scope, guild_id) VALUES ('catalog', 0);
        RETURN NULL;
    END $$;
    CREATE TRIGGER settings_changed AFTER INSERT OR UPDATE OR DELETE ON guild_settings
        FOR EACH ROW EXECUTE FUNCTION tunesmith_guild_changed('settings');
    CREATE TRIGGER blocklist_changed AFTER INSERT OR UPDATE OR DELETE ON blocked_terms
        FOR EACH ROW EXECUTE FUNCTION tunesmith_guild_changed('blocklist');
    CREATE TRIGGER catalog_changed AFTER INSERT OR UPDATE OR DELETE ON retired_operations
        FOR EACH ROW EXECUTE FUNCTION tunesmith_catalog_changed();
    """,
    # 5: polls shared by every worker (SQLite's step 7): when a task was last polled, by any worker, so no worker
    # polls it again sooner than its schedule; a batched poll with room left fills it with other workers' tasks
    # due for a poll, found through an index of the jobs at the provider only (oldest first).
    r"""
    ALTER TABLE jobs ADD COLUMN polled_at unix_time;
    CREATE INDEX jobs_at_provider ON jobs (provider, submitted_at) WHERE state IN ('submitted', 'running');
    """,
)


class SchemaError(RuntimeError):
    """The database's schema cannot be used by this Tunesmith (newer than it knows, or no schema to use)."""


@dataclass(frozen=True, slots=True)
class Migrated:
    version: int  # the version now in force
    applied: int  # how many steps this call applied (0 when another process had done it)
    schema: str


def check_schema_name(schema: str) -> str:
    if not SCHEMA_NAME.match(schema):
        raise ValueError("a schema name is lower-case letters, digits and underscores (at most 63)")
    return schema


def who_migrates() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


async def target_schema(conn: asyncpg.Connection, schema: str | None) -> str:
    """The schema the store lives in: the one asked for, else the first existing one on the search_path."""
    if schema is not None:
        return check_schema_name(schema)
    current = await conn.fetchval("SELECT current_schema()")
    if current is None:
        raise SchemaError(
            "none of the schemas on the search_path exists: create the schema first "
            "(CREATE SCHEMA ...), or point the URL's search_path at one that exists"
        )
    return str(current)


async def migrate(conn: asyncpg.Connection, *, schema: str | None = None) -> Migrated:
    """Bring the schema up to date, creating it when ``schema`` is given and missing.

    The connection's search_path must lead to ``schema`` (the store sets it); everything runs in one transaction
    under the migration lock, so a concurrent start waits and then sees the steps applied.
    """
    async with conn.transaction():
        target = await target_schema(conn, schema)
        await conn.execute("SELECT pg_advisory_xact_lock($1, hashtext($2))", LOCK_MIGRATIONS, target)
        if schema is not None:
            await conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{target}"')  # a checked name: no quoting issue
        await conn.execute(_SCHEMA_VERSION)
        current = int(await conn.fetchval("SELECT COALESCE(MAX(version), 0) FROM schema_version"))
        if current > len(MIGRATIONS):
            raise SchemaError(
                f"the database is at schema {current}, newer than this Tunesmith knows ({len(MIGRATIONS)})"
            )
        by = who_migrates()
        for version, script in enumerate(MIGRATIONS[current:], start=current + 1):
            log.info("applying PostgreSQL migration %d to schema %s", version, target)
            await conn.execute(script)
            await conn.execute("INSERT INTO schema_version (version, applied_by) VALUES ($1, $2)", version, by)
        return Migrated(version=len(MIGRATIONS), applied=len(MIGRATIONS) - current, schema=target)
