"""Versioned schema migrations, applied in order at start-up. Never edit a shipped step: add a new one."""

from __future__ import annotations

import logging
import sqlite3

log = logging.getLogger(__name__)

# Times are REAL unix seconds (UTC). Ids from Discord are INTEGER snowflakes.
MIGRATIONS: tuple[str, ...] = (
    # 1: the first schema
    """
    CREATE TABLE guild_settings (
        guild_id              INTEGER PRIMARY KEY,
        budget                INTEGER NOT NULL,
        period                TEXT    NOT NULL CHECK (period IN ('day', 'week', 'month')),
        member_cap            INTEGER,
        reset_epoch           INTEGER NOT NULL DEFAULT 0,
        costs                 TEXT    NOT NULL DEFAULT '{}',
        max_jobs_member       INTEGER NOT NULL,
        max_jobs_server       INTEGER NOT NULL,
        allowed_channel_ids   TEXT    NOT NULL DEFAULT '[]',
        required_role_id      INTEGER,
        remix_threads         INTEGER NOT NULL DEFAULT 1,
        audit_channel_id      INTEGER,
        default_model         TEXT,
        cooldown_s            REAL    NOT NULL DEFAULT 0,
        use_default_blocklist INTEGER NOT NULL DEFAULT 1
    );
    CREATE TABLE member_caps (
        guild_id INTEGER NOT NULL,
        user_id  INTEGER NOT NULL,
        cap      INTEGER NOT NULL,
        PRIMARY KEY (guild_id, user_id)
    );
    CREATE TABLE tracks (
        id              INTEGER PRIMARY KEY AUTOINCREMENT,
        job_id          INTEGER REFERENCES jobs (id),
        guild_id        INTEGER NOT NULL,
        channel_id      INTEGER NOT NULL,
        author_id       INTEGER NOT NULL,
        provider        TEXT    NOT NULL,
        clip_id         TEXT    NOT NULL,
        title           TEXT,
        audio_url       TEXT,
        image_url       TEXT,
        duration_s      REAL,
        lyrics          TEXT,
        tags            TEXT,
        model           TEXT,
        operation       TEXT    NOT NULL,
        parent_track_id INTEGER REFERENCES tracks (id),
        message_id      INTEGER,
        thread_id       INTEGER,
        created_at      REAL    NOT NULL,
        deleted         INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX tracks_guild_recent ON tracks (guild_id, deleted, id DESC);
    CREATE INDEX tracks_author_recent ON tracks (guild_id, author_id, id DESC);
    CREATE INDEX tracks_parent ON tracks (parent_track_id);
    CREATE INDEX tracks_job ON tracks (job_id);
    CREATE TABLE jobs (
        id                INTEGER PRIMARY KEY AUTOINCREMENT,
        guild_id          INTEGER NOT NULL,
        channel_id        INTEGER NOT NULL,
        user_id           INTEGER NOT NULL,
        operation         TEXT    NOT NULL,
        request           TEXT    NOT NULL,
        provider          TEXT    NOT NULL,
        state             TEXT    NOT NULL,
        cost              INTEGER NOT NULL,
        period_key        TEXT    NOT NULL,
        parent_track_id   INTEGER REFERENCES tracks (id),
        task_id           TEXT,
        webhook_secret    TEXT, -- unused: per-job secrets are derived from a key kept outside the database
        status_message_id INTEGER,
        failure_kind      TEXT,
        failure_message   TEXT,
        result_url        TEXT,
        result_text       TEXT,
        created_at        REAL    NOT NULL,
        submitted_at      REAL,
        finished_at       REAL,
        delivered_at      REAL,
        poll_count        INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX jobs_active ON jobs (state) WHERE state IN ('queued', 'submitted', 'running');
    CREATE INDEX jobs_undelivered ON jobs (delivered_at) WHERE delivered_at IS NULL;
    CREATE INDEX jobs_member ON jobs (guild_id, user_id, id DESC);
    CREATE INDEX jobs_task ON jobs (provider, task_id);
    CREATE TABLE ledger (
        id         INTEGER PRIMARY KEY AUTOINCREMENT,
        guild_id   INTEGER NOT NULL,
        user_id    INTEGER,
        job_id     INTEGER REFERENCES jobs (id),
        kind       TEXT    NOT NULL CHECK (kind IN ('reserve', 'commit', 'refund', 'grant', 'reset')),
        amount     INTEGER NOT NULL,
        period_key TEXT    NOT NULL,
        note       TEXT,
        actor_id   INTEGER,
        created_at REAL    NOT NULL
    );
    CREATE INDEX ledger_period ON ledger (guild_id, period_key);
    CREATE INDEX ledger_member ON ledger (guild_id, user_id, period_key);
    -- at most one settlement (commit or refund) per job: the database itself refuses a double refund
    CREATE UNIQUE INDEX ledger_one_settlement ON ledger (job_id) WHERE kind IN ('commit', 'refund');
    CREATE TRIGGER ledger_append_only_update BEFORE UPDATE ON ledger
        BEGIN SELECT RAISE(ABORT, 'the ledger is append-only'); END;
    CREATE TRIGGER ledger_append_only_delete BEFORE DELETE ON ledger
        BEGIN SELECT RAISE(ABORT, 'the ledger is append-only'); END;
    CREATE TABLE webhook_events (
        event_key   TEXT PRIMARY KEY,
        task_id     TEXT NOT NULL,
        received_at REAL NOT NULL
    );
    CREATE TABLE blocked_terms (
        id         INTEGER PRIMARY KEY AUTOINCREMENT,
        guild_id   INTEGER NOT NULL,
        pattern    TEXT    NOT NULL,
        is_regex   INTEGER NOT NULL,
        added_by   INTEGER,
        created_at REAL    NOT NULL,
        UNIQUE (guild_id, pattern, is_regex)
    );
    CREATE TABLE bans (
        guild_id   INTEGER NOT NULL,
        user_id    INTEGER NOT NULL,
        reason     TEXT,
        banned_by  INTEGER,
        created_at REAL    NOT NULL,
        PRIMARY KEY (guild_id, user_id)
    );
    CREATE TABLE retired_operations (
        provider   TEXT NOT NULL,
        operation  TEXT NOT NULL,
        message    TEXT,
        retired_at REAL NOT NULL,
        PRIMARY KEY (provider, operation)
    );
    """,
    # 2: a job's reservation is written by the statement that writes the job, so the two cannot come apart
    # (and admission needs no transaction of its own, which saves three round trips to the database thread)
    """
    CREATE TRIGGER jobs_reserve_cost AFTER INSERT ON jobs WHEN NEW.cost > 0
    BEGIN
        INSERT INTO ledger (guild_id, user_id, job_id, kind, amount, period_key, created_at)
        VALUES (NEW.guild_id, NEW.user_id, NEW.id, 'reserve', -NEW.cost, NEW.period_key, NEW.created_at);
    END;
    """,
    # 3: processed webhook ids expire after a retention period; the pruning reads them by age
    """
    CREATE INDEX webhook_events_received ON webhook_events (received_at);
    """,
    # 4: Sonic in Discord: a mashup's second parent, a job's follow-up step (an extension joined into the full
    # song), a track's lyrics timeline, the confirmation threshold per server, and the server's personas
    """
    ALTER TABLE jobs ADD COLUMN second_parent_track_id INTEGER REFERENCES tracks (id);
    ALTER TABLE jobs ADD COLUMN followup TEXT;
    ALTER TABLE tracks ADD COLUMN second_parent_track_id INTEGER REFERENCES tracks (id);
    ALTER TABLE tracks ADD COLUMN alignment TEXT;
    CREATE INDEX tracks_second_parent ON tracks (second_parent_track_id) WHERE second_parent_track_id IS NOT NULL;
    ALTER TABLE guild_settings ADD COLUMN confirm_above INTEGER NOT NULL DEFAULT 20;
    CREATE TABLE personas (
        id         INTEGER PRIMARY KEY AUTOINCREMENT,
        guild_id   INTEGER NOT NULL,
        provider   TEXT    NOT NULL,
        name       TEXT    NOT NULL,
        persona_id TEXT    NOT NULL,
        track_id   INTEGER REFERENCES tracks (id),
        created_by INTEGER NOT NULL,
        created_at REAL    NOT NULL
    );
    CREATE UNIQUE INDEX personas_name ON personas (guild_id, provider, name COLLATE NOCASE);
    """,
    # 5: posted exactly once: the intent to post each track of a job, with the nonce every attempt sends, recorded
    # before posting (one per job and track: the primary key is the rule)
    """
    CREATE TABLE delivery_claims (
        job_id     INTEGER NOT NULL REFERENCES jobs (id),
        slot       INTEGER NOT NULL,
        nonce      TEXT    NOT NULL CHECK (length(nonce) BETWEEN 1 AND 25),
        owner      TEXT    NOT NULL,
        claimed_at REAL    NOT NULL,
        PRIMARY KEY (job_id, slot)
    );
    """,
    # 6: many processes on one database (PostgreSQL's step 4; SQLite runs
    # one process, but keeps the same tables so the cluster port behaves the same on both): a job's lease (owner,
    # its worker's heartbeat), the global queue (ready, dispatched), the change feed that invalidates caches, and
    # the per-channel edit budget.
    """
    ALTER TABLE jobs ADD COLUMN owner TEXT;
    ALTER TABLE jobs ADD COLUMN ready_at REAL;
    ALTER TABLE jobs ADD COLUMN dispatched_at REAL;
    CREATE INDEX jobs_leased ON jobs (owner) WHERE delivered_at IS NULL;
    CREATE INDEX jobs_waiting ON jobs (provider, id) WHERE state = 'queued';
    CREATE TABLE workers (
        id           TEXT PRIMARY KEY,
        heartbeat_at REAL NOT NULL,
        started_at   REAL NOT NULL
    );
    CREATE TABLE cache_changes (
        seq        INTEGER PRIMARY KEY AUTOINCREMENT,
        scope      TEXT    NOT NULL,
        guild_id   INTEGER NOT NULL,
        changed_at REAL    NOT NULL
    );
    CREATE INDEX cache_changes_at ON cache_changes (changed_at);
    CREATE TABLE channel_edits (
        channel_id INTEGER PRIMARY KEY,
        next_at    REAL    NOT NULL
    );
    CREATE TRIGGER settings_change_inserted AFTER INSERT ON guild_settings BEGIN
        INSERT INTO cache_changes (scope, guild_id, changed_at)
        VALUES ('settings', NEW.guild_id, (julianday('now') - 2440587.5) * 86400.0);
    END;
    CREATE TRIGGER settings_change_updated AFTER UPDATE ON guild_settings BEGIN
        INSERT INTO cache_changes (scope, guild_id, changed_at)
        VALUES ('settings', NEW.guild_id, (julianday('now') - 2440587.5) * 86400.0);
    END;
    CREATE TRIGGER settings_change_deleted AFTER DELETE ON guild_settings BEGIN
        INSERT INTO cache_changes (scope, guild_id, changed_at)
        VALUES ('settings', OLD.guild_id, (julianday('now') - 2440587.5) * 86400.0);
    END;
    CREATE TRIGGER blocklist_change_inserted AFTER INSERT ON blocked_terms BEGIN
        INSERT INTO cache_changes (scope, guild_id, changed_at)
        VALUES ('blocklist', NEW.guild_id, (julianday('now') - 2440587.5) * 86400.0);
    END;
    CREATE TRIGGER blocklist_change_updated AFTER UPDATE ON blocked_terms BEGIN
        INSERT INTO cache_changes (scope, guild_id, changed_at)
        VALUES ('blocklist', NEW.guild_id, (julianday('now') - 2440587.5) * 86400.0);
    END;
    CREATE TRIGGER blocklist_change_deleted AFTER DELETE ON blocked_terms BEGIN
        INSERT INTO cache_changes (scope, guild_id, changed_at)
        VALUES ('blocklist', OLD.guild_id, (julianday('now') - 2440587.5) * 86400.0);
    END;
    CREATE TRIGGER catalog_change_inserted AFTER INSERT ON retired_operations BEGIN
        INSERT INTO cache_changes (scope, guild_id, changed_at)
        VALUES ('catalog', 0, (julianday('now') - 2440587.5) * 86400.0);
    END;
    CREATE TRIGGER catalog_change_updated AFTER UPDATE ON retired_operations BEGIN
        INSERT INTO cache_changes (scope, guild_id, changed_at)
        VALUES ('catalog', 0, (julianday('now') - 2440587.5) * 86400.0);
    END;
    CREATE TRIGGER catalog_change_deleted AFTER DELETE ON retired_operations BEGIN
        INSERT INTO cache_changes (scope, guild_id, changed_at)
        VALUES ('catalog', 0, (julianday('now') - 2440587.5) * 86400.0);
    END;
    """,
    # 7: polls shared by every worker (PostgreSQL's step 5; SQLite runs one process, same columns for the port)
    """
    ALTER TABLE jobs ADD COLUMN polled_at REAL;
    CREATE INDEX jobs_at_provider ON jobs (provider, submitted_at) WHERE state IN ('submitted', 'running');
    """,
)


