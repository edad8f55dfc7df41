"""No API key (nor webhook secret) in any log line, exception text or repr, on success and on every failure path."""

from __future__ import annotations

import logging
import traceback
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from bot.domain.errors import TunesmithError
from bot.domain.models import CreateMusic, DownloadTrack, TaskStatus, UploadAudio, WebhookTarget
from bot.providers.fuzz import FuzzClient
from bot.providers.http import redact
from bot.providers.producer import ProducerClient
from tests.clients import http_client
from tests.providers.conftest import (
    FUZZ_KEY,
    FUZZ_URL,
    PRODUCER_KEY,
    PRODUCER_URL,
    RECORDED,
    Sleeps,
    Wire,
    recorded,
)

WEBHOOK = WebhookTarget(url="https://bot.example.com/webhooks/producer", secret="whsec-Zq81NfLr02XcVb7m")
SECRETS = (PRODUCER_KEY, FUZZ_KEY, WEBHOOK.secret)
CREATE = "/api/v1/producer/create"
TASK = "/api/v1/producer/task/t-1"


def _echo(status: int, template: str, **headers: str) -> Callable[[httpx.Request], httpx.Response]:
    """An answer that quotes the request's own key and body back, the worst a provider could do."""

    def answer(request: httpx.Request) -> httpx.Response:
        key = request.headers.get("api-key") or request.headers.get("Authorization", "")
        text = template.format(key=key, body=request.content.decode())
        return httpx.Response(status, text=text, headers=headers)

    return answer


ECHOES = [
    _echo(400, '{{"error": "invalid field in {body}"}}'),
    _echo(401, '{{"message": "key {key} is not valid"}}'),
    _echo(402, '{{"message": "credits are not enough for {key}"}}'),
    _echo(403, '{{"error": "The lyrics contain copyrighted content: \'{key}\'"}}'),
    _echo(404, '{{"detail": "no clip for {key}"}}'),
    _echo(410, '{{"message": "gone: {key}"}}'),
    _echo(422, "unprocessable {key} {body}"),
    _echo(429, '{{"message": "slow down {key}"}}', **{"Retry-After": "1"}),
    _echo(500, "<html>500 {key} {body}</html>"),
    _echo(504, '{{"message": "Task failed due to timeout {key}"}}'),
    _echo(200, "not json {key}"),
    _echo(200, '{{"type": "forbidden", "error": "flagged {key}"}}'),
    _echo(200, '{{"type": "failed", "error": "failed for {key}"}}'),
    _echo(200, '{{"code": 200, "status": "FAILED", "message": "{key} {body}"}}'),
    _echo(200, '{{"success": false, "message": "bad {key}"}}'),
    _echo(200, '[{{"status": "failed", "task_id": "t-1", "data": {{"reason": "{key}"}}}}]'),
    _echo(200, '{{"message": "no task id for {key}"}}'),
]
TRANSPORT_ERRORS = [
    httpx.ConnectError("connection refused"),
    httpx.ReadTimeout("timed out"),
    httpx.RemoteProtocolError("peer closed connection"),
]
RECORDED_ANSWERS = sorted(p.stem for p in (RECORDED / "producer").glob("*.json"))


class Collected:
    """Every text that could reach a log, a member or a debugger."""

    def __init__(self) -> None:
        self.texts: list[str] = []

    async def run(self, call: Callable[[], Awaitable[Any]]) -> None:
        try:
            result = await call()
        except (TunesmithError, ValueError) as error:
            self.texts += [str(error), repr(error), *map(str, error.args)]
            self.texts.append("".join(traceback.format_exception(error)))
        else:
            self.texts.append(repr(result))
            for item in result if isinstance(result, list) else []:
                if isinstance(item, TaskStatus) and item.failure is not None:
                    self.texts.append(item.failure.message)


