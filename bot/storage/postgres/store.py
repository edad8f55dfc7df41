"""The PostgreSQL store: the Store port on asyncpg, for bots that outgrow one SQLite file.

- A pool of connections; every statement is a constant string, so asyncpg prepares it once per connection and
  reuses the prepared statement (its statement cache) from then on.
- Work that writes several statements that must stand or fall together runs in an explicit transaction
  (``conn.transaction()``); work that is one statement (data-modifying CTEs included) is atomic on its own.
- Admission is atomic across processes: :meth:`PostgresStore.admit` takes a per-guild advisory lock for its
  transaction (``pg_advisory_xact_lock``), then reads the snapshot, decides and writes the job. Every admission
  of a guild, from any connection of any process, queues on that lock, so no two read the same balances; other
  guilds admit in parallel. Why a lock and not SERIALIZABLE: admissions of one guild all read the same ledger
  sums, so under load serializable transactions would mostly fail and retry; the lock makes them wait their turn
  instead, once each. Why advisory and not a row lock: no table write per admission (no WAL, no dead rows), one
  statement, released by commit or rollback or a dropped connection, and it works behind a transaction-pooling
  proxy. Everything else that changes what admission counts (refunds, finished jobs, grants) only ever frees
  credits or slots, so it needs no lock: an admission sees it or decides as if just before it.
- Many processes share one database: jobs are leased to one process at a time (bot/storage/postgres/cluster.py,
  bot/core/jobs/cluster.py), so the bot opens it with ``lock=False``. ``lock=True`` still takes a session advisory
  lock that keeps a second process off the schema (a tool that must be alone on it).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import asyncpg

from bot.database_url import password_of, redact
from bot.domain.errors import AlreadyRunning, DatabaseUnavailable
from bot.domain.lyrics_timeline import LyricsAlignment
from bot.domain.models import (
    DraftedLyrics,
    GuildSettings,
    Job,
    JobState,
    LedgerEntry,
    Operation,
    Period,
    Persona,
    Track,
)
from bot.domain.outcomes import Delivery, DeliveryClaim, Failure
from bot.domain.ports import (
    AdmissionDecision,
    AdmissionSnapshot,
    Balances,
    Ban,
    BlockedTerm,
    Completion,
    Finished,
    JobTicket,
    NewPersona,
    TrackPage,
    WebhookReceipt,
)
from bot.domain.requester import Visible
from bot.storage.postgres.cluster import PostgresCluster
from bot.storage.postgres.migrations import (
    LOCK_ADMISSION,
    LOCK_PROCESS,
    SchemaError,
    check_schema_name,
    migrate,
    target_schema,
)

log = logging.getLogger(__name__)

_ACTIVE = "('queued', 'submitted', 'running')"

# --- the statements (constants: prepared once per connection) -----------------------------------------------------
_BALANCES = (
    "SELECT"
    " (SELECT COALESCE(SUM(amount), 0)::bigint FROM ledger WHERE guild_id = $1 AND period_key = $3"
    "   AND NOT (kind = 'grant' AND user_id IS NOT NULL)) AS server_sum,"
    " (SELECT COALESCE(SUM(amount), 0)::bigint FROM ledger WHERE guild_id = $1 AND user_id = $2"
    "   AND period_key = $3) AS member_sum,"
    " (SELECT cap FROM member_caps WHERE guild_id = $1 AND user_id = $2) AS member_cap,"
    f" (SELECT COUNT(*) FROM jobs WHERE guild_id = $1 AND user_id = $2 AND state IN {_ACTIVE}) AS member_active,"
    f" (SELECT COUNT(*) FROM jobs WHERE guild_id = $1 AND state IN {_ACTIVE}) AS server_active"
)
# Everything admission decides on, in one statement: the balances, the member's ban and latest job.
ADMISSION_SNAPSHOT = (
    _BALANCES + ","
    " b.user_id IS NOT NULL AS banned, b.reason AS ban_reason, b.banned_by, b.created_at AS banned_at,"
    " CASE WHEN $4::boolean THEN (SELECT MAX(created_at) FROM jobs WHERE guild_id = $1 AND user_id = $2"
    "   AND operation <> 'lyrics') END AS last_job_at"
    " FROM (SELECT 1) AS one LEFT JOIN bans b ON b.guild_id = $1 AND b.user_id = $2"
)
ADMISSION_LOCK = f"SELECT pg_advisory_xact_lock({LOCK_ADMISSION}, hashint8($1))"
INSERT_JOB = (
    "INSERT INTO jobs (guild_id, channel_id, user_id, operation, request, provider, state, cost, period_key,"
    " parent_track_id, created_at, second_parent_track_id, owner)"
    " VALUES ($1, $2, $3, $4, $5, $6, 'queued', $7, $8, $9, $10, $11, $12) RETURNING id"
)
JOB = "SELECT * FROM jobs WHERE id = $1"
UNFINISHED_JOBS = f"SELECT * FROM jobs WHERE state IN {_ACTIVE} ORDER BY id"
UNDELIVERED_JOBS = f"SELECT * FROM jobs WHERE delivered_at IS NULL AND state NOT IN {_ACTIVE} ORDER BY id"
ACTIVE_JOBS_OF = (
    f"SELECT * FROM jobs WHERE guild_id = $1 AND user_id = $2 AND state IN {_ACTIVE} ORDER BY id DESC LIMIT $3"
)
ATTACH_STATUS = "UPDATE jobs SET status_message_id = $2, channel_id = COALESCE($3, channel_id) WHERE id = $1"
MARK_SUBMITTED = (
    "UPDATE jobs SET state = 'submitted', task_id = $2, submitted_at = $3 WHERE id = $1 AND state = 'queued'"
)
MARK_RUNNING = "UPDATE jobs SET state = 'running', poll_count = $2 WHERE id = $1 AND state IN ('queued', 'submitted')"
REMEMBER_WEBHOOKS = (
    "INSERT INTO webhook_events (event_key, task_id, received_at)"
    " SELECT k, t, $3 FROM unnest($1::text[], $2::text[]) AS w(k, t) ON CONFLICT DO NOTHING"
)
# The conditional update is the guard: a webhook and a poll may race; the first one does the work. The commit line
# is written by the same statement, from the rows that moved.
FINISH_JOBS = (
    "WITH moved AS ("
    f" UPDATE jobs SET state = 'succeeded', finished_at = $2 WHERE id = ANY($1::bigint[]) AND state IN {_ACTIVE}"
    " RETURNING id, guild_id, user_id, period_key),"
    " settled AS (INSERT INTO ledger (guild_id, user_id, job_id, kind, amount, period_key, created_at)"
    " SELECT guild_id, user_id, id, 'commit', 0, period_key, $2 FROM moved)"
    " SELECT id FROM moved"
)
SET_RESULT_URLS = (
    "UPDATE jobs SET result_url = r.url, result_text = COALESCE(r.result, jobs.result_text)"
    " FROM unnest($1::bigint[], $2::text[], $3::text[]) AS r(id, url, result) WHERE jobs.id = r.id"
)
INSERT_TRACKS = (
    "INSERT INTO tracks (job_id, guild_id, channel_id, author_id, provider, clip_id, title, audio_url, image_url,"
    " duration_s, lyrics, tags, model, operation, parent_track_id, second_parent_track_id, alignment, created_at)"
    " SELECT job_id, guild_id, channel_id, author_id, provider, clip_id, title, audio_url, image_url, duration_s,"
    " lyrics, tags, model, operation, parent_track_id, second_parent_track_id, alignment::jsonb, $18"
    " FROM unnest($1::bigint[], $2::bigint[], $3::bigint[],"
    " $4::bigint[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::double precision[],"
    " $11::text[], $12::text[], $13::text[], $14::text[], $15::bigint[], $16::bigint[], $17::text[])"
    " WITH ORDINALITY AS c(job_id, guild_id, channel_id, author_id, provider, clip_id, title, audio_url, image_url,"
    " duration_s, lyrics, tags, model, operation, parent_track_id, second_parent_track_id, alignment, ord)"
    " ORDER BY ord RETURNING *"
)
# Ends a live job and refunds its reservation in one statement; a job that already ended matches nothing.
END_JOB = (
    "WITH ended AS ("
    " UPDATE jobs SET state = $2, finished_at = $3, failure_kind = $4, failure_message = $5, delivered_at = $6"
    f" WHERE id = $1 AND state IN {_ACTIVE} RETURNING *),"
    " refunded AS (INSERT INTO ledger (guild_id, user_id, job_id, kind, amount, period_key, note, created_at)"
    " SELECT guild_id, user_id, id, 'refund', cost, period_key, $4, $3 FROM ended WHERE cost > 0)"
    " SELECT * FROM ended"
)
COMPLETE_LYRICS = (
    "WITH done AS ("
    " UPDATE jobs SET state = 'succeeded', finished_at = $2, delivered_at = $2, result_text = $3"
    f" WHERE id = $1 AND state IN {_ACTIVE} RETURNING id, guild_id, user_id, period_key)"
    " INSERT INTO ledger (guild_id, user_id, job_id, kind, amount, period_key, created_at)"
    " SELECT guild_id, user_id, id, 'commit', 0, period_key, $2 FROM done"
)
COMPLETE_AT_ONCE = (
    "WITH done AS ("
    " UPDATE jobs SET state = 'succeeded', finished_at = $2, delivered_at = $2, result_text = $3"
    f" WHERE id = $1 AND state IN {_ACTIVE} RETURNING id, guild_id, user_id, period_key),"
    " settled AS (INSERT INTO ledger (guild_id, user_id, job_id, kind, amount, period_key, created_at)"
    " SELECT guild_id, user_id, id, 'commit', 0, period_key, $2 FROM done)"
    " SELECT id FROM done"
)
RECORD_FOLLOWUP = f"UPDATE jobs SET task_id = $2, followup = $3 WHERE id = $1 AND state IN {_ACTIVE}"
CLAIM_DELIVERIES = (
    "INSERT INTO delivery_claims (job_id, slot, nonce, owner, claimed_at)"
    " SELECT $1, c.slot, c.nonce, $4, $5 FROM unnest($2::bigint[], $3::text[]) AS c(slot, nonce)"
    " ON CONFLICT (job_id, slot) DO NOTHING RETURNING slot, nonce, owner, claimed_at"
)
DELIVERY_CLAIMS = (
    "SELECT slot, nonce, owner, claimed_at FROM delivery_claims WHERE job_id = $1 AND slot = ANY($2::bigint[])"
)
RECORD_DELIVERIES = (
    "WITH posted AS ("
    " UPDATE tracks SET message_id = d.message_id, thread_id = COALESCE(d.thread_id, tracks.thread_id)"
    " FROM unnest($1::bigint[], $2::bigint[], $3::bigint[]) AS d(id, message_id, thread_id) WHERE tracks.id = d.id)"
    " UPDATE jobs SET delivered_at = $5 WHERE id = ANY($4::bigint[])"
)
TRACK = "SELECT * FROM tracks WHERE id = $1"
TRACKS_OF_JOB = "SELECT * FROM tracks WHERE job_id = $1 ORDER BY id"
# The rows travel inside the recursion (no join back to tracks at the end, which the planner may turn into a
# scan of the whole table once rows are wide); ``depth`` comes along and is ignored by the Track model.
ANCESTORS = (
    "WITH RECURSIVE chain AS ("
    " SELECT p.*, 1 AS depth FROM tracks c JOIN tracks p ON p.id = c.parent_track_id WHERE c.id = $1"
    " UNION ALL"
    " SELECT p.*, chain.depth + 1 FROM chain JOIN tracks p ON p.id = chain.parent_track_id WHERE chain.depth < $2)"
    " SELECT * FROM chain ORDER BY depth"
)
CHILDREN = (
    "SELECT * FROM tracks WHERE (parent_track_id = $1 OR second_parent_track_id = $1) AND NOT deleted ORDER BY id"
)
RECENT_TRACKS = "SELECT * FROM tracks WHERE guild_id = $1 AND NOT deleted ORDER BY id DESC LIMIT $2"
# ILIKE: case-insensitive like SQLite's LIKE (and beyond ASCII). Backslash is the escape character.
FIND_TRACKS = (
    "SELECT * FROM tracks WHERE guild_id = $1 AND NOT deleted AND (title ILIKE $2 OR tags ILIKE $2"
    " OR id::text = $3) ORDER BY id DESC LIMIT $4"
)
COUNT_GUILD_TRACKS = "SELECT COUNT(*) FROM tracks WHERE guild_id = $1 AND NOT deleted"
GUILD_TRACK_PAGE = "SELECT * FROM tracks WHERE guild_id = $1 AND NOT deleted ORDER BY id DESC LIMIT $2 OFFSET $3"
COUNT_AUTHOR_TRACKS = "SELECT COUNT(*) FROM tracks WHERE guild_id = $1 AND author_id = $2 AND NOT deleted"
AUTHOR_TRACK_PAGE = (
    "SELECT * FROM tracks WHERE guild_id = $1 AND author_id = $2 AND NOT deleted ORDER BY id DESC LIMIT $3 OFFSET $4"
)
# What a member may see: the tracks of the channels they can view, and their own. An = ANY of a bound array (at most
# a few hundred channels and threads per server) filtered along the (guild_id, id) indexes; no index of its own.
_SEEN = "(channel_id = ANY($2::bigint[]) OR author_id = $3)"
COUNT_SEEN_GUILD_TRACKS = f"SELECT COUNT(*) FROM tracks WHERE guild_id = $1 AND NOT deleted AND {_SEEN}"
SEEN_GUILD_TRACK_PAGE = (
    f"SELECT * FROM tracks WHERE guild_id = $1 AND NOT deleted AND {_SEEN} ORDER BY id DESC LIMIT $4 OFFSET $5"
)
_SEEN_BY = "(channel_id = ANY($3::bigint[]) OR author_id = $4)"
COUNT_SEEN_AUTHOR_TRACKS = (
    f"SELECT COUNT(*) FROM tracks WHERE guild_id = $1 AND author_id = $2 AND NOT deleted AND {_SEEN_BY}"
)
SEEN_AUTHOR_TRACK_PAGE = (
    "SELECT * FROM tracks WHERE guild_id = $1 AND author_id = $2 AND NOT deleted"
    f" AND {_SEEN_BY} ORDER BY id DESC LIMIT $5 OFFSET $6"
)
GUILD_TRACK_CHANNELS = "SELECT DISTINCT channel_id FROM tracks WHERE guild_id = $1 AND NOT deleted"
AUTHOR_TRACK_CHANNELS = "SELECT DISTINCT channel_id FROM tracks WHERE guild_id = $1 AND author_id = $2 AND NOT deleted"
SET_THREAD = "UPDATE tracks SET thread_id = $2 WHERE id = $1"
SET_ALIGNMENT = "UPDATE tracks SET alignment = $2 WHERE id = $1"
DELETE_TRACK = "UPDATE tracks SET deleted = TRUE WHERE id = $1 AND NOT deleted"
BALANCES = _BALANCES
LEDGER_OF_JOB = "SELECT * FROM ledger WHERE job_id = $1 ORDER BY id"
INSERT_LEDGER = (
    "INSERT INTO ledger (guild_id, user_id, job_id, kind, amount, period_key, note, actor_id, created_at)"
    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
)
DELETE_CAP = "DELETE FROM member_caps WHERE guild_id = $1 AND user_id = $2"
SET_CAP = (
    "INSERT INTO member_caps (guild_id, user_id, cap) VALUES ($1, $2, $3)"
    " ON CONFLICT (guild_id, user_id) DO UPDATE SET cap = excluded.cap"
)
GUILD_SETTINGS = "SELECT * FROM guild_settings WHERE guild_id = $1"
_SETTINGS_COLUMNS = (
    "guild_id",
    "budget",
    "period",
    "member_cap",
    "reset_epoch",
    "costs",
    "max_jobs_member",
    "max_jobs_server",
    "allowed_channel_ids",
    "required_role_id",
    "remix_threads",
    "audit_channel_id",
    "default_model",
    "cooldown_s",
    "use_default_blocklist",
    "confirm_above",
)
SAVE_SETTINGS = (
    f"INSERT INTO guild_settings ({', '.join(_SETTINGS_COLUMNS)})"
    f" VALUES ({', '.join(f'${i}' for i in range(1, len(_SETTINGS_COLUMNS) + 1))})"
    f" ON CONFLICT (guild_id) DO UPDATE SET {', '.join(f'{c} = excluded.{c}' for c in _SETTINGS_COLUMNS[1:])}"
)
BLOCKED_TERMS = "SELECT id, pattern, is_regex FROM blocked_terms WHERE guild_id = $1 ORDER BY id"
ADD_BLOCKED_TERM = (
    "INSERT INTO blocked_terms (guild_id, pattern, is_regex, added_by, created_at) VALUES ($1, $2, $3, $4, $5)"
    " ON CONFLICT DO NOTHING"
)
REMOVE_BLOCKED_TERM = "DELETE FROM blocked_terms WHERE guild_id = $1 AND pattern = $2"
BAN = (
    "INSERT INTO bans (guild_id, user_id, reason, banned_by, created_at) VALUES ($1, $2, $3, $4, $5)"
    " ON CONFLICT (guild_id, user_id) DO UPDATE SET reason = excluded.reason, banned_by = excluded.banned_by"
)
UNBAN = "DELETE FROM bans WHERE guild_id = $1 AND user_id = $2"
BANS = "SELECT * FROM bans WHERE guild_id = $1 ORDER BY created_at"
RETIRED_OPERATIONS = "SELECT operation, message FROM retired_operations WHERE provider = $1"
RETIRE_OPERATION = (
    "INSERT INTO retired_operations (provider, operation, message, retired_at) VALUES ($1, $2, $3, $4)"
    " ON CONFLICT DO NOTHING"
)
REINSTATE_OPERATION = "DELETE FROM retired_operations WHERE provider = $1 AND operation = $2"
RECORD_WEBHOOK = (
    "INSERT INTO webhook_events (event_key, task_id, received_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING"
)
PRUNE_WEBHOOKS = "DELETE FROM webhook_events WHERE received_at < $1"
# A persona and the settlement of the job that made it, in one statement; a taken name writes neither.
SAVE_PERSONA = (
    "WITH kept AS (INSERT INTO personas (guild_id, provider, name, persona_id, track_id, created_by, created_at)"
    " VALUES ($2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING RETURNING *),"
    " done AS (UPDATE jobs SET state = 'succeeded', finished_at = $8, delivered_at = $8,"
    " result_text = (SELECT json_build_object('persona', id)::text FROM kept)"
    f" WHERE id = $1 AND state IN {_ACTIVE} AND EXISTS (SELECT 1 FROM kept)"
    " RETURNING id, guild_id, user_id, period_key),"
    " settled AS (INSERT INTO ledger (guild_id, user_id, job_id, kind, amount, period_key, created_at)"
    " SELECT guild_id, user_id, id, 'commit', 0, period_key, $8 FROM done)"
    " SELECT * FROM kept"
)
PERSONAS = "SELECT * FROM personas WHERE guild_id = $1 AND provider = $2 ORDER BY lower(name), id"
PERSONA = "SELECT * FROM personas WHERE id = $1"
DELETE_PERSONA = "DELETE FROM personas WHERE id = $1"


# --- rows to the domain -------------------------------------------------------------------------------------------
def _job(row: asyncpg.Record) -> Job:
    return Job.model_validate(dict(row))


def _track(row: asyncpg.Record) -> Track:
    return Track.model_validate(dict(row))


def _persona(row: asyncpg.Record) -> Persona:
    return Persona.model_validate(dict(row))


def _alignment_json(alignment: LyricsAlignment | None) -> str | None:
    return alignment.model_dump_json() if alignment is not None and not alignment.empty else None


def _settings(row: asyncpg.Record) -> GuildSettings:
    return GuildSettings.model_validate(dict(row))


def _balances(row: asyncpg.Record) -> Balances:
    return Balances(
        server_sum=int(row["server_sum"]),
        member_sum=int(row["member_sum"]),
        member_cap=None if row["member_cap"] is None else int(row["member_cap"]),
        member_active=int(row["member_active"]),
        server_active=int(row["server_active"]),
    )


def _count(status: str) -> int:
    """Rows a command touched, from its status tag ("UPDATE 1", "INSERT 0 1", "DELETE 3")."""
    try:
        return int(status.rsplit(" ", 1)[-1])
    except ValueError:
        return 0


def _json(value: object) -> str:
    return json.dumps(value, separators=(",", ":"), allow_nan=False)


async def _init_connection(conn: asyncpg.Connection) -> None:
    # JSONB columns in and out as Python objects (requests, cost overrides).
    await conn.set_type_codec("jsonb", encoder=_json, decoder=json.loads, schema="pg_catalog")


async def _keep_session(conn: asyncpg.Connection) -> None:
    """What the pool does to a connection it takes back: nothing beyond asyncpg's own rollback of an unfinished
    transaction. The default reset (unlock advisory locks, close cursors, unlisten, RESET ALL) would cost a round
    trip per use, and the store leaves none of those behind: its settings are the pool's server settings, its
    advisory locks are transaction-level, it opens no cursor and listens to nothing."""


def _when(now: float) -> datetime:
    """A unix time as the models hold it (what pydantic makes of unix seconds: an aware UTC datetime)."""
    return datetime.fromtimestamp(now, UTC)


class PostgresStore(PostgresCluster):
    """The Store port (and the ClusterStore port, bot/storage/postgres/cluster.py) on PostgreSQL.
    ``await PostgresStore.open(url)``; close with :meth:`close`."""

    def __init__(self, pool: asyncpg.Pool, *, schema: str, version: int, holder: asyncpg.Connection | None) -> None:
        self._pool = pool
        self.schema = schema
        self.schema_version = version
        self._holder = holder  # the connection holding the one-process lock, when taken

    @classmethod
    async def open(
        cls,
        dsn: str,
        *,
        schema: str | None = None,
        lock: bool = True,
        min_size: int = 2,
        max_size: int = 10,
        connect_timeout: float = 10.0,
    ) -> PostgresStore:
        """Connect, take the one-process lock (unless ``lock=False``), migrate, and open the pool.

        ``schema``: keep the tables in this schema (created when missing) instead of the URL's search_path.
        Raises DatabaseUnavailable (one line, no password) when PostgreSQL cannot be reached or used, and
        AlreadyRunning when another bot process holds the lock.
        """
        where = redact(dsn)
        settings = {"application_name": "tunesmith"}
        if schema is not None:
            settings["search_path"] = check_schema_name(schema)
        holder: asyncpg.Connection | None = None
        pool: asyncpg.Pool | None = None
        try:
            holder = await asyncpg.connect(dsn, server_settings=settings, timeout=connect_timeout)
            target = await target_schema(holder, schema)
            if lock and not await holder.fetchval(
                "SELECT pg_try_advisory_lock($1, hashtext($2))", LOCK_PROCESS, target
            ):
                raise AlreadyRunning(
                    f"another Tunesmith process is using the database {where} (schema {target}); stop it first "
                    "(until jobs are leased across processes, two bots on one database would run the same jobs)"
                )
            migrated = await migrate(holder, schema=schema)
            pool = await asyncpg.create_pool(
                dsn,
                min_size=min_size,
                max_size=max_size,
                server_settings=settings,
                init=_init_connection,
                reset=_keep_session,
                timeout=connect_timeout,
            )
        except BaseException as exc:
            if pool is not None:
                await pool.close()
            if holder is not None:
                holder.terminate()
            if isinstance(exc, AlreadyRunning):
                raise
            if isinstance(exc, SchemaError):
                raise DatabaseUnavailable(f"could not use PostgreSQL at {where}: {exc}") from None
            if isinstance(exc, OSError | TimeoutError | asyncpg.PostgresError | asyncpg.InterfaceError):
                raise DatabaseUnavailable(_unavailable(dsn, exc)) from None
            raise
        if not lock:
            await holder.close()
            holder = None
        log.info("database ready: PostgreSQL at %s, schema %s (version %d)", where, target, migrated.version)
        store = cls(pool, schema=target, version=migrated.version, holder=holder)
        if holder is not None:
            holder.add_termination_listener(store._lost_lock)
        return store

    def _lost_lock(self, conn: object) -> None:
        if conn is self._holder:  # not our own close(), which lets go of it first
            self._holder = None
            log.error(
                "lost the connection that keeps other Tunesmith processes off schema %s (the database restarted or "
                "dropped it): another bot could now start on this database; restart this one",
                self.schema,
            )

    async def close(self) -> None:
        await self._pool.close()
        holder, self._holder = self._holder, None
        if holder is not None:
            await holder.close()  # ends the session: the one-process lock goes with it

    # --- jobs ------------------------------------------------------------------------------------------------------
    async def admit(self, ticket: JobTicket, decide: AdmissionDecision) -> Job:
        request = dict(ticket.request)
        async with self._pool.acquire() as conn, conn.transaction():
            # Every admission of this guild waits here for the one before it to commit, so the snapshot read next
            # already counts it (READ COMMITTED: each statement sees what was committed when it started).
            await conn.execute(ADMISSION_LOCK, ticket.guild_id)
            row = await conn.fetchrow(
                ADMISSION_SNAPSHOT, ticket.guild_id, ticket.user_id, ticket.period_key, ticket.with_last_job
            )
            assert row is not None  # one row, always
            ban = (
                Ban(ticket.guild_id, ticket.user_id, row["ban_reason"], row["banned_by"], float(row["banned_at"]))
                if row["banned"]
                else None
            )
            last = row["last_job_at"]
            cost = decide(AdmissionSnapshot(_balances(row), ban, None if last is None else float(last)))
            # The reservation (-cost in the ledger) is written by a trigger on this insert.
            job_id = await conn.fetchval(
                INSERT_JOB,
                ticket.guild_id,
                ticket.channel_id,
                ticket.user_id,
                ticket.operation.value,
                request,
                ticket.provider,
                cost,
                ticket.period_key,
                ticket.parent_track_id,
                ticket.now,
                ticket.second_parent_track_id,
                ticket.owner,
            )
        return Job(
            id=int(job_id),
            guild_id=ticket.guild_id,
            channel_id=ticket.channel_id,
            user_id=ticket.user_id,
            operation=ticket.operation,
            request=request,
            provider=ticket.provider,
            state=JobState.QUEUED,
            cost=cost,
            period_key=ticket.period_key,
            parent_track_id=ticket.parent_track_id,
            second_parent_track_id=ticket.second_parent_track_id,
            created_at=_when(ticket.now),
        )

    async def job(self, job_id: int) -> Job | None:
        row = await self._pool.fetchrow(JOB, job_id)
        return _job(row) if row is not None else None

    async def unfinished_jobs(self) -> list[Job]:
        return [_job(r) for r in await self._pool.fetch(UNFINISHED_JOBS)]

    async def undelivered_jobs(self) -> list[Job]:
        return [_job(r) for r in await self._pool.fetch(UNDELIVERED_JOBS)]

    async def active_jobs_of(self, guild_id: int, user_id: int, *, limit: int = 25) -> list[Job]:
        return [_job(r) for r in await self._pool.fetch(ACTIVE_JOBS_OF, guild_id, user_id, limit)]

    async def attach_status_message(self, job_id: int, message_id: int, channel_id: int | None = None) -> None:
        await self._pool.execute(ATTACH_STATUS, job_id, message_id, channel_id)

    async def mark_submitted(self, job_id: int, task_id: str, now: float) -> bool:
        return _count(await self._pool.execute(MARK_SUBMITTED, job_id, task_id, now)) == 1

    async def mark_running(self, job_id: int, polls: int) -> bool:
        return _count(await self._pool.execute(MARK_RUNNING, job_id, polls)) == 1

    async def finish_jobs(
        self, completions: Sequence[Completion], webhooks: Sequence[WebhookReceipt], now: float
    ) -> dict[int, Finished]:
        by_id = {c.job.id: c for c in completions}
        async with self._pool.acquire() as conn, conn.transaction():
            if webhooks:
                await conn.execute(
                    REMEMBER_WEBHOOKS, [w.event_key for w in webhooks], [w.task_id for w in webhooks], now
                )
            if not by_id:
                return {}
            moved = {int(r["id"]) for r in await conn.fetch(FINISH_JOBS, list(by_id), now)}
            done = [by_id[j] for j in by_id if j in moved]
            results: dict[int, tuple[str | None, str | None]] = {}
            plain: list[list[Any]] = [[] for _ in range(17)]
            partials: list[list[Any]] = [[] for _ in range(17)]
            joined: list[tuple[Job, Any]] = []  # (job, full clip): parents known once the partials are in
            for completion in done:
                job = completion.job
                if not job.operation.makes_tracks:
                    # A download's link, or what a tool made (stems), instead of tracks.
                    url = next((c.audio_url for c in completion.clips if c.audio_url), None)
                    results[job.id] = (url, completion.result_text)
                    continue
                second = job.second_parent_track_id
                if completion.partials:
                    for index, clip in enumerate(completion.clips):
                        if index < len(completion.partials):
                            _append(
                                partials, job, completion.partials[index], job.operation, job.parent_track_id, second
                            )
                            joined.append((job, clip))
                        else:
                            _append(plain, job, clip, Operation.CONCAT, job.parent_track_id, None)
                    continue
                for clip in completion.clips:
                    _append(plain, job, clip, job.operation, job.parent_track_id, second)
            if results:
                await conn.execute(
                    SET_RESULT_URLS,
                    list(results),
                    [url for url, _ in results.values()],
                    [text for _, text in results.values()],
                )
            tracks: dict[int, list[Track]] = {}
            if partials[0]:
                # Each partial (an extension's new part) is kept, as the parent of the full song joined from it.
                kept = [_track(row) for row in await conn.fetch(INSERT_TRACKS, *partials, now)]
                for track in kept:
                    tracks.setdefault(track.job_id or 0, []).append(track)
                for (job, clip), partial in zip(joined, kept, strict=True):
                    _append(plain, job, clip, Operation.CONCAT, partial.id, None)
            if plain[0]:
                for row in await conn.fetch(INSERT_TRACKS, *plain, now):
                    tracks.setdefault(int(row["job_id"]), []).append(_track(row))
        return {
            c.job.id: Finished(
                job=c.job.model_copy(
                    update={
                        "state": JobState.SUCCEEDED,
                        "finished_at": _when(now),
                        "result_url": results[c.job.id][0] if c.job.id in results else c.job.result_url,
                        "result_text": (results[c.job.id][1] if c.job.id in results else None) or c.job.result_text,
                    }
                ),
                tracks=tuple(sorted(tracks.get(c.job.id, ()), key=lambda t: t.id)),
            )
            for c in done
        }

    async def end_job(
        self, job_id: int, state: JobState, failure: Failure, now: float, *, delivered: bool = False
    ) -> Job | None:
        row = await self._pool.fetchrow(
            END_JOB, job_id, state.value, now, failure.kind.value, failure.detail, now if delivered else None
        )
        return _job(row) if row is not None else None

    async def complete_lyrics(self, job_id: int, drafts: Sequence[DraftedLyrics], now: float) -> None:
        await self._pool.execute(COMPLETE_LYRICS, job_id, now, json.dumps([d.model_dump() for d in drafts]))

    async def complete_at_once(self, job_id: int, result_text: str, now: float) -> bool:
        return await self._pool.fetchval(COMPLETE_AT_ONCE, job_id, now, result_text) is not None

    async def record_followup(self, job_id: int, task_id: str, followup: Mapping[str, Any], now: float) -> bool:
        return _count(await self._pool.execute(RECORD_FOLLOWUP, job_id, task_id, dict(followup))) == 1

    async def claim_deliveries(
        self, job_id: int, nonces: Mapping[int, str], owner: str, now: float
    ) -> list[DeliveryClaim]:
        if not nonces:
            return []
        made = {
            r["slot"]: r
            for r in await self._pool.fetch(CLAIM_DELIVERIES, job_id, list(nonces), list(nonces.values()), owner, now)
        }
        earlier = [slot for slot in nonces if slot not in made]
        found = {}
        if earlier:
            # Claimed before. ON CONFLICT waited for the claiming transaction to commit, so this new statement (a new
            # snapshot under READ COMMITTED) sees those claims; the one above could not have.
            found = {r["slot"]: r for r in await self._pool.fetch(DELIVERY_CLAIMS, job_id, earlier)}
        claims = []
        for slot in nonces:
            row = made.get(slot) or found.get(slot)
            if row is None:  # cannot happen: claims are never deleted
                raise RuntimeError(f"the delivery claim of job {job_id}, slot {slot} vanished")
            claims.append(
                DeliveryClaim(job_id, slot, row["nonce"], row["owner"], row["claimed_at"], fresh=slot in made)
            )
        return claims

    async def record_deliveries(self, deliveries: Sequence[Delivery], delivered: Sequence[int], now: float) -> None:
        if not deliveries and not delivered:
            return
        posted = {d.track_id: d for d in deliveries}  # the last word on a track wins, as in a sequence of updates
        await self._pool.execute(
            RECORD_DELIVERIES,
            list(posted),
            [d.message_id for d in posted.values()],
            [d.thread_id for d in posted.values()],
            list(delivered),
            now,
        )

    # --- tracks ----------------------------------------------------------------------------------------------------
    async def track(self, track_id: int) -> Track | None:
        row = await self._pool.fetchrow(TRACK, track_id)
        return _track(row) if row is not None else None

    async def tracks_of_job(self, job_id: int) -> list[Track]:
        return [_track(r) for r in await self._pool.fetch(TRACKS_OF_JOB, job_id)]

    async def ancestors(self, track_id: int, *, limit: int = 25) -> list[Track]:
        chain: list[Track] = []
        seen = {track_id}
        for row in await self._pool.fetch(ANCESTORS, track_id, limit):
            if row["id"] in seen:
                break  # a loop: stop where it closes
            seen.add(row["id"])
            chain.append(_track(row))
        return chain

    async def children(self, track_id: int) -> list[Track]:
        return [_track(r) for r in await self._pool.fetch(CHILDREN, track_id)]

    async def find_tracks(self, guild_id: int, text: str, *, limit: int = 25) -> list[Track]:
        text = text.strip()
        if not text:
            found = await self._pool.fetch(RECENT_TRACKS, guild_id, limit)
        else:
            like = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            found = await self._pool.fetch(FIND_TRACKS, guild_id, like, text, limit)
        return [_track(r) for r in found]

    async def track_channels(self, guild_id: int, author_id: int | None = None) -> set[int]:
        if author_id is None:
            found = await self._pool.fetch(GUILD_TRACK_CHANNELS, guild_id)
        else:
            found = await self._pool.fetch(AUTHOR_TRACK_CHANNELS, guild_id, author_id)
        return {int(r["channel_id"]) for r in found}

    async def track_page(
        self, guild_id: int, author_id: int | None, page: int, size: int, *, visible: Visible
    ) -> TrackPage:
        params: list[Any] = [guild_id] if author_id is None else [guild_id, author_id]
        if visible.everything:
            count, select = (
                (COUNT_GUILD_TRACKS, GUILD_TRACK_PAGE)
                if author_id is None
                else (
                    COUNT_AUTHOR_TRACKS,
                    AUTHOR_TRACK_PAGE,
                )
            )
        else:
            count, select = (
                (COUNT_SEEN_GUILD_TRACKS, SEEN_GUILD_TRACK_PAGE)
                if author_id is None
                else (
                    COUNT_SEEN_AUTHOR_TRACKS,
                    SEEN_AUTHOR_TRACK_PAGE,
                )
            )
            params += [sorted(visible.channel_ids), visible.author_id]
        async with self._pool.acquire() as conn:
            total = int(await conn.fetchval(count, *params))
            pages = max(1, -(-total // size))
            shown = min(max(page, 0), pages - 1)
            found = await conn.fetch(select, *params, size, shown * size)
        return TrackPage([_track(r) for r in found], shown, pages)

    async def set_thread(self, track_id: int, thread_id: int) -> None:
        await self._pool.execute(SET_THREAD, track_id, thread_id)

    async def set_alignment(self, track_id: int, alignment: LyricsAlignment) -> None:
        text = _alignment_json(alignment)
        await self._pool.execute(SET_ALIGNMENT, track_id, json.loads(text) if text is not None else None)

    async def delete_track(self, track_id: int) -> bool:
        return _count(await self._pool.execute(DELETE_TRACK, track_id)) == 1

    # --- credits ---------------------------------------------------------------------------------------------------
    async def balances(self, guild_id: int, user_id: int, period_key: str) -> Balances:
        row = await self._pool.fetchrow(BALANCES, guild_id, user_id, period_key)
        assert row is not None
        return _balances(row)

    async def ledger_of_job(self, job_id: int) -> list[LedgerEntry]:
        return [LedgerEntry.model_validate(dict(r)) for r in await self._pool.fetch(LEDGER_OF_JOB, job_id)]

    async def grant(
        self,
        guild_id: int,
        amount: int,
        period_key: str,
        *,
        member_id: int | None,
        actor_id: int,
        now: float,
        note: str | None = None,
    ) -> None:
        await self._pool.execute(
            INSERT_LEDGER, guild_id, member_id, None, "grant", amount, period_key, note, actor_id, now
        )

    async def set_member_cap(self, guild_id: int, user_id: int, cap: int | None) -> None:
        if cap is None:
            await self._pool.execute(DELETE_CAP, guild_id, user_id)
        else:
            await self._pool.execute(SET_CAP, guild_id, user_id, cap)

    async def reset_period(self, settings: GuildSettings, period_key: str, *, actor_id: int, now: float) -> None:
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute(SAVE_SETTINGS, *_settings_values(settings))
            await conn.execute(
                INSERT_LEDGER, settings.guild_id, None, None, "reset", 0, period_key, None, actor_id, now
            )

    # --- settings --------------------------------------------------------------------------------------------------
    async def guild_settings(self, guild_id: int) -> GuildSettings | None:
        row = await self._pool.fetchrow(GUILD_SETTINGS, guild_id)
        return _settings(row) if row is not None else None

    async def save_settings(self, settings: GuildSettings) -> None:
        await self._pool.execute(SAVE_SETTINGS, *_settings_values(settings))

    # --- moderation ------------------------------------------------------------------------------------------------
    async def blocked_terms(self, guild_id: int) -> list[BlockedTerm]:
        found = await self._pool.fetch(BLOCKED_TERMS, guild_id)
        return [BlockedTerm(int(r["id"]), r["pattern"], bool(r["is_regex"])) for r in found]

    async def add_blocked_term(self, guild_id: int, pattern: str, *, is_regex: bool, added_by: int, now: float) -> bool:
        return _count(await self._pool.execute(ADD_BLOCKED_TERM, guild_id, pattern, is_regex, added_by, now)) == 1

    async def remove_blocked_term(self, guild_id: int, pattern: str) -> bool:
        return _count(await self._pool.execute(REMOVE_BLOCKED_TERM, guild_id, pattern)) > 0

    async def ban(self, guild_id: int, user_id: int, *, reason: str | None, banned_by: int, now: float) -> None:
        await self._pool.execute(BAN, guild_id, user_id, reason, banned_by, now)

    async def unban(self, guild_id: int, user_id: int) -> bool:
        return _count(await self._pool.execute(UNBAN, guild_id, user_id)) > 0

    async def bans(self, guild_id: int) -> list[Ban]:
        found = await self._pool.fetch(BANS, guild_id)
        return [Ban(r["guild_id"], r["user_id"], r["reason"], r["banned_by"], float(r["created_at"])) for r in found]

    # --- provider state --------------------------------------------------------------------------------------------
    async def retired_operations(self, provider: str) -> dict[Operation, str | None]:
        found = await self._pool.fetch(RETIRED_OPERATIONS, provider)
        return {Operation(r["operation"]): r["message"] for r in found}

    async def retire_operation(self, provider: str, operation: Operation, *, message: str | None, now: float) -> None:
        await self._pool.execute(RETIRE_OPERATION, provider, operation.value, message, now)

    async def reinstate_operation(self, provider: str, operation: Operation) -> bool:
        return _count(await self._pool.execute(REINSTATE_OPERATION, provider, operation.value)) > 0

    async def record_webhook(self, receipt: WebhookReceipt, now: float) -> bool:
        return _count(await self._pool.execute(RECORD_WEBHOOK, receipt.event_key, receipt.task_id, now)) == 1

    async def prune_webhooks(self, before: float) -> int:
        return _count(await self._pool.execute(PRUNE_WEBHOOKS, before))

    # --- personas --------------------------------------------------------------------------------------------------
    async def save_persona(self, job_id: int, persona: NewPersona, now: float) -> Persona | None:
        row = await self._pool.fetchrow(
            SAVE_PERSONA,
            job_id,
            persona.guild_id,
            persona.provider,
            persona.name,
            persona.persona_id,
            persona.track_id,
            persona.created_by,
            now,
        )
        return _persona(row) if row is not None else None

    async def personas(self, guild_id: int, provider: str) -> list[Persona]:
        return [_persona(r) for r in await self._pool.fetch(PERSONAS, guild_id, provider)]

    async def persona(self, persona_id: int) -> Persona | None:
        row = await self._pool.fetchrow(PERSONA, persona_id)
        return _persona(row) if row is not None else None

    async def delete_persona(self, persona_id: int) -> bool:
        return _count(await self._pool.execute(DELETE_PERSONA, persona_id)) == 1


def _append(
    columns: list[list[Any]], job: Job, clip: Any, operation: Operation, parent: int | None, second: int | None
) -> None:
    """One track's values, column by column, as INSERT_TRACKS takes them."""
    values = (
        job.id,
        job.guild_id,
        job.channel_id,
        job.user_id,
        job.provider,
        clip.clip_id,
        clip.title or job.request.get("title"),
        clip.audio_url,
        clip.image_url,
        clip.duration_s,
        clip.lyrics,
        clip.tags,
        clip.model,
        operation.value,
        parent,
        second,
        _alignment_json(clip.alignment),
    )
    for column, value in zip(columns, values, strict=True):
        column.append(value)


def _settings_values(settings: GuildSettings) -> tuple[Any, ...]:
    data = settings.model_dump()
    data["period"] = Period(data["period"]).value
    data["costs"] = {Operation(k).value: int(v) for k, v in settings.costs.items()}
    data["allowed_channel_ids"] = list(settings.allowed_channel_ids)
    return tuple(data[c] for c in _SETTINGS_COLUMNS)


def _unavailable(dsn: str, exc: BaseException) -> str:
    """One line saying why PostgreSQL could not be used, never with the password in it."""
    if isinstance(exc, TimeoutError):
        reason = "timed out"
    elif isinstance(exc, OSError) and exc.strerror:
        reason = exc.strerror.lower()
    else:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    password = password_of(dsn)
    if password:
        reason = reason.replace(password, "***")
    return f"could not use PostgreSQL at {redact(dsn)}: {reason}; check TUNESMITH_DATABASE_URL and that the server runs"
