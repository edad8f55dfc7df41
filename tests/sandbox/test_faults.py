"""Failure injection: every kind, through the Python API and the HTTP control endpoints."""

from __future__ import annotations

import httpx
import pytest

from bot.sandbox import Sandbox
from tests.sandbox.helpers import RENDER_S, FakeClock, create_clip, finish, submit


def _message(body: dict[str, object]) -> object:
    """The message, wherever this body shape keeps it (providers.md: error, message, detail)."""
    return body.get("error") or body.get("message") or body.get("detail")


async def test_server_error_hits_the_next_requests_then_stops(
    sandbox: Sandbox, producer: httpx.AsyncClient, fuzz: httpx.AsyncClient, anon: httpx.AsyncClient
) -> None:
    sandbox.inject("server_error", count=6, message="boom")
    answers = [await producer.get("/get-credits") for _ in range(5)]
    assert [a.status_code for a in answers] == [500, 503, 500, 503, 500]
    assert [_message(a.json()) for a in answers] == ["boom"] * 5
    # The body shapes rotate through the ones the live service uses.
    assert [sorted(a.json()) for a in answers] == [
        ["error"],
        ["message"],
        ["code", "message"],
        ["error", "type"],
        ["detail"],
    ]
    assert (await anon.get("/files/nope.wav")).status_code == 404  # files are not API requests
    fuzz_answer = await fuzz.get("/task", params={"ids": "x"})
    assert fuzz_answer.status_code == 500 and fuzz_answer.json() == {"success": False, "message": "boom"}
    assert (await producer.get("/get-credits")).status_code == 200


async def test_unauthenticated_requests_do_not_use_up_failures(
    sandbox: Sandbox, anon: httpx.AsyncClient, producer: httpx.AsyncClient
) -> None:
    sandbox.inject("server_error")
    assert (await anon.get("/api/v1/get-credits")).status_code == 401
    assert (await producer.get("/get-credits")).status_code == 500


async def test_rate_limit_sends_retry_after(
    sandbox: Sandbox, producer: httpx.AsyncClient, fuzz: httpx.AsyncClient
) -> None:
    sandbox.inject("rate_limit", count=2, retry_after=2.5)
    limited = await producer.post("/producer/create", json={"sound": "pop"})
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "2.5"
    assert "error" in limited.json()
    limited_fuzz = await fuzz.post("/task", json={"lyrics": "", "tags": "pop"})
    assert limited_fuzz.status_code == 429 and limited_fuzz.json()["success"] is False
    assert (await producer.post("/producer/create", json={"sound": "pop"})).status_code == 200
    assert sandbox.stats.submits == 1


async def test_moderation_refuses_producer_submits_naming_the_words(
    sandbox: Sandbox, producer: httpx.AsyncClient
) -> None:
    sandbox.inject("moderation", count=2)
    first = await producer.post(
        "/producer/create", json={"lyrics": "[Verse]\nYesterday all my troubles", "sound": "pop"}
    )
    assert first.status_code == 403
    assert first.json() == {"error": "The lyrics contain copyrighted content: 'Yesterday all my troubles'"}
    style_only = await producer.post("/producer/create", json={"sound": "sounds like Coldplay"})
    assert style_only.json() == {"error": "The lyrics contain copyrighted content: 'sounds like Coldplay'"}
    sandbox.inject("moderation", message="The song description contains artist names: 'Beatles'")
    second = await producer.post("/producer/create", json={"sound": "like the Beatles"})
    assert second.status_code == 403 and "Beatles" in second.json()["error"]
    assert (await producer.post("/producer/create", json={"sound": "pop"})).status_code == 200
    assert (await producer.get("/get-credits")).json()["credits"] == 9_990  # refusals are free


async def test_moderation_fails_fuzz_tasks_after_accepting_them(
    sandbox: Sandbox, fuzz: httpx.AsyncClient, clock: FakeClock
) -> None:
    sandbox.inject("moderation")
    flagged = (await fuzz.post("/task", json={"lyrics": "[Verse]\nbad", "tags": "pop"})).json()["task_id"]
    fine = (await fuzz.post("/task", json={"lyrics": "[Verse]\ngood", "tags": "pop"})).json()["task_id"]
    clock.advance(RENDER_S)
    answers = {a["task_id"]: a for a in (await fuzz.get("/task", params={"ids": f"{flagged},{fine}"})).json()}
    assert answers[flagged]["status"] == "failed" and answers[flagged]["data"]["reason"] == "moderation"
    assert answers[fine]["status"] == "completed"


async def test_retired_operation_answers_410_until_cleared(
    sandbox: Sandbox, producer: httpx.AsyncClient, fuzz: httpx.AsyncClient, clock: FakeClock
) -> None:
    parent = await create_clip(producer, clock)
    sandbox.inject("retired", operation="cover")
    sandbox.inject("retired", operation="extend")
    for _ in range(3):
        gone = await producer.post("/producer/create", json={"task_type": "cover_music", "clip_id": parent["clip_id"]})
        assert gone.status_code == 410 and gone.json() == {"error": "This operation has been retired"}
    variation = await producer.post(
        "/producer/create", json={"task_type": "music_variation", "clip_id": parent["clip_id"]}
    )
    assert variation.status_code == 200
    fuzz_extend = await fuzz.post(
        "/task",
        json={
            "lyrics": "x",
            "tags": "pop",
            "extend": {"song_id": parent["clip_id"], "start_s": 0, "extend_duration_s": 10},
        },
    )
    assert fuzz_extend.status_code == 410 and fuzz_extend.json()["success"] is False
    sandbox.clear_failures()
    back = await producer.post("/producer/create", json={"task_type": "cover_music", "clip_id": parent["clip_id"]})
    assert back.status_code == 200


