"""Repositories: every SQL statement of the bot lives here. They run inside a UnitOfWork's transaction."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

import aiosqlite

from bot.domain.models import (
    GuildSettings,
    Job,
    JobState,
    LedgerEntry,
    LedgerKind,
    Operation,
    Period,
    Track,
)

_ACTIVE = ("queued", "submitted", "running")


def _row(row: aiosqlite.Row | None) -> dict[str, Any] | None:
    return dict(row) if row is not None else None


class _Repo:
    """Every helper is one round trip to aiosqlite's thread: hops, not SQL, dominate the engine's CPU."""

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn

    async def _one(self, sql: str, params: Iterable[Any] | Mapping[str, Any] = ()) -> dict[str, Any] | None:
        rows = await self._conn.execute_fetchall(sql, params if isinstance(params, Mapping) else tuple(params))
        return _row(next(iter(rows), None))

    async def _all(self, sql: str, params: Iterable[Any] = ()) -> list[dict[str, Any]]:
        return [dict(r) for r in await self._conn.execute_fetchall(sql, tuple(params))]

    async def _scalar(self, sql: str, params: Iterable[Any] = ()) -> Any:
        row = next(iter(await self._conn.execute_fetchall(sql, tuple(params))), None)
        return row[0] if row is not None else None

    async def _insert(self, sql: str, params: Iterable[Any]) -> int:
        row = await self._conn.execute_insert(sql, tuple(params))
        return int(row[0]) if row is not None else 0

    async def _write(self, sql: str, params: Iterable[Any] = ()) -> int:
        """Run an UPDATE/DELETE/INSERT; returns the number of rows it changed."""
        cursor = await self._conn.execute(sql, tuple(params))
        return int(cursor.rowcount or 0)


def _job(row: dict[str, Any]) -> Job:
    row["request"] = json.loads(row["request"])
    return Job.model_validate(row)


# Columns a caller may change on a job; anything else is fixed at admission.
_JOB_MUTABLE = frozenset(
    {
        "state",
        "channel_id",
        "task_id",
        "status_message_id",
        "failure_kind",
        "failure_message",
        "result_url",
        "result_text",
        "submitted_at",
        "finished_at",
        "delivered_at",
        "poll_count",
    }
)


class JobRepository(_Repo):
    async def add(
        self,
        *,
        guild_id: int,
        channel_id: int,
        user_id: int,
        operation: Operation,
        request: Mapping[str, Any],
        provider: str,
        cost: int,
        period_key: str,
        parent_track_id: int | None,
        now: float,
        state: JobState = JobState.QUEUED,
    ) -> Job:
        """Store a new job. Its reservation (``-cost`` in the ledger, in ``period_key``) is written by the same
        statement (a trigger), so a job never exists without the credits it holds, even outside a transaction."""
        job_id = await self._insert(
            "INSERT INTO jobs (guild_id, channel_id, user_id, operation, request, provider, state, cost,"
            " period_key, parent_track_id, created_at) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            (
                guild_id,
                channel_id,
                user_id,
                operation.value,
                json.dumps(dict(request), separators=(",", ":")),
                provider,
                state.value,
                cost,
                period_key,
                parent_track_id,
                now,
            ),
        )
        # Built from what was just written rather than read back: one round trip fewer per admission.
        return Job(
            id=job_id,
            guild_id=guild_id,
            channel_id=channel_id,
            user_id=user_id,
            operation=operation,
            request=dict(request),
            provider=provider,
            state=state,
            cost=cost,
            period_key=period_key,
            parent_track_id=parent_track_id,
            created_at=now,  # type: ignore[arg-type]  # pydantic reads unix seconds as a UTC datetime
        )

    async def get(self, job_id: int) -> Job | None:
        row = await self._one("SELECT * FROM jobs WHERE id = ?", (job_id,))
        return _job(row) if row else None

    async def update(self, job_id: int, **fields: Any) -> None:
        unknown = set(fields) - _JOB_MUTABLE
        if unknown:
            raise ValueError(f"not updatable: {sorted(unknown)}")
        values = [v.value if isinstance(v, JobState) else v for v in fields.values()]
        cols = ", ".join(f"{name} = ?" for name in fields)
        await self._write(f"UPDATE jobs SET {cols} WHERE id = ?", (*values, job_id))

    async def mark_submitted(self, job_id: int, task_id: str, now: float) -> bool:
        """Record the provider's task id, unless the job stopped being queued meanwhile (cancelled)."""
        changed = await self._write(
            "UPDATE jobs SET state = 'submitted', task_id = ?, submitted_at = ? WHERE id = ? AND state = 'queued'",
            (task_id, now, job_id),
        )
        return changed == 1

    async def finish_many(self, job_ids: list[int], state: JobState, now: float) -> list[int]:
        """Move the still-active jobs among ``job_ids`` to a final state; returns the ids that moved."""
        if not job_ids:
            return []
        marks = ",".join("?" * len(job_ids))
        rows = await self._conn.execute_fetchall(
            f"UPDATE jobs SET state = ?, finished_at = ? WHERE id IN ({marks})"
            " AND state IN ('queued', 'submitted', 'running') RETURNING id",
            (state.value, now, *job_ids),
        )
        moved = {int(r[0]) for r in rows}
        return [j for j in job_ids if j in moved]

    async def mark_running(self, job_id: int, poll_count: int) -> bool:
        """The provider says it renders: only a job still waiting moves (never a cancelled or finished one)."""
        changed = await self._write(
            "UPDATE jobs SET state = 'running', poll_count = ? WHERE id = ? AND state IN ('queued', 'submitted')",
            (poll_count, job_id),
        )
        return changed == 1

    async def mark_delivered(self, job_ids: list[int], now: float) -> None:
        if job_ids:
            await self._conn.executemany("UPDATE jobs SET delivered_at = ? WHERE id = ?", [(now, j) for j in job_ids])

    async def active(self) -> list[Job]:
        rows = await self._all("SELECT * FROM jobs WHERE state IN (?,?,?) ORDER BY id", _ACTIVE)
        return [_job(r) for r in rows]

    async def undelivered(self) -> list[Job]:
        """Finished jobs whose outcome has not reached Discord yet (a crash between the two)."""
        rows = await self._all(
            "SELECT * FROM jobs WHERE delivered_at IS NULL AND state NOT IN (?,?,?) ORDER BY id", _ACTIVE
        )
        return [_job(r) for r in rows]

    async def last_created_at(self, guild_id: int, user_id: int) -> float | None:
        """When the member last started a job (for the cooldown)."""
        sql = "SELECT MAX(created_at) FROM jobs WHERE guild_id = ? AND user_id = ? AND operation != ?"
        value = await self._scalar(sql, (guild_id, user_id, Operation.LYRICS.value))
        return float(value) if value is not None else None

    async def task_ids(self) -> dict[int, str | None]:
        """Every job's provider task id (for the benchmark's latency matching)."""
        rows = await self._all("SELECT id, task_id FROM jobs")
        return {int(r["id"]): r["task_id"] for r in rows}

    async def counts_by_state(self) -> dict[str, int]:
        rows = await self._all("SELECT state, COUNT(*) AS n FROM jobs GROUP BY state")
        return {r["state"]: int(r["n"]) for r in rows}

    async def recent(self, guild_id: int, user_id: int | None = None, *, limit: int = 25) -> list[Job]:
        if user_id is None:
            rows = await self._all("SELECT * FROM jobs WHERE guild_id = ? ORDER BY id DESC LIMIT ?", (guild_id, limit))
        else:
            rows = await self._all(
                "SELECT * FROM jobs WHERE guild_id = ? AND user_id = ? ORDER BY id DESC LIMIT ?",
                (guild_id, user_id, limit),
            )
        return [_job(r) for r in rows]


