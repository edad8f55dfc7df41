"""The ClusterStore port on PostgreSQL: many bot processes ("workers") sharing one database.

- Leases: ``jobs.owner`` names the worker that runs a job; a worker is alive while its ``workers`` row's heartbeat
  is fresh. Taking over is one UPDATE over ``FOR UPDATE SKIP LOCKED`` rows, so two workers scanning at once never
  take the same job (the second skips rows the first holds, and after its commit they belong to a live worker).
- The global queue: one transaction per claim, under a per-provider advisory lock, so the count of slots taken and
  the jobs handed those slots are decided by one worker at a time, whichever process asks.
- The change feed (``cache_changes``) is written by triggers on the cached tables (migration 4), read here.
- Channel edits: one upsert reserves a channel's next edit slot for whoever asks, in any process.
"""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg

from bot.domain.models import Job
from bot.domain.ports import CacheChange, PollRoom, TakenOver
from bot.storage.postgres.migrations import LOCK_QUEUE

_ACTIVE = "('queued', 'submitted', 'running')"

HEARTBEAT = (
    "WITH beat AS (INSERT INTO workers (id, heartbeat_at, started_at) VALUES ($1, $2, $2)"
    " ON CONFLICT (id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at)"
    " SELECT id FROM jobs WHERE id = ANY($3::bigint[]) AND owner IS DISTINCT FROM $1"
)
TAKE_OVER = (
    "UPDATE jobs SET owner = $1 WHERE id IN ("
    " SELECT j.id FROM jobs j WHERE j.delivered_at IS NULL"
    " AND (j.owner IS NULL OR (j.owner <> $1 AND NOT EXISTS ("
    "   SELECT 1 FROM workers w WHERE w.id = j.owner AND w.heartbeat_at >= $2)))"
    " ORDER BY j.id LIMIT $3 FOR UPDATE SKIP LOCKED)"
    " RETURNING *"
)
STRAYS = (
    "SELECT * FROM jobs WHERE owner = $1 AND delivered_at IS NULL AND state IN ('submitted', 'running')"
    " AND NOT (id = ANY($2::bigint[])) ORDER BY id"
)
# Polls shared by every worker: the batch's jobs still leased here and not polled by another worker since this
# one did are marked polled (the others are read as they were: moved away, or polled and when) ...
POLL_MINE = (
    "WITH claimed AS (UPDATE jobs SET polled_at = $3 FROM unnest($2::bigint[], $4::float8[]) AS m(id, cut)"
    " WHERE jobs.id = m.id AND jobs.owner = $1 AND jobs.state IN ('submitted', 'running')"
    " AND (jobs.polled_at IS NULL OR jobs.polled_at <= m.cut) RETURNING jobs.id)"
    " SELECT j.id, COALESCE(j.owner = $1 AND j.state IN ('submitted', 'running'), false) AS ours, j.polled_at,"
    " j.id IN (SELECT id FROM claimed) AS claimed FROM jobs j WHERE j.id = ANY($2::bigint[])"
)
# One worker at a time decides a provider's next poll: whoever comes first at a moment carries every worker's due
# tasks (up to a call's size); the others then find theirs polled and make no call for them.
POLL_LOCK = f"SELECT pg_advisory_xact_lock({LOCK_QUEUE}, hashtext('poll:' || $1))"
# ... and other workers' tasks due for a poll fill the call's room (oldest first; marked polled too).
POLL_DUE = (
    "UPDATE jobs SET polled_at = $3 WHERE id IN ("
    " SELECT id FROM jobs WHERE provider = $2 AND state IN ('submitted', 'running') AND submitted_at < $4"
    " AND owner IS DISTINCT FROM $1 AND task_id IS NOT NULL AND delivered_at IS NULL AND followup IS NULL"
    " AND operation <> 'extend' AND (polled_at IS NULL OR polled_at <= $5)"
    " ORDER BY submitted_at LIMIT $6 FOR UPDATE SKIP LOCKED)"
    " RETURNING *"
)
ADOPT = f"UPDATE jobs SET owner = $1 WHERE id = $2 AND state IN {_ACTIVE} RETURNING *"
RELEASE = (
    "WITH gone AS (DELETE FROM workers WHERE id = $1)"
    " UPDATE jobs SET owner = NULL WHERE owner = $1 AND delivered_at IS NULL"
)
QUEUE_LOCK = f"SELECT pg_advisory_xact_lock({LOCK_QUEUE}, hashtext($1))"
RETURN_SLOTS = (
    "UPDATE jobs SET dispatched_at = NULL, ready_at = NULL"
    " WHERE id = ANY($1::bigint[]) AND owner = $2 AND state = 'queued'"
)
MARK_READY = (
    "UPDATE jobs SET ready_at = $3"
    " WHERE id = ANY($1::bigint[]) AND owner = $2 AND state = 'queued' AND ready_at IS NULL"
)
# Slots taken ("busy"): jobs at the provider, and queued jobs already handed a slot (their submit is on its way).
# The line: inside a server, each member's first waiting job, then each one's second...; across servers, the
# server holding the fewest slots goes first (its next job's round counts the slots it holds already).
GRANT_SLOTS = (
    "WITH live AS (SELECT id, guild_id, user_id,"
    "  state <> 'queued' OR dispatched_at IS NOT NULL AS busy,"
    "  state = 'queued' AND dispatched_at IS NULL AND ready_at IS NOT NULL AS waiting"
    f"  FROM jobs WHERE provider = $1 AND state IN {_ACTIVE}),"
    " free AS (SELECT GREATEST($2 - COUNT(*) FILTER (WHERE busy), 0) AS n FROM live),"
    " held AS (SELECT guild_id, COUNT(*) FILTER (WHERE busy) AS n FROM live GROUP BY guild_id),"
    " line AS (SELECT id, guild_id, row_number() OVER (PARTITION BY guild_id, user_id ORDER BY id) AS turn"
    "  FROM live WHERE waiting),"
    " fair AS (SELECT line.id, held.n + row_number() OVER (PARTITION BY line.guild_id ORDER BY turn, line.id) AS round"
    "  FROM line JOIN held USING (guild_id)),"
    " picked AS (SELECT id FROM fair ORDER BY round, id LIMIT (SELECT n FROM free))"
    " UPDATE jobs SET dispatched_at = $3 FROM picked WHERE jobs.id = picked.id"
)
MY_SLOTS = (
    "SELECT id FROM jobs WHERE owner = $1 AND provider = $2 AND delivered_at IS NULL AND state = 'queued'"
    " AND dispatched_at IS NOT NULL ORDER BY id"
)
LATEST_CHANGE = "SELECT COALESCE(MAX(seq), 0) FROM cache_changes"
CHANGES_SINCE = "SELECT seq, scope, guild_id FROM cache_changes WHERE seq > $1 ORDER BY seq"
PRUNE_CHANGES = "DELETE FROM cache_changes WHERE changed_at < $1"
CLAIM_EDIT = (
    "INSERT INTO channel_edits (channel_id, next_at) VALUES ($1, $2::float8 + $3::float8)"
    " ON CONFLICT (channel_id) DO UPDATE SET next_at = GREATEST(channel_edits.next_at, $2::float8) + $3::float8"
    " RETURNING next_at - $3::float8 - $2::float8"
)


