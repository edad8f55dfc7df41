"""Both clients against the real sandbox over loopback: every operation end to end, and the injected failures."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from bot.config import Settings
from bot.domain.errors import ErrorKind, OperationUnavailable, ProviderError
from bot.domain.models import (
    Clip,
    CoverMusic,
    CreateMusic,
    DownloadTrack,
    ExtendMusic,
    MusicVariation,
    ReplaceSection,
    SwapSound,
    SwapVocals,
    TaskState,
    TaskStatus,
    UploadAudio,
)
from bot.domain.ports import MusicProvider
from bot.providers import ProducerClient, SandboxClient, make_provider
from bot.providers.fuzz import MODERATION_TEXT, FuzzClient
from bot.sandbox import Sandbox
from tests.clients import http_client
from tests.providers.conftest import FUZZ_KEY, PRODUCER_KEY

WAV = (b"RIFF", b"WAVE")
PNG = b"\x89PNG\r\n\x1a\n"
LYRICS = "[Verse]\nHarbour lights are calling me home\n[Chorus]\nHome, home, harbour home"


class FastSleep:
    """Records the backoff the client asked for and yields instead of waiting it out."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)
        await asyncio.sleep(0)


@pytest.fixture
async def sandbox() -> AsyncIterator[Sandbox]:
    async with Sandbox(render_seconds=0.3) as sb:
        yield sb


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with http_client(timeout=httpx.Timeout(10.0)) as client:
        yield client


@pytest.fixture
def sleep() -> FastSleep:
    return FastSleep()


@pytest.fixture
def producer(sandbox: Sandbox, http: httpx.AsyncClient, sleep: FastSleep) -> ProducerClient:
    return ProducerClient(http, base_url=sandbox.base_url, api_key=PRODUCER_KEY, sleep=sleep, lyrics_poll_interval=0.05)


@pytest.fixture
def fuzz(sandbox: Sandbox, http: httpx.AsyncClient, sleep: FastSleep) -> FuzzClient:
    return FuzzClient(http, base_url=sandbox.fuzz_base_url, api_key=FUZZ_KEY, sleep=sleep)


async def finish(provider: MusicProvider, task_id: str, within: float = 15.0) -> tuple[TaskStatus, list[TaskState]]:
    """Poll until the task is finished; also returns every state seen on the way."""
    seen: list[TaskState] = []
    deadline = asyncio.get_running_loop().time() + within
    while True:
        statuses = await provider.fetch([task_id])
        assert [s.task_id for s in statuses] == [task_id]
        seen.append(statuses[0].state)
        if statuses[0].state.finished:
            return statuses[0], seen
        assert asyncio.get_running_loop().time() < deadline, f"task {task_id} still {seen[-1]} after {within}s"
        await asyncio.sleep(0.05)


async def succeed(provider: MusicProvider, request: Any) -> tuple[Clip, ...]:
    task_id = await provider.submit(request)
    status, _ = await finish(provider, task_id)
    assert status.state is TaskState.SUCCEEDED, status.failure
    assert status.clips
    return status.clips


async def assert_real_files(http: httpx.AsyncClient, clip: Clip, *, image: bool = True) -> None:
    assert clip.audio_url
    audio = await http.get(clip.audio_url)
    assert audio.status_code == 200
    assert (audio.content[:4], audio.content[8:12]) == WAV
    if image:
        assert clip.image_url
        art = await http.get(clip.image_url)
        assert art.status_code == 200 and art.content.startswith(PNG)


# --- Producer ---------------------------------------------------------------------------------------------------------
async def test_producer_create_goes_queued_running_succeeded(producer: ProducerClient, http: httpx.AsyncClient) -> None:
    task_id = await producer.submit(CreateMusic(sound="sea shanty, male choir", lyrics=LYRICS, title="Harbour"))
    status, seen = await finish(producer, task_id)
    assert status.state is TaskState.SUCCEEDED
    # The first poll usually lands in the short "not ready" window; a slow machine may miss it, never RUNNING.
    assert seen[0] in (TaskState.QUEUED, TaskState.RUNNING) and TaskState.RUNNING in seen
    [clip] = status.clips
    assert clip.title == "Harbour" and clip.tags == "sea shanty, male choir" and clip.model == "FUZZ-2.0"
    assert clip.duration_s is not None and clip.duration_s > 0
    assert clip.audio_url and "stream" not in clip.audio_url  # the final link, not the streaming preview
    await assert_real_files(http, clip)