def _track(row: dict[str, Any]) -> Track:
    row["deleted"] = bool(row["deleted"])
    return Track.model_validate(row)


class TrackRepository(_Repo):
    async def add_many(self, rows: list[dict[str, Any]], *, now: float) -> dict[int, list[Track]]:
        """Store the clips of several finished jobs at once; returns each job's new tracks."""
        if not rows:
            return {}
        await self._conn.executemany(
            "INSERT INTO tracks (job_id, guild_id, channel_id, author_id, provider, clip_id, title, audio_url,"
            " image_url, duration_s, lyrics, tags, model, operation, parent_track_id, created_at)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            [
                (
                    r["job_id"],
                    r["guild_id"],
                    r["channel_id"],
                    r["author_id"],
                    r["provider"],
                    r["clip"].clip_id,
                    r["clip"].title or r.get("title"),
                    r["clip"].audio_url,
                    r["clip"].image_url,
                    r["clip"].duration_s,
                    r["clip"].lyrics,
                    r["clip"].tags,
                    r["clip"].model,
                    Operation(r["operation"]).value,
                    r["parent_track_id"],
                    now,
                )
                for r in rows
            ],
        )
        job_ids = sorted({r["job_id"] for r in rows})
        marks = ",".join("?" * len(job_ids))
        stored = await self._all(f"SELECT * FROM tracks WHERE job_id IN ({marks}) ORDER BY id", job_ids)
        by_job: dict[int, list[Track]] = {}
        for row in stored:
            by_job.setdefault(int(row["job_id"]), []).append(_track(row))
        return by_job

    async def get(self, track_id: int) -> Track | None:
        row = await self._one("SELECT * FROM tracks WHERE id = ?", (track_id,))
        return _track(row) if row else None

    async def for_job(self, job_id: int) -> list[Track]:
        return [_track(r) for r in await self._all("SELECT * FROM tracks WHERE job_id = ? ORDER BY id", (job_id,))]

    async def children(self, track_id: int) -> list[Track]:
        rows = await self._all(
            "SELECT * FROM tracks WHERE parent_track_id = ? AND deleted = 0 ORDER BY id", (track_id,)
        )
        return [_track(r) for r in rows]

    async def set_messages(self, deliveries: Iterable[Any]) -> None:
        """Several ``Delivery`` records (track_id, message_id, thread_id) in one round trip."""
        rows = [(d.message_id, d.thread_id, d.track_id) for d in deliveries]
        if rows:
            await self._conn.executemany(
                "UPDATE tracks SET message_id = ?, thread_id = COALESCE(?, thread_id) WHERE id = ?", rows
            )

    async def set_thread(self, track_id: int, thread_id: int) -> None:
        await self._write("UPDATE tracks SET thread_id = ? WHERE id = ?", (thread_id, track_id))

    async def mark_deleted(self, track_id: int) -> None:
        await self._write("UPDATE tracks SET deleted = 1 WHERE id = ?", (track_id,))

    async def recent(
        self, guild_id: int, *, author_id: int | None = None, limit: int = 10, offset: int = 0
    ) -> list[Track]:
        if author_id is None:
            sql = "SELECT * FROM tracks WHERE guild_id = ? AND deleted = 0 ORDER BY id DESC LIMIT ? OFFSET ?"
            params: tuple[Any, ...] = (guild_id, limit, offset)
        else:
            sql = (
                "SELECT * FROM tracks WHERE guild_id = ? AND author_id = ? AND deleted = 0"
                " ORDER BY id DESC LIMIT ? OFFSET ?"
            )
            params = (guild_id, author_id, limit, offset)
        return [_track(r) for r in await self._all(sql, params)]

    async def count(self, guild_id: int, *, author_id: int | None = None) -> int:
        if author_id is None:
            return int(
                await self._scalar("SELECT COUNT(*) FROM tracks WHERE guild_id = ? AND deleted = 0", (guild_id,))
            )
        return int(
            await self._scalar(
                "SELECT COUNT(*) FROM tracks WHERE guild_id = ? AND author_id = ? AND deleted = 0",
                (guild_id, author_id),
            )
        )

    async def search(self, guild_id: int, text: str, *, limit: int = 25) -> list[Track]:
        """Tracks whose title, style or id starts/contains ``text``, newest first (for autocomplete)."""
        like = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        rows = await self._all(
            "SELECT * FROM tracks WHERE guild_id = ? AND deleted = 0 AND (title LIKE ? ESCAPE '\\'"
            " OR tags LIKE ? ESCAPE '\\' OR CAST(id AS TEXT) = ?) ORDER BY id DESC LIMIT ?",
            (guild_id, like, like, text.strip(), limit),
        )
        return [_track(r) for r in rows]


