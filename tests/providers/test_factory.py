"""The composition root's factory: the configured provider, with the configured key, URL and concurrency."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from aiohttp import web
from httpx_aiohttp import HttpxAiohttpClient

from bot.config import Settings
from bot.domain.errors import ConfigError
from bot.providers import SANDBOX_API_KEY, FuzzClient, ProducerClient, SandboxClient, make_http_client, make_provider
from bot.providers.http import ProviderHttpClient
from tests.clients import http_client
from tests.providers.conftest import FUZZ_KEY, PRODUCER_KEY, Wire, recorded


def _settings(**values: object) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[arg-type]


@pytest.fixture
async def wired(wire: Wire) -> AsyncIterator[httpx.AsyncClient]:
    async with http_client(transport=httpx.MockTransport(wire.handler)) as client:
        yield client


async def test_producer_from_settings(wired: httpx.AsyncClient, wire: Wire) -> None:
    settings = _settings(
        producer_api_key=PRODUCER_KEY, producer_base_url="https://api.musicapi.ai", provider_concurrency=4
    )
    provider = make_provider(settings, wired)
    assert isinstance(provider, ProducerClient)
    assert (provider.name, provider.max_concurrency) == ("producer", 4)
    wire.on("GET", "/api/v1/get-credits", recorded("producer/credits"))
    assert await provider.credits() == 50
    assert str(wire.requests[0].url) == "https://api.musicapi.ai/api/v1/get-credits"
    assert wire.requests[0].headers["Authorization"] == f"Bearer {PRODUCER_KEY}"


async def test_fuzz_from_settings(wired: httpx.AsyncClient, wire: Wire) -> None:
    provider = make_provider(_settings(provider="fuzz", fuzz_api_key=FUZZ_KEY), wired)
    assert isinstance(provider, FuzzClient)
    assert provider.max_concurrency == 10
    wire.on("GET", "/api/v2/fuzz/task", recorded("fuzz/task_pending"))
    await provider.fetch(["0196bdae-7fa9-7000-b8d7-987519774a05"])
    assert wire.requests[0].url.host == "api.foxaihub.com"
    assert wire.requests[0].headers["api-key"] == FUZZ_KEY


async def test_sandbox_from_settings(wired: httpx.AsyncClient, wire: Wire) -> None:
    provider = make_provider(_settings(), wired, sandbox_base_url="http://127.0.0.1:8765")
    assert isinstance(provider, SandboxClient) and provider.name == "sandbox"
    wire.on("GET", "/api/v1/get-credits", recorded("producer/credits"))
    await provider.credits()
    assert wire.requests[0].headers["Authorization"] == f"Bearer {SANDBOX_API_KEY}"
    with pytest.raises(ConfigError):
        make_provider(_settings(), wired)


async def test_http_client_has_explicit_timeouts_and_limits() -> None:
    client = make_http_client(_settings(http_timeout=12.5, provider_concurrency=30))
    try:
        timeout = client.timeout
        assert (timeout.read, timeout.write, timeout.pool, timeout.connect) == (12.5, 12.5, 12.5, 10.0)
        # httpx's API over aiohttp's transport: the limits are handed to aiohttp's connector.
        assert client._transport.limits.max_connections == 40  # type: ignore[attr-defined]
        assert client.headers["User-Agent"].startswith("Tunesmith/")
    finally:
        await client.aclose()


@pytest.mark.parametrize(
    ("client_class", "sent_back"), [(ProviderHttpClient, None), (HttpxAiohttpClient, "session=abc")]
)
async def test_a_cookie_a_provider_sets_is_never_sent_back(
    client_class: type[httpx.AsyncClient], sent_back: str | None
) -> None:
    """Over a real loopback socket, so both httpx's jar and aiohttp's own are in play. The plain client is the
    control: it does send the cookie back, which is what this test must catch."""
    seen: list[str | None] = []

    async def task(request: web.Request) -> web.Response:
        seen.append(request.headers.get("Cookie"))
        response = web.json_response({"code": 200, "data": []})
        response.set_cookie("session", "abc")
        return response

    app = web.Application()
    app.router.add_get("/task", task)
    runner = web.AppRunner(app)
    await runner.setup()
    # A host name, not an IP: aiohttp's jar ignores cookies from bare IP addresses.
    await web.TCPSite(runner, "localhost", 0).start()
    port = runner.addresses[0][1]
    try:
        async with client_class() as client:
            for _ in range(2):
                assert (await client.get(f"http://localhost:{port}/task")).status_code == 200
    finally:
        await runner.cleanup()
    assert seen == [None, sent_back]