async def test_producer_every_derived_operation(producer: ProducerClient, http: httpx.AsyncClient) -> None:
    [parent] = await succeed(producer, CreateMusic(sound="indie rock", lyrics=LYRICS, model="FUZZ-2.0 Pro"))
    pid = parent.clip_id
    requests = [
        ExtendMusic(clip_id=pid, starts_at=2, sound="bigger drums", lyrics="[Outro]\nHome at last"),
        CoverMusic(clip_id=pid, sound="acoustic ballad", cover_strength=0.7, title="Harbour (Acoustic)"),
        ReplaceSection(clip_id=pid, starts_at=1, ends_at=2, sound="guitar solo"),
        MusicVariation(clip_id=pid, seed="12345"),
        SwapVocals(clip_id=pid, sound="soprano", lyrics=LYRICS, cover_strength=0.9),
        SwapSound(clip_id=pid, sound="synthwave", cover_strength=0.8),
    ]
    results = await asyncio.gather(*(succeed(producer, r) for r in requests))
    for request, (clip,) in zip(requests, results, strict=True):
        assert clip.clip_id != pid, request.operation
        await assert_real_files(http, clip)
    cover = results[1][0]
    assert cover.title == "Harbour (Acoustic)" and cover.tags == "acoustic ballad"


async def test_producer_upload_and_download(producer: ProducerClient, http: httpx.AsyncClient) -> None:
    [source] = await succeed(producer, CreateMusic(sound="lofi", instrumental=True))
    assert source.audio_url
    [uploaded] = await succeed(producer, UploadAudio(audio_url=source.audio_url))
    assert uploaded.clip_id != source.clip_id
    await assert_real_files(http, uploaded, image=False)
    for fmt in ("mp3", "wav"):
        [download] = await succeed(producer, DownloadTrack(clip_id=source.clip_id, format=fmt))
        assert download.audio_url
        assert (await http.get(download.audio_url)).status_code == 200


async def test_producer_credits_and_lyrics(producer: ProducerClient) -> None:
    before = await producer.credits()
    assert before is not None and before > 0
    await succeed(producer, CreateMusic(sound="jazz"))
    after = await producer.credits()
    assert after is not None and after < before
    drafts = await producer.draft_lyrics("a lighthouse keeper's last night")
    assert drafts and all(d.lyrics.strip() for d in drafts)


async def test_producer_moderation_shows_the_flagged_text(producer: ProducerClient, sandbox: Sandbox) -> None:
    sandbox.inject("moderation", message="The lyrics contain copyrighted content: 'Yesterday'")
    with pytest.raises(ProviderError) as caught:
        await producer.submit(CreateMusic(sound="pop", lyrics="Yesterday all my troubles"))
    assert caught.value.kind is ErrorKind.MODERATION
    assert str(caught.value) == "The lyrics contain copyrighted content: 'Yesterday'"


async def test_producer_retired_operation(producer: ProducerClient, sandbox: Sandbox, sleep: FastSleep) -> None:
    [parent] = await succeed(producer, CreateMusic(sound="pop"))
    sandbox.inject("retired", operation="variation")
    with pytest.raises(ProviderError) as caught:
        await producer.submit(MusicVariation(clip_id=parent.clip_id))
    assert caught.value.kind is ErrorKind.RETIRED and caught.value.status == 410
    assert sleep.delays == []
    sandbox.inject("retired", operation="lyrics")
    with pytest.raises(ProviderError) as caught:
        await producer.draft_lyrics("anything")
    assert caught.value.kind is ErrorKind.RETIRED


async def test_producer_rate_limit_and_server_errors_are_retried(
    producer: ProducerClient, sandbox: Sandbox, sleep: FastSleep
) -> None:
    sandbox.inject("rate_limit", retry_after=2)
    task_id = await producer.submit(CreateMusic(sound="pop"))
    assert sleep.delays == [2.0]
    sandbox.inject("server_error", count=2)
    await finish(producer, task_id)
    assert len(sleep.delays) == 3
    sandbox.inject("server_error", count=3)
    with pytest.raises(ProviderError) as caught:
        await producer.fetch([task_id])
    assert caught.value.kind is ErrorKind.UNAVAILABLE and caught.value.retryable


async def test_producer_task_failure_and_credits(producer: ProducerClient, sandbox: Sandbox) -> None:
    sandbox.inject("task_failure")
    status, _ = await finish(producer, await producer.submit(CreateMusic(sound="pop")))
    assert status.state is TaskState.FAILED and status.failure is not None
    assert status.failure.kind == "unavailable"
    sandbox.inject("task_failure", message="The lyrics contain inappropriate content")
    status, _ = await finish(producer, await producer.submit(CreateMusic(sound="pop")))
    assert status.failure is not None and status.failure.kind == "moderation"
    sandbox.inject("credits")
    with pytest.raises(ProviderError) as caught:
        await producer.submit(CreateMusic(sound="pop"))
    assert caught.value.kind is ErrorKind.CREDITS


async def test_producer_rejects_what_the_service_rejects(producer: ProducerClient) -> None:
    with pytest.raises(ProviderError) as caught:
        await producer.submit(ExtendMusic(clip_id="no-such-clip"))
    assert caught.value.kind is ErrorKind.REJECTED and caught.value.status == 404


async def test_sandbox_provider_from_settings(sandbox: Sandbox, http: httpx.AsyncClient) -> None:
    settings = Settings(_env_file=None, provider="sandbox")  # type: ignore[call-arg]
    provider = make_provider(settings, http, sandbox_base_url=sandbox.base_url)
    assert isinstance(provider, SandboxClient) and provider.name == "sandbox"
    await succeed(provider, CreateMusic(sound="polka"))


