"""The FUZZ 2.0 client against its docs' own answers (verbatim) and docs/providers.md (FUZZ), served at the wire."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from bot.domain.errors import ErrorKind, InvalidRequest, OperationUnavailable, ProviderError
from bot.domain.models import (
    Clip,
    CoverMusic,
    CreateMusic,
    DownloadTrack,
    ExtendMusic,
    MusicVariation,
    Operation,
    ReplaceSection,
    SwapSound,
    SwapVocals,
    TaskState,
    UploadAudio,
    WebhookTarget,
)
from bot.domain.outcomes import Failure, FailureKind
from bot.domain.ports import MusicProvider
from bot.providers import fuzz as fuzz_module
from bot.providers.fuzz import MODERATION_TEXT, FuzzClient
from tests.providers.conftest import FUZZ_KEY, FUZZ_URL, Sleeps, Wire, recorded, recorded_body

TASK = "/api/v2/fuzz/task"
SONG = "9f137820-6e82-4050-a308-2a59bbbfd517"


@pytest.fixture
def fuzz(http: httpx.AsyncClient, sleeps: Sleeps) -> FuzzClient:
    return FuzzClient(http, base_url=FUZZ_URL, api_key=FUZZ_KEY, sleep=sleeps)


def test_is_a_music_provider(fuzz: FuzzClient) -> None:
    provider: MusicProvider = fuzz
    assert provider.name == "fuzz"
    assert provider.operations == {Operation.CREATE, Operation.EXTEND, Operation.VARIATION}
    assert provider.models == ()
    assert (provider.batch_size, provider.supports_webhooks, provider.max_concurrency) == (25, False, 10)


def test_default_base_url(http: httpx.AsyncClient) -> None:
    assert FuzzClient(http, api_key=FUZZ_KEY).base_url == "https://api.foxaihub.com/api/v2/fuzz"


# --- submit ---------------------------------------------------------------------------------------------------------
SUBMISSIONS: list[tuple[str, Any, dict[str, Any]]] = [
    (
        "lyrics+tags",
        CreateMusic(sound="pop, dream pop, female vocals", lyrics="[Verse 1]\nIn waves", title="Waves"),
        {"lyrics": "[Verse 1]\nIn waves", "tags": "pop, dream pop, female vocals", "title": "Waves"},
    ),
    ("style only", CreateMusic(sound="jazz"), {"lyrics": "", "tags": "jazz"}),
    ("instrumental", CreateMusic(sound="jazz", instrumental=True), {"lyrics": "[Instrumental]", "tags": "jazz"}),
    # FUZZ requires tags: lyrics alone get the neutral default.
    ("lyrics only", CreateMusic(lyrics="[Verse]\nHello"), {"lyrics": "[Verse]\nHello", "tags": "pop"}),
    (
        "advanced knobs dropped",
        CreateMusic(sound="jazz", model="FUZZ-2.0 Pro", seed="1", weirdness=0.5),
        {"lyrics": "", "tags": "jazz"},
    ),
    (
        "extend",
        ExtendMusic(
            clip_id=SONG, starts_at=125.61822, duration_s=30, sound="pop, dream pop", lyrics="put extend lyrics here"
        ),
        {
            "lyrics": "put extend lyrics here",
            "tags": "pop, dream pop",
            "extend": {"song_id": SONG, "start_s": 125.61822, "extend_duration_s": 30.0},
        },
    ),
    (
        "extend defaults",
        ExtendMusic(clip_id=SONG),
        {"lyrics": "", "tags": "pop", "extend": {"song_id": SONG, "start_s": 0, "extend_duration_s": 30.0}},
    ),
    (
        "variation emulated",
        MusicVariation(clip_id=SONG, sound="celtic folk", lyrics="[Instrumental]", title="Hidden"),
        {"lyrics": "[Instrumental]", "tags": "celtic folk", "title": "Hidden"},
    ),
    (
        "variation from lyrics",
        MusicVariation(clip_id=SONG, lyrics="[Verse]\nAgain"),
        {"lyrics": "[Verse]\nAgain", "tags": "pop"},
    ),
]


@pytest.mark.parametrize(("request_", "body"), [s[1:] for s in SUBMISSIONS], ids=[s[0] for s in SUBMISSIONS])
async def test_submit_sends_the_documented_body(
    fuzz: FuzzClient, wire: Wire, request_: Any, body: dict[str, Any]
) -> None:
    wire.on("POST", TASK, recorded("fuzz/submit_success"))
    webhook = WebhookTarget(url="https://bot.example.com/hook", secret="s3cret-s3cret-s3cret")
    assert await fuzz.submit(request_, webhook=webhook) == "0196bd75-edf7-7000-841c-c24752207636"
    [sent] = wire.requests
    assert sent.url == f"{FUZZ_URL}/task"
    assert sent.headers["api-key"] == FUZZ_KEY
    assert "Authorization" not in sent.headers
    assert wire.last_json() == body  # no webhook fields: FUZZ only polls


async def test_variation_without_style_or_lyrics_is_invalid(fuzz: FuzzClient, wire: Wire) -> None:
    with pytest.raises(InvalidRequest):
        await fuzz.submit(MusicVariation(clip_id=SONG))
    assert wire.requests == []


@pytest.mark.parametrize(
    "request_",
    [
        CoverMusic(clip_id=SONG, sound="x"),
        ReplaceSection(clip_id=SONG, starts_at=1),
        SwapVocals(clip_id=SONG, sound="x", lyrics="y"),
        SwapSound(clip_id=SONG, sound="x"),
        UploadAudio(audio_url="https://example.com/a.mp3"),
        DownloadTrack(clip_id=SONG),
    ],
    ids=lambda r: r.operation.value,
)
async def test_other_operations_are_unavailable(fuzz: FuzzClient, wire: Wire, request_: Any) -> None:
    assert request_.operation not in fuzz.operations
    with pytest.raises(OperationUnavailable):
        await fuzz.submit(request_)
    assert wire.requests == []


async def test_success_false_is_a_rejection(fuzz: FuzzClient, wire: Wire, sleeps: Sleeps) -> None:
    wire.on("POST", TASK, recorded("fuzz/submit_rejected"))
    with pytest.raises(ProviderError) as caught:
        await fuzz.submit(CreateMusic(sound="jazz"))
    assert caught.value.kind is ErrorKind.REJECTED
    assert str(caught.value) == "tags is required"
    assert len(wire.requests) == 1 and sleeps.delays == []


async def test_answer_without_task_id_is_an_error(fuzz: FuzzClient, wire: Wire) -> None:
    wire.on("POST", TASK, httpx.Response(200, json={"success": True}))
    with pytest.raises(ProviderError) as caught:
        await fuzz.submit(CreateMusic(sound="jazz"))
    assert caught.value.kind is ErrorKind.UNAVAILABLE and not caught.value.retryable


@pytest.mark.parametrize(
    ("name", "kind", "requests"), [("error_401", ErrorKind.AUTH, 1), ("error_500", ErrorKind.UNAVAILABLE, 3)]
)
async def test_http_errors_map_like_the_producers(
    fuzz: FuzzClient, wire: Wire, name: str, kind: ErrorKind, requests: int
) -> None:
    wire.on("POST", TASK, recorded(f"fuzz/{name}"))
    with pytest.raises(ProviderError) as caught:
        await fuzz.submit(CreateMusic(sound="jazz"))
    assert caught.value.kind is kind
    assert len(wire.requests) == requests


# --- fetch ----------------------------------------------------------------------------------------------------------
def _ids(name: str) -> list[str]:
    return [task["task_id"] for task in recorded_body(f"fuzz/{name}")]


async def test_pending_is_queued(fuzz: FuzzClient, wire: Wire) -> None:
    wire.on("GET", TASK, recorded("fuzz/task_pending"))
    [status] = await fuzz.fetch(_ids("task_pending"))
    assert (status.task_id, status.state) == ("0196bdae-7fa9-7000-b8d7-987519774a05", TaskState.QUEUED)


async def test_processing_is_running(fuzz: FuzzClient, wire: Wire) -> None:
    wire.on("GET", TASK, recorded("fuzz/task_processing"))
    [status] = await fuzz.fetch(_ids("task_processing"))
    assert status.state is TaskState.RUNNING


async def test_queued_is_running_and_batched(fuzz: FuzzClient, wire: Wire) -> None:
    wire.on("GET", TASK, recorded("fuzz/task_queued"))
    ids = _ids("task_queued")
    statuses = await fuzz.fetch(ids)
    assert [(s.task_id, s.state, s.clips) for s in statuses] == [(i, TaskState.RUNNING, ()) for i in ids]
    [sent] = wire.requests
    # The documented literal form: ids joined by commas in one call, with the api-key header.
    assert sent.url.query.decode() == f"ids={ids[0]},{ids[1]}"
    assert sent.headers["api-key"] == FUZZ_KEY


async def test_completed_maps_both_songs(fuzz: FuzzClient, wire: Wire) -> None:
    wire.on("GET", TASK, recorded("fuzz/task_completed"))
    [status] = await fuzz.fetch(["0196bd6d-57a4-7000-96c6-f74ee7998e5f"])
    assert status.state is TaskState.SUCCEEDED and status.failure is None
    base = "https://storage.googleapis.com/corpusant-app-public/riffs/edd3980f-3553-418b-8792-26f37406febd"
    assert status.clips == (
        Clip(
            clip_id="c1f6747a-49ba-4f16-9e51-08cae7bd134e",
            title="Hidden",
            audio_url=f"{base}/audio/c1f6747a-49ba-4f16-9e51-08cae7bd134e.m4a",
            image_url=f"{base}/image/c1f6747a-49ba-4f16-9e51-08cae7bd134e.jpg",
            duration_s=178.19596371882085,
            lyrics="[Instrumental]",
            tags="Celtic folk, haunting female vocals, acoustic instruments, ethereal harmonies",
            model="FUZZ-1.0",
        ),
        Clip(
            clip_id="0c7dcdb2-0a2a-4eb3-aaf2-dec1bf77b655",
            title="Wise Paths",
            audio_url=f"{base}/audio/0c7dcdb2-0a2a-4eb3-aaf2-dec1bf77b655.m4a",
            image_url=f"{base}/image/0c7dcdb2-0a2a-4eb3-aaf2-dec1bf77b655.jpg",
            duration_s=223.78607709750568,
            lyrics="[Instrumental]",
            tags="Celtic folk, ethereal female vocals, traditional instruments, haunting melodies",
            model="FUZZ-1.0",
        ),
    )


@pytest.mark.parametrize("name", ["task_failed", "task_failed_flat_reason"])
async def test_moderation_failure(fuzz: FuzzClient, wire: Wire, name: str) -> None:
    wire.on("GET", TASK, recorded(f"fuzz/{name}"))
    [status] = await fuzz.fetch(["0196bdae-7fa9-7000-b8d7-987519774a05"])
    assert status.state is TaskState.FAILED and status.failure is not None
    assert (status.failure.kind, status.failure.message) == ("moderation", MODERATION_TEXT)


async def test_other_failure_names_the_reason(fuzz: FuzzClient, wire: Wire) -> None:
    wire.on("GET", TASK, recorded("fuzz/task_failed_other_reason"))
    [status] = await fuzz.fetch(["0196bdae-7fa9-7000-b8d7-987519774a05"])
    assert status.failure is not None and status.failure.kind == "unavailable"
    assert "render error" in status.failure.message


async def test_completed_without_a_list_is_a_failure(fuzz: FuzzClient, wire: Wire) -> None:
    wire.on("GET", TASK, recorded("fuzz/task_completed_without_list"))
    [status] = await fuzz.fetch(["0196bd6d-57a4-7000-96c6-f74ee7998e5f"])
    assert status.state is TaskState.FAILED and status.failure is not None
    assert status.failure.kind == "unavailable"


@pytest.mark.parametrize(
    ("item", "state", "kind"),
    [
        ({"status": "failed", "task_id": "t", "data": None}, TaskState.FAILED, "unavailable"),
        ({"status": "failed", "task_id": "t", "data": ["x"]}, TaskState.FAILED, "unavailable"),
        ({"status": "failed", "task_id": "t", "data": {"reason": "timeout"}}, TaskState.FAILED, "timeout"),
        ({"status": "completed", "task_id": "t", "data": ["id-1", "id-2"]}, TaskState.FAILED, "unavailable"),
        ({"status": "completed", "task_id": "t", "data": None}, TaskState.FAILED, "unavailable"),
        ({"status": "queued", "task_id": "t", "data": {}}, TaskState.RUNNING, None),
        ({"status": "pending", "task_id": "t", "data": None}, TaskState.QUEUED, None),
        ({"status": "mystery", "task_id": "t"}, TaskState.QUEUED, None),
    ],
)
async def test_data_of_any_type_is_handled(
    fuzz: FuzzClient, wire: Wire, item: dict[str, Any], state: TaskState, kind: str | None
) -> None:
    wire.on("GET", TASK, httpx.Response(200, json=[item]))
    [status] = await fuzz.fetch(["t"])
    assert status.state is state
    assert (status.failure.kind if status.failure else None) == kind


async def test_fetch_25_ids_in_one_call(fuzz: FuzzClient, wire: Wire) -> None:
    ids = [f"0196bd6d-0000-7000-0000-{n:012d}" for n in range(25)]

    def answer(request: httpx.Request) -> httpx.Response:
        asked = request.url.params["ids"].split(",")
        # Leave one out, and add one nobody asked for: neither may show up.
        tasks = [{"status": "pending", "task_id": i, "data": {}} for i in asked[1:]]
        return httpx.Response(200, json=[*tasks, {"status": "pending", "task_id": "stranger", "data": {}}])

    wire.on("GET", TASK, answer)
    statuses = await fuzz.fetch(ids)
    assert len(wire.requests) == 1
    assert wire.requests[0].url.params["ids"] == ",".join(ids)
    assert [s.task_id for s in statuses] == ids[1:]


async def test_fetch_more_than_25_ids_is_refused(fuzz: FuzzClient, wire: Wire) -> None:
    with pytest.raises(ValueError, match="25"):
        await fuzz.fetch([str(n) for n in range(26)])
    assert wire.requests == []


async def test_fetch_nothing_calls_nothing(fuzz: FuzzClient, wire: Wire) -> None:
    assert await fuzz.fetch([]) == []
    assert wire.requests == []


async def test_fetch_retries_5xx(fuzz: FuzzClient, wire: Wire, sleeps: Sleeps) -> None:
    wire.on("GET", TASK, recorded("fuzz/error_500"), recorded("fuzz/task_pending"))
    [status] = await fuzz.fetch(_ids("task_pending"))
    assert status.state is TaskState.QUEUED
    assert len(sleeps.delays) == 1


async def test_credits_and_lyrics(fuzz: FuzzClient, wire: Wire) -> None:
    assert await fuzz.credits() is None
    with pytest.raises(OperationUnavailable):
        await fuzz.draft_lyrics("sea shanty")
    assert wire.requests == []


async def test_one_task_the_bot_cannot_read_fails_alone(
    fuzz: FuzzClient, wire: Wire, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A bug reading one task's songs fails that task (an error on our side, with a logged reference); the other
    tasks of the same call are read as usual."""
    real = fuzz_module._clip

    def clip(record: Any, fallback_id: str) -> Clip:
        if fallback_id == "b":
            raise KeyError("a bug reading b's songs")
        return real(record, fallback_id)

    monkeypatch.setattr(fuzz_module, "_clip", clip)
    songs = [{"id": "s1", "audio_url": "https://files.test/1.mp3"}]
    wire.on(
        "GET",
        TASK,
        httpx.Response(200, json=[{"status": "completed", "task_id": t, "data": songs} for t in ("a", "b", "c")]),
    )
    statuses = await fuzz.fetch(["a", "b", "c"])
    assert [(s.task_id, s.state) for s in statuses] == [
        ("a", TaskState.SUCCEEDED),
        ("b", TaskState.FAILED),
        ("c", TaskState.SUCCEEDED),
    ]
    failure = statuses[1].failure
    assert failure is not None and failure.kind == "internal"
    assert Failure.of(failure.kind, failure.message) == Failure(FailureKind.INTERNAL, failure.message)
    assert failure.message in caplog.text
