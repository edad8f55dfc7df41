"""Settings from the environment and ``.env`` (prefix ``TUNESMITH_``). Secrets are SecretStr and never printed."""

from __future__ import annotations

from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.domain.errors import ConfigError
from bot.domain.models import DEFAULT_COSTS, Operation, Period

ProviderName = Literal["sandbox", "producer", "fuzz"]

TOKEN_HELP = (
    "TUNESMITH_DISCORD_TOKEN is not set. Create a bot at https://discord.com/developers/applications "
    "(New Application -> Bot -> Reset Token), copy the token into .env as TUNESMITH_DISCORD_TOKEN=..., "
    "and invite the bot with the 'bot' and 'applications.commands' scopes."
)


def _url(value: str, *, schemes: tuple[str, ...]) -> str:
    parts = urlsplit(value)
    if parts.scheme not in schemes or not parts.netloc:
        raise ValueError(f"must be a {' or '.join(schemes)} URL")
    return value.rstrip("/")


class Settings(BaseSettings):
    """Everything an operator can set. See README.md → Settings for each one."""

    model_config = SettingsConfigDict(
        env_prefix="TUNESMITH_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
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

    sandbox_render_seconds: float = Field(default=3.0, ge=0)

    database_path: Path = Path("data/tunesmith.sqlite3")

    web_host: str = "127.0.0.1"
    web_port: int = Field(default=8080, ge=0, le=65535)
    public_url: str | None = None
    webhook_secret: SecretStr | None = None  # None: a random key kept in a 0600 file beside the database

    poll_interval: float = Field(default=5.0, gt=0)
    job_deadline: float = Field(default=600.0, gt=0, description="seconds before a job is given up")
    webhook_safety_poll: float = Field(default=60.0, gt=0, description="poll interval while webhooks are on")

    default_period: Period = Period.MONTH
    default_server_budget: int = Field(default=1000, ge=0)
    default_member_cap: int | None = Field(default=None, ge=0)
    max_jobs_per_member: int = Field(default=2, ge=1)
    max_jobs_per_server: int = Field(default=10, ge=1)
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

    @field_validator("discord_token", "producer_api_key", "fuzz_api_key", "webhook_secret", mode="before")
    @classmethod
    def _blank_is_none(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @model_validator(mode="after")
    def _provider_has_key(self) -> Settings:
        if self.provider == "producer" and self.producer_api_key is None:
            raise ValueError("TUNESMITH_PROVIDER=producer needs TUNESMITH_PRODUCER_API_KEY")
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

    def costs(self) -> dict[Operation, int]:
        return {op: getattr(self, f"cost_{op.value}") for op in Operation}


def load_settings(**overrides: object) -> Settings:
    """Read settings, turning any validation problem into one ConfigError line that names the setting."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        loc = "".join(str(p) for p in first.get("loc", ()))
        name = f"TUNESMITH_{loc.upper()}" if loc else "settings"
        msg = str(first.get("msg", "invalid")).removeprefix("Value error, ")
        raise ConfigError(f"{name}: {msg}" if loc else msg) from None
