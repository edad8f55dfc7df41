"""Settings: exact names, the provider choice, and one clear line for a bad value (never echoing secrets)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import load_settings
from bot.domain.errors import ConfigError


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import os

    for name in list(os.environ):
        if name.startswith("TUNESMITH_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)  # no developer .env is read


def test_defaults_pick_the_sandbox() -> None:
    settings = load_settings()
    assert settings.active_provider == "sandbox"
    assert settings.discord_token is None
    assert settings.poll_interval == 5 and settings.fuzz_base_url == "https://api.foxaihub.com/api/v2/fuzz"
    assert not settings.webhooks_enabled


def test_a_key_picks_its_provider(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TUNESMITH_FUZZ_API_KEY", "fz-secret")
    assert load_settings().active_provider == "fuzz"
    monkeypatch.setenv("TUNESMITH_PRODUCER_API_KEY", "pr-secret")
    assert load_settings().active_provider == "producer"


def test_env_names_and_dotenv(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(
        "TUNESMITH_DISCORD_TOKEN=tok-zq81\nTUNESMITH_POLL_INTERVAL=0.5\nTUNESMITH_PUBLIC_URL=https://bot.example\n"
        "TUNESMITH_DISCORD_API_URL=http://127.0.0.1:8000/api/v10\n"
        "TUNESMITH_DISCORD_GATEWAY_URL=ws://127.0.0.1:8000/gateway\nTUNESMITH_COST_CREATE=7\n"
    )
    settings = load_settings()
    assert settings.discord_token is not None and settings.discord_token.get_secret_value() == "tok-zq81"
    assert settings.poll_interval == 0.5 and settings.webhooks_enabled
    assert settings.discord_gateway_url == "ws://127.0.0.1:8000/gateway"
    assert settings.costs()[next(iter(settings.costs()))] == 7
    assert "tok-zq81" not in repr(settings) and "tok-zq81" not in str(settings.model_dump())


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("TUNESMITH_WEB_PORT", "eighty", "TUNESMITH_WEB_PORT:"),
        ("TUNESMITH_POLL_INTERVAL", "0", "TUNESMITH_POLL_INTERVAL:"),
        ("TUNESMITH_PROVIDER", "suno", "TUNESMITH_PROVIDER:"),
        ("TUNESMITH_DISCORD_GATEWAY_URL", "http://x", "TUNESMITH_DISCORD_GATEWAY_URL: Value error, must be a ws"),
        ("TUNESMITH_PRODUCER_BASE_URL", "api.example", "TUNESMITH_PRODUCER_BASE_URL:"),
    ],
)
def test_a_bad_setting_is_one_line_naming_it(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, expected: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    text = str(caught.value)
    assert text.startswith(expected.split(" Value")[0]) and "\n" not in text


def test_explicit_provider_without_its_key_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TUNESMITH_PROVIDER", "producer")
    with pytest.raises(ConfigError, match="TUNESMITH_PRODUCER_API_KEY"):
        load_settings()


def test_secrets_never_appear_in_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TUNESMITH_PRODUCER_API_KEY", "sk-very-secret")
    monkeypatch.setenv("TUNESMITH_WEB_PORT", "nope")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert "sk-very-secret" not in str(caught.value)


def test_shards_of_this_process(monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_settings().shards is None and load_settings().shard_count is None
    monkeypatch.setenv("TUNESMITH_SHARD_COUNT", "4")
    monkeypatch.setenv("TUNESMITH_SHARD_IDS", "2, 3")
    settings = load_settings()
    assert settings.shard_count == 4 and settings.shards == [2, 3]
    assert settings.takeover_seconds == 30 and settings.channel_edit_spacing == 1


@pytest.mark.parametrize(
    ("count", "ids", "says"),
    [(None, "0,1", "needs TUNESMITH_SHARD_COUNT"), ("2", "1,2", "below TUNESMITH_SHARD_COUNT"), ("2", "a", "e.g. 0,1")],
)
def test_shard_ids_that_cannot_be_run_are_refused(
    monkeypatch: pytest.MonkeyPatch, count: str | None, ids: str, says: str
) -> None:
    if count is not None:
        monkeypatch.setenv("TUNESMITH_SHARD_COUNT", count)
    monkeypatch.setenv("TUNESMITH_SHARD_IDS", ids)
    with pytest.raises(ConfigError, match=says):
        load_settings()
