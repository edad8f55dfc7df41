"""The files that configure Tunesmith agree with the code (issues 9.15, 9.17).

- The Docker image's settings resolve as intended with the documented ``docker run --env-file .env`` (the
  Dockerfile's ``ENV`` lines, then ``.env.example`` as Docker reads an env file, through the Settings class).
- ``.env.example`` works unchanged for a local run too, and lists every setting; the README's table documents each.
- A blank value counts as unset for every setting; an unknown ``TUNESMITH_*`` name warns with the closest one.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
from pathlib import Path

import pytest

from bot.config import TOKEN_HELP, load_settings, setting_names

ROOT = Path(__file__).resolve().parents[2]
NAME = re.compile(r"TUNESMITH_[A-Z0-9_]+")


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.startswith("TUNESMITH_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)  # no developer .env is read


def dockerfile_env(text: str) -> dict[str, str]:
    """The ``ENV`` instructions of a Dockerfile (``ENV A=1 B=2``, continued lines, and the old ``ENV A 1``)."""
    joined = re.sub(r"\\\n", " ", text)
    env: dict[str, str] = {}
    for line in joined.splitlines():
        parts = line.strip().split(None, 1)
        if len(parts) != 2 or parts[0].upper() != "ENV":
            continue
        rest = parts[1].strip()
        if "=" not in rest.split()[0]:
            key, _, value = rest.partition(" ")
            env[key] = value.strip()
            continue
        for pair in rest.split():
            key, _, value = pair.partition("=")
            env[key] = value.strip('"')
    return env


def docker_env_file(text: str) -> dict[str, str]:
    """An env file as ``docker run --env-file`` reads it: comments and blank lines skipped, values taken literally
    (no quote removal, no inline comments), ``NAME=`` sets an empty value."""
    env: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.lstrip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if sep:
            env[key] = value
    return env


def test_the_docker_image_with_the_documented_env_file(monkeypatch: pytest.MonkeyPatch) -> None:
    image = dockerfile_env((ROOT / "Dockerfile").read_text())
    assert image["TUNESMITH_DATABASE_PATH"].startswith("/data/")
    env = {**image, **docker_env_file((ROOT / ".env.example").read_text())}  # --env-file overrides ENV
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    settings = load_settings(_env_file=None)  # .dockerignore keeps .env out of the image
    assert settings.database_path == Path("/data/tunesmith.sqlite3")
    assert settings.web_host == "0.0.0.0"
    assert settings.playground_host == "0.0.0.0"  # a published playground port must reach it
    assert settings.discord_token is None and settings.active_provider == "sandbox"
    assert settings.default_member_cap is None and settings.costs() == load_settings(_env_file=None).costs()
    assert ".env" in (ROOT / ".dockerignore").read_text().split()


def test_the_env_example_as_a_local_env(tmp_path: Path) -> None:
    shutil.copy(ROOT / ".env.example", tmp_path / ".env")
    settings = load_settings()
    defaults = load_settings(_env_file=None)
    assert settings.database_path == Path("data/tunesmith.sqlite3") and settings.web_host == "127.0.0.1"
    assert settings.playground_host == "127.0.0.1"
    assert settings.model_dump() == defaults.model_dump()  # the example sets nothing but the defaults


def test_env_example_lists_every_setting_and_nothing_else() -> None:
    text = (ROOT / ".env.example").read_text()
    listed = set(NAME.findall(text))
    assert set(setting_names()) - listed == set()
    assert listed - set(setting_names()) == set()


def test_readme_documents_every_setting() -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Settings", 1)[1].split("\n## ", 1)[0]
    documented = {m for row in section.splitlines() if row.startswith("| `") for m in NAME.findall(row)}
    assert set(setting_names()) - documented == set()
    assert documented - set(setting_names()) == set()


@pytest.mark.parametrize("name", setting_names())
def test_a_blank_value_counts_as_unset(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, name: str) -> None:
    monkeypatch.setenv(name, "")
    defaults = load_settings(_env_file=None).model_dump()
    assert load_settings().model_dump() == defaults
    monkeypatch.delenv(name)
    (tmp_path / ".env").write_text(f"{name}=\n{name.lower()}=  \n")
    assert load_settings().model_dump() == defaults


def test_a_blank_member_cap_is_no_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TUNESMITH_DEFAULT_MEMBER_CAP", "")
    assert load_settings().default_member_cap is None


@pytest.mark.parametrize("value", ["inf", "nan", "-inf", "1e999"])
def test_numbers_must_be_finite(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    from bot.domain.errors import ConfigError

    monkeypatch.setenv("TUNESMITH_POLL_INTERVAL", value)
    with pytest.raises(ConfigError, match="TUNESMITH_POLL_INTERVAL"):
        load_settings()


def test_an_unknown_name_warns_with_the_closest_setting(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("TUNESMITH_POLL_INTERVL", "3")
    (tmp_path / ".env").write_text("TUNESMITH_WEB_PROT=9000\nTUNESMITH_ZZZ=1\nOTHER_THING=1\n")
    with caplog.at_level(logging.WARNING, logger="bot.config"):
        load_settings()
    assert "TUNESMITH_POLL_INTERVL (from the environment) is not a Tunesmith setting" in caplog.text
    assert "did you mean TUNESMITH_POLL_INTERVAL?" in caplog.text
    assert "TUNESMITH_WEB_PROT (from the .env) is not a Tunesmith setting" in caplog.text
    assert "did you mean TUNESMITH_WEB_PORT?" in caplog.text
    assert "TUNESMITH_ZZZ" in caplog.text and "OTHER_THING" not in caplog.text


def test_an_http_public_url_warns_that_webhooks_are_off(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("TUNESMITH_PUBLIC_URL", "http://bot.example")
    with caplog.at_level(logging.WARNING, logger="bot.config"):
        settings = load_settings()
    assert not settings.webhooks_enabled
    assert "webhooks are off" in caplog.text and "https" in caplog.text
    caplog.clear()
    monkeypatch.setenv("TUNESMITH_PUBLIC_URL", "https://bot.example")
    with caplog.at_level(logging.WARNING, logger="bot.config"):
        assert load_settings().webhooks_enabled
    assert "webhooks are off" not in caplog.text


def test_the_missing_token_message_says_what_to_do() -> None:
    assert "cp .env.example .env" in TOKEN_HELP
    assert "make sandbox" in TOKEN_HELP and "without any key" in TOKEN_HELP


def test_nothing_points_outside_the_repository() -> None:
    """Docs and comments cite the repository's own docs/, never a folder beside it or the seed documents."""
    outside = re.compile(r"/work/shared|\.\./shared|seeds?/|\.txt\b.*seed|the seed(?:s| file| doc)")
    offenders: list[str] = []
    for path in [ROOT / "README.md", ROOT / ".env.example", ROOT / "Makefile", ROOT / "Dockerfile"]:
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            if outside.search(line) or re.search(r"(?<!docs/)providers\.md", line):
                offenders.append(f"{path.name}:{number}: {line.strip()}")
    assert offenders == []


def test_the_license_file_matches_the_package() -> None:
    assert 'license = "MIT"' in (ROOT / "pyproject.toml").read_text()
    assert (ROOT / "LICENSE").read_text().startswith("MIT License")