def migrate(conn: sqlite3.Connection) -> int:
    """Bring the schema up to date; returns the version now in force.

    The version is read inside the write transaction (BEGIN IMMEDIATE) that applies the steps, so two processes
    opening a new file at once migrate it once: the second waits for the first's commit (the busy timeout), then
    reads the new version and has nothing left to do. Every pending step commits together, or none does.
    """
    conn.execute("BEGIN IMMEDIATE")
    try:
        row = conn.execute("PRAGMA user_version").fetchone()
        current = int(row[0]) if row else 0
        if current > len(MIGRATIONS):
            raise RuntimeError(
                f"the database is at schema {current}, newer than this Tunesmith knows ({len(MIGRATIONS)})"
            )
        for version, script in enumerate(MIGRATIONS[current:], start=current + 1):
            log.info("applying database migration %d", version)
            # Statement by statement: executescript would commit the transaction first.
            for statement in _statements(script):
                conn.execute(statement)
        if current < len(MIGRATIONS):
            conn.execute(f"PRAGMA user_version = {len(MIGRATIONS)}")
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return len(MIGRATIONS)


def _statements(script: str) -> list[str]:
    """A script's statements, each whole (a trigger's BEGIN ... END included: sqlite3.complete_statement knows)."""
    found: list[str] = []
    pending = ""
    for piece in script.split(";"):
        pending += piece + ";"
        if sqlite3.complete_statement(pending):
            if pending.strip(" \t\n;"):
                found.append(pending.strip())
            pending = ""
    return found
