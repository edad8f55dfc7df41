"""Settings from the environment and ``.env`` (prefix ``TUNESMITH_``). Secrets are SecretStr and never printed.

A blank value (``TUNESMITH_DEFAULT_MEMBER_CAP=``) counts as unset for every setting, so ``.env.example`` can list
every name and ``docker run --env-file`` can pass it as it is. Every number must be finite.
"""

from __future__ import annotations

import difflib
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from dotenv import dotenv_values  # pydantic-settings reads .env with it; reused to list the names a .env sets
from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.database_url import DatabaseTarget, parse_database_url
from bot.domain.errors import ConfigError
from bot.domain.models import CONFIRM_ABOVE_DEFAULT, DEFAULT_COSTS, SONIC_DEFAULT_COSTS, Operation, Period

ProviderName = Literal["sandbox", "producer", "fuzz", "sonic"]

log = logging.getLogger(__name__)

PREFIX = "TUNESMITH_"

TOKEN_HELP = (
    "TUNESMITH_DISCORD_TOKEN is not set. To run on Discord: cp .env.example .env, create a bot at "
    "https://discord.com/developers/applications (New Application -> Bot -> Reset Token), put the token in .env "
    "as TUNESMITH_DISCORD_TOKEN=..., and invite the bot with the 'bot' and 'applications.commands' scopes. "
    "Nothing else needs a token: the built-in sandbox provider runs without any key ('make sandbox'), "
    "and 'make test' runs every check."
)


def _url(value: str, *, schemes: tuple[str, ...]) -> str:
    parts = urlsplit(value)
    if parts.scheme not in schemes or not parts.netloc:
        raise ValueError(f"must be a {' or '.join(schemes)} URL")
    return value.rstrip("/")


