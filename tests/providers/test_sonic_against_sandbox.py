"""The Sonic client against the sandbox's Sonic API over loopback: the two implementations, written apart from the
same documentation, meet on every operation and tool. What comes back is checked as a member would use it: real
WAV files, a MIDI file that parses and holds the notes the answer lists, a timeline that makes a valid .lrc."""

from __future__ import annotations

import asyncio
import io
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import httpx
import mido
import pytest

from bot.domain.errors import ErrorKind, ProviderError
from bot.domain.lyrics_timeline import LyricsAlignment, parse_lrc, to_lrc
from bot.domain.models import Clip, CreateMusic, TaskState, UploadAudio
from bot.domain.sonic import (
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
    Tool,
    UpsampledTags,
    VoxClip,
    WavFile,
)
from bot.providers import SandboxClient
from bot.providers.sonic import SonicClient
from bot.sandbox import Sandbox
from tests.clients import http_client
from tests.providers.test_against_sandbox import WAV, assert_real_files, finish
from tests.waiting import until

KEY = "sonic-loopback-key"
WORDS = "[Verse]\nHarbour lights are calling me home\nSalt wind on the window\n[Chorus]\nHome, home, harbour home"


@pytest.fixture
async def sandbox() -> AsyncIterator[Sandbox]:
    async with Sandbox(render_seconds=0.2) as sb:
        yield sb


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with http_client(timeout=httpx.Timeout(20.0)) as client:
        yield client


@pytest.fixture
def sonic(sandbox: Sandbox, http: httpx.AsyncClient) -> SonicClient:
    # Real (short) pauses: a MIDI file not ready yet is asked for again after one, as the sandbox needs a moment.
    return SonicClient(
        http,
        base_url=sandbox.base_url,
        api_key=KEY,
        sleep=asyncio.sleep,
        not_ready_interval=0.1,
        not_ready_attempts=100,
    )


async def made(client: SonicClient | SandboxClient, request: object, takes: int = 2) -> tuple[Clip, ...]:
    status, _ = await finish(client, await client.submit(request))  # type: ignore[arg-type]
    assert status.state is TaskState.SUCCEEDED, status.failure
    assert len(status.clips) == takes
    return status.clips


async def song(sonic: SonicClient) -> Clip:
    first, _ = await made(sonic, SonicCreate(lyrics=WORDS, tags="sea shanty, accordion", title="Harbour"))
    return first


async def test_create_in_custom_and_description_mode(sonic: SonicClient, http: httpx.AsyncClient) -> None:
    clips = await made(sonic, SonicCreate(lyrics=WORDS, tags="sea shanty", title="Harbour", model="sonic-v4-5"))
    for clip in clips:
        await assert_real_files(http, clip)
        # Sent as sonic-v4-5, reported back by the service in chirp-* spelling, read as sonic-v4-5 again.
        assert clip.model == "sonic-v4-5" and clip.duration_s and clip.duration_s > 5
        assert "Harbour lights" in (clip.lyrics or "")
    described = await made(sonic, SonicCreate(description="a song about a lighthouse keeper"))
    assert all(c.lyrics and c.audio_url for c in described)
    # The generic request of the existing commands maps onto the same call.
    await made(sonic, CreateMusic(sound="lofi, rain", title="Rain"))


async def test_an_extension_holds_the_new_part_and_concat_makes_the_full_song(
    sonic: SonicClient, http: httpx.AsyncClient
) -> None:
    parent = await song(sonic)
    assert parent.duration_s is not None
    take, _ = await made(sonic, SonicExtend(clip_id=parent.clip_id, continue_at=10, lyrics="[Bridge]\nStill the sea"))
    assert take.duration_s is not None
    [full] = await made(sonic, SonicConcat(clip_id=take.clip_id), takes=1)
    assert full.duration_s is not None
    # The full song is the parent up to the cut (a section boundary near the time asked), then the new part.
    assert take.duration_s + 5 < full.duration_s <= parent.duration_s + take.duration_s
    await assert_real_files(http, full, image=False)


async def test_every_remix_of_sonic(sonic: SonicClient, http: httpx.AsyncClient) -> None:
    parent = await song(sonic)
    other = await song(sonic)
    requests = [
        SonicCover(clip_id=parent.clip_id, tags="bossa nova"),
        SonicReplace(clip_id=parent.clip_id, start_s=4, end_s=9, lyrics="Salt and stars", model="sonic-v4-5"),
        SonicRemaster(clip_id=parent.clip_id, strength="high"),
        SonicAddInstrumental(clip_id=parent.clip_id, tags="string quartet"),
        Mashup(clip_ids=(parent.clip_id, other.clip_id), tags="disco"),
        Sample(clip_id=parent.clip_id, start_s=2, end_s=8, tags="trip hop"),
    ]
    results = await asyncio.gather(*(made(sonic, r) for r in requests))
    for clips in results:
        await assert_real_files(http, clips[0])
    instrumental, _ = await made(sonic, SonicCreate(tags="ambient piano", instrumental=True))
    sung = await made(sonic, SonicAddVocals(clip_id=instrumental.clip_id, lyrics="[Verse]\nQuiet keys", start_s=1))
    await assert_real_files(http, sung[0])


