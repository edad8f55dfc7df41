"""TUNESMITH_DATABASE_URL: which store the bot opens, and the URL's password never shown."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import load_settings
from bot.database_url import parse_database_url, password_of, redact
from bot.domain.errors import ConfigError

DEFAULT = Path("data/tunesmith.sqlite3")


@pytest.mark.parametrize(
    ("url", "path"),
    [
        (None, DEFAULT),
        ("", DEFAULT),
        ("   ", DEFAULT),
        ("sqlite:///data/bot.sqlite3", Path("data/bot.sqlite3")),  # three slashes: relative
        ("sqlite:///bot.sqlite3", Path("bot.sqlite3")),
        ("sqlite:////var/lib/tunesmith/bot.sqlite3", Path("/var/lib/tunesmith/bot.sqlite3")),  # four: absolute
        ("SQLite:///My%20Music/bot.sqlite3", Path("My Music/bot.sqlite3")),
    ],
)
def test_sqlite_urls_name_a_file(url: str | None, path: Path) -> None:
    target = parse_database_url(url, default_path=DEFAULT)
    assert (target.kind, target.path, target.dsn) == ("sqlite", path, None)
    assert target.describe() == str(path)


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://tunesmith:pw@db.internal:5432/tunesmith",
        "postgres://tunesmith@127.0.0.1/tunesmith?sslmode=require",
        "postgresql://u@[::1]:5433/db?search_path=bot",
    ],
)
def test_postgresql_urls_go_to_asyncpg_as_they_are(url: str) -> None:
    target = parse_database_url(url, default_path=DEFAULT)
    assert (target.kind, target.path, target.dsn) == ("postgresql", None, url)


@pytest.mark.parametrize(
    ("url", "error"),
    [
        ("mysql://root@localhost/db", "must start with sqlite:/// or postgresql://"),
        ("data/tunesmith.sqlite3", "must start with sqlite:/// or postgresql://"),
        ("sqlite://host/file.sqlite3", "has no host"),
        ("sqlite:///", "names a file"),
        ("sqlite:///data/", "names a file"),
        ("postgresql:///db", "names its host"),
        ("postgresql://u:hunter2@host:port/db", "port is not a number"),
    ],
)
def test_unusable_urls_are_refused_without_repeating_them(url: str, error: str) -> None:
    with pytest.raises(ValueError, match=error) as raised:
        parse_database_url(url, default_path=DEFAULT)
    assert "hunter2" not in str(raised.value)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://bot:s3cr%40t@db:5432/music", "postgresql://bot:***@db:5432/music"),
        ("postgresql://bot@db/music", "postgresql://bot@db/music"),
        ("postgresql://db/music?password=s3cret&sslmode=require", "postgresql://db/music?password=***&sslmode=require"),
        ("postgresql://:s3cret@db/music", "postgresql://:***@db/music"),
    ],
)
def test_redact_hides_every_password(url: str, shown: str) -> None:
    assert redact(url) == shown
    assert "s3cr" not in redact(url)


def test_password_of_finds_it_where_it_is() -> None:
    assert password_of("postgresql://bot:s3cr%40t@db/music") == "s3cr@t"
    assert password_of("postgresql://db/music?password=pw") == "pw"
    assert password_of("postgresql://bot@db/music") is None


def test_settings_pick_the_store_from_the_url(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = load_settings(_env_file=None)
    assert settings.database.kind == "sqlite" and settings.database.path == DEFAULT
    # Without a URL, TUNESMITH_DATABASE_PATH works as it always has.
    monkeypatch.setenv("TUNESMITH_DATABASE_PATH", "/srv/bot.sqlite3")
    assert load_settings(_env_file=None).database.path == Path("/srv/bot.sqlite3")
    # A sqlite URL names the file, and what lives beside the database (the webhook key) follows it.
    monkeypatch.setenv("TUNESMITH_DATABASE_URL", "sqlite:///elsewhere/bot.sqlite3")
    settings = load_settings(_env_file=None)
    assert settings.database.path == Path("elsewhere/bot.sqlite3")
    assert settings.database_path == Path("elsewhere/bot.sqlite3")
    monkeypatch.setenv("TUNESMITH_DATABASE_URL", "postgresql://bot:hunter2@db.internal/music")
    settings = load_settings(_env_file=None)
    assert (
        settings.database.kind == "postgresql" and settings.database.dsn == "postgresql://bot:hunter2@db.internal/music"
    )
    # The password shows nowhere: not in the settings' repr, the target's repr or its description.
    for text in (repr(settings), str(settings), repr(settings.database), settings.database.describe()):
        assert "hunter2" not in text
    assert settings.database.describe() == "postgresql://bot:***@db.internal/music"


def test_a_bad_url_is_one_config_error_naming_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TUNESMITH_DATABASE_URL", "mysql://root:hunter2@db/music")
    with pytest.raises(ConfigError) as raised:
        load_settings(_env_file=None)
    message = str(raised.value)
    assert message.startswith("TUNESMITH_DATABASE_URL: must start with sqlite:/// or postgresql://")
    assert "hunter2" not in message
