"""Clip files over HTTP: real WAV songs (valid, the length the poll reports, prompt-dependent) and PNG cover art."""

from __future__ import annotations

import io

import httpx
import numpy as np
from PIL import Image

from bot.sandbox import Sandbox
from bot.sandbox.art import render_png
from bot.sandbox.music import SAMPLE_RATE
from bot.sandbox.music.wav import read_wav
from tests.clients import http_client
from tests.sandbox.helpers import RENDER_S, FakeClock, create_clip, finish, submit
from tests.sandbox.listening import rms_db

DISCORD_UPLOAD_LIMIT = 10 * 1024 * 1024


async def test_clip_audio_is_a_song_of_the_length_the_poll_reports(
    sandbox: Sandbox, producer: httpx.AsyncClient, anon: httpx.AsyncClient, clock: FakeClock
) -> None:
    clip = await create_clip(producer, clock, sound="driving techno")
    response = await anon.get(clip["audio_url"])
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "audio/wav"
    assert len(response.content) < DISCORD_UPLOAD_LIMIT
    samples, rate = read_wav(response.content)
    assert rate == SAMPLE_RATE == 22050
    seconds = len(samples) / rate
    assert 20.0 <= seconds <= 30.0
    assert abs(seconds - float(clip["duration"])) < 0.01
    assert rms_db(samples) > -20  # a song at listening level, not a whisper
    assert sandbox.stats.files == 1


async def test_streaming_preview_url_serves_audio_too(
    producer: httpx.AsyncClient, anon: httpx.AsyncClient, clock: FakeClock
) -> None:
    task_id = (await producer.post("/producer/create", json={"sound": "pop"})).json()["task_id"]
    clock.advance(RENDER_S * 0.8)
    [clip] = (await producer.get(f"/producer/task/{task_id}")).json()["data"]
    preview = await anon.get(clip["audio_url"])
    assert preview.status_code == 200 and preview.content.startswith(b"RIFF")


async def test_same_prompt_and_seed_give_the_same_file(
    producer: httpx.AsyncClient, anon: httpx.AsyncClient, clock: FakeClock
) -> None:
    first = await create_clip(producer, clock, sound="lofi beats", lyrics="[Verse]\nRain on the glass", seed="77")
    second = await create_clip(producer, clock, sound="lofi beats", lyrics="[Verse]\nRain on the glass", seed="77")
    other = await create_clip(producer, clock, sound="lofi beats", lyrics="[Verse]\nRain on the glass", seed="78")
    audio = [(await anon.get(c["audio_url"])).content for c in (first, second, other)]
    assert audio[0] == audio[1]
    assert audio[0] != audio[2]


async def test_an_extension_is_the_parent_and_more(
    producer: httpx.AsyncClient, anon: httpx.AsyncClient, clock: FakeClock
) -> None:
    parent = await create_clip(
        producer, clock, sound="rock anthem", lyrics="[Verse]\nWe ride tonight\nUnder the lights"
    )
    task_id = await submit(producer, task_type="extend_music", clip_id=parent["clip_id"])
    [extended] = (await finish(producer, clock, task_id))["data"]
    parent_audio, _ = read_wav((await anon.get(parent["audio_url"])).content)
    extended_audio, _ = read_wav((await anon.get(extended["audio_url"])).content)
    assert float(extended["duration"]) > float(parent["duration"]) + 10
    # The extension plays the parent's song up to where it continues: the first seconds sound the same.
    head = 5 * SAMPLE_RATE
    a, b = parent_audio[:head].astype(np.float64), extended_audio[:head].astype(np.float64)
    assert np.corrcoef(a, b)[0, 1] > 0.9


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


def test_art_depends_on_key_title_and_mood() -> None:
    base = render_png("k", "Title")
    assert render_png("k", "Title") == base
    assert render_png("k2", "Title") != base
    assert render_png("k", "Other title") != base

    def hue_of(png: bytes) -> float:
        image = Image.open(io.BytesIO(png)).convert("HSV").resize((32, 32))
        return float(np.median(np.asarray(image)[:8, :, 0]))  # the top of the gradient

    # Drum and bass art is green; lofi art is dusk purple: the style picks the palette, whatever the key.
    dnb, lofi = (
        hue_of(render_png("k", "T", mood=("dnb", "major"))),
        hue_of(render_png("k", "T", mood=("lofi", "major"))),
    )
    assert 60 < dnb < 110 and lofi > 170


async def test_fuzz_clip_files_are_two_different_songs(
    fuzz: httpx.AsyncClient, anon: httpx.AsyncClient, clock: FakeClock
) -> None:
    task_id = (await fuzz.post("/task", json={"lyrics": "", "tags": "celtic folk"})).json()["task_id"]
    clock.advance(RENDER_S)
    [done] = (await fuzz.get("/task", params={"ids": task_id})).json()
    first, second = done["data"]
    audio = [(await anon.get(clip["audio_url"])).content for clip in (first, second)]
    assert all(a.startswith(b"RIFF") for a in audio)
    assert audio[0] != audio[1]  # two takes, two songs
    assert (await anon.get(first["image_url"])).content.startswith(b"\x89PNG")


async def test_forced_clip_length_for_fast_runs(clock: FakeClock) -> None:
    async with (
        Sandbox(render_seconds=RENDER_S, clip_seconds=1.5, clock=clock) as short,
        http_client(base_url=short.base_url + "/api/v1", headers={"Authorization": "Bearer k"}) as producer,
    ):
        clip = await create_clip(producer, clock, sound="house")
        samples, rate = read_wav((await producer.get(clip["audio_url"])).content)
        assert float(clip["duration"]) == 1.5 and len(samples) == round(1.5 * rate)
        assert abs(int(samples[-1])) < 50  # faded out, not cut with a click


async def test_unknown_file_is_404(anon: httpx.AsyncClient) -> None:
    assert (await anon.get("/files/nope.wav")).status_code == 404
    assert (await anon.get("/files/nope.png")).status_code == 404