async def test_uploads_answer_at_once_and_are_extended_with_their_own_task_types(
    sonic: SonicClient, sandbox: Sandbox, http: httpx.AsyncClient
) -> None:
    parent = await song(sonic)
    assert parent.audio_url
    task_id = await sonic.submit(UploadAudio(audio_url=parent.audio_url))
    [status] = await sonic.fetch([task_id])  # no call needed: the upload answered with its clip
    assert status.state is TaskState.SUCCEEDED
    [uploaded] = status.clips
    # An uploaded clip is refused by extend_music; extend_upload_music takes it.
    with pytest.raises(ProviderError) as refused:
        await sonic.submit(SonicExtend(clip_id=uploaded.clip_id, continue_at=5))
    assert refused.value.kind is ErrorKind.REJECTED
    take, _ = await made(sonic, SonicExtend(clip_id=uploaded.clip_id, continue_at=5, uploaded=True))
    cover, _ = await made(sonic, SonicCover(clip_id=uploaded.clip_id, tags="jazz", uploaded=True))
    await assert_real_files(http, take)
    await assert_real_files(http, cover)


async def test_a_persona_sings_a_new_song_until_the_service_retires_it(sonic: SonicClient, sandbox: Sandbox) -> None:
    parent = await song(sonic)
    persona_id = await sonic.save_persona(SavePersona(clip_id=parent.clip_id, name="Velvet"))
    await made(sonic, SonicCreate(tags="soul", lyrics="[Verse]\nSing it", persona_id=persona_id))
    sandbox.inject("retired", operation="persona")
    with pytest.raises(ProviderError) as gone:
        await sonic.save_persona(SavePersona(clip_id=parent.clip_id, name="Amber"))
    assert gone.value.kind is ErrorKind.RETIRED


async def test_stems_are_separate_wavs_named_for_their_voice(sonic: SonicClient, http: httpx.AsyncClient) -> None:
    parent = await song(sonic)
    for tool, expected in ((Tool.STEMS_BASIC, {"Vocals", "Instrumental"}), (Tool.STEMS_FULL, None)):
        task_id = await sonic.submit_tool(parent.clip_id, tool)

        async def finished(tool: Tool = tool, task_id: str = task_id) -> Any:
            [status] = await sonic.fetch_tool(tool, [task_id])
            return status if status.state.finished else None

        status = await until(finished, interval=0.05)
        assert status.state is TaskState.SUCCEEDED and status.result is not None
        names = {s.name for s in status.result.tracks}
        if expected is not None:
            assert names == expected
        else:
            assert {"Drums", "Bass"} <= names and len(names) >= 4
        for stem in status.result.tracks:
            data = (await http.get(stem.audio_url)).content
            assert (data[:4], data[8:12]) == WAV


async def test_every_tool_answered_at_once(sonic: SonicClient, http: httpx.AsyncClient) -> None:
    parent = await song(sonic)
    wav = await sonic.run_tool(parent.clip_id, Tool.WAV)
    assert isinstance(wav, WavFile) and (await http.get(wav.url)).content[:4] == b"RIFF"

    midi = await sonic.run_tool(parent.clip_id, Tool.MIDI)  # answers 202 first: asked again until ready
    assert isinstance(midi, Midi) and midi.url.endswith(".mid") and midi.instruments
    parsed = mido.MidiFile(file=io.BytesIO((await http.get(midi.url)).content))
    played = Counter(m.note for track in parsed.tracks for m in track if m.type == "note_on" and m.velocity > 0)
    listed = Counter(n.pitch for i in midi.instruments for n in i.notes)
    assert played == listed and sum(played.values()) > 10  # the file holds exactly the notes the answer lists

    bpm = await sonic.run_tool(parent.clip_id, Tool.BPM)
    assert isinstance(bpm, Bpm) and 40 < bpm.avg < 220 and bpm.min <= bpm.avg <= bpm.max

    timeline = await sonic.run_tool(parent.clip_id, Tool.LYRICS_TIMELINE)
    assert isinstance(timeline, LyricsAlignment) and not timeline.empty
    lines = parse_lrc(to_lrc(timeline, title="Harbour", length_s=parent.duration_s))
    assert [text for _, text in lines][:2] == ["Harbour lights are calling me home", "Salt wind on the window"]
    assert [t for t, _ in lines] == sorted(t for t, _ in lines) and lines[0][0] > 0

    vox = await sonic.run_tool(parent.clip_id, Tool.VOX)
    assert isinstance(vox, VoxClip) and vox.audio_url and (await http.get(vox.audio_url)).content[:4] == b"RIFF"

    richer = await sonic.run_tool(None, Tool.UPSAMPLE_TAGS, tags="lofi")
    assert isinstance(richer, UpsampledTags) and richer.tags.startswith("lofi") and len(richer.tags) > 10

    drafts = await sonic.draft_lyrics("a lighthouse")
    assert drafts and drafts[0].lyrics
    assert (await sonic.credits() or 0) > 0


async def test_the_sandbox_provider_routes_each_request_to_the_format_that_has_it(
    sandbox: Sandbox, http: httpx.AsyncClient
) -> None:
    client = SandboxClient(http, base_url=sandbox.base_url, api_key=KEY)
    # A Producer song, then Sonic's mashup and tools on it: one store of songs behind both formats.
    [first] = await made(client, CreateMusic(sound="folk", lyrics=WORDS, title="One"), takes=1)
    [second] = await made(client, CreateMusic(sound="funk", title="Two"), takes=1)
    mashup = await made(client, Mashup(clip_ids=(first.clip_id, second.clip_id)))
    assert all(c.audio_url for c in mashup)
    bpm = await client.run_tool(first.clip_id, Tool.BPM)
    assert isinstance(bpm, Bpm)
    persona = await client.save_persona(SavePersona(clip_id=first.clip_id, name="Folk Voice"))
    await made(client, SonicCreate(description="a ballad", persona_id=persona))
