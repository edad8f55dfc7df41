"""Provider clients (httpx lives here only) and the factory the composition root uses to pick one."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from bot.config import Settings
from bot.domain.errors import ConfigError
from bot.domain.models import TaskStatus
from bot.domain.ports import MusicProvider
from bot.providers.fuzz import FuzzClient
from bot.providers.http import ProviderHttpClient
from bot.providers.producer import ProducerClient
from bot.providers.producer import parse_webhook as parse_producer_webhook
from bot.providers.sandbox import SandboxClient, parse_sandbox_webhook
from bot.providers.sonic import SonicClient
from bot.providers.sonic import parse_webhook as parse_sonic_webhook

__all__ = [
    "SANDBOX_API_KEY",
    "FuzzClient",
    "ProducerClient",
    "SandboxClient",
    "SonicClient",
    "make_http_client",
    "make_provider",
    "webhook_parser",
]

# The built-in sandbox accepts any key; this one is long and odd enough that redacting it never mangles a URL.
SANDBOX_API_KEY = "tunesmith-sandbox-key"
USER_AGENT = "Tunesmith/0.1"


def make_http_client(settings: Settings) -> httpx.AsyncClient:
    """The one client every provider call goes through, with explicit timeouts and connection limits."""
    timeout = httpx.Timeout(
        settings.http_timeout,
        # A host that does not accept a connection within a few seconds is down; failing fast lets the retry
        # (a connect error is always safe to retry) happen while the member still waits.
        connect=min(10.0, settings.http_timeout),
        pool=settings.http_timeout,
    )
    # Enough connections for every in-flight task's poll plus submits, without letting a burst open hundreds.
    limits = httpx.Limits(
        max_connections=settings.provider_concurrency + 10,
        max_keepalive_connections=min(20, settings.provider_concurrency + 10),
        keepalive_expiry=30.0,
    )
    # httpx's API over aiohttp's transport (which discord.py already brings): the same client, about a third
    # of the CPU per request, which is most of the engine's cost per job (see `python -m bot.bench`).
    return ProviderHttpClient(
        timeout=timeout,
        limits=limits,
        headers={"User-Agent": USER_AGENT},
        max_retry_after=settings.max_retry_after,
    )


def make_provider(
    settings: Settings,
    client: httpx.AsyncClient,
    *,
    sandbox_base_url: str | None = None,
) -> MusicProvider:
    """The client of ``settings.active_provider``; the sandbox offers every operation (bot/providers/sandbox.py)."""
    active = settings.active_provider
    if active == "producer":
        if settings.producer_api_key is None:
            raise ConfigError("TUNESMITH_PRODUCER_API_KEY: required for the producer provider")
        return ProducerClient(
            client,
            base_url=settings.producer_base_url,
            api_key=settings.producer_api_key,
            max_concurrency=settings.provider_concurrency,
        )
    if active == "sonic":
        # Sonic lives on the Producer's platform: the same host and key.
        if settings.producer_api_key is None:
            raise ConfigError("TUNESMITH_PRODUCER_API_KEY: required for the sonic provider")
        return SonicClient(
            client,
            base_url=settings.producer_base_url,
            api_key=settings.producer_api_key,
            max_concurrency=settings.provider_concurrency,
        )
    if active == "fuzz":
        if settings.fuzz_api_key is None:
            raise ConfigError("TUNESMITH_FUZZ_API_KEY: required for the fuzz provider")
        return FuzzClient(
            client,
            base_url=settings.fuzz_base_url,
            api_key=settings.fuzz_api_key,
            max_concurrency=settings.provider_concurrency,
        )
    if sandbox_base_url is None:
        raise ConfigError("the sandbox provider needs the sandbox's base URL (start the sandbox first)")
    return SandboxClient(
        client,
        base_url=sandbox_base_url,
        api_key=SANDBOX_API_KEY,
        max_concurrency=settings.provider_concurrency,
        name="sandbox",
    )


def webhook_parser(settings: Settings) -> Callable[[str, dict[str, Any]], TaskStatus]:
    """How the web server reads a webhook body for the active provider (FUZZ sends none; the sandbox answers in the
    format each task was made in)."""
    if settings.active_provider == "sonic":
        return parse_sonic_webhook
    if settings.active_provider == "sandbox":
        return parse_sandbox_webhook
    return parse_producer_webhook
