"""The Store port on PostgreSQL (asyncpg): for many bot processes sharing one database (docs/scaling.md)."""

from bot.storage.postgres.store import PostgresStore

__all__ = ["PostgresStore"]