def _count(status: str) -> int:
    try:
        return int(status.rsplit(" ", 1)[-1])
    except ValueError:
        return 0


class PostgresCluster:
    """The ClusterStore methods of :class:`bot.storage.postgres.PostgresStore` (mixed in; uses its pool)."""

    _pool: asyncpg.Pool

    async def heartbeat(self, worker: str, now: float, held: Sequence[int]) -> list[int]:
        return [int(r["id"]) for r in await self._pool.fetch(HEARTBEAT, worker, now, list(held))]

    async def take_over(self, worker: str, now: float, stale_before: float, *, limit: int = 500) -> TakenOver:
        jobs = sorted(
            (Job.model_validate(dict(r)) for r in await self._pool.fetch(TAKE_OVER, worker, stale_before, limit)),
            key=lambda j: j.id,
        )
        return TakenOver(
            unfinished=[j for j in jobs if not j.state.finished],
            undelivered=[j for j in jobs if j.state.finished],
        )

    async def strays(self, worker: str, held: Sequence[int]) -> list[Job]:
        return [Job.model_validate(dict(r)) for r in await self._pool.fetch(STRAYS, worker, list(held))]

    async def adopt(self, worker: str, job_id: int) -> Job | None:
        row = await self._pool.fetchrow(ADOPT, worker, job_id)
        return Job.model_validate(dict(row)) if row is not None else None

    async def poll_room(
        self,
        worker: str,
        provider: str,
        *,
        mine: Sequence[tuple[int, float]],
        now: float,
        submitted_before: float,
        polled_before: float,
        limit: int,
    ) -> PollRoom:
        ids = [job_id for job_id, _ in mine]
        cuts = [cut for _, cut in mine]
        poll: list[int] = []
        lost: list[int] = []
        polled: dict[int, float] = {}
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute(POLL_LOCK, provider)
            found = {int(r["id"]): r for r in await conn.fetch(POLL_MINE, worker, ids, now, cuts)}
            for job_id in ids:
                row = found.get(job_id)
                if row is None or not row["ours"]:
                    lost.append(job_id)
                elif row["claimed"]:
                    poll.append(job_id)
                else:
                    polled[job_id] = float(row["polled_at"])
            due: list[Job] = []
            room = limit - len(poll)
            if poll and room > 0:
                rows = await conn.fetch(POLL_DUE, worker, provider, now, submitted_before, polled_before, room)
                due = sorted((Job.model_validate(dict(r)) for r in rows), key=lambda j: (j.submitted_at, j.id))
        return PollRoom(poll=poll, lost=lost, polled=polled, due=due)

    async def release(self, worker: str) -> None:
        await self._pool.execute(RELEASE, worker)

    async def claim_slots(
        self,
        worker: str,
        provider: str,
        concurrency: int,
        *,
        ready: Sequence[int],
        returned: Sequence[int],
        now: float,
    ) -> list[int]:
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute(QUEUE_LOCK, provider)
            if returned:
                await conn.execute(RETURN_SLOTS, list(returned), worker)
            if ready:
                await conn.execute(MARK_READY, list(ready), worker, now)
            await conn.execute(GRANT_SLOTS, provider, concurrency, now)
            return [int(r["id"]) for r in await conn.fetch(MY_SLOTS, worker, provider)]

    async def latest_change(self) -> int:
        return int(await self._pool.fetchval(LATEST_CHANGE))

    async def changes_since(self, seq: int) -> list[CacheChange]:
        found = await self._pool.fetch(CHANGES_SINCE, seq)
        return [CacheChange(int(r["seq"]), r["scope"], int(r["guild_id"])) for r in found]

    async def prune_changes(self, before: float) -> int:
        return _count(await self._pool.execute(PRUNE_CHANGES, before))

    async def claim_channel_edit(self, channel_id: int, now: float, spacing: float) -> float:
        wait = await self._pool.fetchval(CLAIM_EDIT, channel_id, now, spacing)
        return max(float(wait), 0.0)


__all__ = ["PostgresCluster"]
