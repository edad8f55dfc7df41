"""The Producer client against the answers recorded from its docs (docs/providers.md, Producer), served at the wire."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import httpx
import pytest

from bot.domain.errors import ErrorKind, InvalidRequest, ProviderError
from bot.domain.models import (
    DEFAULT_MODEL,
    PRODUCER_MODELS,
    Clip,
    CoverMusic,
    CreateMusic,
    DownloadTrack,
    DraftLyrics,
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
from bot.domain.ports import MusicProvider
from bot.providers.producer import ProducerClient, parse_task
from bot.providers.sonic import SONIC_ONLY
from tests.providers.conftest import PRODUCER_KEY, PRODUCER_URL, Sleeps, Wire, recorded

CREATE = "/api/v1/producer/create"
TASK = "/api/v1/producer/task/t-1"
CLIP = "370c650a-88cd-4f4b-960d-801e686c8a7a"
WEBHOOK = WebhookTarget(url="https://bot.example.com/webhooks/producer", secret="s3cret-s3cret-s3cret")


@pytest.fixture
def producer(http: httpx.AsyncClient, sleeps: Sleeps) -> ProducerClient:
    return ProducerClient(http, base_url=PRODUCER_URL, api_key=PRODUCER_KEY, sleep=sleeps)


def test_is_a_music_provider(producer: ProducerClient) -> None:
    provider: MusicProvider = producer
    assert provider.name == "producer"
    assert provider.operations == frozenset(Operation) - SONIC_ONLY
    assert provider.models == PRODUCER_MODELS
    assert (provider.batch_size, provider.supports_webhooks, provider.max_concurrency) == (1, True, 10)


# --- submit: every request type onto the documented body -------------------------------------------------------
SUBMISSIONS: list[tuple[Any, str, dict[str, Any]]] = [
    (
        CreateMusic(sound="pop", lyrics="[Verse 1]\nStars", title="Starry Night"),
        CREATE,
        {
            "task_type": "create_music",
            "sound": "pop",
            "lyrics": "[Verse 1]\nStars",
            "title": "Starry Night",
            "make_instrumental": False,
            "mv": DEFAULT_MODEL,
        },
    ),
    (
        CreateMusic(
            sound="ambient",
            instrumental=True,
            model="fuzz-2.0 pro",
            seed=99999,
            lyrics_strength=0.4,
            sound_strength=0.9,
            weirdness=0.8,
            cover_url="https://example.com/a.jpg",
        ),
        CREATE,
        {
            "task_type": "create_music",
            "sound": "ambient",
            "make_instrumental": True,
            "mv": "FUZZ-2.0 Pro",
            "seed": "99999",
            "lyrics_strength": 0.4,
            "sound_strength": 0.9,
            "weirdness": 0.8,
            "cover_url": "https://example.com/a.jpg",
        },
    ),
    (
        ExtendMusic(clip_id=CLIP, starts_at=45, sound="violins", lyrics="[Outro]\nStars", duration_s=60),
        CREATE,
        {
            "task_type": "extend_music",
            "clip_id": CLIP,
            "starts_at": 45.0,
            "sound": "violins",
            "lyrics": "[Outro]\nStars",
            "mv": DEFAULT_MODEL,
        },
    ),
    (
        CoverMusic(
            clip_id=CLIP,
            sound="ballad",
            lyrics="la",
            title="Acoustic",
            cover_strength=0.8,
            cover_url="https://example.com/c.jpg",
            model="FUZZ-2.0 Raw",
        ),
        CREATE,
        {
            "task_type": "cover_music",
            "clip_id": CLIP,
            "sound": "ballad",
            "lyrics": "la",
            "title": "Acoustic",
            "cover_url": "https://example.com/c.jpg",
            "cover_strength": 0.8,
            "strength": 0.8,
            "mv": "FUZZ-2.0 Raw",
        },
    ),
    (
        ReplaceSection(clip_id=CLIP, starts_at=30, ends_at=45, sound="riff", lyrics="[Bridge]\nBreak"),
        CREATE,
        {
            "task_type": "replace_music",
            "clip_id": CLIP,
            "starts_at": 30.0,
            "ends_at": 45.0,
            "sound": "riff",
            "lyrics": "[Bridge]\nBreak",
            "mv": DEFAULT_MODEL,
        },
    ),
    (
        ReplaceSection(clip_id=CLIP, starts_at=75),
        CREATE,
        {"task_type": "replace_music", "clip_id": CLIP, "starts_at": 75.0, "mv": DEFAULT_MODEL},
    ),
    (
        # Only clip_id, mv and seed are documented for a variation: style and lyrics stay behind.
        MusicVariation(clip_id=CLIP, seed="12345", sound="pop", lyrics="la", weirdness=0.5),
        CREATE,
        {"task_type": "music_variation", "clip_id": CLIP, "mv": DEFAULT_MODEL, "seed": "12345"},
    ),
    (
        SwapVocals(clip_id=CLIP, sound="opera soprano", lyrics="Amore", cover_strength=0.9, lyrics_strength=0.6),
        CREATE,
        {
            "task_type": "swap_music_vocals",
            "clip_id": CLIP,
            "sound": "opera soprano",
            "lyrics": "Amore",
            "cover_strength": 0.9,
            "lyrics_strength": 0.6,
            "mv": DEFAULT_MODEL,
        },
    ),
    (
        SwapSound(clip_id=CLIP, sound="synthwave", cover_strength=0.8, weirdness=0.4),
        CREATE,
        {
            "task_type": "swap_music_sound",
            "clip_id": CLIP,
            "sound": "synthwave",
            "cover_strength": 0.8,
            "weirdness": 0.4,
            "mv": DEFAULT_MODEL,
        },
    ),
    (
        UploadAudio(audio_url="https://example.com/audio/song.mp3", title="Mine"),
        "/api/v1/producer/upload",
        {"audio_url": "https://example.com/audio/song.mp3"},
    ),
    (
        DownloadTrack(clip_id=CLIP, format="wav"),
        "/api/v1/producer/download",
        {"clip_id": CLIP, "format": "wav"},
    ),
]


@pytest.mark.parametrize(("request_", "path", "body"), SUBMISSIONS, ids=lambda v: getattr(v, "operation", None))
async def test_submit_sends_the_documented_body(
    producer: ProducerClient, wire: Wire, request_: Any, path: str, body: dict[str, Any]
) -> None:
    wire.on("POST", path, recorded("producer/submit_success"))
    assert await producer.submit(request_) == "7e1a2b3c-4d5e-4f60-8a9b-0c1d2e3f4a5b"
    [sent] = wire.requests
    assert sent.url == f"{PRODUCER_URL}{path}"
    assert sent.headers["Authorization"] == f"Bearer {PRODUCER_KEY}"
    assert sent.headers["Content-Type"] == "application/json"
    assert wire.last_json() == body


@pytest.mark.parametrize(
    ("request_", "path"),
    [
        (CreateMusic(sound="lofi"), CREATE),
        (UploadAudio(audio_url="https://example.com/a.mp3"), "/api/v1/producer/upload"),
        (DownloadTrack(clip_id=CLIP), "/api/v1/producer/download"),
    ],
    ids=["create", "upload", "download"],
)
async def test_submit_passes_the_webhook(producer: ProducerClient, wire: Wire, request_: Any, path: str) -> None:
    wire.on("POST", path, recorded("producer/submit_success"))
    await producer.submit(request_, webhook=WEBHOOK)
    sent = wire.last_json()
    assert sent["webhook_url"] == WEBHOOK.url
    assert sent["webhook_secret"] == WEBHOOK.secret


async def test_submit_reads_task_id_without_code(producer: ProducerClient, wire: Wire) -> None:
    wire.on("POST", CREATE, recorded("producer/submit_without_code"))
    assert await producer.submit(CreateMusic(sound="pop")) == "7e1a2b3c-4d5e-4f60-8a9b-0c1d2e3f4a5b"


async def test_submit_without_task_id_is_an_error(producer: ProducerClient, wire: Wire) -> None:
    wire.on("POST", CREATE, recorded("producer/submit_without_task_id"))
    with pytest.raises(ProviderError) as caught:
        await producer.submit(CreateMusic(sound="pop"))
    assert caught.value.kind is ErrorKind.UNAVAILABLE
    assert caught.value.retryable is False  # a task may exist: resubmitting could charge twice
    assert len(wire.requests) == 1


async def test_submit_with_a_failure_body_on_200_maps_it(producer: ProducerClient, wire: Wire) -> None:
    wire.on("POST", CREATE, recorded("producer/task_type_forbidden"))
    with pytest.raises(ProviderError) as caught:
        await producer.submit(CreateMusic(sound="like Taylor Swift"))
    assert caught.value.kind is ErrorKind.MODERATION
    assert "Taylor Swift" in str(caught.value)


async def test_submit_of_a_lyrics_request_is_refused(producer: ProducerClient, wire: Wire) -> None:
    with pytest.raises(InvalidRequest):
        await producer.submit(DraftLyrics(idea="sea shanty"))
    assert wire.requests == []


async def test_submit_410_is_retired(producer: ProducerClient, wire: Wire, sleeps: Sleeps) -> None:
    wire.on("POST", CREATE, recorded("producer/error_410"))
    with pytest.raises(ProviderError) as caught:
        await producer.submit(MusicVariation(clip_id=CLIP))
    assert caught.value.kind is ErrorKind.RETIRED
    assert (caught.value.status, caught.value.retryable) == (410, False)
    assert len(wire.requests) == 1 and sleeps.delays == []


async def test_base_url_with_api_v1_is_not_doubled(http: httpx.AsyncClient, wire: Wire) -> None:
    client = ProducerClient(http, base_url=f"{PRODUCER_URL}/api/v1/", api_key=PRODUCER_KEY)
    wire.on("POST", CREATE, recorded("producer/submit_success"))
    await client.submit(CreateMusic(sound="pop"))
    assert wire.requests[0].url == f"{PRODUCER_URL}{CREATE}"


# --- fetch: every poll shape of docs/providers.md (Producer) -------------------------------------------------------
FULL_CLIP = Clip(
    clip_id=CLIP,
    title="Starry Night",
    audio_url="https://cdn.example.com/370c650a.m4a",
    image_url="https://cdn.example.com/370c650a.jpg",
    duration_s=185.02,
    lyrics="[Verse 1]\nStars they shine above me",
    tags="pop",
    model="FUZZ-2.0",
)

FETCHES: list[tuple[str, TaskState, str | None, tuple[Clip, ...] | None]] = [
    ("task_success", TaskState.SUCCEEDED, None, (FULL_CLIP,)),
    ("task_not_ready", TaskState.QUEUED, None, ()),
    ("task_pending", TaskState.QUEUED, None, ()),
    ("task_running", TaskState.RUNNING, None, ()),
    ("task_clip_pending", TaskState.RUNNING, None, ()),
    ("task_clip_queued", TaskState.RUNNING, None, ()),
    ("task_streaming_preview", TaskState.RUNNING, None, ()),
    ("task_failed_status", TaskState.FAILED, "unavailable", ()),
    ("task_type_failed", TaskState.FAILED, "unavailable", ()),
    ("task_type_timeout", TaskState.FAILED, "timeout", ()),
    ("task_type_forbidden", TaskState.FAILED, "moderation", ()),
    ("task_type_api_error", TaskState.FAILED, "unavailable", ()),
    ("task_clip_failed", TaskState.FAILED, "moderation", ()),
    ("task_code_500", TaskState.FAILED, "unavailable", ()),
    (
        "task_clips_completed_duration_string",
        TaskState.SUCCEEDED,
        None,
        (FULL_CLIP.model_copy(update={"duration_s": 104.88}),),
    ),
    ("task_duration_null", TaskState.SUCCEEDED, None, (FULL_CLIP.model_copy(update={"duration_s": None}),)),
    (
        "task_upload",
        TaskState.SUCCEEDED,
        None,
        (
            Clip(
                clip_id="9f137820-6e82-4050-a308-2a59bbbfd517",
                audio_url="https://cdn.example.com/upload/9f137820.mp3",
                lyrics="[Verse]\nUploaded words",
            ),
        ),
    ),
    (
        "task_download_mp3",
        TaskState.SUCCEEDED,
        None,
        (Clip(clip_id="t-1", audio_url="https://cdn.example.com/download/370c650a.mp3"),),
    ),
    (
        "task_download_wav_list",
        TaskState.SUCCEEDED,
        None,
        (Clip(clip_id="t-1", audio_url="https://cdn.example.com/download/370c650a.wav"),),
    ),
]


@pytest.mark.parametrize(("name", "state", "kind", "clips"), FETCHES, ids=[f[0] for f in FETCHES])
async def test_fetch_normalises_every_shape(
    producer: ProducerClient, wire: Wire, name: str, state: TaskState, kind: str | None, clips: tuple[Clip, ...]
) -> None:
    wire.on("GET", TASK, recorded(f"producer/{name}"))
    [status] = await producer.fetch(["t-1"])
    assert status.task_id == "t-1"
    assert status.state is state
    assert (status.failure.kind if status.failure else None) == kind
    assert status.clips == clips
    assert wire.requests[0].headers["Authorization"] == f"Bearer {PRODUCER_KEY}"


async def test_fetch_failure_messages_are_the_providers(producer: ProducerClient, wire: Wire) -> None:
    wire.on("GET", TASK, recorded("producer/task_type_forbidden"))
    [status] = await producer.fetch(["t-1"])
    assert status.failure is not None
    assert status.failure.message == "The song description contains artist names: 'Taylor Swift'"
    wire.on("GET", TASK, recorded("producer/task_clip_failed"))
    [status] = await producer.fetch(["t-1"])
    assert status.failure is not None and "inappropriate content" in status.failure.message


async def test_fetch_504_task_timeout_is_a_failed_task(producer: ProducerClient, wire: Wire, sleeps: Sleeps) -> None:
    wire.on("GET", TASK, recorded("producer/error_504"))
    [status] = await producer.fetch(["t-1"])
    assert status.state is TaskState.FAILED
    assert status.failure is not None and status.failure.kind == "timeout"
    assert len(wire.requests) == 1 and sleeps.delays == []


async def test_fetch_several_ids_calls_once_per_task(producer: ProducerClient, wire: Wire) -> None:
    wire.on("GET", "/api/v1/producer/task/a", recorded("producer/task_pending"))
    wire.on("GET", "/api/v1/producer/task/b", recorded("producer/task_success"))
    statuses = await producer.fetch(["a", "b"])
    assert [(s.task_id, s.state) for s in statuses] == [("a", TaskState.QUEUED), ("b", TaskState.SUCCEEDED)]


async def test_fetch_quotes_the_task_id(producer: ProducerClient, wire: Wire) -> None:
    wire.on("GET", "/api/v1/producer/task/a/b", recorded("producer/task_pending"))
    await producer.fetch(["a/b"])
    assert wire.requests[0].url.raw_path == b"/api/v1/producer/task/a%2Fb"


async def test_fetch_success_without_audio_is_a_failure(producer: ProducerClient, wire: Wire) -> None:
    wire.on("GET", TASK, httpx.Response(200, json={"code": 200, "status": "SUCCESS", "data": []}))
    [status] = await producer.fetch(["t-1"])
    assert status.state is TaskState.FAILED and status.failure is not None
    assert status.failure.kind == "unavailable"


# --- credits and lyrics ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("name", "expected"), [("credits", 50.0), ("credits_extra", 19.5)])
async def test_credits(producer: ProducerClient, wire: Wire, name: str, expected: float) -> None:
    wire.on("GET", "/api/v1/get-credits", recorded(f"producer/{name}"))
    assert await producer.credits() == expected
    assert wire.requests[0].headers["Authorization"] == f"Bearer {PRODUCER_KEY}"


async def test_lyrics_from_lyrics_create(producer: ProducerClient, wire: Wire) -> None:
    wire.on("POST", "/api/v1/producer/lyrics-create", recorded("producer/lyrics_results"))
    drafts = await producer.draft_lyrics("a harbour at night")
    assert [(d.title, d.lyrics.splitlines()[0]) for d in drafts] == [
        ("Harbour Lights", "[Verse]"),
        ("Tidewater", "[Verse]"),
    ]
    assert wire.bodies() == [{"prompt": "a harbour at night"}]


async def test_lyrics_tolerates_data_and_text(producer: ProducerClient, wire: Wire) -> None:
    wire.on("POST", "/api/v1/producer/lyrics-create", recorded("producer/lyrics_data_text"))
    [draft] = await producer.draft_lyrics("a harbour at night")
    assert (draft.title, draft.lyrics) == ("Harbour Lights", "[Verse]\nHarbour lights are calling")


@pytest.mark.parametrize("gone", ["producer/error_404", "producer/error_410"])
async def test_lyrics_falls_back_to_sonic(producer: ProducerClient, wire: Wire, gone: str) -> None:
    wire.on("POST", "/api/v1/producer/lyrics-create", recorded(gone))
    wire.on("POST", "/api/v1/sonic/lyrics", recorded("producer/lyrics_results"))
    drafts = await producer.draft_lyrics("a harbour at night")
    assert len(drafts) == 2
    assert [r.url.path for r in wire.requests] == ["/api/v1/producer/lyrics-create", "/api/v1/sonic/lyrics"]
    assert wire.bodies() == [{"prompt": "a harbour at night"}, {"description": "a harbour at night"}]


async def test_lyrics_retired_when_both_endpoints_are_gone(producer: ProducerClient, wire: Wire) -> None:
    wire.on("POST", "/api/v1/producer/lyrics-create", recorded("producer/error_404"))
    wire.on("POST", "/api/v1/sonic/lyrics", recorded("producer/error_410"))
    with pytest.raises(ProviderError) as caught:
        await producer.draft_lyrics("a harbour at night")
    assert caught.value.kind is ErrorKind.RETIRED


async def test_lyrics_does_not_fall_back_on_moderation(producer: ProducerClient, wire: Wire) -> None:
    wire.on("POST", "/api/v1/producer/lyrics-create", recorded("producer/error_403_inappropriate"))
    with pytest.raises(ProviderError) as caught:
        await producer.draft_lyrics("something rude")
    assert caught.value.kind is ErrorKind.MODERATION
    assert len(wire.requests) == 1


async def test_lyrics_answered_with_a_task_id_is_polled(producer: ProducerClient, wire: Wire, sleeps: Sleeps) -> None:
    wire.on("POST", "/api/v1/producer/lyrics-create", recorded("producer/lyrics_task"))
    wire.on(
        "GET",
        "/api/v1/producer/task/lyr-5a6b7c8d",
        recorded("producer/task_not_ready"),
        recorded("producer/task_pending"),
        recorded("producer/lyrics_task_done"),
    )
    [draft] = await producer.draft_lyrics("a harbour at night")
    assert draft.lyrics.startswith("[Verse]")
    assert len(sleeps.delays) == 3


async def test_lyrics_task_that_never_finishes_times_out(producer: ProducerClient, wire: Wire, sleeps: Sleeps) -> None:
    wire.on("POST", "/api/v1/producer/lyrics-create", recorded("producer/lyrics_task"))
    wire.on("GET", "/api/v1/producer/task/lyr-5a6b7c8d", recorded("producer/task_running"))
    with pytest.raises(ProviderError) as caught:
        await producer.draft_lyrics("a harbour at night")
    assert caught.value.kind is ErrorKind.TIMEOUT
    assert len(sleeps.delays) == 6


# --- errors and retries -----------------------------------------------------------------------------------------------
ERRORS: list[tuple[str, ErrorKind, bool, str | None]] = [
    # (fixture, kind, retryable, text the member sees (None: the generic text of the kind))
    ("error_400", ErrorKind.REJECTED, False, "title must be less than 80 characters"),
    ("error_400_code_message", ErrorKind.REJECTED, False, "prompt must be less than 3000 characters"),
    ("error_400_detail", ErrorKind.REJECTED, False, "tags must be less than 200 characters"),
    ("error_400_raw_text", ErrorKind.REJECTED, False, "Bad Request: tags must be less than 200 characters"),
    ("error_401", ErrorKind.AUTH, False, None),
    ("error_402", ErrorKind.CREDITS, False, None),
    ("error_403_credits", ErrorKind.CREDITS, False, None),
    ("error_403_subscription", ErrorKind.CREDITS, False, None),
    ("error_403_copyright", ErrorKind.MODERATION, False, "The lyrics contain copyrighted content: 'Bohemian Rhapsody'"),
    ("error_403_inappropriate", ErrorKind.MODERATION, False, "The prompt contains inappropriate content"),
    ("error_403_artist", ErrorKind.MODERATION, False, "The song description contains artist names: 'Taylor Swift'"),
    ("error_404", ErrorKind.REJECTED, False, "clip not found"),
    ("error_410", ErrorKind.RETIRED, False, None),
    ("error_429", ErrorKind.UNAVAILABLE, True, "The music provider is busy right now; try again shortly."),
    ("error_500", ErrorKind.UNAVAILABLE, True, None),
    ("error_503", ErrorKind.UNAVAILABLE, True, None),
    ("error_504", ErrorKind.TIMEOUT, False, None),
]


@pytest.mark.parametrize(("name", "kind", "retryable", "shown"), ERRORS, ids=[e[0] for e in ERRORS])
async def test_errors_map_onto_the_domain(
    producer: ProducerClient,
    wire: Wire,
    sleeps: Sleeps,
    name: str,
    kind: ErrorKind,
    retryable: bool,
    shown: str | None,
) -> None:
    wire.on("POST", CREATE, recorded(f"producer/{name}"))
    with pytest.raises(ProviderError) as caught:
        await producer.submit(CreateMusic(sound="pop"))
    error = caught.value
    assert error.kind is kind
    assert error.retryable is retryable
    assert error.status == int(name.split("_")[1])
    assert str(error) == (shown if shown is not None else ProviderError(kind).message)
    # Retryable answers are tried 3 times in all, everything else exactly once.
    assert len(wire.requests) == (3 if retryable else 1)
    assert len(sleeps.delays) == (2 if retryable else 0)


async def test_401_never_shows_the_providers_text(producer: ProducerClient, wire: Wire) -> None:
    wire.on("GET", "/api/v1/get-credits", httpx.Response(401, json={"message": "bad key abc"}))
    with pytest.raises(ProviderError) as caught:
        await producer.credits()
    assert "bad key" not in str(caught.value)
    assert "admin" in str(caught.value)


async def test_429_then_200_sleeps_for_retry_after(producer: ProducerClient, wire: Wire, sleeps: Sleeps) -> None:
    wire.on("POST", CREATE, recorded("producer/error_429"), recorded("producer/submit_success"))
    assert await producer.submit(CreateMusic(sound="pop")) == "7e1a2b3c-4d5e-4f60-8a9b-0c1d2e3f4a5b"
    assert sleeps.delays == [7.0]
    assert len(wire.requests) == 2


async def test_retry_after_as_http_date(producer: ProducerClient, wire: Wire, sleeps: Sleeps) -> None:
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=20), usegmt=True)
    wire.on(
        "GET", TASK, recorded("producer/error_429", headers={"Retry-After": when}), recorded("producer/task_pending")
    )
    [status] = await producer.fetch(["t-1"])
    assert status.state is TaskState.QUEUED
    [delay] = sleeps.delays
    assert 17.0 <= delay <= 20.0


async def test_long_retry_after_is_handed_up_not_slept(producer: ProducerClient, wire: Wire, sleeps: Sleeps) -> None:
    wire.on("POST", CREATE, recorded("producer/error_429", headers={"Retry-After": "3600"}))
    with pytest.raises(ProviderError) as caught:
        await producer.submit(CreateMusic(sound="pop"))
    assert caught.value.retry_after == 60.0 and caught.value.retryable  # capped (TUNESMITH_MAX_RETRY_AFTER)
    assert sleeps.delays == [] and len(wire.requests) == 1


async def test_5xx_gives_up_after_three_attempts_with_growing_backoff(
    producer: ProducerClient, wire: Wire, sleeps: Sleeps
) -> None:
    wire.on("GET", TASK, recorded("producer/error_500"))
    with pytest.raises(ProviderError) as caught:
        await producer.fetch(["t-1"])
    assert caught.value.kind is ErrorKind.UNAVAILABLE and caught.value.status == 500
    assert len(wire.requests) == 3
    first, second = sleeps.delays
    # Equal jitter around 0.5 s then 1 s: never zero, and the second wait is never shorter than the first's floor.
    assert 0.25 <= first <= 0.5 and 0.5 <= second <= 1.0


async def test_5xx_then_success_recovers(producer: ProducerClient, wire: Wire, sleeps: Sleeps) -> None:
    wire.on("GET", TASK, recorded("producer/error_503"), recorded("producer/task_success"))
    [status] = await producer.fetch(["t-1"])
    assert status.state is TaskState.SUCCEEDED
    assert sleeps.delays == [2.0]  # the 503's Retry-After


async def test_connect_errors_are_retried_even_for_posts(producer: ProducerClient, wire: Wire, sleeps: Sleeps) -> None:
    wire.on("POST", CREATE, httpx.ConnectError("connection refused"), recorded("producer/submit_success"))
    assert await producer.submit(CreateMusic(sound="pop"))
    assert len(wire.requests) == 2 and len(sleeps.delays) == 1


async def test_read_timeout_on_a_post_is_not_resent(producer: ProducerClient, wire: Wire, sleeps: Sleeps) -> None:
    # The provider may have started (and charged for) the task before the answer was lost.
    wire.on("POST", CREATE, httpx.ReadTimeout("timed out"), recorded("producer/submit_success"))
    with pytest.raises(ProviderError) as caught:
        await producer.submit(CreateMusic(sound="pop"))
    assert caught.value.kind is ErrorKind.UNAVAILABLE and caught.value.retryable
    assert isinstance(caught.value.__cause__, httpx.ReadTimeout)
    assert len(wire.requests) == 1 and sleeps.delays == []


async def test_read_timeout_on_a_get_is_retried_then_gives_up(
    producer: ProducerClient, wire: Wire, sleeps: Sleeps
) -> None:
    wire.on("GET", TASK, httpx.ReadTimeout("timed out"))
    with pytest.raises(ProviderError) as caught:
        await producer.fetch(["t-1"])
    assert caught.value.kind is ErrorKind.UNAVAILABLE
    assert len(wire.requests) == 3 and len(sleeps.delays) == 2


async def test_non_json_success_is_not_understood(producer: ProducerClient, wire: Wire) -> None:
    wire.on("GET", TASK, httpx.Response(200, text="<html>maintenance</html>"))
    with pytest.raises(ProviderError) as caught:
        await producer.fetch(["t-1"])
    assert caught.value.kind is ErrorKind.UNAVAILABLE


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("You have 0 credits left", ErrorKind.CREDITS),
        ("Insufficient balance", ErrorKind.CREDITS),
        ("The request was flagged as inappropriate. Credits were refunded.", ErrorKind.MODERATION),
        ("The lyrics contain copyrighted content: 'Hey Jude'", ErrorKind.MODERATION),
    ],
)
async def test_403_tells_the_account_from_the_filter(
    producer: ProducerClient, wire: Wire, text: str, kind: ErrorKind
) -> None:
    wire.on("POST", CREATE, httpx.Response(403, json={"message": text}))
    with pytest.raises(ProviderError) as caught:
        await producer.submit(CreateMusic(sound="pop"))
    assert caught.value.kind is kind


@pytest.mark.parametrize(
    ("payload", "state"),
    [
        (
            {
                "code": 200,
                "data": [{"clip_id": CLIP, "audio_url": "https://a/x.m4a", "state": "succeeded"}],
                "message": "success",
                "event": "song.completed",
            },
            TaskState.SUCCEEDED,
        ),
        (
            {
                "code": 200,
                "data": [{"clip_id": CLIP, "audio_url": "https://a/p.m3u8", "state": "streaming"}],
                "event": "song.streaming",
            },
            TaskState.RUNNING,
        ),
        ({"code": 500, "data": [], "message": "Task failed", "event": "song.failed"}, TaskState.FAILED),
        ({"code": 200, "data": [], "message": "Task failed", "event": "song.failed"}, TaskState.FAILED),
    ],
)
def test_webhook_bodies_parse_like_polls(payload: dict[str, Any], state: TaskState) -> None:
    assert parse_task("t-1", 200, payload).state is state
