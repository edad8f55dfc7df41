"""The sandbox speaks Sonic: its paths and answer shapes, two clips per task, and tools true to the audio."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from typing import Any

import httpx
import mido
import numpy as np
import pytest
from aiohttp import web

from bot.sandbox import Sandbox
from bot.sandbox.music import SAMPLE_RATE
from bot.sandbox.music.score import Score
from bot.sandbox.music.wav import read_wav
from tests.clients import http_client
from tests.sandbox.helpers import KEY, RENDER_S, FakeClock
from tests.sandbox.listening import same_tempo, tempo_bpm

WORDS = "[Verse]\nNeon rivers run tonight\nEvery window burning bright\n\n[Chorus]\nHold on, hold on\nDon't let go"
SONG_FIELDS = {"clip_id", "state", "title", "tags", "lyrics", "image_url", "audio_url", "video_url", "created_at"}


@pytest.fixture
async def sonic(sandbox: Sandbox) -> AsyncIterator[httpx.AsyncClient]:
    async with http_client(
        base_url=sandbox.base_url + "/api/v1", headers={"Authorization": f"Bearer {KEY}"}, timeout=30
    ) as client:
        yield client


async def start(sonic: httpx.AsyncClient, path: str = "/sonic/create", **body: Any) -> str:
    response = await sonic.post(path, json=body)
    assert response.status_code == 200, response.text
    return response.json()["task_id"]


async def done(sonic: httpx.AsyncClient, clock: FakeClock, task_id: str, root: str = "sonic") -> list[dict[str, Any]]:
    clock.advance(RENDER_S + 0.01)
    response = await sonic.get(f"/{root}/task/{task_id}")
    assert response.status_code == 200, response.text
    clips = response.json()["data"]
    assert all(c["state"] == "succeeded" for c in clips), clips
    return clips


async def song(sonic: httpx.AsyncClient, clock: FakeClock, **body: Any) -> list[dict[str, Any]]:
    fields = {"task_type": "create_music", "custom_mode": True, "tags": "synthwave pop", "prompt": WORDS, **body}
    return await done(sonic, clock, await start(sonic, **fields))


async def audio(client: httpx.AsyncClient, url: str) -> np.ndarray:
    response = await client.get(url)
    assert response.status_code == 200, response.text
    samples, rate = read_wav(response.content)
    assert rate == SAMPLE_RATE
    return samples


def score_of(sandbox: Sandbox, clip_id: str) -> Score:
    score = sandbox.songs.score(sandbox.store.clips[clip_id])
    assert score is not None
    return score


async def tool(sonic: httpx.AsyncClient, name: str, **body: Any) -> httpx.Response:
    return await sonic.post(f"/sonic/{name}", json=body)


# --- songs ------------------------------------------------------------------------------------------------------
async def test_a_task_makes_two_clips_that_go_pending_running_streaming_succeeded(
    sandbox: Sandbox, sonic: httpx.AsyncClient, clock: FakeClock
) -> None:
    task_id = await start(sonic, task_type="create_music", custom_mode=True, tags="lofi", prompt=WORDS, title="Neon")
    first = await sonic.get(f"/sonic/task/{task_id}")
    assert first.status_code == 202 and first.json()["type"] == "not_ready"
    seen: list[list[tuple[str, bool]]] = []
    for _ in range(9):
        clock.advance(RENDER_S * 0.1)
        answer = (await sonic.get(f"/sonic/task/{task_id}")).json()
        assert answer["code"] == 200 and len(answer["data"]) == 2
        seen.append([(c["state"], bool(c["audio_url"])) for c in answer["data"]])
        for clip in answer["data"]:
            assert clip.keys() >= SONG_FIELDS and clip["mv"] == "chirp-crow"
            if clip["state"] != "succeeded":
                assert clip["duration"] is None and not (clip["audio_url"] or "").endswith(".wav")
    states = {state for row in seen for state, _ in row}
    assert {"pending", "running", "streaming"} <= states
    assert ("running", True) in {s for row in seen for s in row}  # a streaming preview before success
    assert any(row[0][0] != row[1][0] for row in seen)  # each clip has its own state
    clips = await done(sonic, clock, task_id)
    assert [c["title"] for c in clips] == ["Neon", "Neon (Take 2)"]
    for clip in clips:
        assert clip["audio_url"].endswith(".wav") and 20 <= float(clip["duration"]) <= 30
    a, b = [await audio(sonic, c["audio_url"]) for c in clips]
    assert len(a) != len(b) or not np.array_equal(a, b)  # two takes, two songs
    assert len(sandbox.store.tasks[task_id].clip_ids) == 2


async def test_mv_comes_back_in_chirp_spelling_and_duration_in_every_type(
    sonic: httpx.AsyncClient, clock: FakeClock
) -> None:
    kinds = set()
    for model, legacy in (
        ("sonic-v4-5", "chirp-auk"),
        ("chirp-bluejay", "chirp-bluejay"),
        ("sonic-v3-5", "chirp-v3-5"),
    ):
        clips = await song(sonic, clock, mv=model)
        assert {c["mv"] for c in clips} == {legacy}
        kinds |= {type(c["duration"]) for c in clips}
    assert kinds == {int, float, str}
    bad = await sonic.post("/sonic/create", json={"task_type": "create_music", "tags": "x", "mv": "FUZZ-2.0"})
    assert bad.status_code == 400 and "sonic-v5" in bad.json()["error"]


async def test_description_mode_writes_the_words(sandbox: Sandbox, sonic: httpx.AsyncClient, clock: FakeClock) -> None:
    task_id = await start(
        sonic, task_type="create_music", custom_mode=False, gpt_description_prompt="a sad song about rain"
    )
    clips = await done(sonic, clock, task_id)
    assert clips[0]["lyrics"].startswith("[Verse]") and clips[0]["tags"] == "a sad song about rain"
    assert score_of(sandbox, clips[0]["clip_id"]).mode in ("minor", "dorian")
    instrumental = await done(
        sonic, clock, await start(sonic, custom_mode=False, gpt_description_prompt="calm piano", make_instrumental=True)
    )
    assert "vocal" not in score_of(sandbox, instrumental[0]["clip_id"]).voices


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"task_type": "remix_music", "tags": "x"}, "task_type"),
        ({"tags": "x", "title": "t" * 81}, "title"),
        ({"tags": "x", "prompt": "l" * 3001, "mv": "sonic-v4"}, "prompt"),
        ({"tags": "x" * 201, "mv": "sonic-v3-5"}, "tags"),
        ({"custom_mode": False, "gpt_description_prompt": "d" * 401}, "gpt_description_prompt"),
        ({"custom_mode": True}, "prompt or tags"),
        ({"tags": "x", "style_weight": 2}, "style_weight"),
        ({"tags": "x", "vocal_gender": "x"}, "vocal_gender"),
        ({"tags": "x", "duration": 5}, "duration"),
        ({"tags": "x", "webhook_url": "http://plain.example/hook"}, "webhook_url"),
    ],
)
async def test_limits_are_refused_with_the_field_named(
    sandbox: Sandbox, sonic: httpx.AsyncClient, body: dict[str, Any], named: str
) -> None:
    credits = sandbox.store.credits(sandbox.now())
    response = await sonic.post("/sonic/create", json={"task_type": "create_music", **body})
    assert response.status_code == 400 and named in response.json()["error"]
    assert sandbox.store.credits(sandbox.now()) == credits
    longer = await sonic.post("/sonic/create", json={"tags": "x", "prompt": "l" * 4000, "mv": "sonic-v5"})
    assert longer.status_code == 200


async def test_suno_paths_are_aliases(sonic: httpx.AsyncClient, clock: FakeClock) -> None:
    task_id = await start(sonic, "/suno/create", task_type="create_music", tags="folk", prompt=WORDS)
    assert len(await done(sonic, clock, task_id, root="suno")) == 2
    assert (await sonic.get(f"/sonic/task/{task_id}")).status_code == 200
    assert (await sonic.get(f"/producer/task/{task_id}")).status_code == 404  # a Sonic task, not a Producer one


# --- extend and concat ------------------------------------------------------------------------------------------
async def test_an_extension_holds_only_the_new_part_and_concat_joins_them(
    sandbox: Sandbox, sonic: httpx.AsyncClient, clock: FakeClock
) -> None:
    [parent, _] = await song(sonic, clock, tags="rock")
    task_id = await start(sonic, task_type="extend_music", continue_clip_id=parent["clip_id"], continue_at=10)
    extension, second = await done(sonic, clock, task_id)
    parent_score, part = score_of(sandbox, parent["clip_id"]), score_of(sandbox, extension["clip_id"])
    assert part.sections[0].kind in ("chorus", "verse", "bridge")  # starts in the middle of the form, no intro
    assert (part.bpm, part.key) == (parent_score.bpm, parent_score.key)
    assert second["clip_id"] != extension["clip_id"]

    joined_id = await start(sonic, task_type="concat_music", continue_clip_id=extension["clip_id"])
    [joined] = await done(sonic, clock, joined_id)
    plan = sandbox.songs.plan(sandbox.store.clips[extension["clip_id"]])
    assert plan is not None
    prefix_s = plan.seconds(plan.cut)
    # Really the two joined: as long as the parent's kept part and the extension, its opening the parent's...
    whole, before, after = [await audio(sonic, c["audio_url"]) for c in (joined, parent, extension)]
    assert len(whole) / SAMPLE_RATE == pytest.approx(prefix_s + len(after) / SAMPLE_RATE, abs=0.01)
    assert abs(float(joined["duration"]) - len(whole) / SAMPLE_RATE) < 0.5  # the duration field says so too
    head = int(min(prefix_s, 6) * SAMPLE_RATE)
    assert np.corrcoef(whole[:head].astype(float), before[:head].astype(float))[0, 1] > 0.9
    start_at = round(prefix_s * SAMPLE_RATE) + 2 * SAMPLE_RATE  # past the seam, where the parent's last notes ring
    span = slice(start_at, start_at + 6 * SAMPLE_RATE)  # ...and then the extension's music
    tail = after[2 * SAMPLE_RATE : 8 * SAMPLE_RATE].astype(float)
    assert np.corrcoef(whole[span].astype(float), tail)[0, 1] > 0.8

    refused = await sonic.post(
        "/sonic/create", json={"task_type": "concat_music", "continue_clip_id": parent["clip_id"]}
    )
    assert refused.status_code == 400 and "extended" in refused.json()["error"]


# --- uploads --------------------------------------------------------------------------------------------------
@pytest.fixture
async def audio_host(sandbox: Sandbox) -> AsyncIterator[str]:
    """A public host for upload tests on loopback: one small foreign file."""

    async def file(request: web.Request) -> web.Response:
        return web.Response(body=b"ID3-fake-mp3-bytes" * 100, content_type="audio/mpeg")

    app = web.Application()
    app.router.add_get("/music/demo.mp3", file)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    await runner.cleanup()


async def test_upload_answers_at_once_and_needs_the_upload_task_types(
    sonic: httpx.AsyncClient, clock: FakeClock, audio_host: str
) -> None:
    response = await sonic.post("/sonic/upload", json={"url": f"{audio_host}/music/demo.mp3"})
    assert response.status_code == 200 and response.json()["code"] == 200
    clip_id = response.json()["clip_id"]
    wrong = await sonic.post("/sonic/create", json={"task_type": "extend_music", "continue_clip_id": clip_id})
    assert wrong.status_code == 400 and "extend_upload_music" in wrong.json()["error"]
    task_id = await start(sonic, task_type="extend_upload_music", continue_clip_id=clip_id, continue_at=0.1)
    assert len(await done(sonic, clock, task_id)) == 2
    cover_id = await start(sonic, task_type="cover_upload_music", continue_clip_id=clip_id, tags="jazz")
    assert len(await done(sonic, clock, cover_id)) == 2
    missing = await sonic.post("/sonic/upload", json={"url": f"{audio_host}/nothing.mp3"})
    assert missing.status_code == 400 and "Could not download" in missing.json()["error"]
    # A file the sandbox did not make has no notes to split, time or transcribe: refused, free.
    for name in ("stems/full", "bpm", "midi", "vox"):
        refused = await tool(sonic, name, clip_id=clip_id)
        assert refused.status_code == 400, name
    assert (await tool(sonic, "aligned-lyrics", clip_id=clip_id)).status_code == 404


async def test_upload_extend_in_one_call_and_its_failed_step(
    sonic: httpx.AsyncClient, clock: FakeClock, audio_host: str
) -> None:
    ok = await sonic.post("/sonic/upload-extend", json={"url": f"{audio_host}/music/demo.mp3", "continue_at": 0.1})
    body = ok.json()
    assert body["code"] == 200 and body["failed_step"] is None and body["steps"]["upload"]["success"]
    assert len(await done(sonic, clock, body["task_id"])) == 2
    bad = await sonic.post("/sonic/upload-cover", json={"url": f"{audio_host}/gone.mp3", "tags": "rock"})
    assert bad.status_code == 200
    assert bad.json()["failed_step"] == "upload" and "task_id" not in bad.json()


async def test_the_sandbox_knows_its_own_song_when_it_comes_back_as_an_upload(
    sandbox: Sandbox, sonic: httpx.AsyncClient, clock: FakeClock
) -> None:
    [original, _] = await song(sonic, clock, tags="house")
    await audio(sonic, original["audio_url"])  # the file exists once it has been heard
    uploaded = (await sonic.post("/sonic/upload", json={"url": original["audio_url"]})).json()["clip_id"]
    task_id = await start(sonic, task_type="extend_upload_music", continue_clip_id=uploaded, continue_at=0.1)
    [extension, _] = await done(sonic, clock, task_id)
    first, then = score_of(sandbox, original["clip_id"]), score_of(sandbox, extension["clip_id"])
    assert (then.bpm, then.key, then.style) == (first.bpm, first.key, first.style)


# --- personas ---------------------------------------------------------------------------------------------------
async def test_a_persona_keeps_the_singer_and_can_be_retired(
    sandbox: Sandbox, sonic: httpx.AsyncClient, clock: FakeClock
) -> None:
    [voice_clip, _] = await song(sonic, clock, tags="female pop")
    saved = await sonic.post("/sonic/persona", json={"name": "Neon Voice", "clip_id": voice_clip["clip_id"]})
    assert saved.status_code == 200 and saved.json()["code"] == 200
    persona_id = saved.json()["persona_id"]
    task_id = await start(sonic, task_type="persona_music", persona_id=persona_id, prompt=WORDS, tags="rock")
    clips = await done(sonic, clock, task_id)
    original = sandbox.songs.plan(sandbox.store.clips[voice_clip["clip_id"]])
    assert original is not None and original.voice == "female"
    assert {sandbox.songs.plan(sandbox.store.clips[c["clip_id"]]).voice for c in clips} == {"female"}  # type: ignore[union-attr]
    unknown = await sonic.post("/sonic/create", json={"task_type": "persona_music", "persona_id": "nope", "tags": "x"})
    assert unknown.status_code == 404

    sandbox.inject("retired", operation="persona", message="The persona API is no longer available")
    gone = await sonic.post("/sonic/persona", json={"name": "Again", "clip_id": voice_clip["clip_id"]})
    assert gone.status_code == 410 and gone.json() == {"error": "The persona API is no longer available"}
    long_name = await sonic.post("/sonic/persona", json={"name": "n" * 80, "clip_id": voice_clip["clip_id"]})
    assert long_name.status_code in (400, 410)


# --- stems ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("kind", "names"), [("basic", ["vocals", "instrumental"]), ("full", None)])
async def test_stems_are_the_voices_and_mix_back_to_the_song(
    sandbox: Sandbox, sonic: httpx.AsyncClient, clock: FakeClock, kind: str, names: list[str] | None
) -> None:
    [clip, _] = await song(sonic, clock)
    task_id = await start(sonic, f"/sonic/stems/{kind}", clip_id=clip["clip_id"])
    clock.advance(RENDER_S * 0.5)
    running = (await sonic.get(f"/sonic/task/{task_id}")).json()["data"]
    assert all(s["state"] != "succeeded" and not s["audio_url"] for s in running)
    stems = await done(sonic, clock, task_id)
    voices = score_of(sandbox, clip["clip_id"]).voices
    expected = names or [{"vocal": "vocals"}.get(v, v) for v in voices]
    assert [s["stem"] for s in stems] == expected
    assert all(s["title"].endswith(f"({s['stem'].capitalize()})") for s in stems)
    song_audio = await audio(sonic, clip["audio_url"])
    parts = [await audio(sonic, s["audio_url"]) for s in stems]
    assert all(len(p) == len(song_audio) for p in parts)
    total = np.sum([p.astype(np.int64) for p in parts], axis=0)
    assert np.max(np.abs(total - song_audio)) <= len(voices)  # within the rounding of each voice
    assert all(np.abs(p).max() > 1000 for p in parts)  # every stem is heard


async def test_stems_cost_what_they_cost(sandbox: Sandbox, sonic: httpx.AsyncClient, clock: FakeClock) -> None:
    [clip, _] = await song(sonic, clock)
    before = sandbox.store.credits(sandbox.now())
    await start(sonic, "/sonic/stems/full", clip_id=clip["clip_id"])
    await start(sonic, "/sonic/stems/basic", clip_id=clip["clip_id"])
    assert before - sandbox.store.credits(sandbox.now()) == 70


# --- tools that answer at once ---------------------------------------------------------------------------------
async def test_wav_is_the_song(sonic: httpx.AsyncClient, clock: FakeClock) -> None:
    [clip, _] = await song(sonic, clock)
    answer = (await tool(sonic, "wav", clip_id=clip["clip_id"])).json()
    assert answer["data"]["wav_url"].endswith(".wav")
    assert np.array_equal(await audio(sonic, answer["data"]["wav_url"]), await audio(sonic, clip["audio_url"]))


async def test_midi_answers_202_first_then_a_file_of_the_notes_played(
    sandbox: Sandbox, sonic: httpx.AsyncClient, clock: FakeClock
) -> None:
    [clip, _] = await song(sonic, clock)
    first = await tool(sonic, "midi", clip_id=clip["clip_id"])
    assert first.status_code == 202 and first.json()["code"] == 202
    clock.advance(RENDER_S)
    answer = await tool(sonic, "midi", clip_id=clip["clip_id"])
    assert answer.status_code == 200
    data = answer.json()["data"]
    file = await sonic.get(data["midi_url"])
    assert file.status_code == 200 and file.headers["Content-Type"] == "audio/midi"
    song_file = mido.MidiFile(file=io.BytesIO(file.content))
    score = score_of(sandbox, clip["clip_id"])
    assert song_file.ticks_per_beat == 480
    tempo = next(m.tempo for m in song_file.tracks[0] if m.type == "set_tempo")
    assert mido.tempo2bpm(tempo) == pytest.approx(score.bpm, abs=0.01)  # microseconds per beat, rounded
    assert [t.name for t in song_file.tracks[1:]] == [i["name"] for i in data["instruments"]]
    for track, part in zip(song_file.tracks[1:], score.parts, strict=True):
        now, sounding, notes = 0, {}, []
        for message in track:
            now += message.time
            if message.type == "note_on" and message.velocity > 0:
                sounding.setdefault(message.note, []).append((now, message.velocity))
            elif message.type in ("note_off", "note_on"):
                start, velocity = sounding[message.note].pop(0)
                notes.append((start, now, message.note, velocity))
        assert sorted(notes) == sorted((n.start, n.end, n.pitch, n.velocity) for n in part.notes), part.name
    listed = data["instruments"][0]["notes"][0]
    first_note = score.parts[0].notes[0]
    assert listed["start"] == pytest.approx(score.seconds(first_note.start), abs=1e-3)
    assert listed["pitch"] == first_note.pitch
    vocal = next(t for t in song_file.tracks if t.name == "Vocals")
    sung = "".join(m.text for m in vocal if m.type == "lyrics").replace(" ", "").lower()
    assert sung.startswith("neonriversruntonight")


async def test_the_lyrics_timeline_is_when_each_word_is_sung(
    sandbox: Sandbox, sonic: httpx.AsyncClient, clock: FakeClock
) -> None:
    [clip, _] = await song(sonic, clock)
    before = sandbox.store.credits(sandbox.now())
    answer = (await tool(sonic, "aligned-lyrics", clip_id=clip["clip_id"])).json()
    again = (await tool(sonic, "aligned-lyrics", clip_id=clip["clip_id"])).json()
    assert answer == again and before - sandbox.store.credits(sandbox.now()) == 1  # cached after the first
    alignment = answer["data"]["alignment"]
    assert alignment[0]["word"] == "[Verse]\n" and alignment[0]["success"] is False
    # Lines as an .lrc reader would rebuild them: words up to each line break.
    lines, current, starts = [], [], []
    for item in alignment:
        if not item["success"]:
            continue
        if not current:
            starts.append(item["start_s"])
        current.append(item["word"].strip())
        if item["word"].endswith("\n"):
            lines.append(" ".join(current))
            current = []
    score = score_of(sandbox, clip["clip_id"])
    assert lines == [line.text for line in score.lyrics]
    assert lines[:3] == ["Neon rivers run tonight", "Every window burning bright", "Hold on hold on"]
    stems_id = await start(sonic, "/sonic/stems/basic", clip_id=clip["clip_id"])
    vocal = (await audio(sonic, (await done(sonic, clock, stems_id))[0]["audio_url"])).astype(float)
    for begin, line in zip(starts, score.lyrics, strict=True):
        assert begin == pytest.approx(score.seconds(line.start), abs=1e-3)
        window = vocal[int(begin * SAMPLE_RATE) : int((begin + 0.25) * SAMPLE_RATE)]
        assert np.sqrt(np.mean(window**2)) > 300  # the singer is singing when the timeline says so

    [instrumental, _] = await song(sonic, clock, make_instrumental=True)
    missing = await tool(sonic, "aligned-lyrics", clip_id=instrumental["clip_id"])
    assert missing.status_code == 404 and missing.json() == {"error": "Aligned lyrics not found for this clip"}


async def test_bpm_is_the_tempo_played(sandbox: Sandbox, sonic: httpx.AsyncClient, clock: FakeClock) -> None:
    [clip, _] = await song(sonic, clock, tags="edm house")
    data = (await tool(sonic, "bpm", clip_id=clip["clip_id"])).json()["data"]
    score = score_of(sandbox, clip["clip_id"])
    assert data == {"avg_bpm": score.bpm, "max_bpm": score.bpm, "min_bpm": score.bpm}
    mix = sandbox.songs.mix(sandbox.store.clips[clip["clip_id"]])
    assert mix is not None and same_tempo(
        tempo_bpm(mix.stems["drums"], SAMPLE_RATE, near=data["avg_bpm"]), data["avg_bpm"]
    )


async def test_vox_is_the_singer_alone_for_at_most_30_seconds(
    sandbox: Sandbox, sonic: httpx.AsyncClient, clock: FakeClock
) -> None:
    [clip, _] = await song(sonic, clock)
    data = (await tool(sonic, "vox", clip_id=clip["clip_id"], vocal_start_s=4.0, vocal_end_s=14.0)).json()["data"]
    assert (data["vocal_start_s"], data["vocal_end_s"]) == (4.0, 14.0) and data["vox_audio_id"]
    vox = await audio(sonic, data["vocal_audio_url"])
    assert len(vox) == 10 * SAMPLE_RATE
    mix = sandbox.songs.mix(sandbox.store.clips[clip["clip_id"]])
    assert mix is not None and np.array_equal(vox, mix.stems["vocal"][4 * SAMPLE_RATE : 14 * SAMPLE_RATE])
    whole = (await tool(sonic, "vox", clip_id=clip["clip_id"])).json()["data"]
    assert whole["vocal_end_s"] - whole["vocal_start_s"] <= 30
    too_long = await tool(sonic, "vox", clip_id=clip["clip_id"], vocal_start_s=0, vocal_end_s=31)
    assert too_long.status_code == 400 and "30" in too_long.json()["error"]
    [instrumental, _] = await song(sonic, clock, make_instrumental=True)
    assert (await tool(sonic, "vox", clip_id=instrumental["clip_id"])).status_code == 400


async def test_upsample_tags_and_lyrics(sonic: httpx.AsyncClient) -> None:
    richer = (await tool(sonic, "upsample-tags", tags="lofi, rainy")).json()["data"]["upsampled_tags"]
    assert richer.startswith("lofi, rainy, ") and "electric piano" in richer and len(richer) > 40
    drafts = (await tool(sonic, "lyrics", description="a song about rain")).json()
    assert drafts["code"] == 200 and len(drafts["results"]) == 2
    assert (await tool(sonic, "lyrics", description="d" * 120)).status_code == 400


async def test_tools_refuse_unknown_and_unfinished_clips(sonic: httpx.AsyncClient, clock: FakeClock) -> None:
    assert (await tool(sonic, "bpm", clip_id="nope")).status_code == 404
    task_id = await start(sonic, task_type="create_music", tags="pop", prompt=WORDS)
    clock.advance(RENDER_S * 0.3)
    clip_id = (await sonic.get(f"/sonic/task/{task_id}")).json()["data"][0]["clip_id"]
    unfinished = await tool(sonic, "midi", clip_id=clip_id)
    assert unfinished.status_code == 400 and "still being generated" in unfinished.json()["error"]


# --- more songs from songs -------------------------------------------------------------------------------------
async def test_mashup_sings_one_song_over_the_other(
    sandbox: Sandbox, sonic: httpx.AsyncClient, clock: FakeClock
) -> None:
    [tune, _] = await song(sonic, clock, tags="folk")
    [band, _] = await song(sonic, clock, tags="drum and bass", prompt="[Verse]\nOther words entirely\nAnd more")
    task_id = await start(sonic, "/sonic/mashup", mashup_clip_ids=[tune["clip_id"], band["clip_id"]])
    first, second = await done(sonic, clock, task_id)
    mashed, source, host = (score_of(sandbox, c) for c in (first["clip_id"], tune["clip_id"], band["clip_id"]))
    assert (mashed.bpm, mashed.key, mashed.style) == (host.bpm, host.key, host.style)
    assert [line.text for line in mashed.lyrics][:2] == [line.text for line in source.lyrics][:2]
    other = score_of(sandbox, second["clip_id"])
    assert (other.bpm, other.style) == (source.bpm, source.style)  # the other way round
    bad = await sonic.post("/sonic/mashup", json={"mashup_clip_ids": [tune["clip_id"]]})
    assert bad.status_code == 400


async def test_replace_section_changes_only_its_range(
    sandbox: Sandbox, sonic: httpx.AsyncClient, clock: FakeClock
) -> None:
    [clip, _] = await song(sonic, clock)
    task_id = await start(
        sonic, "/sonic/replace-section", clip_id=clip["clip_id"], infill_start_s=5, infill_end_s=11, mv="sonic-v4"
    )
    [reworked, _] = await done(sonic, clock, task_id)
    before, after = score_of(sandbox, clip["clip_id"]), score_of(sandbox, reworked["clip_id"])
    low, high = before.tick_at(5), before.tick_at(11)

    def outside(score: Score, name: str) -> list[tuple[int, int]]:
        part = score.part(name)
        return [] if part is None else [(n.start, n.pitch) for n in part.notes if not low <= n.start < high]

    for name in before.voices:
        assert outside(after, name) == outside(before, name)
    old = await sonic.post(
        "/sonic/replace-section",
        json={"clip_id": clip["clip_id"], "infill_start_s": 1, "infill_end_s": 2, "mv": "sonic-v3-5"},
    )
    assert old.status_code == 400 and "v4" in old.json()["error"]


async def test_sample_grows_a_new_song_from_a_stretch(
    sandbox: Sandbox, sonic: httpx.AsyncClient, clock: FakeClock
) -> None:
    [clip, _] = await song(sonic, clock, tags="jazz")
    answer = await sonic.post(
        "/sonic/sample",
        json={"sample_clip_id": clip["clip_id"], "chop_sample_start_s": 4, "chop_sample_end_s": 12, "tags": "lofi"},
    )
    assert answer.json()["failed_step"] is None
    sampled = await done(sonic, clock, answer.json()["task_id"])
    parent, child = score_of(sandbox, clip["clip_id"]), score_of(sandbox, sampled[0]["clip_id"])
    assert (child.bpm, child.key) == (parent.bpm, parent.key) and child.style == "lofi"
    window = await sonic.post(
        "/sonic/sample", json={"sample_clip_id": clip["clip_id"], "chop_sample_start_s": 4, "chop_sample_end_s": 999}
    )
    assert window.status_code == 200 and window.json()["failed_step"] == "sample"


@pytest.mark.parametrize(
    ("task_type", "extra"),
    [
        ("remaster", {"variation_category": "high"}),
        ("add_instrumental", {"tags": "jazz"}),
        ("add_vocals", {"prompt": "[Verse]\nNew voice here", "overpainting_start_s": 3, "overpainting_end_s": 15}),
        ("cover_music", {"tags": "drum and bass"}),
    ],
)
async def test_the_other_task_types_make_two_related_songs(
    sandbox: Sandbox, sonic: httpx.AsyncClient, clock: FakeClock, task_type: str, extra: dict[str, Any]
) -> None:
    [clip, _] = await song(sonic, clock, make_instrumental=task_type == "add_vocals")
    task_id = await start(sonic, task_type=task_type, continue_clip_id=clip["clip_id"], **extra)
    clips = await done(sonic, clock, task_id)
    parent = score_of(sandbox, clip["clip_id"])
    for made in clips:
        score = score_of(sandbox, made["clip_id"])
        assert score.key == parent.key
        assert len(await audio(sonic, made["audio_url"])) > 10 * SAMPLE_RATE
    if task_type == "add_vocals":
        assert "vocal" in score.voices and "vocal" not in parent.voices
    if task_type == "remaster":
        assert score.bpm == parent.bpm and [c.name for c in score.chords] == [c.name for c in parent.chords]
    bad = await sonic.post(
        "/sonic/create", json={"task_type": "remaster", "continue_clip_id": clip["clip_id"], "variation_category": "x"}
    )
    assert bad.status_code == 400


# --- errors, retired APIs, webhooks, failures -------------------------------------------------------------------
async def test_nuro_and_riffusion_are_gone(sonic: httpx.AsyncClient, anon: httpx.AsyncClient) -> None:
    nuro = await sonic.post("/nuro/create", json={"prompt": "x"})
    assert nuro.status_code == 410 and "Nuro API has been deprecated" in nuro.json()["error"]
    assert (await sonic.get("/riffusion/task/1")).status_code == 410
    assert (await anon.post("/api/v1/sonic/create", json={"tags": "x"})).status_code == 401


async def test_injected_failures_reach_sonic_calls(
    sandbox: Sandbox, sonic: httpx.AsyncClient, clock: FakeClock
) -> None:
    sandbox.inject("rate_limit", retry_after=3)
    limited = await sonic.post("/sonic/bpm", json={"clip_id": "x"})
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "3"
    sandbox.inject("credits")
    assert (await sonic.post("/sonic/create", json={"tags": "x"})).status_code == 402
    sandbox.inject("moderation", message="The song description contains artist names: 'Someone'")
    refused = await sonic.post("/sonic/create", json={"tags": "like Someone"})
    assert refused.status_code == 403 and "artist names" in refused.json()["error"]
    sandbox.inject("task_failure", message="Generation failed")
    before = sandbox.store.credits(sandbox.now())
    task_id = await start(sonic, task_type="create_music", tags="pop")
    clock.advance(RENDER_S + 0.01)
    clips = (await sonic.get(f"/sonic/task/{task_id}")).json()["data"]
    assert [c["state"] for c in clips] == ["failed", "failed"] and clips[0]["error_message"] == "Generation failed"
    assert sandbox.store.credits(sandbox.now()) == before  # refunded


async def test_a_finished_task_posts_its_webhook() -> None:
    received: list[dict[str, Any]] = []
    arrived = asyncio.Event()

    async def hook(request: web.Request) -> web.Response:
        assert request.headers["X-Webhook-Signature"].startswith("sha256=")
        received.append(await request.json())
        arrived.set()
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_post("/hooks/sonic", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        # A sandbox on the real clock: the webhook must arrive on its own timer.
        rewrite = ("https://bot.example", f"http://127.0.0.1:{runner.addresses[0][1]}")
        async with (
            Sandbox(render_seconds=0.05, clip_seconds=1.0, webhook_base_rewrite=rewrite) as live,
            http_client(base_url=live.base_url + "/api/v1", headers={"Authorization": "Bearer k"}) as client,
        ):
            task_id = await start(
                client,
                task_type="create_music",
                tags="pop",
                webhook_url="https://bot.example/hooks/sonic",
                webhook_secret="a-secret-that-is-long-enough",
            )
            await asyncio.wait_for(arrived.wait(), 10)
    finally:
        await runner.cleanup()
    [event] = received
    assert event["task_id"] == task_id and event["platform"] == "sonic" and event["event"] == "song.completed"
    assert len(event["data"]) == 2 and {c["state"] for c in event["data"]} == {"succeeded"}
    assert event["data"][0]["mv"] == "chirp-crow"


async def test_make_instrumental_on_a_cover_plays_the_tune_instead_of_singing_it(
    sandbox: Sandbox, sonic: httpx.AsyncClient, clock: FakeClock
) -> None:
    [clip, _] = await song(sonic, clock)
    task_id = await start(
        sonic, task_type="cover_music", continue_clip_id=clip["clip_id"], tags="jazz", make_instrumental=True
    )
    [cover, _] = await done(sonic, clock, task_id)
    parent, covered = score_of(sandbox, clip["clip_id"]), score_of(sandbox, cover["clip_id"])
    assert "vocal" in parent.voices and "vocal" not in covered.voices and not covered.lyrics
    played = covered.part("lead")
    sung = parent.part("vocal")
    assert played is not None and sung is not None
    assert [n.pitch for n in played.notes] == [n.pitch for n in sung.notes]
