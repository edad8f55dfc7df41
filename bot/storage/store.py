"""The SQLite store: the Store port on one SQLite file. Every SQL statement of the bot lives in this package.

Each method is one hop to the database thread: a read, one statement, or one transaction (``_db.transaction``)
when it writes more than one row that must stand or fall together.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot.domain.lyrics_timeline import LyricsAlignment
from bot.domain.models import (
    DraftedLyrics,
    GuildSettings,
    Job,
    JobState,
    LedgerEntry,
    LedgerKind,
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
from bot.storage.cluster import SqliteCluster
from bot.storage.database import Database, job_of, rows

_ACTIVE = ("queued", "submitted", "running")
_ACTIVE_SQL = "('queued', 'submitted', 'running')"

_BALANCES = (
    "SELECT"
    " (SELECT COALESCE(SUM(amount), 0) FROM ledger WHERE guild_id = :g AND period_key = :p"
    "   AND NOT (kind = 'grant' AND user_id IS NOT NULL)) AS server_sum,"
    " (SELECT COALESCE(SUM(amount), 0) FROM ledger WHERE guild_id = :g AND user_id = :u"
    "   AND period_key = :p) AS member_sum,"
    " (SELECT cap FROM member_caps WHERE guild_id = :g AND user_id = :u) AS member_cap,"
    f" (SELECT COUNT(*) FROM jobs WHERE guild_id = :g AND user_id = :u AND state IN {_ACTIVE_SQL}) AS member_active,"
    f" (SELECT COUNT(*) FROM jobs WHERE guild_id = :g AND state IN {_ACTIVE_SQL}) AS server_active"
)
# Everything admission decides on, in one statement: the balances, the member's ban and latest job.
_ADMISSION = (
    _BALANCES + ","
    " b.user_id IS NOT NULL AS banned, b.reason AS ban_reason, b.banned_by AS banned_by, b.created_at AS banned_at,"
    " CASE WHEN :last THEN (SELECT MAX(created_at) FROM jobs WHERE guild_id = :g AND user_id = :u"
    "   AND operation != 'lyrics') END AS last_job_at"
    " FROM (SELECT 1) LEFT JOIN bans b ON b.guild_id = :g AND b.user_id = :u"
)


def _track(row: sqlite3.Row | dict[str, Any]) -> Track:
    data = dict(row)
    data["deleted"] = bool(data["deleted"])
    if data.get("alignment") is not None:
        data["alignment"] = json.loads(data["alignment"])
    return Track.model_validate(data)


def _alignment_json(alignment: LyricsAlignment | None) -> str | None:
    return alignment.model_dump_json() if alignment is not None and not alignment.empty else None


def _persona(row: sqlite3.Row | dict[str, Any]) -> Persona:
    return Persona.model_validate(dict(row))


_INSERT_TRACK = (
    "INSERT INTO tracks (job_id, guild_id, channel_id, author_id, provider, clip_id, title, audio_url, image_url,"
    " duration_s, lyrics, tags, model, operation, parent_track_id, second_parent_track_id, alignment, created_at)"
    " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
)


def _track_row(
    job: Job, clip: Any, operation: Operation, parent: int | None, second: int | None, now: float
) -> tuple[Any, ...]:
    return (
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
        now,
    )


def _settings(row: sqlite3.Row) -> GuildSettings:
    data = dict(row)
    data["costs"] = json.loads(data["costs"])
    data["allowed_channel_ids"] = json.loads(data["allowed_channel_ids"])
    data["remix_threads"] = bool(data["remix_threads"])
    data["use_default_blocklist"] = bool(data["use_default_blocklist"])
    return GuildSettings.model_validate(data)


def _balances(row: sqlite3.Row) -> Balances:
    return Balances(
        server_sum=int(row["server_sum"] or 0),
        member_sum=int(row["member_sum"] or 0),
        member_cap=None if row["member_cap"] is None else int(row["member_cap"]),
        member_active=int(row["member_active"] or 0),
        server_active=int(row["server_active"] or 0),
    )


def _marks(values: Sequence[Any]) -> str:
    return ",".join("?" * len(values))


def _ledger(conn: sqlite3.Connection, entries: Sequence[tuple[Any, ...]]) -> None:
    """Ledger rows (guild, user, job, kind, amount, period, note, actor, created_at) in one round trip."""
    if entries:
        conn.executemany(
            "INSERT INTO ledger (guild_id, user_id, job_id, kind, amount, period_key, note, actor_id, created_at)"
            " VALUES (?,?,?,?,?,?,?,?,?)",
            entries,
        )


def _save_settings(conn: sqlite3.Connection, settings: GuildSettings) -> None:
    data = settings.model_dump()
    data["period"] = Period(data["period"]).value
    data["costs"] = json.dumps({Operation(k).value: int(v) for k, v in settings.costs.items()})
    data["allowed_channel_ids"] = json.dumps(settings.allowed_channel_ids)
    data["remix_threads"] = int(settings.remix_threads)
    data["use_default_blocklist"] = int(settings.use_default_blocklist)
    cols = list(data)
    conn.execute(
        f"INSERT INTO guild_settings ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})"
        f" ON CONFLICT (guild_id) DO UPDATE SET {', '.join(f'{c} = excluded.{c}' for c in cols[1:])}",
        tuple(data.values()),
    )


class SqliteStore(SqliteCluster):
    """The Store port (and the ClusterStore port, bot/storage/cluster.py) on SQLite.
    ``await SqliteStore.open(path)``; close with :meth:`close`."""

    def __init__(self, db: Database) -> None:
        self._db = db

    @classmethod
    async def open(cls, path: Path | str, *, lock: bool = True) -> SqliteStore:
        return cls(await Database.open(path, lock=lock))

    @property
    def database(self) -> Database:
        return self._db

    async def close(self) -> None:
        await self._db.close()

    async def dump(self) -> str:
        return await self._db.dump()

    # --- jobs ------------------------------------------------------------------------------------------------------
    async def admit(self, ticket: JobTicket, decide: AdmissionDecision) -> Job:
        request_json = json.dumps(dict(ticket.request), separators=(",", ":"))

        def admit(conn: sqlite3.Connection) -> Job:
            row = conn.execute(
                _ADMISSION,
                {"g": ticket.guild_id, "u": ticket.user_id, "p": ticket.period_key, "last": ticket.with_last_job},
            ).fetchone()
            ban = (
                Ban(ticket.guild_id, ticket.user_id, row["ban_reason"], row["banned_by"], float(row["banned_at"]))
                if row["banned"]
                else None
            )
            last = row["last_job_at"]
            cost = decide(AdmissionSnapshot(_balances(row), ban, None if last is None else float(last)))
            # The reservation (-cost in the ledger) is written by a trigger on this insert.
            cursor = conn.execute(
                "INSERT INTO jobs (guild_id, channel_id, user_id, operation, request, provider, state, cost,"
                " period_key, parent_track_id, second_parent_track_id, created_at, owner)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    ticket.guild_id,
                    ticket.channel_id,
                    ticket.user_id,
                    ticket.operation.value,
                    request_json,
                    ticket.provider,
                    JobState.QUEUED.value,
                    cost,
                    ticket.period_key,
                    ticket.parent_track_id,
                    ticket.second_parent_track_id,
                    ticket.now,
                    ticket.owner,
                ),
            )
            # Built from what was just written (no read back, no validation of values we made ourselves).
            return Job.model_construct(
                id=int(cursor.lastrowid or 0),
                guild_id=ticket.guild_id,
                channel_id=ticket.channel_id,
                user_id=ticket.user_id,
                operation=ticket.operation,
                request=dict(ticket.request),
                provider=ticket.provider,
                state=JobState.QUEUED,
                cost=cost,
                period_key=ticket.period_key,
                parent_track_id=ticket.parent_track_id,
                second_parent_track_id=ticket.second_parent_track_id,
                created_at=_when(ticket.now),
            )

        return await self._db.transaction(admit)

    async def job(self, job_id: int) -> Job | None:
        row = await self._db.read(lambda c: c.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone())
        return job_of(row) if row is not None else None

    async def unfinished_jobs(self) -> list[Job]:
        found = await self._db.read(
            lambda c: rows(c.execute(f"SELECT * FROM jobs WHERE state IN {_ACTIVE_SQL} ORDER BY id"))
        )
        return [job_of(r) for r in found]

    async def undelivered_jobs(self) -> list[Job]:
        found = await self._db.read(
            lambda c: rows(
                c.execute(f"SELECT * FROM jobs WHERE delivered_at IS NULL AND state NOT IN {_ACTIVE_SQL} ORDER BY id")
            )
        )
        return [job_of(r) for r in found]

    async def active_jobs_of(self, guild_id: int, user_id: int, *, limit: int = 25) -> list[Job]:
        found = await self._db.read(
            lambda c: rows(
                c.execute(
                    f"SELECT * FROM jobs WHERE guild_id = ? AND user_id = ? AND state IN {_ACTIVE_SQL}"
                    " ORDER BY id DESC LIMIT ?",
                    (guild_id, user_id, limit),
                )
            )
        )
        return [job_of(r) for r in found]

    async def attach_status_message(self, job_id: int, message_id: int, channel_id: int | None = None) -> None:
        await self._db.read(
            lambda c: c.execute(
                "UPDATE jobs SET status_message_id = ?, channel_id = COALESCE(?, channel_id) WHERE id = ?",
                (message_id, channel_id, job_id),
            )
        )

    async def mark_submitted(self, job_id: int, task_id: str, now: float) -> bool:
        cursor = await self._db.read(
            lambda c: c.execute(
                "UPDATE jobs SET state = 'submitted', task_id = ?, submitted_at = ? WHERE id = ? AND state = 'queued'",
                (task_id, now, job_id),
            )
        )
        return cursor.rowcount == 1

    async def mark_running(self, job_id: int, polls: int) -> bool:
        cursor = await self._db.read(
            lambda c: c.execute(
                "UPDATE jobs SET state = 'running', poll_count = ? WHERE id = ? AND state IN ('queued', 'submitted')",
                (polls, job_id),
            )
        )
        return cursor.rowcount == 1

    async def finish_jobs(
        self, completions: Sequence[Completion], webhooks: Sequence[WebhookReceipt], now: float
    ) -> dict[int, Finished]:
        by_id = {c.job.id: c for c in completions}

        def finish(conn: sqlite3.Connection) -> dict[int, Finished]:
            if webhooks:
                conn.executemany(
                    "INSERT OR IGNORE INTO webhook_events (event_key, task_id, received_at) VALUES (?,?,?)",
                    [(w.event_key, w.task_id, now) for w in webhooks],
                )
            if not by_id:
                return {}
            ids = list(by_id)
            # The conditional update is the guard: a webhook and a poll may race; the first one does the work.
            moved = {
                int(r[0])
                for r in conn.execute(
                    f"UPDATE jobs SET state = 'succeeded', finished_at = ? WHERE id IN ({_marks(ids)})"
                    f" AND state IN {_ACTIVE_SQL} RETURNING id",
                    (now, *ids),
                ).fetchall()
            }
            done = [by_id[j] for j in ids if j in moved]
            results: dict[int, tuple[str | None, str | None]] = {}
            for completion in done:
                job = completion.job
                if not job.operation.makes_tracks:
                    # A download's link, or what a tool made (stems), instead of tracks.
                    url = next((c.audio_url for c in completion.clips if c.audio_url), None)
                    results[job.id] = (url, completion.result_text)
                    continue
                second = job.second_parent_track_id
                if completion.partials:
                    # Each partial (an extension's new part) is kept, as the parent of the full song joined from it;
                    # the partials first, then the full songs (as the PostgreSQL store numbers them).
                    parents: list[int | None] = []
                    for partial in completion.partials:
                        row = _track_row(job, partial, job.operation, job.parent_track_id, second, now)
                        parents.append(int(conn.execute(_INSERT_TRACK, row).lastrowid or 0))
                    conn.executemany(
                        _INSERT_TRACK,
                        [
                            _track_row(
                                job,
                                clip,
                                Operation.CONCAT,
                                parents[i] if i < len(parents) else job.parent_track_id,
                                None,
                                now,
                            )
                            for i, clip in enumerate(completion.clips)
                        ],
                    )
                    continue
                conn.executemany(
                    _INSERT_TRACK,
                    [
                        _track_row(job, clip, job.operation, job.parent_track_id, second, now)
                        for clip in completion.clips
                    ],
                )
            if results:
                conn.executemany(
                    "UPDATE jobs SET result_url = ?, result_text = COALESCE(?, result_text) WHERE id = ?",
                    [(url, text, j) for j, (url, text) in results.items()],
                )
            _ledger(
                conn,
                [
                    (
                        c.job.guild_id,
                        c.job.user_id,
                        c.job.id,
                        LedgerKind.COMMIT.value,
                        0,
                        c.job.period_key,
                        None,
                        None,
                        now,
                    )
                    for c in done
                ],
            )
            tracks: dict[int, list[Track]] = {}
            with_tracks = [c.job.id for c in done if c.job.operation.makes_tracks]
            if with_tracks:
                for row in conn.execute(
                    f"SELECT * FROM tracks WHERE job_id IN ({_marks(with_tracks)}) ORDER BY id", with_tracks
                ).fetchall():
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
                    tracks=tuple(tracks.get(c.job.id, ())),
                )
                for c in done
            }

        return await self._db.transaction(finish)

    async def end_job(
        self, job_id: int, state: JobState, failure: Failure, now: float, *, delivered: bool = False
    ) -> Job | None:
        def end(conn: sqlite3.Connection) -> Job | None:
            row = conn.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
            if row is None or row["state"] not in _ACTIVE:
                return None
            conn.execute(
                "UPDATE jobs SET state = ?, finished_at = ?, failure_kind = ?, failure_message = ?,"
                " delivered_at = ? WHERE id = ?",
                (state.value, now, failure.kind.value, failure.detail, now if delivered else None, job_id),
            )
            if row["cost"]:
                # The unique index on settlements refuses a second one; a job ends once, so there is none yet.
                _ledger(
                    conn,
                    [
                        (
                            row["guild_id"],
                            row["user_id"],
                            job_id,
                            LedgerKind.REFUND.value,
                            row["cost"],
                            row["period_key"],
                            failure.kind.value,
                            None,
                            now,
                        )
                    ],
                )
            ended = dict(row)
            ended.update(
                state=state.value,
                finished_at=now,
                failure_kind=failure.kind.value,
                failure_message=failure.detail,
                delivered_at=now if delivered else None,
            )
            return job_of(ended)

        return await self._db.transaction(end)

    async def complete_lyrics(self, job_id: int, drafts: Sequence[DraftedLyrics], now: float) -> None:
        text = json.dumps([d.model_dump() for d in drafts])

        def complete(conn: sqlite3.Connection) -> None:
            row = conn.execute(
                "UPDATE jobs SET state = 'succeeded', finished_at = ?, delivered_at = ?, result_text = ?"
                f" WHERE id = ? AND state IN {_ACTIVE_SQL} RETURNING guild_id, user_id, period_key",
                (now, now, text, job_id),
            ).fetchone()
            if row is not None:
                _ledger(
                    conn,
                    [(row[0], row[1], job_id, LedgerKind.COMMIT.value, 0, row[2], None, None, now)],
                )

        await self._db.transaction(complete)

    async def complete_at_once(self, job_id: int, result_text: str, now: float) -> bool:
        def complete(conn: sqlite3.Connection) -> bool:
            row = conn.execute(
                "UPDATE jobs SET state = 'succeeded', finished_at = ?, delivered_at = ?, result_text = ?"
                f" WHERE id = ? AND state IN {_ACTIVE_SQL} RETURNING guild_id, user_id, period_key",
                (now, now, result_text, job_id),
            ).fetchone()
            if row is None:
                return False
            _ledger(conn, [(row[0], row[1], job_id, LedgerKind.COMMIT.value, 0, row[2], None, None, now)])
            return True

        return await self._db.transaction(complete)

    async def record_followup(self, job_id: int, task_id: str, followup: Mapping[str, Any], now: float) -> bool:
        text = json.dumps(dict(followup), separators=(",", ":"))
        cursor = await self._db.read(
            lambda c: c.execute(
                f"UPDATE jobs SET task_id = ?, followup = ? WHERE id = ? AND state IN {_ACTIVE_SQL}",
                (task_id, text, job_id),
            )
        )
        return cursor.rowcount == 1

    async def claim_deliveries(
        self, job_id: int, nonces: Mapping[int, str], owner: str, now: float
    ) -> list[DeliveryClaim]:
        def claim(conn: sqlite3.Connection) -> list[DeliveryClaim]:
            made = {
                slot
                for slot, nonce in nonces.items()
                if conn.execute(
                    "INSERT INTO delivery_claims (job_id, slot, nonce, owner, claimed_at) VALUES (?, ?, ?, ?, ?)"
                    " ON CONFLICT (job_id, slot) DO NOTHING",
                    (job_id, slot, nonce, owner, now),
                ).rowcount
                == 1
            }
            found = {
                r["slot"]: r
                for r in conn.execute(
                    "SELECT slot, nonce, owner, claimed_at FROM delivery_claims WHERE job_id = ?", (job_id,)
                )
            }
            return [
                DeliveryClaim(job_id, slot, r["nonce"], r["owner"], r["claimed_at"], fresh=slot in made)
                for slot in nonces
                for r in [found[slot]]
            ]

        return await self._db.transaction(claim) if nonces else []

    async def record_deliveries(self, deliveries: Sequence[Delivery], delivered: Sequence[int], now: float) -> None:
        def record(conn: sqlite3.Connection) -> None:
            if deliveries:
                conn.executemany(
                    "UPDATE tracks SET message_id = ?, thread_id = COALESCE(?, thread_id) WHERE id = ?",
                    [(d.message_id, d.thread_id, d.track_id) for d in deliveries],
                )
            if delivered:
                conn.executemany("UPDATE jobs SET delivered_at = ? WHERE id = ?", [(now, j) for j in delivered])

        await self._db.transaction(record)

    # --- tracks ----------------------------------------------------------------------------------------------------
    async def track(self, track_id: int) -> Track | None:
        row = await self._db.read(lambda c: c.execute("SELECT * FROM tracks WHERE id = ?", (track_id,)).fetchone())
        return _track(row) if row is not None else None

    async def tracks_of_job(self, job_id: int) -> list[Track]:
        found = await self._db.read(
            lambda c: rows(c.execute("SELECT * FROM tracks WHERE job_id = ? ORDER BY id", (job_id,)))
        )
        return [_track(r) for r in found]

    async def ancestors(self, track_id: int, *, limit: int = 25) -> list[Track]:
        found = await self._db.read(
            lambda c: rows(
                c.execute(
                    "WITH RECURSIVE chain (id, depth) AS ("
                    " SELECT parent_track_id, 1 FROM tracks WHERE id = ?"
                    " UNION ALL"
                    " SELECT t.parent_track_id, chain.depth + 1 FROM tracks t JOIN chain ON t.id = chain.id"
                    " WHERE chain.depth < ?)"
                    " SELECT tracks.* FROM chain JOIN tracks ON tracks.id = chain.id ORDER BY chain.depth",
                    (track_id, limit),
                )
            )
        )
        chain: list[Track] = []
        seen = {track_id}
        for row in found:
            if row["id"] in seen:
                break  # a loop: stop where it closes
            seen.add(row["id"])
            chain.append(_track(row))
        return chain

    async def children(self, track_id: int) -> list[Track]:
        found = await self._db.read(
            lambda c: rows(
                c.execute(
                    "SELECT * FROM tracks WHERE (parent_track_id = ? OR second_parent_track_id = ?) AND deleted = 0"
                    " ORDER BY id",
                    (track_id, track_id),
                )
            )
        )
        return [_track(r) for r in found]

    async def find_tracks(self, guild_id: int, text: str, *, limit: int = 25) -> list[Track]:
        text = text.strip()
        if not text:
            sql = "SELECT * FROM tracks WHERE guild_id = ? AND deleted = 0 ORDER BY id DESC LIMIT ?"
            params: tuple[Any, ...] = (guild_id, limit)
        else:
            like = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            sql = (
                "SELECT * FROM tracks WHERE guild_id = ? AND deleted = 0 AND (title LIKE ? ESCAPE '\\'"
                " OR tags LIKE ? ESCAPE '\\' OR CAST(id AS TEXT) = ?) ORDER BY id DESC LIMIT ?"
            )
            params = (guild_id, like, like, text, limit)
        found = await self._db.read(lambda c: rows(c.execute(sql, params)))
        return [_track(r) for r in found]

    async def track_channels(self, guild_id: int, author_id: int | None = None) -> set[int]:
        where = "guild_id = ? AND deleted = 0" + ("" if author_id is None else " AND author_id = ?")
        params: tuple[Any, ...] = (guild_id,) if author_id is None else (guild_id, author_id)
        found = await self._db.read(
            lambda c: c.execute(f"SELECT DISTINCT channel_id FROM tracks WHERE {where}", params).fetchall()
        )
        return {int(r[0]) for r in found}

    async def track_page(
        self, guild_id: int, author_id: int | None, page: int, size: int, *, visible: Visible
    ) -> TrackPage:
        where = "guild_id = ? AND deleted = 0" + ("" if author_id is None else " AND author_id = ?")
        params: tuple[Any, ...] = (guild_id,) if author_id is None else (guild_id, author_id)
        if not visible.everything:
            # The channels a member may view: an IN list (bound values; at most a few hundred per server).
            marks = ",".join("?" * len(visible.channel_ids))
            where += f" AND (channel_id IN ({marks}) OR author_id = ?)"
            params = (*params, *sorted(visible.channel_ids), visible.author_id)

        def read(conn: sqlite3.Connection) -> TrackPage:
            total = int(conn.execute(f"SELECT COUNT(*) FROM tracks WHERE {where}", params).fetchone()[0])
            pages = max(1, -(-total // size))
            shown = min(max(page, 0), pages - 1)
            found = conn.execute(
                f"SELECT * FROM tracks WHERE {where} ORDER BY id DESC LIMIT ? OFFSET ?", (*params, size, shown * size)
            ).fetchall()
            return TrackPage([_track(r) for r in found], shown, pages)

        return await self._db.read(read)

    async def set_thread(self, track_id: int, thread_id: int) -> None:
        await self._db.read(lambda c: c.execute("UPDATE tracks SET thread_id = ? WHERE id = ?", (thread_id, track_id)))

    async def set_alignment(self, track_id: int, alignment: LyricsAlignment) -> None:
        text = _alignment_json(alignment)
        await self._db.read(lambda c: c.execute("UPDATE tracks SET alignment = ? WHERE id = ?", (text, track_id)))

    async def delete_track(self, track_id: int) -> bool:
        cursor = await self._db.read(
            lambda c: c.execute("UPDATE tracks SET deleted = 1 WHERE id = ? AND deleted = 0", (track_id,))
        )
        return cursor.rowcount == 1

    # --- credits ---------------------------------------------------------------------------------------------------
    async def balances(self, guild_id: int, user_id: int, period_key: str) -> Balances:
        row = await self._db.read(
            lambda c: c.execute(_BALANCES, {"g": guild_id, "u": user_id, "p": period_key}).fetchone()
        )
        return _balances(row)

    async def ledger_of_job(self, job_id: int) -> list[LedgerEntry]:
        found = await self._db.read(
            lambda c: rows(c.execute("SELECT * FROM ledger WHERE job_id = ? ORDER BY id", (job_id,)))
        )
        return [LedgerEntry.model_validate(r) for r in found]

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
        entry = (guild_id, member_id, None, LedgerKind.GRANT.value, amount, period_key, note, actor_id, now)
        await self._db.read(lambda c: _ledger(c, [entry]))

    async def set_member_cap(self, guild_id: int, user_id: int, cap: int | None) -> None:
        if cap is None:
            await self._db.read(
                lambda c: c.execute("DELETE FROM member_caps WHERE guild_id = ? AND user_id = ?", (guild_id, user_id))
            )
        else:
            await self._db.read(
                lambda c: c.execute(
                    "INSERT INTO member_caps (guild_id, user_id, cap) VALUES (?,?,?)"
                    " ON CONFLICT (guild_id, user_id) DO UPDATE SET cap = excluded.cap",
                    (guild_id, user_id, cap),
                )
            )

    async def reset_period(self, settings: GuildSettings, period_key: str, *, actor_id: int, now: float) -> None:
        def reset(conn: sqlite3.Connection) -> None:
            _save_settings(conn, settings)
            _ledger(conn, [(settings.guild_id, None, None, LedgerKind.RESET.value, 0, period_key, None, actor_id, now)])

        await self._db.transaction(reset)

    # --- settings --------------------------------------------------------------------------------------------------
    async def guild_settings(self, guild_id: int) -> GuildSettings | None:
        row = await self._db.read(
            lambda c: c.execute("SELECT * FROM guild_settings WHERE guild_id = ?", (guild_id,)).fetchone()
        )
        return _settings(row) if row is not None else None

    async def save_settings(self, settings: GuildSettings) -> None:
        await self._db.read(lambda c: _save_settings(c, settings))

    # --- moderation ------------------------------------------------------------------------------------------------
    async def blocked_terms(self, guild_id: int) -> list[BlockedTerm]:
        found = await self._db.read(
            lambda c: c.execute(
                "SELECT id, pattern, is_regex FROM blocked_terms WHERE guild_id = ? ORDER BY id", (guild_id,)
            ).fetchall()
        )
        return [BlockedTerm(int(r["id"]), r["pattern"], bool(r["is_regex"])) for r in found]

    async def add_blocked_term(self, guild_id: int, pattern: str, *, is_regex: bool, added_by: int, now: float) -> bool:
        cursor = await self._db.read(
            lambda c: c.execute(
                "INSERT OR IGNORE INTO blocked_terms (guild_id, pattern, is_regex, added_by, created_at)"
                " VALUES (?,?,?,?,?)",
                (guild_id, pattern, int(is_regex), added_by, now),
            )
        )
        return cursor.rowcount == 1

    async def remove_blocked_term(self, guild_id: int, pattern: str) -> bool:
        cursor = await self._db.read(
            lambda c: c.execute("DELETE FROM blocked_terms WHERE guild_id = ? AND pattern = ?", (guild_id, pattern))
        )
        return cursor.rowcount > 0

    async def ban(self, guild_id: int, user_id: int, *, reason: str | None, banned_by: int, now: float) -> None:
        await self._db.read(
            lambda c: c.execute(
                "INSERT INTO bans (guild_id, user_id, reason, banned_by, created_at) VALUES (?,?,?,?,?)"
                " ON CONFLICT (guild_id, user_id) DO UPDATE SET reason = excluded.reason,"
                " banned_by = excluded.banned_by",
                (guild_id, user_id, reason, banned_by, now),
            )
        )

    async def unban(self, guild_id: int, user_id: int) -> bool:
        cursor = await self._db.read(
            lambda c: c.execute("DELETE FROM bans WHERE guild_id = ? AND user_id = ?", (guild_id, user_id))
        )
        return cursor.rowcount > 0

    async def bans(self, guild_id: int) -> list[Ban]:
        found = await self._db.read(
            lambda c: c.execute("SELECT * FROM bans WHERE guild_id = ? ORDER BY created_at", (guild_id,)).fetchall()
        )
        return [Ban(r["guild_id"], r["user_id"], r["reason"], r["banned_by"], float(r["created_at"])) for r in found]

    # --- provider state --------------------------------------------------------------------------------------------
    async def retired_operations(self, provider: str) -> dict[Operation, str | None]:
        found = await self._db.read(
            lambda c: c.execute(
                "SELECT operation, message FROM retired_operations WHERE provider = ?", (provider,)
            ).fetchall()
        )
        return {Operation(r["operation"]): r["message"] for r in found}

    async def retire_operation(self, provider: str, operation: Operation, *, message: str | None, now: float) -> None:
        await self._db.read(
            lambda c: c.execute(
                "INSERT OR IGNORE INTO retired_operations (provider, operation, message, retired_at) VALUES (?,?,?,?)",
                (provider, operation.value, message, now),
            )
        )

    async def reinstate_operation(self, provider: str, operation: Operation) -> bool:
        cursor = await self._db.read(
            lambda c: c.execute(
                "DELETE FROM retired_operations WHERE provider = ? AND operation = ?", (provider, operation.value)
            )
        )
        return cursor.rowcount > 0

    async def record_webhook(self, receipt: WebhookReceipt, now: float) -> bool:
        cursor = await self._db.read(
            lambda c: c.execute(
                "INSERT OR IGNORE INTO webhook_events (event_key, task_id, received_at) VALUES (?,?,?)",
                (receipt.event_key, receipt.task_id, now),
            )
        )
        return cursor.rowcount == 1

    async def prune_webhooks(self, before: float) -> int:
        cursor = await self._db.read(lambda c: c.execute("DELETE FROM webhook_events WHERE received_at < ?", (before,)))
        return int(cursor.rowcount or 0)

    # --- personas --------------------------------------------------------------------------------------------------
    async def save_persona(self, job_id: int, persona: NewPersona, now: float) -> Persona | None:
        def save(conn: sqlite3.Connection) -> Persona | None:
            row = conn.execute(
                "INSERT INTO personas (guild_id, provider, name, persona_id, track_id, created_by, created_at)"
                " VALUES (?,?,?,?,?,?,?) ON CONFLICT DO NOTHING RETURNING *",
                (
                    persona.guild_id,
                    persona.provider,
                    persona.name,
                    persona.persona_id,
                    persona.track_id,
                    persona.created_by,
                    now,
                ),
            ).fetchone()
            if row is None:
                return None
            settled = conn.execute(
                "UPDATE jobs SET state = 'succeeded', finished_at = ?, delivered_at = ?, result_text = ?"
                f" WHERE id = ? AND state IN {_ACTIVE_SQL} RETURNING guild_id, user_id, period_key",
                (now, now, json.dumps({"persona": int(row["id"])}), job_id),
            ).fetchone()
            if settled is not None:
                _ledger(
                    conn, [(settled[0], settled[1], job_id, LedgerKind.COMMIT.value, 0, settled[2], None, None, now)]
                )
            return _persona(row)

        return await self._db.transaction(save)

    async def personas(self, guild_id: int, provider: str) -> list[Persona]:
        found = await self._db.read(
            lambda c: rows(
                c.execute(
                    "SELECT * FROM personas WHERE guild_id = ? AND provider = ? ORDER BY name COLLATE NOCASE, id",
                    (guild_id, provider),
                )
            )
        )
        return [_persona(r) for r in found]

    async def persona(self, persona_id: int) -> Persona | None:
        row = await self._db.read(lambda c: c.execute("SELECT * FROM personas WHERE id = ?", (persona_id,)).fetchone())
        return _persona(row) if row is not None else None

    async def delete_persona(self, persona_id: int) -> bool:
        cursor = await self._db.read(lambda c: c.execute("DELETE FROM personas WHERE id = ?", (persona_id,)))
        return cursor.rowcount == 1


def _when(now: float) -> datetime:
    """A unix time as the models hold it (what pydantic makes of unix seconds: an aware UTC datetime)."""
    return datetime.fromtimestamp(now, UTC)