class LedgerRepository(_Repo):
    async def append(
        self,
        *,
        guild_id: int,
        kind: LedgerKind,
        amount: int,
        period_key: str,
        now: float,
        user_id: int | None = None,
        job_id: int | None = None,
        note: str | None = None,
        actor_id: int | None = None,
    ) -> int:
        return await self._insert(
            "INSERT INTO ledger (guild_id, user_id, job_id, kind, amount, period_key, note, actor_id, created_at)"
            " VALUES (?,?,?,?,?,?,?,?,?)",
            (guild_id, user_id, job_id, kind.value, amount, period_key, note, actor_id, now),
        )

    async def append_many(self, entries: list[dict[str, Any]], *, now: float) -> None:
        """Several rows in one round trip (each entry: guild_id, user_id, job_id, kind, amount, period_key)."""
        if not entries:
            return
        await self._conn.executemany(
            "INSERT INTO ledger (guild_id, user_id, job_id, kind, amount, period_key, note, actor_id, created_at)"
            " VALUES (?,?,?,?,?,?,?,?,?)",
            [
                (
                    e["guild_id"],
                    e.get("user_id"),
                    e.get("job_id"),
                    LedgerKind(e["kind"]).value,
                    e["amount"],
                    e["period_key"],
                    e.get("note"),
                    e.get("actor_id"),
                    now,
                )
                for e in entries
            ],
        )

    async def balances(self, guild_id: int, user_id: int, period_key: str) -> dict[str, int | None]:
        """Everything admission checks, in one query: the period's sums, the member's cap, jobs in flight."""
        row = await self._one(
            "SELECT"
            " (SELECT COALESCE(SUM(amount), 0) FROM ledger WHERE guild_id = :g AND period_key = :p"
            "   AND NOT (kind = 'grant' AND user_id IS NOT NULL)) AS server_sum,"
            " (SELECT COALESCE(SUM(amount), 0) FROM ledger WHERE guild_id = :g AND user_id = :u"
            "   AND period_key = :p) AS member_sum,"
            " (SELECT cap FROM member_caps WHERE guild_id = :g AND user_id = :u) AS member_cap,"
            " (SELECT COUNT(*) FROM jobs WHERE guild_id = :g AND user_id = :u"
            "   AND state IN ('queued', 'submitted', 'running')) AS member_active,"
            " (SELECT COUNT(*) FROM jobs WHERE guild_id = :g"
            "   AND state IN ('queued', 'submitted', 'running')) AS server_active",
            {"g": guild_id, "u": user_id, "p": period_key},
        )
        assert row is not None
        return row

    async def for_job(self, job_id: int) -> list[LedgerEntry]:
        rows = await self._all("SELECT * FROM ledger WHERE job_id = ? ORDER BY id", (job_id,))
        return [LedgerEntry.model_validate(r) for r in rows]

    async def settled(self, job_id: int) -> bool:
        value = await self._scalar(
            "SELECT COUNT(*) FROM ledger WHERE job_id = ? AND kind IN ('commit', 'refund')", (job_id,)
        )
        return bool(value)