class Settings(BaseSettings):
    """Everything an operator can set. See README.md → Settings for each one."""

    model_config = SettingsConfigDict(
        env_prefix=PREFIX,
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        env_ignore_empty=True,  # NAME= is the same as leaving NAME out, in the environment and in .env
        allow_inf_nan=False,  # every number is finite: "inf" or "nan" is refused with the setting's name
    )

    discord_token: SecretStr | None = None
    discord_api_url: str = "https://discord.com/api/v10"
    discord_gateway_url: str | None = None  # None: ask Discord (the default gateway)
    sync_commands: bool = False

    # The playground: a local Discord in the browser; it runs when no token is set (or when forced).
    playground: bool = False
    playground_host: str = "127.0.0.1"
    playground_port: int = Field(default=8000, ge=0, le=65535)

    provider: ProviderName | None = None  # None: the provider whose key is set, else the sandbox
    producer_base_url: str = "https://api.aimusicapi.ai"
    producer_api_key: SecretStr | None = None
    fuzz_base_url: str = "https://api.foxaihub.com/api/v2/fuzz"
    fuzz_api_key: SecretStr | None = None
    provider_concurrency: int = Field(default=10, ge=1, le=500)
    http_timeout: float = Field(default=30.0, gt=0)
    max_retry_after: float = Field(default=60.0, ge=0, le=86_400, description="longest Retry-After honoured (s)")

    sandbox_render_seconds: float = Field(default=3.0, ge=0)

    database_path: Path = Path("data/tunesmith.sqlite3")
    # Unset: the SQLite file above. sqlite:///path, or postgresql://user:password@host/db for many processes
    # (bot/storage/url.py). A secret: it may carry a password, and only its redacted form is ever logged.
    database_url: SecretStr | None = None

    # Many processes on one PostgreSQL database: each runs some of Discord's shards (README → Running at scale).
    shard_count: int | None = Field(default=None, ge=1, le=100_000)  # None: one process, no sharding
    shard_ids: str | None = None  # "0,1": the shards this process runs (default: all of shard_count)
    takeover_seconds: float = Field(default=30.0, gt=0, le=3600, description="silence before a process's jobs move")
    channel_edit_spacing: float = Field(default=1.0, ge=0, le=60, description="seconds between two edits per channel")

    web_host: str = "127.0.0.1"
    web_port: int = Field(default=8080, ge=0, le=65535)
    public_url: str | None = None
    webhook_secret: SecretStr | None = None  # None: a random key kept in a 0600 file beside the database
    metrics_token: SecretStr | None = None  # set: /metrics asks for "Authorization: Bearer <token>"
    metrics_host: str | None = None  # with metrics_port: /metrics on its own listener (default: web_host)
    metrics_port: int | None = Field(default=None, ge=0, le=65535)

    poll_interval: float = Field(default=5.0, gt=0)
    job_deadline: float = Field(default=600.0, gt=0, description="seconds before a job is given up")
    webhook_safety_poll: float = Field(default=60.0, gt=0, description="poll interval while webhooks are on")

    default_period: Period = Period.MONTH
    default_server_budget: int = Field(default=1000, ge=0)
    default_member_cap: int | None = Field(default=None, ge=0)
    max_jobs_per_member: int = Field(default=2, ge=1)
    max_jobs_per_server: int = Field(default=10, ge=1)
    # A job costing more than this asks its member to confirm first (servers change theirs in /studio settings).
    default_confirm_above: int = Field(default=CONFIRM_ABOVE_DEFAULT, ge=0, le=100_000)
    cost_create: int = Field(default=DEFAULT_COSTS[Operation.CREATE], ge=0)
    cost_extend: int = Field(default=DEFAULT_COSTS[Operation.EXTEND], ge=0)
    cost_cover: int = Field(default=DEFAULT_COSTS[Operation.COVER], ge=0)
    cost_replace: int = Field(default=DEFAULT_COSTS[Operation.REPLACE], ge=0)
    cost_variation: int = Field(default=DEFAULT_COSTS[Operation.VARIATION], ge=0)
    cost_swap_vocals: int = Field(default=DEFAULT_COSTS[Operation.SWAP_VOCALS], ge=0)
    cost_swap_sound: int = Field(default=DEFAULT_COSTS[Operation.SWAP_SOUND], ge=0)
    cost_upload: int = Field(default=DEFAULT_COSTS[Operation.UPLOAD], ge=0)
    cost_download: int = Field(default=DEFAULT_COSTS[Operation.DOWNLOAD], ge=0)
    cost_lyrics: int = Field(default=DEFAULT_COSTS[Operation.LYRICS], ge=0)
    # Sonic's operations and studio tools; create and cover default to Sonic's 15 when the provider is sonic.
    cost_mashup: int = Field(default=DEFAULT_COSTS[Operation.MASHUP], ge=0)
    cost_sample: int = Field(default=DEFAULT_COSTS[Operation.SAMPLE], ge=0)
    cost_persona: int = Field(default=DEFAULT_COSTS[Operation.PERSONA], ge=0)
    cost_remaster: int = Field(default=DEFAULT_COSTS[Operation.REMASTER], ge=0)
    cost_add_vocals: int = Field(default=DEFAULT_COSTS[Operation.ADD_VOCALS], ge=0)
    cost_add_instrumental: int = Field(default=DEFAULT_COSTS[Operation.ADD_INSTRUMENTAL], ge=0)
    cost_concat: int = Field(default=DEFAULT_COSTS[Operation.CONCAT], ge=0)
    cost_stems_basic: int = Field(default=DEFAULT_COSTS[Operation.STEMS_BASIC], ge=0)
    cost_stems_full: int = Field(default=DEFAULT_COSTS[Operation.STEMS_FULL], ge=0)
    cost_wav: int = Field(default=DEFAULT_COSTS[Operation.WAV], ge=0)
    cost_midi: int = Field(default=DEFAULT_COSTS[Operation.MIDI], ge=0)
    cost_bpm: int = Field(default=DEFAULT_COSTS[Operation.BPM], ge=0)
    cost_vox: int = Field(default=DEFAULT_COSTS[Operation.VOX], ge=0)
    cost_upsample_tags: int = Field(default=DEFAULT_COSTS[Operation.UPSAMPLE_TAGS], ge=0)
    cost_lyrics_timeline: int = Field(default=DEFAULT_COSTS[Operation.LYRICS_TIMELINE], ge=0)

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    @field_validator("discord_api_url", "producer_base_url", "fuzz_base_url")
    @classmethod
    def _http(cls, value: str) -> str:
        return _url(value, schemes=("http", "https"))

    @field_validator("discord_gateway_url")
    @classmethod
    def _ws(cls, value: str | None) -> str | None:
        return _url(value, schemes=("ws", "wss")) if value else None

    @field_validator("public_url")
    @classmethod
    def _public(cls, value: str | None) -> str | None:
        return _url(value, schemes=("http", "https")) if value else None

    @field_validator(
        "discord_token",
        "producer_api_key",
        "fuzz_api_key",
        "webhook_secret",
        "metrics_token",
        "database_url",
        mode="before",
    )
    @classmethod
    def _blank_is_none(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            parse_database_url(value.get_secret_value(), default_path=Path("unused"))  # its errors never quote it
        return value

    @model_validator(mode="after")
    def _sqlite_url_names_the_file(self) -> Settings:
        # sqlite:///path is the SQLite file: what lives beside the database (the webhook key) follows it.
        target = self.database
        if target.kind == "sqlite" and target.path is not None:
            self.database_path = target.path
        return self

    @property
    def database(self) -> DatabaseTarget:
        """The database to use: TUNESMITH_DATABASE_URL's, else the SQLite file at TUNESMITH_DATABASE_PATH."""
        url = self.database_url.get_secret_value() if self.database_url is not None else None
        return parse_database_url(url, default_path=self.database_path)

    @model_validator(mode="after")
    def _shards_fit(self) -> Settings:
        ids = self.shards
        if ids is not None and self.shard_count is None:
            raise ValueError("TUNESMITH_SHARD_IDS needs TUNESMITH_SHARD_COUNT")
        if ids is not None and self.shard_count is not None and any(i >= self.shard_count for i in ids):
            raise ValueError("TUNESMITH_SHARD_IDS must be below TUNESMITH_SHARD_COUNT (shards count from 0)")
        return self

    @property
    def shards(self) -> list[int] | None:
        """TUNESMITH_SHARD_IDS as numbers ("0,1" → [0, 1]); None when unset."""
        if self.shard_ids is None:
            return None
        try:
            ids = sorted({int(part) for part in self.shard_ids.split(",") if part.strip()})
        except ValueError:
            raise ValueError("TUNESMITH_SHARD_IDS is a comma-separated list of shard numbers, e.g. 0,1") from None
        if not ids or ids[0] < 0:
            raise ValueError("TUNESMITH_SHARD_IDS is a comma-separated list of shard numbers, e.g. 0,1")
        return ids

    @model_validator(mode="after")
    def _provider_has_key(self) -> Settings:
        if self.provider == "producer" and self.producer_api_key is None:
            raise ValueError("TUNESMITH_PROVIDER=producer needs TUNESMITH_PRODUCER_API_KEY")
        if self.provider == "sonic" and self.producer_api_key is None:
            # Sonic lives on the Producer's platform: same host, same key.
            raise ValueError("TUNESMITH_PROVIDER=sonic needs TUNESMITH_PRODUCER_API_KEY")
        if self.provider == "fuzz" and self.fuzz_api_key is None:
            raise ValueError("TUNESMITH_PROVIDER=fuzz needs TUNESMITH_FUZZ_API_KEY")
        return self

    @property
    def active_provider(self) -> ProviderName:
        """The configured provider; without one, the provider whose key is set, else the sandbox."""
        if self.provider:
            return self.provider
        if self.producer_api_key is not None:
            return "producer"
        if self.fuzz_api_key is not None:
            return "fuzz"
        return "sandbox"

    @property
    def webhooks_enabled(self) -> bool:
        return bool(self.public_url and self.public_url.startswith("https://"))

    @property
    def metrics_separate(self) -> bool:
        """Whether /metrics has a listener of its own (TUNESMITH_METRICS_PORT or _HOST set)."""
        return self.metrics_port is not None or self.metrics_host is not None

    def costs(self) -> dict[Operation, int]:
        """Each operation's cost: the operator's TUNESMITH_COST_<OP>, else the active provider's default."""
        defaults = dict(DEFAULT_COSTS)
        if self.active_provider == "sonic":
            defaults.update(SONIC_DEFAULT_COSTS)
        return {
            op: getattr(self, f"cost_{op.value}") if f"cost_{op.value}" in self.model_fields_set else defaults[op]
            for op in Operation
        }


def setting_names() -> list[str]:
    """Every environment name Settings reads, e.g. ``TUNESMITH_WEB_PORT``."""
    return [PREFIX + name.upper() for name in Settings.model_fields]


def _names_in(env_file: object) -> list[str]:
    if not isinstance(env_file, str | os.PathLike) or not Path(env_file).is_file():
        return []
    return [name for name in dotenv_values(env_file) if name]


def settings_warnings(
    settings: Settings, *, environ: Mapping[str, str] | None = None, env_file: object = ".env"
) -> list[str]:
    """What an operator should hear about although start-up goes on: unknown names, webhooks that cannot work."""
    known = set(setting_names())
    environ = os.environ if environ is None else environ
    warnings: list[str] = []
    seen: set[str] = set()
    for source, names in (("environment", list(environ)), (str(env_file), _names_in(env_file))):
        for name in names:
            if not name.upper().startswith(PREFIX) or name.upper() in known or name in seen:
                continue
            seen.add(name)
            close = difflib.get_close_matches(name.upper(), known, n=1, cutoff=0.6)
            hint = f"; did you mean {close[0]}?" if close else "; see README.md -> Settings for the names"
            warnings.append(f"{name} (from the {source}) is not a Tunesmith setting and is ignored{hint}")
    if settings.public_url and not settings.webhooks_enabled:
        warnings.append(
            "TUNESMITH_PUBLIC_URL is not https://, so webhooks are off and jobs are tracked by polling: "
            "providers only deliver webhooks to an HTTPS address (put a TLS reverse proxy in front)"
        )
    return warnings


def load_settings(**overrides: object) -> Settings:
    """Read settings, turning any validation problem into one ConfigError line that names the setting.

    Warnings (an unknown ``TUNESMITH_*`` name, an http:// public URL) are logged; before logging is set up,
    Python prints them on stderr.
    """
    try:
        settings = Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        loc = "".join(str(p) for p in first.get("loc", ()))
        name = f"{PREFIX}{loc.upper()}" if loc else "settings"
        msg = str(first.get("msg", "invalid")).removeprefix("Value error, ")
        raise ConfigError(f"{name}: {msg}" if loc else msg) from None
    env_file = overrides.get("_env_file", Settings.model_config.get("env_file"))
    for warning in settings_warnings(settings, env_file=env_file):
        log.warning("%s", warning)
    return settings
