"""The ClusterStore port on SQLite. SQLite serves one bot process (its lock file keeps a second one off), so every
lease is that process's own; the tables and statements are the same as PostgreSQL's (bot/storage/postgres/
cluster.py) so the port behaves the same, and the contract suite holds both to it. Each method is one hop to the
database thread; those that write more than one statement run in one ``BEGIN IMMEDIATE`` transaction."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from typing import Any

from bot.domain.models import Job
from bot.domain.ports import CacheChange, PollRoom, TakenOver
from bot.storage.database import Database, job_of, rows

_ACTIVE = "('queued', 'submitted', 'running')"


def _ids(values: Sequence[int]) -> str:
    return json.dumps([int(v) for v in values])


class SqliteCluster:
    """The ClusterStore methods of :class:`bot.storage.store.SqliteStore` (mixed in; uses its database)."""

    _db: Database

    async def heartbeat(self, worker: str, now: float, held: Sequence[int]) -> list[int]:
        def beat(conn: sqlite3.Connection) -> list[int]:
            conn.execute(
                "INSERT INTO workers (id, heartbeat_at, started_at) VALUES (?, ?, ?)"
                " ON CONFLICT (id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at",
                (worker, now, now),
            )
            found = conn.execute(
                "SELECT id FROM jobs WHERE id IN (SELECT value FROM json_each(?)) AND owner IS NOT ?",
                (_ids(held), worker),
            ).fetchall()
            return [int(r["id"]) for r in found]

        return await self._db.transaction(beat)

    async def take_over(self, worker: str, now: float, stale_before: float, *, limit: int = 500) -> TakenOver:
        def take(conn: sqlite3.Connection) -> list[dict[str, Any]]:
            return rows(
                conn.execute(
                    "UPDATE jobs SET owner = ? WHERE id IN ("
                    " SELECT j.id FROM jobs j WHERE j.delivered_at IS NULL"
                    " AND (j.owner IS NULL OR (j.owner <> ? AND NOT EXISTS ("
                    "   SELECT 1 FROM workers w WHERE w.id = j.owner AND w.heartbeat_at >= ?)))"
                    " ORDER BY j.id LIMIT ?) RETURNING *",
                    (worker, worker, stale_before, limit),
                )
            )

        jobs = sorted((job_of(r) for r in await self._db.transaction(take)), key=lambda j: j.id)
        return TakenOver(
            unfinished=[j for j in jobs if not j.state.finished],
            undelivered=[j for j in jobs if j.state.finished],
        )

    async def strays(self, worker: str, held: Sequence[int]) -> list[Job]:
        found = await self._db.read(
            lambda c: rows(
                c.execute(
                    "SELECT * FROM jobs WHERE owner = ? AND delivered_at IS NULL AND state IN ('submitted', 'running')"
                    " AND id NOT IN (SELECT value FROM json_each(?)) ORDER BY id",
                    (worker, _ids(held)),
                )
            )
        )
        return [job_of(r) for r in found]

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
        cuts = dict(mine)

        def claim(conn: sqlite3.Connection) -> PollRoom:
            found = {
                int(r["id"]): r
                for r in rows(
                    conn.execute(
                        "SELECT id, owner, state, polled_at FROM jobs WHERE id IN (SELECT value FROM json_each(?))",
                        (_ids(list(cuts)),),
                    )
                )
            }
            poll: list[int] = []
            lost: list[int] = []
            polled: dict[int, float] = {}
            for job_id, cut in cuts.items():
                row = found.get(job_id)
                if row is None or row["owner"] != worker or row["state"] not in ("submitted", "running"):
                    lost.append(job_id)
                elif row["polled_at"] is None or row["polled_at"] <= cut:
                    poll.append(job_id)
                else:
                    polled[job_id] = float(row["polled_at"])
            due: list[dict[str, Any]] = []
            if poll and limit > len(poll):
                due = rows(
                    conn.execute(
                        "SELECT * FROM jobs WHERE provider = ? AND state IN ('submitted', 'running')"
                        " AND submitted_at < ? AND owner IS NOT ? AND task_id IS NOT NULL AND delivered_at IS NULL"
                        " AND followup IS NULL AND operation <> 'extend' AND (polled_at IS NULL OR polled_at <= ?)"
                        " ORDER BY submitted_at, id LIMIT ?",
                        (provider, submitted_before, worker, polled_before, limit - len(poll)),
                    )
                )
            marked = poll + [int(r["id"]) for r in due]
            if marked:
                conn.execute(
                    "UPDATE jobs SET polled_at = ? WHERE id IN (SELECT value FROM json_each(?))", (now, _ids(marked))
                )
            return PollRoom(poll=poll, lost=lost, polled=polled, due=[job_of(r) for r in due])

        return await self._db.transaction(claim)

    async def adopt(self, worker: str, job_id: int) -> Job | None:
        def adopt(conn: sqlite3.Connection) -> dict[str, Any] | None:
            row = conn.execute(
                f"UPDATE jobs SET owner = ? WHERE id = ? AND state IN {_ACTIVE} RETURNING *", (worker, job_id)
            ).fetchone()
            return dict(row) if row is not None else None

        row = await self._db.transaction(adopt)
        return job_of(row) if row is not None else None

    async def release(self, worker: str) -> None:
        def release(conn: sqlite3.Connection) -> None:
            conn.execute("DELETE FROM workers WHERE id = ?", (worker,))
            conn.execute("UPDATE jobs SET owner = NULL WHERE owner = ? AND delivered_at IS NULL", (worker,))

        await self._db.transaction(release)

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
        def claim(conn: sqlite3.Connection) -> list[int]:
            if returned:
                conn.execute(
                    "UPDATE jobs SET dispatched_at = NULL, ready_at = NULL"
                    " WHERE id IN (SELECT value FROM json_each(?)) AND owner = ? AND state = 'queued'",
                    (_ids(returned), worker),
                )
            if ready:
                conn.execute(
                    "UPDATE jobs SET ready_at = ? WHERE id IN (SELECT value FROM json_each(?)) AND owner = ?"
                    " AND state = 'queued' AND ready_at IS NULL",
                    (now, _ids(ready), worker),
                )
            conn.execute(
                "WITH live AS (SELECT id, guild_id, user_id,"
                "  state <> 'queued' OR dispatched_at IS NOT NULL AS busy,"
                "  state = 'queued' AND dispatched_at IS NULL AND ready_at IS NOT NULL AS waiting"
                f"  FROM jobs WHERE provider = :p AND state IN {_ACTIVE}),"
                " free AS (SELECT MAX(:c - COALESCE(SUM(busy), 0), 0) AS n FROM live),"
                " held AS (SELECT guild_id, SUM(busy) AS n FROM live GROUP BY guild_id),"
                " line AS (SELECT id, guild_id, row_number() OVER (PARTITION BY guild_id, user_id ORDER BY id) AS turn"
                "  FROM live WHERE waiting),"
                " fair AS (SELECT line.id,"
                "  held.n + row_number() OVER (PARTITION BY line.guild_id ORDER BY turn, line.id) AS round"
                "  FROM line JOIN held USING (guild_id))"
                " UPDATE jobs SET dispatched_at = :now"
                " WHERE id IN (SELECT id FROM fair ORDER BY round, id LIMIT (SELECT n FROM free))",
                {"p": provider, "c": concurrency, "now": now},
            )
            found = conn.execute(
                "SELECT id FROM jobs WHERE owner = ? AND provider = ? AND delivered_at IS NULL AND state = 'queued'"
                " AND dispatched_at IS NOT NULL ORDER BY id",
                (worker, provider),
            ).fetchall()
            return [int(r["id"]) for r in found]

        return await self._db.transaction(claim)

    async def latest_change(self) -> int:
        row = await self._db.read(
            lambda c: c.execute("SELECT COALESCE(MAX(seq), 0) AS seq FROM cache_changes").fetchone()
        )
        return int(row["seq"])

    async def changes_since(self, seq: int) -> list[CacheChange]:
        found = await self._db.read(
            lambda c: c.execute(
                "SELECT seq, scope, guild_id FROM cache_changes WHERE seq > ? ORDER BY seq", (seq,)
            ).fetchall()
        )
        return [CacheChange(int(r["seq"]), r["scope"], int(r["guild_id"])) for r in found]

    async def prune_changes(self, before: float) -> int:
        cursor = await self._db.read(lambda c: c.execute("DELETE FROM cache_changes WHERE changed_at < ?", (before,)))
        return int(cursor.rowcount or 0)

    async def claim_channel_edit(self, channel_id: int, now: float, spacing: float) -> float:
        def claim(conn: sqlite3.Connection) -> float:
            row = conn.execute(
                "INSERT INTO channel_edits (channel_id, next_at) VALUES (?, ?)"
                " ON CONFLICT (channel_id) DO UPDATE SET next_at = MAX(channel_edits.next_at, ?) + ?"
                " RETURNING next_at",
                (channel_id, now + spacing, now, spacing),
            ).fetchone()
            return max(float(row["next_at"]) - spacing - now, 0.0)

        return await self._db.transaction(claim)