def _settings(row: dict[str, Any]) -> GuildSettings:
    row["costs"] = json.loads(row["costs"])
    row["allowed_channel_ids"] = json.loads(row["allowed_channel_ids"])
    row["remix_threads"] = bool(row["remix_threads"])
    row["use_default_blocklist"] = bool(row["use_default_blocklist"])
    return GuildSettings.model_validate(row)


class SettingsRepository(_Repo):
    async def get(self, guild_id: int) -> GuildSettings | None:
        row = await self._one("SELECT * FROM guild_settings WHERE guild_id = ?", (guild_id,))
        return _settings(row) if row else None

    async def save(self, settings: GuildSettings) -> None:
        data = settings.model_dump()
        data["period"] = Period(data["period"]).value
        data["costs"] = json.dumps({Operation(k).value: int(v) for k, v in settings.costs.items()})
        data["allowed_channel_ids"] = json.dumps(settings.allowed_channel_ids)
        cols = list(data)
        await self._write(
            f"INSERT INTO guild_settings ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})"
            f" ON CONFLICT (guild_id) DO UPDATE SET {', '.join(f'{c} = excluded.{c}' for c in cols[1:])}",
            tuple(data.values()),
        )

    async def set_member_cap(self, guild_id: int, user_id: int, cap: int | None) -> None:
        if cap is None:
            await self._write("DELETE FROM member_caps WHERE guild_id = ? AND user_id = ?", (guild_id, user_id))
        else:
            await self._write(
                "INSERT INTO member_caps (guild_id, user_id, cap) VALUES (?,?,?)"
                " ON CONFLICT (guild_id, user_id) DO UPDATE SET cap = excluded.cap",
                (guild_id, user_id, cap),
            )


