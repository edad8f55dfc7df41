"""Clip files: real WAV audio (valid, non-silent, prompt-dependent, fast) and real PNG cover art."""

from __future__ import annotations

import io
import math
import time
import wave
from array import array

import httpx
import pytest
from PIL import Image

from bot.sandbox import Sandbox
from bot.sandbox.art import render_png
from bot.sandbox.audio import SAMPLE_RATE, render_wav, voice_for
from tests.sandbox.helpers import RENDER_S, FakeClock, create_clip

MIN_RMS = 1000.0  # of 32767: clearly audible, never silence


def _samples(data: bytes) -> tuple[wave._wave_params, array]:
    with wave.open(io.BytesIO(data), "rb") as reader:
        params = reader.getparams()
        frames = reader.readframes(params.nframes)
    return params, array("h", frames)


def _rms(samples: array) -> float:
    return math.sqrt(sum(v * v for v in samples) / len(samples))


async def test_clip_audio_is_a_valid_non_silent_wav(
    sandbox: Sandbox, producer: httpx.AsyncClient, anon: httpx.AsyncClient, clock: FakeClock
) -> None:
    clip = await create_clip(producer, clock, sound="driving techno")
    response = await anon.get(clip["audio_url"])
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "audio/wav"
    params, samples = _samples(response.content)
    assert (params.nchannels, params.sampwidth, params.framerate) == (1, 2, SAMPLE_RATE)
    assert params.nframes == int(sandbox.clip_seconds * SAMPLE_RATE)
    assert _rms(samples) > MIN_RMS
    assert sandbox.stats.files == 1


async def test_streaming_preview_url_serves_audio_too(
    producer: httpx.AsyncClient, anon: httpx.AsyncClient, clock: FakeClock
) -> None:
    task_id = (await producer.post("/producer/create", json={"sound": "pop"})).json()["task_id"]
    clock.advance(RENDER_S * 0.8)
    [clip] = (await producer.get(f"/producer/task/{task_id}")).json()["data"]
    preview = await anon.get(clip["audio_url"])
    assert preview.status_code == 200 and preview.content.startswith(b"RIFF")


def test_different_prompts_sound_different() -> None:
    jazz, metal = "smooth jazz lounge", "thrash metal with blast beats"
    assert voice_for(jazz) != voice_for(metal)
    _, a = _samples(render_wav(jazz, 2.0))
    _, b = _samples(render_wav(metal, 2.0))
    # Not just different bytes: the signals differ by as much energy as each carries.
    difference = array("h", (max(-32768, min(32767, x - y)) for x, y in zip(a, b, strict=True)))
    assert _rms(difference) > 0.5 * min(_rms(a), _rms(b))


def test_audio_is_deterministic_and_depends_on_every_input() -> None:
    base = render_wav("pop\x00la la\x00seed\x00create\x000", 1.0)
    assert render_wav("pop\x00la la\x00seed\x00create\x000", 1.0) == base
    for other in (
        "pop\x00la la\x00seed\x00cover\x000",
        "pop\x00la la\x00seed2\x00create\x000",
        "pop\x00la la\x00seed\x00create\x001",
    ):
        assert render_wav(other, 1.0) != base


@pytest.mark.parametrize("key", ["a", "ambient drone with slow pads", "x" * 500])
def test_audio_is_never_silent(key: str) -> None:
    _, samples = _samples(render_wav(key, 4.0))
    assert _rms(samples) > MIN_RMS
    # No stretch of a quarter second is silent either: the bass line runs under every melody rest.
    quarter = SAMPLE_RATE // 4
    assert min(_rms(samples[i : i + quarter]) for i in range(0, len(samples) - quarter, quarter)) > 200


def test_four_seconds_synthesise_well_under_100_ms() -> None:
    render_wav("warm-up", 0.1)
    best = min(_timed(lambda k=k: render_wav(f"speed test {k}", 4.0)) for k in range(3))
    assert best < 0.1, f"4 s of audio took {best * 1000:.0f} ms"


def _timed(work: object) -> float:
    start = time.perf_counter()
    work()  # type: ignore[operator]
    return time.perf_counter() - start


async def test_cover_art_is_a_valid_png(
    sandbox: Sandbox, producer: httpx.AsyncClient, anon: httpx.AsyncClient, clock: FakeClock
) -> None:
    clip = await create_clip(producer, clock, sound="lofi", title="Rainy Window")
    response = await anon.get(clip["image_url"])
    assert response.status_code == 200 and response.headers["Content-Type"] == "image/png"
    image = Image.open(io.BytesIO(response.content))
    assert image.format == "PNG" and image.size == (512, 512)
    image.load()
    assert len(image.resize((16, 16)).getcolors(256) or range(257)) > 8  # a picture, not a flat colour


def test_art_depends_on_key_and_title() -> None:
    base = render_png("k", "Title")
    assert render_png("k", "Title") == base
    assert render_png("k2", "Title") != base
    assert render_png("k", "Other title") != base


async def test_fuzz_clip_files_are_served(fuzz: httpx.AsyncClient, anon: httpx.AsyncClient, clock: FakeClock) -> None:
    task_id = (await fuzz.post("/task", json={"lyrics": "", "tags": "celtic folk"})).json()["task_id"]
    clock.advance(RENDER_S)
    [done] = (await fuzz.get("/task", params={"ids": task_id})).json()
    first, second = done["data"]
    audio = [(await anon.get(clip["audio_url"])).content for clip in (first, second)]
    assert all(a.startswith(b"RIFF") for a in audio)
    assert audio[0] != audio[1]  # two takes, two songs
    assert (await anon.get(first["image_url"])).content.startswith(b"\x89PNG")


async def test_unknown_file_is_404(anon: httpx.AsyncClient) -> None:
    assert (await anon.get("/files/nope.wav")).status_code == 404
    assert (await anon.get("/files/nope.png")).status_code == 404