async def _exercise(answer: Any, collected: Collected) -> Wire:
    wire = Wire()
    for method, path in [
        ("POST", CREATE),
        ("POST", "/api/v1/producer/upload"),
        ("POST", "/api/v1/producer/download"),
        ("GET", TASK),
        ("GET", "/api/v1/get-credits"),
        ("POST", "/api/v1/producer/lyrics-create"),
        ("POST", "/api/v1/sonic/lyrics"),
        ("POST", "/api/v2/fuzz/task"),
        ("GET", "/api/v2/fuzz/task"),
    ]:
        wire.on(method, path, answer)
    async with http_client(transport=httpx.MockTransport(wire.handler)) as http:
        producer = ProducerClient(
            http, base_url=PRODUCER_URL, api_key=PRODUCER_KEY, sleep=Sleeps(), lyrics_poll_attempts=1
        )
        fuzz = FuzzClient(http, base_url=FUZZ_URL, api_key=FUZZ_KEY, sleep=Sleeps())
        collected.texts += [
            repr(producer),
            repr(fuzz),
            str(producer),
            str(fuzz),
            repr(vars(producer)),
            repr(vars(fuzz)),
        ]
        await collected.run(lambda: producer.submit(CreateMusic(sound="pop"), webhook=WEBHOOK))
        await collected.run(
            lambda: producer.submit(UploadAudio(audio_url="https://example.com/a.mp3"), webhook=WEBHOOK)
        )
        await collected.run(lambda: producer.submit(DownloadTrack(clip_id="c-1"), webhook=WEBHOOK))
        await collected.run(lambda: producer.fetch(["t-1"]))
        await collected.run(producer.credits)
        await collected.run(lambda: producer.draft_lyrics("a harbour"))
        await collected.run(lambda: fuzz.submit(CreateMusic(sound="pop")))
        await collected.run(lambda: fuzz.fetch(["t-1"]))
    return wire


def _assert_clean(caplog: pytest.LogCaptureFixture, collected: Collected) -> None:
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    lines = [formatter.format(record) for record in caplog.records]
    assert caplog.records, "the calls should have logged something at DEBUG"
    for secret in SECRETS:
        for text in [*lines, caplog.text, *collected.texts]:
            assert secret not in text


@pytest.mark.parametrize("answer", [*ECHOES, *TRANSPORT_ERRORS], ids=lambda a: getattr(a, "__name__", repr(a)))
async def test_no_secret_on_any_failure_path(caplog: pytest.LogCaptureFixture, answer: Any) -> None:
    caplog.set_level(logging.DEBUG)
    collected = Collected()
    wire = await _exercise(answer, collected)
    # Not vacuous: the keys did go out, in the headers the providers document.
    assert any(r.headers.get("Authorization") == f"Bearer {PRODUCER_KEY}" for r in wire.requests)
    assert any(r.headers.get("api-key") == FUZZ_KEY for r in wire.requests)
    _assert_clean(caplog, collected)


@pytest.mark.parametrize("name", RECORDED_ANSWERS)
async def test_no_secret_with_any_recorded_answer(caplog: pytest.LogCaptureFixture, name: str) -> None:
    caplog.set_level(logging.DEBUG)
    collected = Collected()
    wire = await _exercise(recorded(f"producer/{name}"), collected)
    assert any(r.headers.get("Authorization") == f"Bearer {PRODUCER_KEY}" for r in wire.requests)
    assert any(r.headers.get("api-key") == FUZZ_KEY for r in wire.requests)
    _assert_clean(caplog, collected)


async def test_calls_are_logged_at_debug_with_method_path_status_and_time(
    caplog: pytest.LogCaptureFixture, wire: Wire, http: httpx.AsyncClient
) -> None:
    caplog.set_level(logging.DEBUG, logger="bot.providers")
    wire.on("GET", TASK, recorded("producer/task_success"))
    await ProducerClient(http, base_url=PRODUCER_URL, api_key=PRODUCER_KEY).fetch(["t-1"])
    [line] = [r.getMessage() for r in caplog.records if r.name == "bot.providers.http"]
    assert line.startswith(f"producer GET {TASK} -> 200 in ") and line.endswith(" ms")


def test_redact_replaces_every_secret() -> None:
    text = f"a {PRODUCER_KEY} b {FUZZ_KEY}{PRODUCER_KEY}"
    assert redact(text, SECRETS) == "a *** b ******"
    # Too short to be a key: redacting it would mangle ordinary words.
    assert redact("the api", ["api", ""]) == "the api"
