"""No API key nor webhook secret in any log line, exception text or repr of the Sonic client: with every recorded
answer and with answers that quote the request's key and body back, on every call the client makes."""

from __future__ import annotations

import logging
import traceback
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest

from bot.domain.errors import TunesmithError
from bot.domain.models import UploadAudio, WebhookTarget
from bot.domain.sonic import Mashup, SavePersona, SonicCreate, SonicExtend, Tool
from bot.providers.http import ProviderHttpClient
from bot.providers.sonic import SonicClient
from tests.providers.conftest import Sleeps
from tests.providers.loopback import RECORDED, Answer, LoopbackProvider, Seen, answer

KEY = "sk-sonic-Hw83LqZr5Tn1Xc7Vb2Pd"
WEBHOOK = WebhookTarget(url="https://bot.example.com/webhooks/sonic", secret="whsec-Pq4Zx8Lm2Nv6Rt0Y")
SECRETS = (KEY, WEBHOOK.secret)
RECORDED_ANSWERS = sorted(p.stem for p in (RECORDED / "sonic").glob("*.json"))


def _echo(status: int, template: str, **headers: str) -> Callable[[Seen], Answer]:
    """The worst a provider could do: quote the request's own key and body back."""

    def respond(seen: Seen) -> Answer:
        key = seen.headers.get("Authorization", "")
        return Answer(status, text=template.format(key=key, body=seen.raw.decode()), headers=headers)

    respond.__name__ = f"echo_{status}_{template[:12]}"
    return respond


ECHOES = [
    _echo(400, '{{"error": "invalid field in {body}"}}'),
    _echo(400, '{{"error": "Unknown parameter: use_suno_cdn ({key})"}}'),
    _echo(401, '{{"message": "key {key} is not valid"}}'),
    _echo(402, '{{"message": "credits are not enough for {key}"}}'),
    _echo(403, '{{"error": "The lyrics contain copyrighted content: \'{key}\'"}}'),
    _echo(404, '{{"error": "not found for {key}"}}'),
    _echo(410, '{{"message": "gone: {key}"}}'),
    _echo(429, '{{"message": "slow down {key}"}}', **{"Retry-After": "1"}),
    _echo(500, "<html>500 {key} {body}</html>"),
    _echo(202, '{{"type": "not_ready", "message": "{key}"}}'),
    _echo(200, "not json {key}"),
    _echo(200, '{{"type": "forbidden", "error": "flagged {key}"}}'),
    _echo(200, '{{"code": 200, "data": [{{"clip_id": "c", "state": "failed", "error_message": "{key} {body}"}}]}}'),
    _echo(200, '{{"code": 400, "message": "{key}", "failed_step": "upload"}}'),
    _echo(200, '{{"message": "no task id for {key}"}}'),
]


@pytest.fixture
async def server() -> AsyncIterator[LoopbackProvider]:
    provider = LoopbackProvider()
    await provider.start()
    yield provider
    await provider.stop()


async def _exercise(server: LoopbackProvider, texts: list[str]) -> None:
    async def run(call: Callable[[], Awaitable[Any]]) -> None:
        try:
            result = await call()
        except TunesmithError as error:
            texts.extend([str(error), repr(error), *map(str, error.args), "".join(traceback.format_exception(error))])
        else:
            texts.append(repr(result))
            for item in result if isinstance(result, list) else []:
                failure = getattr(item, "failure", None)  # TaskStatus and ToolStatus
                if failure is not None:
                    texts.append(failure.message)

    async with ProviderHttpClient(timeout=httpx.Timeout(5.0)) as http:
        sonic = SonicClient(http, base_url=server.url, api_key=KEY, sleep=Sleeps(), not_ready_attempts=2)
        texts += [repr(sonic), str(sonic), repr(vars(sonic))]
        await run(lambda: sonic.submit(SonicCreate(tags="jazz", duration_s=60), webhook=WEBHOOK))
        await run(lambda: sonic.submit(SonicExtend(audio_url="https://files.example.com/a.mp3"), webhook=WEBHOOK))
        await run(lambda: sonic.submit(Mashup(clip_ids=("a", "b"), tags="pop"), webhook=WEBHOOK))
        await run(lambda: sonic.submit(UploadAudio(audio_url="https://files.example.com/a.mp3")))
        await run(lambda: sonic.fetch(["t-1"]))
        await run(lambda: sonic.save_persona(SavePersona(clip_id="c", name="Ana")))
        await run(lambda: sonic.draft_lyrics("a harbour"))
        await run(sonic.credits)
        await run(lambda: sonic.submit_tool("c", Tool.STEMS_FULL, webhook=WEBHOOK))
        await run(lambda: sonic.fetch_tool(Tool.STEMS_FULL, ["t-1"]))
        for tool in (Tool.WAV, Tool.MIDI, Tool.BPM, Tool.VOX, Tool.LYRICS_TIMELINE):
            await run(lambda tool=tool: sonic.run_tool("c", tool))  # type: ignore[misc]
        await run(lambda: sonic.run_tool(None, Tool.UPSAMPLE_TAGS, tags="jazz"))


def _assert_clean(caplog: pytest.LogCaptureFixture, texts: list[str]) -> None:
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    lines = [formatter.format(record) for record in caplog.records]
    assert caplog.records, "the calls should have logged something at DEBUG"
    for secret in SECRETS:
        for text in [*lines, caplog.text, *texts]:
            assert secret not in text


@pytest.mark.parametrize("respond", ECHOES, ids=lambda r: r.__name__)
async def test_no_secret_on_any_path(
    server: LoopbackProvider, caplog: pytest.LogCaptureFixture, respond: Callable[[Seen], Answer]
) -> None:
    caplog.set_level(logging.DEBUG)
    server.otherwise(respond)
    texts: list[str] = []
    await _exercise(server, texts)
    # Not vacuous: the key and the webhook secret did go out, where the docs say.
    assert any(r.headers.get("Authorization") == f"Bearer {KEY}" for r in server.requests)
    assert any(WEBHOOK.secret in r.raw.decode() for r in server.requests)
    _assert_clean(caplog, texts)


@pytest.mark.parametrize("name", RECORDED_ANSWERS)
async def test_no_secret_with_any_recorded_answer(
    server: LoopbackProvider, caplog: pytest.LogCaptureFixture, name: str
) -> None:
    caplog.set_level(logging.DEBUG)
    server.otherwise(answer(f"sonic/{name}"))
    texts: list[str] = []
    await _exercise(server, texts)
    _assert_clean(caplog, texts)
