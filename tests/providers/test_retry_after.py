"""Issue 9.4: whatever a provider puts in ``Retry-After``, the wait honoured is finite, non-negative and capped.

A real httpx client (the provider stack) talks to a real aiohttp server on loopback that answers 429 with hostile
headers; the client's injected ``sleep`` records the waits instead of sleeping.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from hypothesis import given
from hypothesis import strategies as st

from bot.domain.errors import ProviderError
from bot.domain.models import CreateMusic
from bot.providers import make_http_client
from bot.providers.http import DEFAULT_MAX_RETRY_AFTER, ProviderHttpClient, error_for_status, parse_retry_after
from bot.providers.producer import ProducerClient
from bot.sandbox import Sandbox
from tests.providers.conftest import Sleeps

HOSTILE = ["1000000", "1e999", "inf", "-inf", "nan", "-5", "Fri, 31 Dec 9999 23:59:59 GMT", "9" * 5000, "1e308"]


class Limiter:
    """Answers every request with 429 and the Retry-After under test."""

    def __init__(self) -> None:
        self.header = "1"
        self.hits = 0

    async def handle(self, request: web.Request) -> web.Response:
        self.hits += 1
        return web.json_response({"message": "slow down"}, status=429, headers={"Retry-After": self.header})


@pytest.fixture
async def limiter() -> AsyncIterator[tuple[Limiter, str]]:
    state = Limiter()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", state.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield state, f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


@pytest.mark.parametrize("header", HOSTILE)
async def test_a_hostile_retry_after_is_capped_and_finite(limiter: tuple[Limiter, str], header: str) -> None:
    state, url = limiter
    state.header = header
    sleeps = Sleeps()
    async with ProviderHttpClient() as client:
        producer = ProducerClient(client, base_url=url, api_key="pk-test-key-123", sleep=sleeps)
        with pytest.raises(ProviderError) as caught:
            await producer.submit(CreateMusic(sound="pop"))
    waits = [*sleeps.delays, caught.value.retry_after]
    assert all(w is None or (math.isfinite(w) and 0 <= w <= DEFAULT_MAX_RETRY_AFTER) for w in waits), waits
    assert caught.value.retryable and state.hits >= 1


async def test_a_huge_retry_after_is_handed_up_as_the_cap(limiter: tuple[Limiter, str]) -> None:
    state, url = limiter
    state.header = "1000000"  # the case: about 11 days
    async with ProviderHttpClient() as client:
        producer = ProducerClient(client, base_url=url, api_key="pk-test-key-123", sleep=Sleeps())
        with pytest.raises(ProviderError) as caught:
            await producer.fetch(["t-1"])
    assert caught.value.retry_after == DEFAULT_MAX_RETRY_AFTER


async def test_the_cap_is_the_operators_setting(limiter: tuple[Limiter, str], monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.config import load_settings

    monkeypatch.setenv("TUNESMITH_MAX_RETRY_AFTER", "5")
    state, url = limiter
    state.header = "3600"
    sleeps = Sleeps()
    async with make_http_client(load_settings(_env_file=None)) as client:
        producer = ProducerClient(client, base_url=url, api_key="pk-test-key-123", sleep=sleeps)
        with pytest.raises(ProviderError) as caught:
            await producer.fetch(["t-1"])
    # 5 s is short enough to sleep through inside the call: two retries of 5 s, then the error, also capped.
    assert sleeps.delays == [5.0, 5.0] and caught.value.retry_after == 5.0


async def test_the_sandbox_rate_limit_over_loopback_is_capped() -> None:
    sleeps = Sleeps()
    async with Sandbox(render_seconds=0.1) as sandbox, ProviderHttpClient(max_retry_after=2.0) as client:
        sandbox.inject("rate_limit", count=5, retry_after=10**6)
        producer = ProducerClient(client, base_url=sandbox.base_url, api_key="tunesmith-sandbox-key", sleep=sleeps)
        with pytest.raises(ProviderError) as caught:
            await producer.fetch(["t-1"])
    assert sleeps.delays == [2.0, 2.0] and caught.value.retry_after == 2.0


@given(header=st.text(max_size=40) | st.sampled_from(HOSTILE) | st.floats().map(repr))
def test_parse_retry_after_is_always_none_or_in_range(header: str) -> None:
    value = parse_retry_after(header, cap=60.0)
    assert value is None or (math.isfinite(value) and 0.0 <= value <= 60.0)


@given(seconds=st.floats(allow_nan=True, allow_infinity=True) | st.none())
def test_every_error_carries_a_usable_wait(seconds: float | None) -> None:
    for status in (429, 500, 503):
        wait = error_for_status(status, "busy", retry_after=seconds).retry_after
        assert wait is None or (math.isfinite(wait) and 0.0 <= wait <= DEFAULT_MAX_RETRY_AFTER)
