"""The playground's SQLite file: the guild, its members, roles, channels, threads, commands and messages.

Small tables of Discord JSON keyed by id (Discord's objects are the model here, so nothing is translated twice),
plus messages indexed for history paging and the nonce check. Attachment bytes are files in a folder beside the
database, named by attachment id only, so nothing a client sends ever becomes a path.
"""

from __future__ import annotations

import asyncio
import json
import logging
import shutil
from pathlib import Path
from typing import Any

import aiosqlite

from bot.playground.errors import JSON

log = logging.getLogger(__name__)

SCHEMA_VERSION = "1"
ENTITY_TABLES = ("users", "members", "roles", "channels", "commands")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS users (id INTEGER PRIMARY KEY, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS members (id INTEGER PRIMARY KEY, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS roles (id INTEGER PRIMARY KEY, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS channels (id INTEGER PRIMARY KEY, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS commands (id INTEGER PRIMARY KEY, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS messages (
    id INTEGER PRIMARY KEY,
    channel_id INTEGER NOT NULL,
    author_id INTEGER NOT NULL,
    nonce TEXT,
    created_at REAL NOT NULL,
    data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS messages_by_channel ON messages (channel_id, id);
CREATE INDEX IF NOT EXISTS messages_by_nonce ON messages (author_id, nonce) WHERE nonce IS NOT NULL;
CREATE TABLE IF NOT EXISTS attachments (
    id INTEGER PRIMARY KEY,
    channel_id INTEGER NOT NULL,
    message_id INTEGER,
    filename TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS attachments_by_message ON attachments (message_id);
"""


def _dump(data: Any) -> str:
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False)


class Store:
    """One aiosqlite connection (writes are serialised by it) and the attachments folder."""

    def __init__(self, db: aiosqlite.Connection, files: Path) -> None:
        self._db = db
        self.files = files

    @classmethod
    async def open(cls, path: Path) -> Store:
        path.parent.mkdir(parents=True, exist_ok=True)
        files = path.with_name(path.stem + "-attachments")
        files.mkdir(exist_ok=True)
        db = await aiosqlite.connect(path)
        try:
            await db.execute("PRAGMA journal_mode=WAL")
            await db.execute("PRAGMA synchronous=NORMAL")
            await db.executescript(_SCHEMA)
            await db.commit()
        except BaseException:
            await db.close()
            raise
        return cls(db, files)

    async def close(self) -> None:
        await self._db.close()

    # --- meta and entities ------------------------------------------------------------------------------------
    async def meta(self, key: str) -> str | None:
        async with self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)) as cursor:
            row = await cursor.fetchone()
        return None if row is None else str(row[0])

    async def set_meta(self, key: str, value: str) -> None:
        await self._db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))
        await self._db.commit()

    async def load(self, table: str) -> list[JSON]:
        assert table in ENTITY_TABLES
        async with self._db.execute(f"SELECT data FROM {table} ORDER BY id") as cursor:
            return [json.loads(row[0]) async for row in cursor]

    async def put(self, table: str, *items: JSON) -> None:
        assert table in ENTITY_TABLES
        rows = [(int(_entity_id(table, item)), _dump(item)) for item in items]
        await self._db.executemany(f"INSERT OR REPLACE INTO {table} (id, data) VALUES (?, ?)", rows)
        await self._db.commit()

    async def replace(self, table: str, keep: list[JSON], drop: list[int]) -> None:
        """Write ``keep`` and delete ``drop`` in one transaction (a command sync)."""
        assert table in ENTITY_TABLES
        if drop:
            await self._db.executemany(f"DELETE FROM {table} WHERE id = ?", [(i,) for i in drop])
        await self._db.executemany(
            f"INSERT OR REPLACE INTO {table} (id, data) VALUES (?, ?)",
            [(int(_entity_id(table, item)), _dump(item)) for item in keep],
        )
        await self._db.commit()

    async def delete(self, table: str, entity_id: int) -> None:
        assert table in ENTITY_TABLES
        await self._db.execute(f"DELETE FROM {table} WHERE id = ?", (entity_id,))
        await self._db.commit()

    async def max_id(self) -> int:
        best = 0
        for table in (*ENTITY_TABLES, "messages", "attachments"):
            async with self._db.execute(f"SELECT MAX(id) FROM {table}") as cursor:
                row = await cursor.fetchone()
            best = max(best, int(row[0] or 0) if row else 0)
        return best

    # --- messages ---------------------------------------------------------------------------------------------
    async def put_message(self, message: JSON, *, author_id: int, nonce: str | None, created_at: float) -> None:
        await self._db.execute(
            "INSERT OR REPLACE INTO messages (id, channel_id, author_id, nonce, created_at, data) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (int(message["id"]), int(message["channel_id"]), author_id, nonce, created_at, _dump(message)),
        )
        await self._db.commit()

    async def update_message(self, message: JSON) -> None:
        await self._db.execute("UPDATE messages SET data = ? WHERE id = ?", (_dump(message), int(message["id"])))
        await self._db.commit()

    async def message(self, message_id: int) -> JSON | None:
        async with self._db.execute("SELECT data FROM messages WHERE id = ?", (message_id,)) as cursor:
            row = await cursor.fetchone()
        return None if row is None else json.loads(row[0])

    async def message_by_nonce(self, author_id: int, nonce: str, since: float) -> JSON | None:
        async with self._db.execute(
            "SELECT data FROM messages WHERE author_id = ? AND nonce = ? AND created_at >= ? ORDER BY id LIMIT 1",
            (author_id, nonce, since),
        ) as cursor:
            row = await cursor.fetchone()
        return None if row is None else json.loads(row[0])

    async def history(
        self, channel_id: int, *, limit: int, before: int | None, after: int | None, around: int | None
    ) -> list[JSON]:
        """Newest first, as Discord answers: before (default: the latest), after (the oldest ones after), around."""
        if around is not None:
            older = await self._page(channel_id, "id <= ?", around, "DESC", (limit + 1) // 2)
            newer = await self._page(channel_id, "id > ?", around, "ASC", limit // 2)
            return [*reversed(newer), *older]
        if after is not None:
            return list(reversed(await self._page(channel_id, "id > ?", after, "ASC", limit)))
        if before is not None:
            return await self._page(channel_id, "id < ?", before, "DESC", limit)
        return await self._page(channel_id, "1 = ?", 1, "DESC", limit)

    async def _page(self, channel_id: int, where: str, value: int, order: str, limit: int) -> list[JSON]:
        if limit <= 0:
            return []
        query = f"SELECT data FROM messages WHERE channel_id = ? AND {where} ORDER BY id {order} LIMIT ?"
        async with self._db.execute(query, (channel_id, value, limit)) as cursor:
            return [json.loads(row[0]) async for row in cursor]

    async def count_messages(self, channel_id: int) -> int:
        async with self._db.execute("SELECT COUNT(*) FROM messages WHERE channel_id = ?", (channel_id,)) as cursor:
            row = await cursor.fetchone()
        return int(row[0]) if row else 0

    async def delete_message(self, message_id: int) -> None:
        async with self._db.execute("SELECT id FROM attachments WHERE message_id = ?", (message_id,)) as cursor:
            attachment_ids = [int(row[0]) async for row in cursor]
        await self._db.execute("DELETE FROM messages WHERE id = ?", (message_id,))
        await self._db.execute("DELETE FROM attachments WHERE message_id = ?", (message_id,))
        await self._db.commit()
        await asyncio.to_thread(self._unlink, attachment_ids)

    # --- attachments ------------------------------------------------------------------------------------------
    async def put_attachment(
        self, attachment_id: int, channel_id: int, filename: str, content_type: str, data: bytes
    ) -> None:
        """The file first, then its row: a crash in between leaves an orphan file, never a row without bytes."""
        await asyncio.to_thread((self.files / str(attachment_id)).write_bytes, data)
        await self._db.execute(
            "INSERT OR REPLACE INTO attachments (id, channel_id, message_id, filename, content_type, size) "
            "VALUES (?, ?, NULL, ?, ?, ?)",
            (attachment_id, channel_id, filename, content_type, len(data)),
        )
        await self._db.commit()

    async def link_attachments(self, message_id: int, attachment_ids: list[int]) -> None:
        await self._db.executemany(
            "UPDATE attachments SET message_id = ? WHERE id = ?", [(message_id, a) for a in attachment_ids]
        )
        await self._db.commit()

    async def drop_attachments(self, attachment_ids: list[int]) -> None:
        if not attachment_ids:
            return
        await self._db.executemany("DELETE FROM attachments WHERE id = ?", [(a,) for a in attachment_ids])
        await self._db.commit()
        await asyncio.to_thread(self._unlink, attachment_ids)

    async def attachment(self, attachment_id: int) -> tuple[int, str, str, Path] | None:
        """(channel id, filename, content type, path) of a stored attachment."""
        async with self._db.execute(
            "SELECT channel_id, filename, content_type FROM attachments WHERE id = ?", (attachment_id,)
        ) as cursor:
            row = await cursor.fetchone()
        if row is None:
            return None
        return int(row[0]), str(row[1]), str(row[2]), self.files / str(attachment_id)

    def _unlink(self, attachment_ids: list[int]) -> None:
        for attachment_id in attachment_ids:
            (self.files / str(attachment_id)).unlink(missing_ok=True)

    # --- reset ------------------------------------------------------------------------------------------------
    async def wipe(self, *, keep_tables: tuple[str, ...] = ("meta", "commands")) -> None:
        """Delete everything but ``keep_tables`` (and every attachment file)."""
        for table in ("users", "members", "roles", "channels", "commands", "messages", "attachments"):
            if table not in keep_tables:
                await self._db.execute(f"DELETE FROM {table}")
        await self._db.commit()
        await asyncio.to_thread(self._clear_files)

    def _clear_files(self) -> None:
        shutil.rmtree(self.files, ignore_errors=True)
        self.files.mkdir(exist_ok=True)


def _entity_id(table: str, item: JSON) -> Any:
    return item["user"]["id"] if table == "members" else item["id"]
