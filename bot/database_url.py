"""Which database the bot uses, from ``TUNESMITH_DATABASE_URL``, and how to name it without its password.

- unset: the SQLite file at ``TUNESMITH_DATABASE_PATH`` (default ``data/tunesmith.sqlite3``), as always;
- ``sqlite:///data/tunesmith.sqlite3``: a SQLite file, relative to the working directory (three slashes), or
  ``sqlite:////var/lib/tunesmith/bot.sqlite3``: an absolute path (four slashes), as SQLAlchemy spells them;
- ``postgresql://user:password@host:5432/dbname`` (or ``postgres://``): PostgreSQL through asyncpg. Query
  parameters are asyncpg's (``sslmode=require``, ``search_path=tunesmith`` for a schema of its own, ...).

The URL may carry a password: :func:`redact` is the only form that is ever logged or shown.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

POSTGRES_SCHEMES = ("postgresql", "postgres")
_SECRET_PARAMS = ("password", "sslpassword")


@dataclass(frozen=True, slots=True)
class DatabaseTarget:
    """A parsed database URL. ``dsn`` (with its password) is left out of ``repr``."""

    kind: Literal["sqlite", "postgresql"]
    path: Path | None = None  # sqlite: the file
    dsn: str | None = field(default=None, repr=False)  # postgresql: what asyncpg connects with

    def describe(self) -> str:
        """Where the data lives, safe to log: the file, or the URL without its password."""
        if self.kind == "sqlite":
            return str(self.path)
        return redact(self.dsn or "")


def redact(url: str) -> str:
    """The URL with any password replaced by ``***`` (in the user info and in query parameters)."""
    try:
        parts = urlsplit(url)
        netloc = parts.netloc
        if "@" in netloc:
            userinfo, _, hosts = netloc.rpartition("@")
            user, colon, _password = userinfo.partition(":")
            netloc = f"{user}:***@{hosts}" if colon else f"{user}@{hosts}"
        query = parts.query
        if query:
            pairs = parse_qsl(query, keep_blank_values=True)
            query = urlencode([(k, "***" if k.lower() in _SECRET_PARAMS else v) for k, v in pairs], safe="*")
        return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
    except ValueError:
        return "<unparseable database URL>"


def password_of(url: str) -> str | None:
    """The password the URL carries, if any (so error texts can be scrubbed of it)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.password:
        return unquote(parts.password)
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if key.lower() == "password" and value:
            return value
    return None


def parse_database_url(url: str | None, *, default_path: Path) -> DatabaseTarget:
    """The database to use. Raises ValueError (whose text never repeats the URL) when it cannot be used."""
    if url is None or not url.strip():
        return DatabaseTarget("sqlite", path=default_path)
    url = url.strip()
    try:
        parts = urlsplit(url)
    except ValueError:
        raise ValueError("is not a URL (expected sqlite:///path or postgresql://user@host/dbname)") from None
    scheme = parts.scheme.lower()
    if scheme == "sqlite":
        if parts.netloc:
            raise ValueError("a SQLite URL has no host: sqlite:///relative/path or sqlite:////absolute/path")
        # urlsplit keeps the leading slash of the path: "sqlite:///data/x" -> "/data/x" (relative: drop it),
        # "sqlite:////abs/x" -> "//abs/x" (absolute: keep one).
        raw = unquote(parts.path)
        path = raw[1:] if raw.startswith("/") else raw
        if not path or path.endswith("/"):
            raise ValueError("a SQLite URL names a file: sqlite:///data/tunesmith.sqlite3")
        return DatabaseTarget("sqlite", path=Path(path))
    if scheme in POSTGRES_SCHEMES:
        if not parts.hostname and "host=" not in parts.query:
            raise ValueError("a PostgreSQL URL names its host: postgresql://user@host:5432/dbname")
        try:
            parts.port  # noqa: B018 - urlsplit checks the port only when asked
        except ValueError:
            raise ValueError("the PostgreSQL URL's port is not a number") from None
        return DatabaseTarget("postgresql", dsn=url)
    raise ValueError("must start with sqlite:/// or postgresql:// (postgres:// works too)")
