"""The Producer wire format: auth, every task_type, uploads, downloads, credits, lyrics and the status progression."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from aiohttp import web

from bot.sandbox import Sandbox
from tests.clients import http_client
from tests.sandbox.helpers import KEY, RENDER_S, FakeClock, create_clip, finish, submit
from tests.waiting import until

CLIP_FIELDS = {
    "clip_id",
    "title",
    "sound",
    "lyrics",
    "audio_url",
    "wav_url",
    "image_url",
    "duration",
    "state",
    "mv",
    "seed",
    "created_at",
}


# --- auth -------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer"}, {"Authorization": "Basic abc"}, {"Authorization": KEY}, {"api-key": KEY}],
)
async def test_producer_rejects_missing_or_malformed_key(anon: httpx.AsyncClient, headers: dict[str, str]) -> None:
    response = await anon.get("/api/v1/get-credits", headers=headers)
    assert response.status_code == 401
    assert response.json() == {"error": "Missing or invalid API key"}


async def test_configured_api_key_is_the_only_one_accepted(clock: FakeClock) -> None:
    async with Sandbox(api_key="s3cret", clock=clock) as sandbox, http_client(base_url=sandbox.base_url) as c:
        assert (await c.get("/api/v1/get-credits", headers={"Authorization": "Bearer other"})).status_code == 401
        assert (await c.get("/api/v1/get-credits", headers={"Authorization": "Bearer s3cret"})).status_code == 200
        assert (await c.get("/api/v2/fuzz/task?ids=x", headers={"api-key": "other"})).status_code == 401
        assert (await c.get("/api/v2/fuzz/task?ids=x", headers={"api-key": "s3cret"})).status_code == 200


# --- create and the status progression ---------------------------------------------------------------------------
async def test_submit_answers_task_id(producer: httpx.AsyncClient) -> None:
    response = await producer.post("/producer/create", json={"task_type": "create_music", "sound": "pop"})
    body = response.json()
    assert response.status_code == 200
    assert body["code"] == 200 and body["message"] == "success"
    assert len(body["task_id"]) == 36


async def test_status_moves_from_not_ready_to_running_to_streaming_to_success(
    sandbox: Sandbox, producer: httpx.AsyncClient, clock: FakeClock
) -> None:
    submitted = clock.now
    task_id = await submit(producer, sound="dreamy synthwave", lyrics="[Verse]\nNeon skies tonight", title="Neon")

    early = await producer.get(f"/producer/task/{task_id}")
    assert early.status_code == 202
    assert early.json() == {"type": "not_ready", "message": "Task not ready"}

    clock.advance(RENDER_S * 0.3)
    running = (await producer.get(f"/producer/task/{task_id}")).json()
    assert running["status"] == "RUNNING" and running["code"] == 200
    [clip] = running["data"]
    assert clip["state"] == "running" and clip["audio_url"] == ""

    clock.advance(RENDER_S * 0.5)  # 80%
    streaming = (await producer.get(f"/producer/task/{task_id}")).json()
    assert streaming["status"] == "RUNNING"
    [clip] = streaming["data"]
    assert clip["state"] == "streaming"
    assert clip["audio_url"].startswith("http") and "stream=1" in clip["audio_url"]  # a preview, not the final file
    assert task_id not in sandbox.finished_at

    done = await finish(producer, clock, task_id)
    assert done["status"] == "SUCCESS" and done["message"] == "success"
    [clip] = done["data"]
    assert clip.keys() >= CLIP_FIELDS
    assert clip["state"] == "succeeded"
    assert clip["title"] == "Neon" and clip["sound"] == "dreamy synthwave"
    assert clip["lyrics"] == "[Verse]\nNeon skies tonight"
    assert clip["audio_url"] == f"{sandbox.base_url}/files/{clip['clip_id']}.wav"
    assert clip["wav_url"] == clip["audio_url"]
    assert clip["image_url"] == f"{sandbox.base_url}/files/{clip['clip_id']}.png"
    assert 20.0 <= float(clip["duration"]) <= 30.0
    assert sandbox.finished_at[task_id] == pytest.approx(submitted + RENDER_S)
    assert sandbox.stats.polls == 4 and sandbox.stats.polls_by_task[task_id] == 4
    assert sandbox.stats.requests_by_path["/api/v1/producer/task/{task_id}"] == 4


async def test_render_seconds_can_change_at_runtime(sandbox: Sandbox, producer: httpx.AsyncClient) -> None:
    sandbox.render_seconds = 0
    task_id = await submit(producer, sound="pop")
    assert (await producer.get(f"/producer/task/{task_id}")).json()["status"] == "SUCCESS"


async def test_duration_is_sometimes_a_number_and_sometimes_a_string(
    producer: httpx.AsyncClient, clock: FakeClock
) -> None:
    durations = [(await create_clip(producer, clock, sound=f"style {i}"))["duration"] for i in range(2)]
    assert {type(d) for d in durations} == {float, str}
    assert all(20.0 <= float(d) <= 30.0 for d in durations)


async def test_instrumental_and_style_only_creates(producer: httpx.AsyncClient, clock: FakeClock) -> None:
    instrumental = await create_clip(producer, clock, sound="ambient pads", make_instrumental=True)
    assert instrumental["lyrics"] == "[Instrumental]"
    written = await create_clip(producer, clock, sound="ambient pads")
    assert written["lyrics"].startswith("[Verse]")  # the service writes lyrics when only a style is given
    assert written["title"]


DERIVED: list[tuple[str, dict[str, Any]]] = [
    ("extend_music", {"starts_at": 30, "lyrics": "[Outro]\nGoodbye"}),
    ("cover_music", {"sound": "acoustic", "cover_strength": 0.7}),
    ("cover_music", {"strength": 0.5}),
    ("replace_music", {"starts_at": 10, "ends_at": 20, "sound": "guitar solo"}),
    ("music_variation", {}),
    ("swap_music_vocals", {"sound": "opera soprano", "lyrics": "[Aria]\nAmore"}),
    ("swap_music_sound", {"sound": "reggae riddim"}),
]


@pytest.mark.parametrize(("task_type", "extra"), DERIVED)
async def test_every_derived_task_type_yields_one_new_clip(
    producer: httpx.AsyncClient, clock: FakeClock, task_type: str, extra: dict[str, Any]
) -> None:
    parent = await create_clip(producer, clock, title="Origin", lyrics="[Verse]\nFirst words")
    answer = await finish(
        producer, clock, await submit(producer, task_type=task_type, clip_id=parent["clip_id"], **extra)
    )
    assert answer["status"] == "SUCCESS"
    [clip] = answer["data"]
    assert clip["clip_id"] != parent["clip_id"]
    assert clip["title"].startswith("Origin (")
    assert clip["sound"] == extra.get("sound", "jazz lounge")
    if task_type == "extend_music":
        assert clip["lyrics"] == "[Verse]\nFirst words\n\n[Outro]\nGoodbye"
    if task_type == "music_variation":
        assert clip["seed"] != parent["seed"] and clip["lyrics"] == parent["lyrics"]


@pytest.mark.parametrize(
    ("body", "status", "fragment"),
    [
        ({"sound": "pop", "title": "t" * 81}, 400, "80"),
        ({"lyrics": "l" * 3000}, 400, "3000"),
        ({"sound": "s" * 200}, 400, "200"),
        ({}, 400, "sound or lyrics"),
        ({"task_type": "make_noise", "sound": "pop"}, 400, "task_type"),
        ({"sound": "pop", "mv": "FUZZ-9"}, 400, "mv"),
        ({"sound": "pop", "sound_strength": 0.1}, 400, "sound_strength"),
        ({"sound": "pop", "weirdness": 2}, 400, "weirdness"),
        ({"sound": "pop", "make_instrumental": "yes"}, 400, "make_instrumental"),
        ({"sound": "pop", "webhook_url": "http://bot.example/hook"}, 400, "HTTPS"),
        ({"sound": "pop", "webhook_url": "https://bot.example/" + "x" * 1024}, 400, "1024"),
        ({"task_type": "cover_music"}, 400, "clip_id is required"),
        ({"task_type": "extend_music", "clip_id": "nope"}, 404, "not found"),
    ],
)
async def test_create_validation(producer: httpx.AsyncClient, body: dict[str, Any], status: int, fragment: str) -> None:
    response = await producer.post("/producer/create", json={"task_type": "create_music", **body})
    assert response.status_code == status
    assert fragment in response.json()["error"]


async def test_limits_are_inclusive_for_title_and_strict_for_lyrics_and_sound(producer: httpx.AsyncClient) -> None:
    ok = await producer.post(
        "/producer/create",
        json={"task_type": "create_music", "title": "t" * 80, "sound": "s" * 199, "lyrics": "l" * 2999},
    )
    assert ok.status_code == 200


@pytest.mark.parametrize(
    ("task_type", "extra", "fragment"),
    [
        ("cover_music", {"cover_strength": 0.1}, "cover_strength"),
        ("cover_music", {"strength": 1.5}, "strength"),
        ("replace_music", {}, "starts_at is required"),
        ("replace_music", {"starts_at": 20, "ends_at": 10}, "ends_at"),
        ("extend_music", {"starts_at": -1}, "starts_at"),
        ("swap_music_vocals", {"sound": "opera"}, "lyrics"),
        ("swap_music_sound", {"lyrics": "la la"}, "sound is required"),
    ],
)
async def test_derived_validation(
    producer: httpx.AsyncClient, clock: FakeClock, task_type: str, extra: dict[str, Any], fragment: str
) -> None:
    parent = await create_clip(producer, clock)
    response = await producer.post(
        "/producer/create", json={"task_type": task_type, "clip_id": parent["clip_id"], **extra}
    )
    assert response.status_code == 400
    assert fragment in response.json()["error"]


async def test_invalid_json_is_rejected(producer: httpx.AsyncClient) -> None:
    response = await producer.post("/producer/create", content=b"{nope", headers={"Content-Type": "application/json"})
    assert response.status_code == 400 and "JSON" in response.json()["error"]


async def test_unknown_task_is_404(producer: httpx.AsyncClient) -> None:
    response = await producer.get("/producer/task/does-not-exist")
    assert response.status_code == 404 and response.json()["error"] == "Task not found"


# --- upload and download -------------------------------------------------------------------------------------------
@pytest.fixture
async def audio_host() -> AsyncIterator[str]:
    """A tiny server on loopback holding the 'public' audio an upload points at."""

    async def song(request: web.Request) -> web.Response:
        return web.Response(body=b"ID3-fake-mp3-bytes" * 100, content_type="audio/mpeg")

    app = web.Application()
    app.router.add_get("/music/my-song.mp3", song)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    await runner.cleanup()


async def _settle_upload(sandbox: Sandbox, task_id: str) -> None:
    """Wait (real time) for the upload's background fetch; its render time is then up to the fake clock."""
    await until(lambda: not sandbox.store.tasks[task_id].fetch_pending)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_upload_fetches_the_source_and_serves_it_back(
    sandbox: Sandbox, producer: httpx.AsyncClient, anon: httpx.AsyncClient, clock: FakeClock, audio_host: str
) -> None:
    response = await producer.post("/producer/upload", json={"audio_url": f"{audio_host}/music/my-song.mp3"})
    assert response.status_code == 200
    task_id = response.json()["task_id"]
    await _settle_upload(sandbox, task_id)
    answer = await finish(producer, clock, task_id)
    assert answer["status"] == "SUCCESS"
    data = answer["data"]
    assert set(data) == {"clip_id", "audio_url", "lyrics"}  # an object, not a list
    assert data["audio_url"].endswith(f"{data['clip_id']}.mp3")
    served = await anon.get(data["audio_url"].removeprefix(sandbox.base_url))
    assert served.content == b"ID3-fake-mp3-bytes" * 100
    assert served.headers["Content-Type"] == "audio/mpeg"
    # The uploaded clip is a starting point for derived operations.
    cover = await finish(
        producer, clock, await submit(producer, task_type="cover_music", clip_id=data["clip_id"], sound="lofi")
    )
    assert cover["status"] == "SUCCESS"


