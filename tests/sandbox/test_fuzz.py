"""The FUZZ 2.0 wire format: submit, batch queries of up to 25 ids, every status and its data shape."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from bot.sandbox import Sandbox
from tests.sandbox.helpers import RENDER_S, FakeClock

FUZZ_CLIP_FIELDS = {
    "id",
    "title",
    "sound",
    "lyrics",
    "audio_url",
    "image_url",
    "duration_s",
    "lyrics_timestamped",
    "model_display_name",
    "created_at",
}


async def fuzz_submit(fuzz: httpx.AsyncClient, **body: Any) -> str:
    response = await fuzz.post("/task", json=body)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["success"] is True
    return answer["task_id"]


async def fuzz_query(fuzz: httpx.AsyncClient, *ids: str) -> list[dict[str, Any]]:
    response = await fuzz.get("/task", params={"ids": ",".join(ids)})
    assert response.status_code == 200, response.text
    return response.json()


async def test_fuzz_requires_api_key_header(anon: httpx.AsyncClient) -> None:
    for headers in ({}, {"api-key": ""}, {"Authorization": "Bearer k"}):
        response = await anon.post("/api/v2/fuzz/task", json={"lyrics": "", "tags": "jazz"}, headers=headers)
        assert response.status_code == 401
        assert response.json() == {"error": "Missing or invalid API key"}


async def test_status_goes_pending_processing_queued_completed(
    sandbox: Sandbox, fuzz: httpx.AsyncClient, clock: FakeClock
) -> None:
    task_id = await fuzz_submit(fuzz, lyrics="", tags="jazz")

    [pending] = await fuzz_query(fuzz, task_id)
    assert pending["status"] == "pending" and pending["data"] == {}
    assert pending["task_id"] == task_id and pending["created_at"].endswith("Z")
    assert pending["gen_params"] == {"topic": "jazz", "instrumental": "true"}

    clock.advance(RENDER_S * 0.2)
    [processing] = await fuzz_query(fuzz, task_id)
    assert processing["status"] == "processing" and processing["data"] is None

    clock.advance(RENDER_S * 0.4)
    [queued] = await fuzz_query(fuzz, task_id)
    assert queued["status"] == "queued"
    assert len(queued["data"]) == 2 and all(isinstance(c, str) for c in queued["data"])

    clock.advance(RENDER_S * 0.5)
    [completed] = await fuzz_query(fuzz, task_id)
    assert completed["status"] == "completed"
    clips = completed["data"]
    assert len(clips) == 2
    assert [c["id"] for c in clips] == queued["data"]
    for clip in clips:
        assert clip.keys() >= FUZZ_CLIP_FIELDS
        assert clip["lyrics"] == "[Instrumental]" and clip["sound"] == "jazz"
        assert clip["audio_url"] == f"{sandbox.base_url}/files/{clip['id']}.wav"
        assert clip["image_url"] == f"{sandbox.base_url}/files/{clip['id']}.png"
        assert 20.0 <= clip["duration_s"] <= 30.0
        assert clip["lyrics_timestamped"]["words"][0]["text"] == "[Instrumental]"
    assert clips[0]["title"] != clips[1]["title"]
    assert task_id in sandbox.finished_at


async def test_lyrics_submit_records_conditions_and_title(fuzz: httpx.AsyncClient, clock: FakeClock) -> None:
    task_id = await fuzz_submit(
        fuzz, lyrics="[Verse 1]\nIn waves of starlit magic\nMy heart", tags="dream pop", title="Starlit"
    )
    clock.advance(RENDER_S)
    [done] = await fuzz_query(fuzz, task_id)
    params = done["gen_params"]
    assert params["title"] == "Starlit"
    assert params["conditions"][0]["lyrics"].startswith("[Verse 1]")
    assert params["conditions"][1]["prompt"] == "dream pop"
    clip = done["data"][0]
    assert clip["title"] == "Starlit"
    timeline = clip["lyrics_timestamped"]["words"]
    # The song's verse sings the lines (a short lyric is sung again where the verse has room), in order.
    assert [w["text"] for w in timeline][:2] == ["In waves of starlit magic", "My heart"]
    assert all(w["start"] < w["end"] <= clip["duration_s"] for w in timeline)
    assert [w["start"] for w in timeline] == sorted(w["start"] for w in timeline)


async def test_batch_query_limits_and_unknown_ids(fuzz: httpx.AsyncClient, sandbox: Sandbox) -> None:
    ids = [await fuzz_submit(fuzz, lyrics="", tags=f"style {i}") for i in range(3)]
    answer = await fuzz_query(fuzz, *ids, "unknown-id", ids[0])
    assert sorted(a["task_id"] for a in answer) == sorted(ids)  # unknown omitted, repeats answered once
    twenty_five = await fuzz.get("/task", params={"ids": ",".join(ids + [f"x{i}" for i in range(22)])})
    assert twenty_five.status_code == 200
    too_many = await fuzz.get("/task", params={"ids": ",".join(f"x{i}" for i in range(26))})
    assert too_many.status_code == 400
    assert too_many.json()["success"] is False and "25" in too_many.json()["message"]
    none = await fuzz.get("/task")
    assert none.status_code == 400
    assert sandbox.stats.polls == 2 and sandbox.stats.poll_ids == 5 + 25


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"lyrics": "", "tags": ""}, "tags"),
        ({"lyrics": "[Instrumental]"}, "tags"),
        ({"lyrics": "x", "tags": "t" * 201}, "200"),
        ({"lyrics": "x", "tags": "pop", "title": "t" * 81}, "80"),
        ({"lyrics": 5, "tags": "pop"}, "lyrics"),
        ({"lyrics": "x", "tags": "pop", "extend": "nope"}, "extend"),
        ({"lyrics": "x", "tags": "pop", "extend": {"start_s": 0, "extend_duration_s": 30}}, "song_id"),
        (
            {"lyrics": "x", "tags": "pop", "extend": {"song_id": "missing", "start_s": 0, "extend_duration_s": 30}},
            "not found",
        ),
    ],
)
async def test_invalid_submits_are_rejected(fuzz: httpx.AsyncClient, body: dict[str, Any], fragment: str) -> None:
    response = await fuzz.post("/task", json=body)
    assert response.status_code == 400
    answer = response.json()
    assert answer["success"] is False and fragment in answer["message"]


async def test_invalid_json_is_rejected(fuzz: httpx.AsyncClient) -> None:
    response = await fuzz.post("/task", content=b"[1, 2", headers={"Content-Type": "application/json"})
    assert response.status_code == 400 and response.json()["success"] is False


async def test_extend(fuzz: httpx.AsyncClient, clock: FakeClock) -> None:
    parent_task = await fuzz_submit(fuzz, lyrics="[Verse]\nFirst part", tags="folk")
    clock.advance(RENDER_S)
    [done] = await fuzz_query(fuzz, parent_task)
    parent = done["data"][0]

    too_long = await fuzz.post(
        "/task",
        json={
            "lyrics": "more",
            "tags": "folk",
            "extend": {"song_id": parent["id"], "start_s": 10, "extend_duration_s": 181},
        },
    )
    assert too_long.status_code == 400 and "180" in too_long.json()["message"]

    task_id = await fuzz_submit(
        fuzz,
        lyrics="[Bridge]\nNext part",
        tags="folk",
        extend={"song_id": parent["id"], "start_s": 12.5, "extend_duration_s": 180},
    )
    clock.advance(RENDER_S)
    [extended] = await fuzz_query(fuzz, task_id)
    assert extended["status"] == "completed"
    assert extended["gen_params"]["extend"]["song_id"] == parent["id"]
    for clip in extended["data"]:
        assert clip["parent_riff_id"] == parent["id"]
        assert clip["lyrics"] == "[Verse]\nFirst part\n\n[Bridge]\nNext part"


async def test_failed_task_shape(sandbox: Sandbox, fuzz: httpx.AsyncClient, clock: FakeClock) -> None:
    sandbox.inject("moderation")
    task_id = await fuzz_submit(fuzz, lyrics="[Verse]\nbad words", tags="pop")
    [queued_or_pending] = await fuzz_query(fuzz, task_id)
    assert queued_or_pending["status"] == "pending"  # accepted first, fails later
    clock.advance(RENDER_S)
    [failed] = await fuzz_query(fuzz, task_id)
    assert failed["status"] == "failed"
    assert failed["data"]["reason"] == "moderation" and failed["data"]["is_flagged"] is True
    assert failed["data"]["data"] == {}
    assert task_id in sandbox.finished_at


async def test_fuzz_and_producer_tasks_do_not_mix(fuzz: httpx.AsyncClient, producer: httpx.AsyncClient) -> None:
    fuzz_task = await fuzz_submit(fuzz, lyrics="", tags="jazz")
    assert (await producer.get(f"/producer/task/{fuzz_task}")).status_code == 404
    producer_task = (await producer.post("/producer/create", json={"sound": "pop"})).json()["task_id"]
    assert await fuzz_query(fuzz, producer_task) == []