@pytest.mark.parametrize(
    ("operation", "path", "body"),
    [
        ("upload", "/producer/upload", {"audio_url": "https://example.com/a.mp3"}),
        ("download", "/producer/download", {"clip_id": "whatever"}),
        ("lyrics", "/sonic/lyrics", {"description": "rain"}),
        ("create", "/producer/create", {"sound": "pop"}),
    ],
)
async def test_retired_covers_every_endpoint(
    sandbox: Sandbox, producer: httpx.AsyncClient, operation: str, path: str, body: dict[str, object]
) -> None:
    sandbox.inject("retired", operation=operation)
    assert (await producer.post(path, json=body)).status_code == 410


async def test_task_failure_renders_then_fails_and_refunds(
    sandbox: Sandbox, producer: httpx.AsyncClient, fuzz: httpx.AsyncClient, clock: FakeClock
) -> None:
    sandbox.inject("task_failure", message="Task failed due to timeout. Credits were previously refunded.")
    task_id = await submit(producer, sound="pop")
    clock.advance(RENDER_S * 0.5)
    assert (await producer.get(f"/producer/task/{task_id}")).json()["status"] == "RUNNING"
    answer = await finish(producer, clock, task_id)
    assert answer["status"] == "FAILED"
    assert answer["message"] == "Task failed due to timeout. Credits were previously refunded."
    assert answer["data"][0]["state"] == "failed"
    assert (await producer.get("/get-credits")).json()["credits"] == 10_000
    sandbox.inject("task_failure")
    fuzz_task = (await fuzz.post("/task", json={"lyrics": "", "tags": "pop"})).json()["task_id"]
    clock.advance(RENDER_S)
    [failed] = (await fuzz.get("/task", params={"ids": fuzz_task})).json()
    assert failed["status"] == "failed" and failed["data"]["is_flagged"] is False
    assert (await finish(producer, clock, await submit(producer, sound="pop")))["status"] == "SUCCESS"


async def test_credits_failure(sandbox: Sandbox, producer: httpx.AsyncClient, fuzz: httpx.AsyncClient) -> None:
    sandbox.inject("credits", count=2)
    refused = await producer.post("/producer/create", json={"sound": "pop"})
    assert refused.status_code == 402
    assert refused.json()["error"].startswith("The remaining credits are not enough")
    refused_fuzz = await fuzz.post("/task", json={"lyrics": "", "tags": "pop"})
    assert refused_fuzz.status_code == 402 and refused_fuzz.json()["success"] is False
    assert (await producer.post("/producer/create", json={"sound": "pop"})).status_code == 200


async def test_real_credit_exhaustion(sandbox: Sandbox, producer: httpx.AsyncClient) -> None:
    sandbox.store.charge(sandbox.store.credits(sandbox.now()) - 5)  # spent down to 5 credits
    assert sandbox.store.credits(sandbox.now()) == 5
    refused = await producer.post("/producer/create", json={"sound": "pop"})
    assert refused.status_code == 402
    assert (await producer.post("/producer/upload", json={"audio_url": "https://example.com/a.mp3"})).status_code == 200


async def test_http_control_endpoints(sandbox: Sandbox, anon: httpx.AsyncClient, producer: httpx.AsyncClient) -> None:
    armed = await anon.post("/_sandbox/inject", json={"kind": "rate_limit", "count": 1, "retry_after": 3})
    assert armed.status_code == 200 and armed.json()["armed"] == {"rate_limit": 1}
    limited = await producer.get("/get-credits")
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "3"
    await anon.post("/_sandbox/inject", json={"kind": "retired", "operation": "swap_vocals"})
    await anon.post("/_sandbox/inject", json={"kind": "credits", "count": 5})
    assert (await anon.post("/_sandbox/clear")).status_code == 200
    assert (await producer.post("/producer/create", json={"sound": "pop"})).status_code == 200
    stats = (await anon.get("/_sandbox/stats")).json()
    assert stats["armed"] == {} and stats["submits"] == 1
    for bad in ({"kind": "meteor"}, {"kind": "retired"}, {"kind": "retired", "operation": "juggle"}, {}):
        assert (await anon.post("/_sandbox/inject", json=bad)).status_code == 400


def test_inject_rejects_typos() -> None:
    sandbox = Sandbox()
    with pytest.raises(ValueError):
        sandbox.inject("server-error")
    with pytest.raises(ValueError):
        sandbox.inject("retired")
    with pytest.raises(ValueError):
        sandbox.inject("retired", operation="cover_music")  # domain Operation values, not task types