# --- FUZZ -------------------------------------------------------------------------------------------------------------
async def test_fuzz_create_extend_and_variation(fuzz: FuzzClient, http: httpx.AsyncClient) -> None:
    task_id = await fuzz.submit(CreateMusic(sound="celtic folk", lyrics=LYRICS, title="Hidden"))
    status, seen = await finish(fuzz, task_id)
    assert status.state is TaskState.SUCCEEDED
    # The first poll usually lands in the short "not ready" window; a slow machine may miss it, never RUNNING.
    assert seen[0] in (TaskState.QUEUED, TaskState.RUNNING) and TaskState.RUNNING in seen
    assert len(status.clips) == 2  # every FUZZ task yields two songs
    for clip in status.clips:
        assert clip.tags == "celtic folk" and clip.model
        await assert_real_files(http, clip)
    parent = status.clips[0]
    extended, varied, instrumental = await asyncio.gather(
        succeed(
            fuzz,
            ExtendMusic(
                clip_id=parent.clip_id, starts_at=2, duration_s=30, sound="celtic folk", lyrics="[Outro]\nGone"
            ),
        ),
        succeed(fuzz, MusicVariation(clip_id=parent.clip_id, sound=parent.tags, lyrics=parent.lyrics)),
        succeed(fuzz, CreateMusic(sound="ambient", instrumental=True)),
    )
    for clips in (extended, varied, instrumental):
        assert len(clips) == 2
        await assert_real_files(http, clips[0])
    assert instrumental[0].lyrics == "[Instrumental]"


async def test_fuzz_batched_poll(fuzz: FuzzClient, sandbox: Sandbox) -> None:
    ids = list(await asyncio.gather(*(fuzz.submit(CreateMusic(sound=f"style {n}")) for n in range(3))))
    polls_before = sandbox.stats.polls
    statuses = await fuzz.fetch([*ids, "unknown-task"])
    assert sorted(s.task_id for s in statuses) == sorted(ids)  # the unknown one is simply not returned
    assert sandbox.stats.polls == polls_before + 1


async def test_fuzz_moderation_fails_the_task(fuzz: FuzzClient, sandbox: Sandbox) -> None:
    sandbox.inject("moderation")
    status, _ = await finish(fuzz, await fuzz.submit(CreateMusic(sound="pop", lyrics="something rude")))
    assert status.state is TaskState.FAILED and status.failure is not None
    assert (status.failure.kind, status.failure.message) == ("moderation", MODERATION_TEXT)


async def test_fuzz_failures_and_retries(fuzz: FuzzClient, sandbox: Sandbox, sleep: FastSleep) -> None:
    sandbox.inject("rate_limit", retry_after=3)
    task_id = await fuzz.submit(CreateMusic(sound="pop"))
    assert sleep.delays == [3.0]
    sandbox.inject("server_error", count=1)
    await finish(fuzz, task_id)
    assert len(sleep.delays) == 2
    sandbox.inject("task_failure")
    status, _ = await finish(fuzz, await fuzz.submit(CreateMusic(sound="pop")))
    assert status.failure is not None and status.failure.kind == "unavailable"
    sandbox.inject("credits")
    with pytest.raises(ProviderError) as caught:
        await fuzz.submit(CreateMusic(sound="pop"))
    assert caught.value.kind is ErrorKind.CREDITS
    sandbox.inject("retired", operation="extend")
    with pytest.raises(ProviderError) as caught:
        await fuzz.submit(ExtendMusic(clip_id="whatever", sound="pop"))
    assert caught.value.kind is ErrorKind.RETIRED
    with pytest.raises(OperationUnavailable):
        await fuzz.submit(CoverMusic(clip_id="whatever", sound="pop"))


# --- secrets over a real socket ---------------------------------------------------------------------------------------
async def test_no_key_in_any_client_log_over_loopback(
    caplog: pytest.LogCaptureFixture, sandbox: Sandbox, http: httpx.AsyncClient, sleep: FastSleep
) -> None:
    caplog.set_level(logging.DEBUG)
    secured = Sandbox(render_seconds=0.3, api_key=PRODUCER_KEY)
    async with secured:
        good = ProducerClient(http, base_url=secured.base_url, api_key=PRODUCER_KEY, sleep=sleep)
        bad = ProducerClient(http, base_url=secured.base_url, api_key=FUZZ_KEY, sleep=sleep)
        await succeed(good, CreateMusic(sound="pop"))
        with pytest.raises(ProviderError) as caught:
            await bad.credits()
        assert caught.value.kind is ErrorKind.AUTH
        secured.inject("server_error", count=3)
        with pytest.raises(ProviderError):
            await good.credits()
    # The client side (ours, httpx, httpcore at DEBUG); the sandbox's own logs are not this package's to police.
    client_lines = [r.getMessage() for r in caplog.records if not r.name.startswith("bot.sandbox")]
    assert any(r.name == "bot.providers.http" for r in caplog.records)
    for line in [*client_lines, str(caught.value), repr(caught.value), repr(good), repr(bad)]:
        assert PRODUCER_KEY not in line and FUZZ_KEY not in line