class ModerationRepository(_Repo):
    async def blocked_terms(self, guild_id: int) -> list[dict[str, Any]]:
        return await self._all(
            "SELECT id, pattern, is_regex, added_by, created_at FROM blocked_terms WHERE guild_id = ? ORDER BY id",
            (guild_id,),
        )

    async def add_blocked_term(self, guild_id: int, pattern: str, *, is_regex: bool, added_by: int, now: float) -> int:
        return await self._write(
            "INSERT OR IGNORE INTO blocked_terms (guild_id, pattern, is_regex, added_by, created_at)"
            " VALUES (?,?,?,?,?)",
            (guild_id, pattern, int(is_regex), added_by, now),
        )

    async def remove_blocked_term(self, guild_id: int, pattern: str) -> int:
        return await self._write("DELETE FROM blocked_terms WHERE guild_id = ? AND pattern = ?", (guild_id, pattern))

    async def ban(self, guild_id: int, user_id: int, *, reason: str | None, banned_by: int, now: float) -> None:
        await self._write(
            "INSERT INTO bans (guild_id, user_id, reason, banned_by, created_at) VALUES (?,?,?,?,?)"
            " ON CONFLICT (guild_id, user_id) DO UPDATE SET reason = excluded.reason, banned_by = excluded.banned_by",
            (guild_id, user_id, reason, banned_by, now),
        )

    async def unban(self, guild_id: int, user_id: int) -> bool:
        return bool(await self._write("DELETE FROM bans WHERE guild_id = ? AND user_id = ?", (guild_id, user_id)))

    async def ban_of(self, guild_id: int, user_id: int) -> dict[str, Any] | None:
        return await self._one("SELECT * FROM bans WHERE guild_id = ? AND user_id = ?", (guild_id, user_id))

    async def bans(self, guild_id: int) -> list[dict[str, Any]]:
        return await self._all("SELECT * FROM bans WHERE guild_id = ? ORDER BY created_at", (guild_id,))


class ProviderRepository(_Repo):
    """Provider-wide state: operations a provider retired, and webhook deliveries already processed."""

    async def retired(self, provider: str) -> dict[Operation, str | None]:
        rows = await self._all("SELECT operation, message FROM retired_operations WHERE provider = ?", (provider,))
        return {Operation(r["operation"]): r["message"] for r in rows}

    async def retire(self, provider: str, operation: Operation, *, message: str | None, now: float) -> None:
        await self._write(
            "INSERT OR IGNORE INTO retired_operations (provider, operation, message, retired_at) VALUES (?,?,?,?)",
            (provider, operation.value, message, now),
        )

    async def reinstate(self, provider: str, operation: Operation) -> bool:
        return bool(
            await self._write(
                "DELETE FROM retired_operations WHERE provider = ? AND operation = ?", (provider, operation.value)
            )
        )

    async def record_webhooks(self, events: list[tuple[str, str]], now: float) -> None:
        """Remember several deliveries (event key, task id) in one round trip."""
        if events:
            await self._conn.executemany(
                "INSERT OR IGNORE INTO webhook_events (event_key, task_id, received_at) VALUES (?,?,?)",
                [(key, task_id, now) for key, task_id in events],
            )

    async def record_webhook(self, event_key: str, task_id: str, now: float) -> bool:
        """Remember a webhook delivery; False when it was seen before (a duplicate to ignore)."""
        return bool(
            await self._write(
                "INSERT OR IGNORE INTO webhook_events (event_key, task_id, received_at) VALUES (?,?,?)",
                (event_key, task_id, now),
            )
        )