async def test_upload_of_unreachable_audio_fails_and_refunds(
    sandbox: Sandbox, producer: httpx.AsyncClient, clock: FakeClock
) -> None:
    url = f"http://127.0.0.1:{_closed_port()}/gone.mp3"
    task_id = (await producer.post("/producer/upload", json={"audio_url": url})).json()["task_id"]
    assert (await producer.get("/get-credits")).json()["credits"] == 10_000 - 2
    await _settle_upload(sandbox, task_id)
    answer = await finish(producer, clock, task_id)
    assert answer["status"] == "FAILED"
    assert "could not be fetched" in answer["message"]
    assert (await producer.get("/get-credits")).json()["credits"] == 10_000
    # A failed upload's clip cannot be used as a parent.
    bad = await producer.post(
        "/producer/create", json={"task_type": "cover_music", "clip_id": sandbox.store.tasks[task_id].clip_ids[0]}
    )
    assert bad.status_code == 404


async def test_upload_validation(producer: httpx.AsyncClient) -> None:
    missing = await producer.post("/producer/upload", json={})
    assert missing.status_code == 400 and "audio_url" in missing.json()["error"]
    bad = await producer.post("/producer/upload", json={"audio_url": "ftp://x/y.mp3"})
    assert bad.status_code == 400


@pytest.mark.parametrize("fmt", ["mp3", "wav"])
async def test_download(sandbox: Sandbox, producer: httpx.AsyncClient, clock: FakeClock, fmt: str) -> None:
    clip = await create_clip(producer, clock)
    response = await producer.post("/producer/download", json={"clip_id": clip["clip_id"], "format": fmt})
    assert response.status_code == 200
    task_id = response.json()["task_id"]
    running = await producer.get(f"/producer/task/{task_id}")
    assert running.status_code == 202
    answer = await finish(producer, clock, task_id)
    assert answer["status"] == "SUCCESS"
    expected = {"audio_url": f"{sandbox.base_url}/files/{clip['clip_id']}.wav"}
    if fmt == "wav":
        expected["wav_url"] = expected["audio_url"]
    assert answer["data"] == expected


