"""The Sonic client against the answers recorded from its docs and the variants of docs/providers.md, served by a
real HTTP server on 127.0.0.1 (the client's own transport, sockets and all)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from bot.config import Settings, load_settings
from bot.domain.errors import ConfigError, ErrorKind, InvalidRequest, OperationUnavailable, ProviderError
from bot.domain.lyrics_timeline import LyricsAlignment, parse_lrc, to_lrc
from bot.domain.models import (
    CoverMusic,
    CreateMusic,
    DownloadTrack,
    ExtendMusic,
    MusicVariation,
    Operation,
    ReplaceSection,
    TaskState,
    UploadAudio,
    WebhookTarget,
)
from bot.domain.ports import MusicProvider
from bot.domain.sonic import (
    SONIC_MODELS,
    Bpm,
    Mashup,
    Midi,
    Sample,
    SavePersona,
    SonicAddInstrumental,
    SonicAddVocals,
    SonicConcat,
    SonicCover,
    SonicCreate,
    SonicExtend,
    SonicRemaster,
    SonicReplace,
    Stems,
    StudioTools,
    Tool,
    UpsampledTags,
    VoxClip,
    WavFile,
)
from bot.providers import make_provider, webhook_parser
from bot.providers.http import ProviderHttpClient
from bot.providers.sonic import NO_LYRICS, SonicClient, parse_webhook
from tests.providers.conftest import Sleeps
from tests.providers.loopback import LoopbackProvider, answer

SONIC_KEY = "sk-sonic-9Tq4Wd2Lp7Xe1Bv6Nm3R"
T = "6f0c4b1e-2a57-4a0e-9d59-6b1a3c1f2e90"
A = "b1f5c2d4-7e0a-4c39-8f26-0d9e4a71c3b5"
B = "e3a9d7c1-5b24-4f80-a6c2-9f17b8d05e44"
U = "d2b8f4a6-1c3e-4a5b-9e7d-6f8a0c2e4b13"
CREATE = "/api/v1/sonic/create"
TASK = f"/api/v1/sonic/task/{T}"
LYRICS = "[Verse]\nCity lights are calling\n[Chorus]\nDrive, drive into the night"
WEBHOOK = WebhookTarget(url="https://bot.example.com/webhooks/sonic", secret="whsec-sonic-4Rk9Lz2Qw7")


@pytest.fixture
async def server() -> AsyncIterator[LoopbackProvider]:
    provider = LoopbackProvider()
    await provider.start()
    yield provider
    await provider.stop()


@pytest.fixture
async def real_http() -> AsyncIterator[httpx.AsyncClient]:
    async with ProviderHttpClient(timeout=httpx.Timeout(5.0)) as client:
        yield client


@pytest.fixture
def sonic(server: LoopbackProvider, real_http: httpx.AsyncClient, sleeps: Sleeps) -> SonicClient:
    return SonicClient(real_http, base_url=server.url, api_key=SONIC_KEY, sleep=sleeps)


def test_is_a_music_provider_with_studio_tools(sonic: SonicClient) -> None:
    provider: MusicProvider = sonic
    tools: StudioTools = sonic
    assert (provider.name, provider.batch_size, provider.supports_webhooks) == ("sonic", 1, True)
    assert provider.models == SONIC_MODELS
    assert tools.tools == frozenset(Tool)
    assert {Operation.MASHUP, Operation.PERSONA, Operation.STEMS_FULL, Operation.UPLOAD} <= provider.operations
    # Sonic has no variation or swap call, and its WAV is a tool, not the Producer's download task.
    assert not {Operation.VARIATION, Operation.SWAP_VOCALS, Operation.SWAP_SOUND} & provider.operations
    assert sonic.extensions_are_partial


# --- submit: every operation onto its documented path and body ----------------------------------------------
SUBMISSIONS: list[tuple[Any, str, dict[str, Any]]] = [
    (
        SonicCreate(lyrics=LYRICS, title="Night Drive", tags="synthwave", model="chirp-crow"),
        CREATE,
        {
            "task_type": "create_music",
            "mv": "sonic-v5",
            "custom_mode": True,
            "prompt": LYRICS,
            "title": "Night Drive",
            "tags": "synthwave",
            "make_instrumental": False,
            "use_suno_cdn": False,
        },
    ),
    (
        SonicCreate(
            description="uplifting synthwave with female vocals",
            instrumental=True,
            duration_s=120.4,
            negative_tags="drums",
            vocal_gender="female",
            style_weight=0.7,
            weirdness=0.2,
            audio_weight=0.5,
            model="sonic-v4-5-plus",
        ),
        CREATE,
        {
            "task_type": "create_music",
            "mv": "sonic-v4-5-plus",
            "custom_mode": False,
            "gpt_description_prompt": "uplifting synthwave with female vocals",
            "negative_tags": "drums",
            "make_instrumental": True,
            "vocal_gender": "f",
            "style_weight": 0.7,
            "weirdness_constraint": 0.2,
            "audio_weight": 0.5,
            "duration": 120,
            "use_suno_cdn": False,
        },
    ),
    (
        SonicCreate(persona_id="p-77", lyrics=LYRICS, tags="soul", title="A" * 120),
        CREATE,
        {
            "task_type": "persona_music",
            "persona_id": "p-77",
            "mv": "sonic-v5",
            "custom_mode": True,
            "prompt": LYRICS,
            "tags": "soul",
            "title": "A" * 120,
            "make_instrumental": False,
            "use_suno_cdn": False,
        },
    ),
    (
        # The existing /music create: lyrics with a style → custom mode.
        CreateMusic(sound="pop", lyrics="[Verse 1]\nStars", title="Starry Night", seed="7", lyrics_strength=0.3),
        CREATE,
        {
            "task_type": "create_music",
            "mv": "sonic-v5",
            "custom_mode": True,
            "prompt": "[Verse 1]\nStars",
            "tags": "pop",
            "title": "Starry Night",
            "make_instrumental": False,
            "use_suno_cdn": False,
        },
    ),
    (
        # A style alone is the song's description; the Producer model name has no meaning here.
        CreateMusic(sound="lofi beats", instrumental=True, model="FUZZ-2.0", sound_strength=0.6),
        CREATE,
        {
            "task_type": "create_music",
            "mv": "sonic-v5",
            "custom_mode": False,
            "gpt_description_prompt": "lofi beats",
            "make_instrumental": True,
            "style_weight": 0.6,
            "use_suno_cdn": False,
        },
    ),
    (
        SonicExtend(clip_id=A, continue_at=60, lyrics="[Bridge]\nFaster now", tags="synthwave"),
        CREATE,
        {
            "task_type": "extend_music",
            "continue_clip_id": A,
            "continue_at": 60.0,
            "mv": "sonic-v5",
            "custom_mode": True,
            "prompt": "[Bridge]\nFaster now",
            "tags": "synthwave",
            "make_instrumental": False,
            "use_suno_cdn": False,
        },
    ),
    (
        ExtendMusic(clip_id=A, starts_at=45, sound="violins"),
        CREATE,
        {
            "task_type": "extend_music",
            "continue_clip_id": A,
            "continue_at": 45.0,
            "mv": "sonic-v5",
            "custom_mode": True,
            "tags": "violins",
            "make_instrumental": False,
            "use_suno_cdn": False,
        },
    ),
    (
        SonicExtend(clip_id=U, uploaded=True, continue_at=0.1, tags="rock"),
        CREATE,
        {
            "task_type": "extend_upload_music",
            "continue_clip_id": U,
            "continue_at": 0.1,
            "mv": "sonic-v5",
            "custom_mode": True,
            "tags": "rock",
            "make_instrumental": False,
            "use_suno_cdn": False,
        },
    ),
    (
        SonicExtend(audio_url="https://files.example.com/demo.mp3", continue_at=30, tags="rock"),
        "/api/v1/sonic/upload-extend",
        {
            "url": "https://files.example.com/demo.mp3",
            "continue_at": 30.0,
            "mv": "sonic-v5",
            "custom_mode": True,
            "tags": "rock",
            "make_instrumental": False,
            "use_suno_cdn": False,
        },
    ),
    (
        SonicCover(clip_id=A, tags="acoustic ballad", title="Night Drive (Acoustic)"),
        CREATE,
        {
            "task_type": "cover_music",
            "continue_clip_id": A,
            "mv": "sonic-v5",
            "custom_mode": True,
            "tags": "acoustic ballad",
            "title": "Night Drive (Acoustic)",
            "make_instrumental": False,
            "use_suno_cdn": False,
        },
    ),
    (
        CoverMusic(clip_id=A, sound="jazz", cover_strength=0.8, cover_url="https://example.com/c.jpg"),
        CREATE,
        {
            "task_type": "cover_music",
            "continue_clip_id": A,
            "mv": "sonic-v5",
            "custom_mode": True,
            "tags": "jazz",
            "make_instrumental": False,
            "use_suno_cdn": False,
        },
    ),
    (
        SonicCover(clip_id=U, uploaded=True, tags="jazz"),
        CREATE,
        {
            "task_type": "cover_upload_music",
            "continue_clip_id": U,
            "mv": "sonic-v5",
            "custom_mode": True,
            "tags": "jazz",
            "make_instrumental": False,
            "use_suno_cdn": False,
        },
    ),
    (
        SonicCover(audio_url="https://files.example.com/demo.mp3", description="a jazz version"),
        "/api/v1/sonic/upload-cover",
        {
            "url": "https://files.example.com/demo.mp3",
            "mv": "sonic-v5",
            "custom_mode": False,
            "gpt_description_prompt": "a jazz version",
            "make_instrumental": False,
            "use_suno_cdn": False,
        },
    ),
    (
        SonicConcat(clip_id=A),
        CREATE,
        {"task_type": "concat_music", "continue_clip_id": A, "use_suno_cdn": False},
    ),
    (
        SonicRemaster(clip_id=A, strength="high", model="sonic-v5-5"),
        CREATE,
        {
            "task_type": "remaster",
            "continue_clip_id": A,
            "mv": "sonic-v5-5",
            "variation_category": "high",
            "use_suno_cdn": False,
        },
    ),
    (
        SonicAddVocals(clip_id=A, lyrics=LYRICS, tags="soul", start_s=10, end_s=40),
        CREATE,
        {
            "task_type": "add_vocals",
            "continue_clip_id": A,
            "mv": "sonic-v5",
            "custom_mode": True,
            "prompt": LYRICS,
            "tags": "soul",
            "make_instrumental": False,
            "overpainting_start_s": 10.0,
            "overpainting_end_s": 40.0,
            "use_suno_cdn": False,
        },
    ),
    (
        SonicAddInstrumental(clip_id=A, tags="string quartet"),
        CREATE,
        {
            "task_type": "add_instrumental",
            "continue_clip_id": A,
            "mv": "sonic-v5",
            "custom_mode": True,
            "tags": "string quartet",
            "make_instrumental": False,
            "use_suno_cdn": False,
        },
    ),
    (
        Mashup(clip_ids=(A, B), description="both songs as one late-night anthem", title="Two Drives"),
        "/api/v1/sonic/mashup",
        {
            "mashup_clip_ids": [A, B],
            "mv": "sonic-v5",
            "custom_mode": False,
            "gpt_description_prompt": "both songs as one late-night anthem",
            "title": "Two Drives",
            "make_instrumental": False,
            "use_suno_cdn": False,
        },
    ),
    (
        Sample(clip_id=A, start_s=30, end_s=45, lyrics=LYRICS, tags="hip hop"),
        "/api/v1/sonic/sample",
        {
            "sample_clip_id": A,
            "chop_sample_start_s": 30.0,
            "chop_sample_end_s": 45.0,
            "mv": "sonic-v5",
            "custom_mode": True,
            "prompt": LYRICS,
            "tags": "hip hop",
            "make_instrumental": False,
            "use_suno_cdn": False,
        },
    ),
    (
        Sample(audio_url="https://files.example.com/loop.wav", start_s=0, end_s=8, description="a dance track"),
        "/api/v1/sonic/sample",
        {
            "url": "https://files.example.com/loop.wav",
            "chop_sample_start_s": 0.0,
            "chop_sample_end_s": 8.0,
            "mv": "sonic-v5",
            "custom_mode": False,
            "gpt_description_prompt": "a dance track",
            "make_instrumental": False,
            "use_suno_cdn": False,
        },
    ),
    (
        SonicReplace(clip_id=A, start_s=30, end_s=45, lyrics="[Bridge]\nBreak", tags="riff", model="sonic-v4"),
        "/api/v1/sonic/replace-section",
        {
            "clip_id": A,
            "mv": "sonic-v4",
            "infill_start_s": 30.0,
            "infill_end_s": 45.0,
            "infill_lyrics": "[Bridge]\nBreak",
            "tags": "riff",
            "use_suno_cdn": False,
        },
    ),
    (
        ReplaceSection(clip_id=A, starts_at=30, ends_at=45, sound="riff"),
        "/api/v1/sonic/replace-section",
        {
            "clip_id": A,
            "mv": "sonic-v5",
            "infill_start_s": 30.0,
            "infill_end_s": 45.0,
            "tags": "riff",
            "use_suno_cdn": False,
        },
    ),
]


@pytest.mark.parametrize(("request_", "path", "expected"), SUBMISSIONS, ids=lambda v: getattr(v, "operation", ""))
async def test_submit_sends_the_documented_body(
    sonic: SonicClient, server: LoopbackProvider, request_: Any, path: str, expected: dict[str, Any]
) -> None:
    server.on("POST", path, answer("sonic/submit_success"))
    assert await sonic.submit(request_) == T
    [seen] = server.requests
    assert (seen.method, seen.path) == ("POST", path)
    assert seen.json == expected
    assert seen.headers["Authorization"] == f"Bearer {SONIC_KEY}"


async def test_submit_passes_the_webhook(sonic: SonicClient, server: LoopbackProvider) -> None:
    server.on("POST", CREATE, answer("sonic/submit_with_code_and_warning"))
    assert await sonic.submit(SonicCreate(tags="jazz"), webhook=WEBHOOK) == T
    body = server.requests[0].json
    assert (body["webhook_url"], body["webhook_secret"]) == (WEBHOOK.url, WEBHOOK.secret)


async def test_submit_without_task_id_is_an_error(sonic: SonicClient, server: LoopbackProvider) -> None:
    server.on("POST", CREATE, answer("sonic/submit_without_task_id"))
    with pytest.raises(ProviderError) as caught:
        await sonic.submit(SonicCreate(tags="jazz"))
    assert caught.value.kind is ErrorKind.UNAVAILABLE
    assert str(caught.value) == "The music provider did not start the task; try again."


@pytest.mark.parametrize(
    ("request_", "error", "message"),
    [
        (MusicVariation(clip_id=A), OperationUnavailable, "Variation is not available with the Sonic provider."),
        (DownloadTrack(clip_id=A), OperationUnavailable, "Download is not available with the Sonic provider."),
        (
            ReplaceSection(clip_id=A, starts_at=30),
            InvalidRequest,
            "Sonic replaces a section between two times: give the end of the section too.",
        ),
        (
            SavePersona(clip_id=A, name="Ana"),
            InvalidRequest,
            "A persona is saved straight away, not as a music task.",
        ),
    ],
)
async def test_what_sonic_cannot_do_is_refused_without_a_call(
    sonic: SonicClient, server: LoopbackProvider, request_: Any, error: type[Exception], message: str
) -> None:
    with pytest.raises(error) as caught:
        await sonic.submit(request_)
    assert str(caught.value) == message
    assert server.requests == []


# --- the service adapts: a 400 naming an optional field --------------------------------------------------------
async def test_a_refused_use_suno_cdn_is_dropped_once_and_remembered(
    sonic: SonicClient, server: LoopbackProvider, caplog: pytest.LogCaptureFixture
) -> None:
    server.on("POST", CREATE, answer("sonic/error_400_use_suno_cdn"), answer("sonic/submit_success"))
    assert await sonic.submit(SonicCreate(tags="jazz")) == T
    first, second = server.requests
    assert first.json["use_suno_cdn"] is False
    assert "use_suno_cdn" not in second.json
    assert sonic.refused_fields("/sonic/create") == {"use_suno_cdn"}
    assert "refused the optional field 'use_suno_cdn'" in caplog.text
    # Remembered: the next task goes out without it in one call; other endpoints still get it.
    await sonic.submit(SonicConcat(clip_id=A))
    assert "use_suno_cdn" not in server.requests[-1].json
    server.on("POST", "/api/v1/sonic/mashup", answer("sonic/submit_success"))
    await sonic.submit(Mashup(clip_ids=(A, B), tags="pop"))
    assert server.requests[-1].json["use_suno_cdn"] is False


async def test_a_refused_duration_is_dropped(sonic: SonicClient, server: LoopbackProvider) -> None:
    server.on("POST", CREATE, answer("sonic/error_400_duration"), answer("sonic/submit_success"))
    await sonic.submit(SonicCreate(tags="jazz", duration_s=90))
    first, second = server.requests
    assert (first.json["duration"], "duration" in second.json) == (90, False)
    assert second.json["use_suno_cdn"] is False


async def test_a_400_about_a_required_field_or_the_members_content_is_not_adapted(
    sonic: SonicClient, server: LoopbackProvider
) -> None:
    server.on("POST", CREATE, answer("sonic/error_400_type_error"))
    with pytest.raises(ProviderError) as caught:
        await sonic.submit(SonicExtend(clip_id=A, tags="rock"))
    assert str(caught.value) == "continue_clip_id is required for extend_music"
    server.on("POST", CREATE, answer("sonic/error_400_error"))
    with pytest.raises(ProviderError):
        await sonic.submit(SonicCreate(tags="rock", title="x"))
    assert len(server.requests) == 2


async def test_a_second_refusal_after_adapting_reaches_the_member(sonic: SonicClient, server: LoopbackProvider) -> None:
    server.on("POST", CREATE, answer("sonic/error_400_use_suno_cdn"), answer("sonic/error_400_message"))
    with pytest.raises(ProviderError) as caught:
        await sonic.submit(SonicCreate(tags="jazz"))
    assert (caught.value.kind, str(caught.value)) == (ErrorKind.REJECTED, "prompt must be less than 3000 characters")
    assert len(server.requests) == 2


# --- errors: every documented body shape and status --------------------------------------------------------------
ERRORS = [
    ("error_400_error", ErrorKind.REJECTED, "title must be less than 80 characters"),
    ("error_400_message", ErrorKind.REJECTED, "prompt must be less than 3000 characters"),
    ("error_400_detail", ErrorKind.REJECTED, "tags must be less than 200 characters"),
    ("error_400_raw_text", ErrorKind.REJECTED, "Bad Request: mv is not a valid model"),
    (
        "error_401",
        ErrorKind.AUTH,
        "The bot's music provider key is not accepted; an admin needs to fix the configuration.",
    ),
    ("error_402", ErrorKind.CREDITS, "The music provider account is out of credits; an admin has been told."),
    ("error_403_credits", ErrorKind.CREDITS, "The music provider account is out of credits; an admin has been told."),
    (
        "error_403_subscription",
        ErrorKind.CREDITS,
        "The music provider account is out of credits; an admin has been told.",
    ),
    (
        "error_403_copyright",
        ErrorKind.MODERATION,
        "The lyrics contain copyrighted content: 'Yesterday, all my troubles seemed so far away'",
    ),
    ("error_403_artist", ErrorKind.MODERATION, "The song description contains artist names: 'Adele'"),
    ("error_403_inappropriate", ErrorKind.MODERATION, "The lyrics contain inappropriate content"),
    ("error_410_persona", ErrorKind.RETIRED, "This operation was retired by the provider."),
    ("error_504_refunded", ErrorKind.TIMEOUT, "The music provider took too long to finish this song."),
]


@pytest.mark.parametrize(("name", "kind", "message"), ERRORS, ids=[e[0] for e in ERRORS])
async def test_submit_errors_reach_the_member_as_documented(
    sonic: SonicClient, server: LoopbackProvider, name: str, kind: ErrorKind, message: str
) -> None:
    server.on("POST", CREATE, answer(f"sonic/{name}"))
    with pytest.raises(ProviderError) as caught:
        await sonic.submit(SonicCreate(tags="jazz"))
    assert (caught.value.kind, str(caught.value), caught.value.retryable) == (kind, message, False)
    assert len(server.requests) == 1  # a 4xx (and a task's own timeout) is never retried


async def test_429_is_retried_after_retry_after(sonic: SonicClient, server: LoopbackProvider, sleeps: Sleeps) -> None:
    server.on("POST", CREATE, answer("sonic/error_429"), answer("sonic/submit_success"))
    assert await sonic.submit(SonicCreate(tags="jazz")) == T
    assert sleeps.delays == [2.0]


async def test_a_long_retry_after_goes_up_to_the_engine(
    sonic: SonicClient, server: LoopbackProvider, sleeps: Sleeps
) -> None:
    server.on("POST", CREATE, answer("sonic/error_429_long"))
    with pytest.raises(ProviderError) as caught:
        await sonic.submit(SonicCreate(tags="jazz"))
    assert (caught.value.kind, caught.value.retryable) == (ErrorKind.UNAVAILABLE, True)
    assert caught.value.retry_after is not None and caught.value.retry_after > 30
    assert (len(server.requests), sleeps.delays) == (1, [])


@pytest.mark.parametrize("name", ["error_500", "error_503"])
async def test_5xx_is_retried_then_given_up(
    sonic: SonicClient, server: LoopbackProvider, sleeps: Sleeps, name: str
) -> None:
    server.on("POST", CREATE, answer(f"sonic/{name}"))
    with pytest.raises(ProviderError) as caught:
        await sonic.submit(SonicCreate(tags="jazz"))
    assert (caught.value.kind, caught.value.retryable) == (ErrorKind.UNAVAILABLE, True)
    assert str(caught.value) == "The music provider is unavailable right now."
    assert len(server.requests) == 3 and len(sleeps.delays) == 2


async def test_5xx_then_success(sonic: SonicClient, server: LoopbackProvider) -> None:
    server.on("POST", CREATE, answer("sonic/error_503"), answer("sonic/submit_success"))
    assert await sonic.submit(SonicCreate(tags="jazz")) == T


# --- polls -----------------------------------------------------------------------------------------------------
async def _poll(sonic: SonicClient, server: LoopbackProvider, name: str) -> Any:
    server.on("GET", TASK, answer(f"sonic/{name}"))
    [status] = await sonic.fetch([T])
    assert server.requests[-1].path == TASK
    return status


async def test_two_clips_from_one_task(sonic: SonicClient, server: LoopbackProvider) -> None:
    status = await _poll(sonic, server, "task_two_clips_succeeded")
    assert status.state is TaskState.SUCCEEDED
    assert [c.clip_id for c in status.clips] == [A, B]
    assert [c.duration_s for c in status.clips] == [185.0, 172.68]
    assert [c.audio_url for c in status.clips] == [f"https://cdn1.suno.ai/{A}.mp3", f"https://cdn1.suno.ai/{B}.mp3"]
    assert [c.title for c in status.clips] == ["Night Drive", "Night Drive (Take 2)"]
    first = status.clips[0]
    assert (first.model, first.tags, first.image_url) == (
        "sonic-v5",
        "synthwave, retro, female vocals",
        f"https://cdn2.suno.ai/image_{A}.jpeg",
    )
    assert first.lyrics == LYRICS


@pytest.mark.parametrize(
    ("name", "state"),
    [
        ("task_one_clip_running", TaskState.RUNNING),
        ("task_streaming_preview", TaskState.RUNNING),
        ("task_pending", TaskState.QUEUED),
        ("task_not_ready_202", TaskState.QUEUED),
        ("task_not_ready_200", TaskState.QUEUED),
        ("task_auto_concat_joining", TaskState.RUNNING),
    ],
)
async def test_unfinished_tasks_post_nothing(
    sonic: SonicClient, server: LoopbackProvider, name: str, state: TaskState
) -> None:
    status = await _poll(sonic, server, name)
    # A streaming preview's URL is not the song, and a half-finished task posts nothing yet.
    assert (status.state, status.clips, status.failure) == (state, (), None)


async def test_duration_as_a_string_or_null(sonic: SonicClient, server: LoopbackProvider) -> None:
    status = await _poll(sonic, server, "task_duration_string_and_null")
    assert [c.duration_s for c in status.clips] == [104.88, None]


async def test_models_are_reported_in_sonic_spelling(sonic: SonicClient, server: LoopbackProvider) -> None:
    status = await _poll(sonic, server, "task_mv_chirp_spellings")
    assert [c.model for c in status.clips] == ["sonic-v4-5", "sonic-v4-5-plus"]


async def test_the_joined_song_of_an_auto_concat(sonic: SonicClient, server: LoopbackProvider) -> None:
    status = await _poll(sonic, server, "task_auto_concat_full")
    assert status.state is TaskState.SUCCEEDED
    assert [c.clip_id for c in status.clips] == [
        "a7c3e9f1-0b2d-4e6a-8c5f-1d3b7e9a2c40",
        "c5e1a3b7-9d2f-4a6c-b8e0-3f5d7a9c1e62",
    ]
    assert status.clips[0].duration_s == 245.5


async def test_one_failed_clip_of_two_still_delivers_the_other(sonic: SonicClient, server: LoopbackProvider) -> None:
    status = await _poll(sonic, server, "task_one_clip_failed")
    assert status.state is TaskState.SUCCEEDED
    assert [c.clip_id for c in status.clips] == [A]


FAILED_POLLS = [
    ("task_failed_type", ErrorKind.UNAVAILABLE, "Generation failed upstream. Credits were refunded."),
    ("task_timeout_type", ErrorKind.TIMEOUT, "The music provider took too long to finish this song."),
    ("task_forbidden_type", ErrorKind.MODERATION, "The lyrics contain copyrighted content: 'Hey Jude'"),
    # The provider's own upstream trouble is not for members (it names an internal address).
    ("task_api_error_type", ErrorKind.UNAVAILABLE, "The music provider is unavailable right now."),
    ("task_code_500", ErrorKind.UNAVAILABLE, "The music provider is unavailable right now."),
    ("task_clips_failed", ErrorKind.MODERATION, "The song description contains artist names: 'Taylor Swift'"),
    ("error_504_refunded", ErrorKind.TIMEOUT, "The music provider took too long to finish this song."),
    (
        "error_403_copyright",
        ErrorKind.MODERATION,
        "The lyrics contain copyrighted content: 'Yesterday, all my troubles seemed so far away'",
    ),
]


@pytest.mark.parametrize(("name", "kind", "message"), FAILED_POLLS, ids=[f[0] for f in FAILED_POLLS])
async def test_failed_tasks(
    sonic: SonicClient, server: LoopbackProvider, name: str, kind: ErrorKind, message: str
) -> None:
    status = await _poll(sonic, server, name)
    assert status.state is TaskState.FAILED
    assert status.failure is not None
    assert (status.failure.kind, status.failure.message) == (kind.value, message)


async def test_a_poll_for_an_unknown_task_raises(sonic: SonicClient, server: LoopbackProvider) -> None:
    server.on("GET", TASK, answer("sonic/error_404"))
    with pytest.raises(ProviderError) as caught:
        await sonic.fetch([T])
    assert (caught.value.kind, str(caught.value)) == (ErrorKind.REJECTED, "Task not found")


@pytest.mark.parametrize(
    ("name", "state"),
    [
        ("webhook_completed", TaskState.SUCCEEDED),
        ("webhook_streaming", TaskState.RUNNING),
        ("webhook_failed", TaskState.FAILED),
    ],
)
def test_webhook_events(name: str, state: TaskState) -> None:
    parse = webhook_parser(Settings(_env_file=None, provider="sonic", producer_api_key=SONIC_KEY))  # type: ignore[call-arg]
    assert parse is parse_webhook
    status = parse(T, answer(f"sonic/{name}").body)
    assert status.state is state
    assert len(status.clips) == (2 if state is TaskState.SUCCEEDED else 0)


# --- upload, persona, lyrics, credits ------------------------------------------------------------------------
async def test_upload_answers_at_once_and_needs_no_poll(sonic: SonicClient, server: LoopbackProvider) -> None:
    server.on("POST", "/api/v1/sonic/upload", answer("sonic/upload_success"))
    url = "https://cdn.discordapp.com/attachments/1/2/demo.mp3"
    task_id = await sonic.submit(UploadAudio(audio_url=url, title="Demo"))
    assert server.requests[0].json == {"url": url}
    [status] = await sonic.fetch([task_id])
    assert status.state is TaskState.SUCCEEDED
    assert [(c.clip_id, c.audio_url) for c in status.clips] == [(U, url)]
    assert len(server.requests) == 1
    # A fresh client (after a restart) reads the same task id the same way.
    async with ProviderHttpClient() as fresh:
        again = SonicClient(fresh, base_url=server.url, api_key=SONIC_KEY)
        assert await again.fetch([task_id]) == [status]


async def test_upload_extend_answers_a_task(sonic: SonicClient, server: LoopbackProvider) -> None:
    server.on("POST", "/api/v1/sonic/upload-extend", answer("sonic/upload_extend_success"))
    assert await sonic.submit(SonicExtend(audio_url="https://files.example.com/a.mp3", tags="rock")) == T


@pytest.mark.parametrize(
    ("path", "name", "request_", "message"),
    [
        (
            "/api/v1/sonic/upload-cover",
            "upload_cover_failed_step",
            SonicCover(audio_url="https://files.example.com/a.mp3", tags="jazz"),
            "Could not download the audio from the given url",
        ),
        (
            "/api/v1/sonic/sample",
            "sample_failed_step_no_code",
            Sample(audio_url="https://files.example.com/a.mp3", start_s=0, end_s=600, tags="jazz"),
            "The sample window is longer than the track",
        ),
    ],
)
async def test_a_failed_step_is_a_refusal(
    sonic: SonicClient, server: LoopbackProvider, path: str, name: str, request_: Any, message: str
) -> None:
    server.on("POST", path, answer(f"sonic/{name}"))
    with pytest.raises(ProviderError) as caught:
        await sonic.submit(request_)
    assert (caught.value.kind, str(caught.value)) == (ErrorKind.REJECTED, message)


async def test_save_persona(sonic: SonicClient, server: LoopbackProvider) -> None:
    server.on("POST", "/api/v1/sonic/persona", answer("sonic/persona_success"))
    request = SavePersona(clip_id=A, name="Ana's voice", description="warm alto", vocal_start_s=12, vocal_end_s=40)
    assert await sonic.save_persona(request) == "8e4c2a60-7b19-4d3f-a5e8-2c6b0d9f1a37"
    assert server.requests[0].json == {
        "name": "Ana's voice",
        "clip_id": A,
        "describe": "warm alto",
        "vocal_start_s": 12.0,
        "vocal_end_s": 40.0,
    }


async def test_a_retired_persona_call_says_so(sonic: SonicClient, server: LoopbackProvider) -> None:
    server.on("POST", "/api/v1/sonic/persona", answer("sonic/error_410_persona"))
    with pytest.raises(ProviderError) as caught:
        await sonic.save_persona(SavePersona(clip_id=A, name="Ana"))
    assert (caught.value.kind, caught.value.status) == (ErrorKind.RETIRED, 410)


async def test_draft_lyrics_and_credits(sonic: SonicClient, server: LoopbackProvider) -> None:
    server.on("POST", "/api/v1/sonic/lyrics", answer("sonic/lyrics"))
    server.on("GET", "/api/v1/get-credits", answer("sonic/credits"))
    drafts = await sonic.draft_lyrics("a harbour at night")
    assert [d.title for d in drafts] == ["Harbour Lights", "Home Again"]
    assert server.requests[0].json == {"description": "a harbour at night"}
    assert await sonic.credits() == 500.0


# --- studio tools ----------------------------------------------------------------------------------------------
STEMS = [
    ("stems_basic", Tool.STEMS_BASIC, "stems_basic_done", ["Vocals", "Instrumental"]),
    ("stems_basic_untitled", Tool.STEMS_BASIC, "stems_basic_untitled", ["Vocals", "Instrumental"]),
    (
        "stems_full_clips",
        Tool.STEMS_FULL,
        "stems_full_done_clips",
        [
            "Vocals",
            "Backing Vocals",
            "Drums",
            "Bass",
            "Guitar",
            "Keyboard",
            "Percussion",
            "Strings",
            "Synth",
            "FX",
            "Brass",
            "Woodwinds",
        ],
    ),
    (
        "stems_full_named",
        Tool.STEMS_FULL,
        "stems_full_done_named",
        ["Vocals", "Drums", "Bass", "Backing vocals", "Drums 2"],
    ),
]


@pytest.mark.parametrize(("_id", "tool", "name", "names"), STEMS, ids=[s[0] for s in STEMS])
async def test_stems_are_tasks_and_every_stem_is_named(
    sonic: SonicClient, server: LoopbackProvider, _id: str, tool: Tool, name: str, names: list[str]
) -> None:
    path = "/api/v1/sonic/stems/basic" if tool is Tool.STEMS_BASIC else "/api/v1/sonic/stems/full"
    server.on("POST", path, answer("sonic/stems_submit"))
    task_id = await sonic.submit_tool(A, tool, webhook=WEBHOOK)
    assert server.requests[0].json == {"clip_id": A, "webhook_url": WEBHOOK.url, "webhook_secret": WEBHOOK.secret}
    server.on("GET", f"/api/v1/sonic/task/{task_id}", answer(f"sonic/{name}"))
    [status] = await sonic.fetch_tool(tool, [task_id])
    assert (status.state, status.tool) == (TaskState.SUCCEEDED, tool)
    assert isinstance(status.result, Stems)
    assert [s.name for s in status.result.tracks] == names
    assert all(s.audio_url.startswith("https://cdn1.suno.ai/") for s in status.result.tracks)


@pytest.mark.parametrize(
    ("name", "state"),
    [
        ("stems_full_running", TaskState.RUNNING),
        ("task_not_ready_202", TaskState.QUEUED),
        ("task_failed_type", TaskState.FAILED),
    ],
)
async def test_stems_in_progress_or_failed(
    sonic: SonicClient, server: LoopbackProvider, name: str, state: TaskState
) -> None:
    server.on("GET", TASK, answer(f"sonic/{name}"))
    [status] = await sonic.fetch_tool(Tool.STEMS_FULL, [T])
    assert (status.state, status.result) == (state, None)
    assert (status.failure is not None) is (state is TaskState.FAILED)


async def test_wav(sonic: SonicClient, server: LoopbackProvider) -> None:
    server.on("POST", "/api/v1/sonic/wav", answer("sonic/wav"))
    assert await sonic.run_tool(A, Tool.WAV) == WavFile(url=f"https://cdn1.suno.ai/{A}.wav")
    assert server.requests[0].json == {"clip_id": A}


async def test_midi_answers_202_first_and_is_asked_again_politely(
    sonic: SonicClient, server: LoopbackProvider, sleeps: Sleeps
) -> None:
    server.on("POST", "/api/v1/sonic/midi", answer("sonic/midi_not_ready"), answer("sonic/midi_done"))
    midi = await sonic.run_tool(A, Tool.MIDI)
    assert isinstance(midi, Midi)
    assert midi.url.endswith(".mid")
    assert [(i.name, [(n.start_s, n.end_s, n.pitch, n.velocity) for n in i.notes]) for i in midi.instruments] == [
        ("Piano", [(0.5, 1.0, 60, 90), (1.0, 1.5, 64, 86)]),
        # A note with a time that is not a number, and one above MIDI's range, are dropped.
        ("Bass", [(0.0, 2.0, 36, 100)]),
    ]
    assert len(server.to("/api/v1/sonic/midi")) == 2
    assert sleeps.delays == [5.0]


async def test_midi_that_never_gets_ready(sonic: SonicClient, server: LoopbackProvider, sleeps: Sleeps) -> None:
    server.on("POST", "/api/v1/sonic/midi", answer("sonic/midi_not_ready"))
    with pytest.raises(ProviderError) as caught:
        await sonic.run_tool(A, Tool.MIDI)
    assert (caught.value.kind, caught.value.retryable) == (ErrorKind.UNAVAILABLE, True)
    assert str(caught.value) == "The MIDI is still being made; try again in a minute."
    assert len(server.requests) == 6 and len(sleeps.delays) == 5


async def test_lyrics_timeline_becomes_an_lrc(sonic: SonicClient, server: LoopbackProvider) -> None:
    server.on("POST", "/api/v1/sonic/aligned-lyrics", answer("sonic/aligned_lyrics"))
    alignment = await sonic.run_tool(A, Tool.LYRICS_TIMELINE)
    assert isinstance(alignment, LyricsAlignment)
    assert [(line.start_s, line.text) for line in alignment.lines()] == [
        (12.34, "City lights are calling"),
        (61.05, "Drive, drive into the night"),
    ]
    lrc = to_lrc(alignment, title="Night Drive", length_s=185)
    assert lrc.splitlines() == [
        "[ti:Night Drive]",
        "[length:03:05]",
        "[re:Tunesmith]",
        "[00:12.34]City lights are calling",
        "[01:01.05]Drive, drive into the night",
    ]
    assert parse_lrc(lrc) == [(12.34, "City lights are calling"), (61.05, "Drive, drive into the night")]


@pytest.mark.parametrize("name", ["aligned_lyrics_not_found", "aligned_lyrics_instrumental"])
async def test_a_track_without_lyrics_has_no_timeline(sonic: SonicClient, server: LoopbackProvider, name: str) -> None:
    server.on("POST", "/api/v1/sonic/aligned-lyrics", answer(f"sonic/{name}"))
    with pytest.raises(ProviderError) as caught:
        await sonic.run_tool(A, Tool.LYRICS_TIMELINE)
    assert (caught.value.kind, str(caught.value)) == (ErrorKind.REJECTED, NO_LYRICS)
    assert str(caught.value).startswith("This track has no lyrics")


async def test_bpm(sonic: SonicClient, server: LoopbackProvider) -> None:
    server.on("POST", "/api/v1/sonic/bpm", answer("sonic/bpm"), answer("sonic/bpm_nan"))
    assert await sonic.run_tool(A, Tool.BPM) == Bpm(avg=118.4, min=115.9, max=121.2)
    # NaN and infinity are not a tempo.
    with pytest.raises(ProviderError) as caught:
        await sonic.run_tool(A, Tool.BPM)
    assert str(caught.value) == "The music provider could not tell the tempo."


async def test_vox_with_a_range(sonic: SonicClient, server: LoopbackProvider) -> None:
    server.on("POST", "/api/v1/sonic/vox", answer("sonic/vox"))
    vox = await sonic.run_tool(A, Tool.VOX, vocal_start_s=12, vocal_end_s=40)
    assert vox == VoxClip(audio_url="https://cdn1.suno.ai/vox_31c8.mp3", vox_id="vx-31c8", start_s=12.0, end_s=40.0)
    assert server.requests[0].json == {"clip_id": A, "vocal_start_s": 12.0, "vocal_end_s": 40.0}


async def test_upsample_tags(sonic: SonicClient, server: LoopbackProvider) -> None:
    server.on("POST", "/api/v1/sonic/upsample-tags", answer("sonic/upsample_tags"))
    result = await sonic.run_tool(None, Tool.UPSAMPLE_TAGS, tags="synthwave")
    assert isinstance(result, UpsampledTags) and result.tags.startswith("retro synthwave")
    assert server.requests[0].json == {"tags": "synthwave"}


@pytest.mark.parametrize(
    ("clip_id", "tool", "options", "message"),
    [
        (A, Tool.VOX, {"vocal_start_s": 10, "vocal_end_s": 45}, "Take at most 30 seconds of vocals."),
        (A, Tool.VOX, {"vocal_start_s": 10}, "Give both the start and the end of the vocals, or neither."),
        (
            A,
            Tool.VOX,
            {"vocal_start_s": float("nan"), "vocal_end_s": 5},
            "Vocal start must be a finite number.",
        ),
        (A, Tool.BPM, {"speed": 2}, "Speed is not an option of this command."),
        (None, Tool.WAV, {}, "WAV needs a track."),
        (None, Tool.UPSAMPLE_TAGS, {"tags": "x" * 1001}, "Tags is too long (at most 1000 characters)."),
        (A, Tool.STEMS_FULL, {}, "Stems (every instrument) takes a while: it runs as a job."),
    ],
)
async def test_bad_tool_options_cost_nothing(
    sonic: SonicClient, server: LoopbackProvider, clip_id: str | None, tool: Tool, options: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidRequest) as caught:
        await sonic.run_tool(clip_id, tool, **options)
    assert str(caught.value) == message
    assert server.requests == []


async def test_a_sync_tool_is_not_submitted(sonic: SonicClient, server: LoopbackProvider) -> None:
    with pytest.raises(InvalidRequest, match="answers at once"):
        await sonic.submit_tool(A, Tool.BPM)
    assert server.requests == []


# --- the factory and the settings -------------------------------------------------------------------------------
async def test_sonic_from_settings(server: LoopbackProvider, real_http: httpx.AsyncClient) -> None:
    settings = load_settings(_env_file=None, provider="sonic", producer_api_key=SONIC_KEY, producer_base_url=server.url)
    provider = make_provider(settings, real_http)
    assert isinstance(provider, SonicClient)
    server.on("GET", "/api/v1/get-credits", answer("sonic/credits"))
    assert await provider.credits() == 500.0
    assert server.requests[0].headers["Authorization"] == f"Bearer {SONIC_KEY}"


def test_sonic_needs_the_producer_key() -> None:
    with pytest.raises(ConfigError, match="TUNESMITH_PROVIDER=sonic needs TUNESMITH_PRODUCER_API_KEY"):
        load_settings(_env_file=None, provider="sonic")


def test_costs_follow_the_provider_unless_set(monkeypatch: pytest.MonkeyPatch) -> None:
    sonic = load_settings(_env_file=None, provider="sonic", producer_api_key=SONIC_KEY).costs()
    assert (sonic[Operation.CREATE], sonic[Operation.COVER], sonic[Operation.EXTEND]) == (15, 15, 10)
    assert (sonic[Operation.STEMS_FULL], sonic[Operation.STEMS_BASIC], sonic[Operation.CONCAT]) == (50, 20, 2)
    assert (sonic[Operation.MIDI], sonic[Operation.LYRICS_TIMELINE], sonic[Operation.MASHUP]) == (1, 1, 15)
    producer = load_settings(_env_file=None, producer_api_key=SONIC_KEY).costs()
    assert producer[Operation.CREATE] == 10
    monkeypatch.setenv("TUNESMITH_COST_CREATE", "12")
    monkeypatch.setenv("TUNESMITH_COST_STEMS_FULL", "60")
    chosen = load_settings(_env_file=None, provider="sonic", producer_api_key=SONIC_KEY).costs()
    assert (chosen[Operation.CREATE], chosen[Operation.STEMS_FULL], chosen[Operation.COVER]) == (12, 60, 15)