async def test_download_validation(producer: httpx.AsyncClient, clock: FakeClock) -> None:
    assert (await producer.post("/producer/download", json={"clip_id": "nope"})).status_code == 404
    clip = await create_clip(producer, clock)
    bad = await producer.post("/producer/download", json={"clip_id": clip["clip_id"], "format": "flac"})
    assert bad.status_code == 400 and "mp3 or wav" in bad.json()["error"]


# --- credits and lyrics ----------------------------------------------------------------------------------------------
async def test_credits_go_down_per_operation(producer: httpx.AsyncClient, clock: FakeClock, audio_host: str) -> None:
    assert (await producer.get("/get-credits")).json() == {"credits": 10_000, "extra_credits": 0}
    clip = await create_clip(producer, clock)
    assert (await producer.get("/get-credits")).json()["credits"] == 9_990
    await producer.post("/producer/download", json={"clip_id": clip["clip_id"]})
    await producer.post("/producer/upload", json={"audio_url": f"{audio_host}/music/my-song.mp3"})
    assert (await producer.get("/get-credits")).json()["credits"] == 9_986
    await producer.post("/producer/create", json={"task_type": "create_music", "title": "x" * 200})
    assert (await producer.get("/get-credits")).json()["credits"] == 9_986  # rejected requests cost nothing


@pytest.mark.parametrize(("path", "field"), [("/producer/lyrics-create", "prompt"), ("/sonic/lyrics", "description")])
async def test_lyrics_are_drafted_from_the_idea(producer: httpx.AsyncClient, path: str, field: str) -> None:
    first = await producer.post(path, json={field: "a road trip with my dog"})
    again = await producer.post(path, json={field: "a road trip with my dog"})
    other = await producer.post(path, json={field: "winter in the mountains"})
    body = first.json()
    assert first.status_code == 200 and body["code"] == 200
    assert body == again.json() != other.json()
    assert len(body["results"]) >= 1
    for result in body["results"]:
        assert set(result) == {"title", "lyrics"}
        assert result["lyrics"].startswith("[Verse]\n")
        assert "road trip" in result["lyrics"].lower()


async def test_lyrics_validation(producer: httpx.AsyncClient) -> None:
    too_long = await producer.post("/sonic/lyrics", json={"description": "x" * 120})
    assert too_long.status_code == 400 and "120" in too_long.json()["error"]
    assert (await producer.post("/sonic/lyrics", json={"description": "x" * 119})).status_code == 200
    assert (await producer.post("/producer/lyrics-create", json={})).status_code == 400
