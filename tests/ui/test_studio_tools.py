"""Studio tools on a track post (the built-in sandbox offers them all): the Tools menu and /music tools, what lands
in the track's thread and its bytes, the credits each moves, refusals that cost nothing, personas, a richer style,
and the confirmation asked before an expensive job."""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import mido
import pytest

from bot.app import build
from bot.domain.lyrics_timeline import parse_lrc, sung_text
from bot.sandbox import Sandbox
from tests.ui.conftest import Studio, running
from tests.ui.helpers import WAV, button_ids, defaults, files, menus, submit, track_id

TOOLS_MENU = [
    "Stems (vocals + instrumental)",
    "Stems (every instrument)",
    "WAV",
    "MIDI",
    "BPM",
    "Lyrics timeline",
    "Vocals excerpt",
]


@pytest.fixture
async def studio(tmp_path: Path) -> AsyncIterator[Studio]:
    """The sandbox's songs at their own length (20-30 s), so they have sung lines to time and notes to write."""
    async with running(tmp_path, clip_seconds=None) as world:
        yield world


async def song(studio: Studio, title: str = "Harbour", member: Any = None) -> Any:
    before = len(studio.track_posts())
    await (member or studio.ana).slash(studio.channel, "music create", prompt="sea shanty, accordion", title=title)
    return (await studio.wait_for_posts(before + 1))[-1]


async def answered(studio: Studio, result: Any) -> str:
    """The member's ephemeral answer once the tool is done (it is deferred while the tool runs)."""
    return str(await studio.until(lambda: result.response and result.response.content and result.response.content, 30))


def words(line: str) -> list[str]:
    """A line's words as sung (the timeline has no punctuation)."""
    return re.findall(r"[a-z0-9']+", sung_text(line).lower())


def thread_of(studio: Studio, post: Any) -> Any:
    return next(t for t in studio.channel.threads if t.id == post.id)


async def message_with(studio: Studio, post: Any, text: str) -> Any:
    return await studio.until(
        lambda: next((m for m in studio.messages(thread_of(studio, post)) if text in m.content), None), 30
    )


async def test_the_tools_menu_posts_midi_bpm_wav_and_vocals_in_the_tracks_thread(studio: Studio) -> None:
    post = await song(studio)
    number = track_id(post)
    assert menus(post)[f"tunesmith:tools:menu:{number}"] == TOOLS_MENU
    menu = f"tunesmith:tools:menu:{number}"

    midi = await studio.bo.select(post, ["midi"], custom_id=menu)
    assert midi.ephemeral
    answer = await answered(studio, midi)
    [thread] = studio.channel.threads  # opened on the post for the tool's file
    assert answer == f"🎹 MIDI: posted in <#{thread.id}> (1 credit)."
    message = await message_with(studio, post, "**MIDI** of *Harbour*")
    assert message.content.startswith(f"🎹 **MIDI** of *Harbour* for <@{studio.bo.id}>: ")
    [(name, data)] = (await files(message)).items()
    assert name == f"harbour-{number}.mid"
    parsed = mido.MidiFile(file=io.BytesIO(data))
    notes = [m for t in parsed.tracks for m in t if m.type == "note_on" and m.velocity > 0]
    said = re.search(r"(\d+) notes", message.content)
    assert said and len(notes) == int(said.group(1)) > 10  # the file holds the notes the post counts

    bpm = await studio.bo.select(post, ["bpm"], custom_id=menu)
    await answered(studio, bpm)
    tempo = await message_with(studio, post, "**BPM**")
    assert re.search(r"\*\*\d+ BPM\*\*", tempo.content) and tempo.attachments == []

    wav = await studio.bo.select(post, ["wav"], custom_id=menu)
    await answered(studio, wav)
    lossless = await message_with(studio, post, "**WAV**")
    assert (await files(lossless))[f"harbour-{number}.wav"].startswith(WAV)

    vox = await studio.ana.slash(studio.channel, "music tools vox", track=number, start=2.0)
    await answered(studio, vox)
    vocals = await message_with(studio, post, "**Vocals excerpt**")
    assert re.search(r"the vocals from 0:02 to 0:[23]\d$", vocals.content)  # at most 30 s, within the song
    assert (await files(vocals))[f"harbour-{number}-vocals.wav"].startswith(WAV)
    assert await studio.credits() == 1000 - 10 - 4  # the song, then four tools at 1 credit


async def test_the_lyrics_timeline_is_an_lrc_beside_the_song_and_free_the_second_time(studio: Studio) -> None:
    post = await song(studio)
    number = track_id(post)
    first = await studio.ana.slash(studio.channel, "music tools lyrics-timeline", track=number)
    assert (await answered(studio, first)).endswith("(1 credit).")
    message = await message_with(studio, post, "**Lyrics timeline**")
    attached = await files(message)
    # The song and its timeline in one message, named alike: players (and the playground) show it as karaoke.
    assert sorted(attached) == [f"harbour-{number}.lrc", f"harbour-{number}.wav"]
    assert attached[f"harbour-{number}.wav"].startswith(WAV)
    lrc = attached[f"harbour-{number}.lrc"].decode()
    assert lrc.startswith("[ti:Harbour]\n")
    lines = parse_lrc(lrc)
    track = await studio.app.services.library.track(studio.as_admin(), number)
    sung = [words(line) for line in (track.lyrics or "").splitlines() if sung_text(line)]
    # Every timed line is a line of the song's lyrics, in the order it is sung, within the song.
    assert len(lines) >= 2 and all(words(text) in sung for _, text in lines)
    assert all(0 < t < (track.duration_s or 0) for t, _ in lines)
    # Asked again (by anyone), it is answered from what the track keeps: no call, no credit.
    again = await studio.bo.select(post, ["lyrics_timeline"], custom_id=f"tunesmith:tools:menu:{number}")
    assert (await answered(studio, again)).endswith("(free: already known).")
    assert await studio.credits() == 1000 - 10 - 1


async def test_stems_are_posted_as_wavs_zipped_when_too_big_and_linked_when_even_the_zip_is(
    studio: Studio, monkeypatch: pytest.MonkeyPatch
) -> None:
    post = await song(studio)
    number = track_id(post)
    menu = f"tunesmith:tools:menu:{number}"
    started = await studio.bo.select(post, ["stems_basic"], custom_id=menu)
    assert "Started **stems (vocals + instrumental)** of *Harbour* for 20 credits" in started.response.content
    stems = await message_with(studio, post, ": Vocals, Instrumental")  # the status message, turned into the files
    attached = await files(stems)
    assert sorted(attached) == [f"harbour-{number}-instrumental.wav", f"harbour-{number}-vocals.wav"]
    assert all(data.startswith(WAV) for data in attached.values())
    together = sum(len(data) for data in attached.values())
    packed = io.BytesIO()
    with zipfile.ZipFile(packed, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in attached.items():
            archive.writestr(name, data)
    assert packed.tell() < together  # the vocals stem is mostly silence

    # Together over the server's limit, but not once zipped: one zip.
    limit = (packed.tell() + together) // 2
    monkeypatch.setattr(studio.app.bot.posts, "upload_limit", lambda guild_id: limit)
    await studio.bo.select(post, ["stems_basic"], custom_id=menu)

    def zip_post() -> Any:
        posted = studio.messages(thread_of(studio, post))
        return next((m for m in posted if [a.filename for a in m.attachments] == ["stems.zip"]), None)

    zipped = await studio.until(zip_post, 30)
    unpacked = zipfile.ZipFile(io.BytesIO((await files(zipped))["stems.zip"]))
    assert sorted(unpacked.namelist()) == sorted(attached)
    assert all(unpacked.read(name) == attached[name] for name in unpacked.namelist())

    # Even the zip too big: links instead.
    monkeypatch.setattr(studio.app.bot.posts, "upload_limit", lambda guild_id: 1000)
    await studio.bo.select(post, ["stems_basic"], custom_id=menu)
    linked = await message_with(studio, post, "Too large to attach here")
    assert linked.attachments == [] and "🔗 [" in linked.content and ".wav](http" in linked.content
    assert await studio.credits() == 1000 - 10 - 3 * 20


async def test_an_expensive_job_asks_first_and_cancel_or_confirm_is_kept(studio: Studio) -> None:
    post = await song(studio)
    number = track_id(post)
    asked = await studio.bo.select(post, ["stems_full"], custom_id=f"tunesmith:tools:menu:{number}")
    assert asked.ephemeral
    assert asked.response.content == (
        "**Stems (every instrument)**: this costs **50 credits** (you have 990 left). "
        "Confirm to start it; nothing is charged until you do."
    )
    yes, no = button_ids(asked.response)
    assert yes.startswith("tunesmith:confirm:yes:") and no.startswith("tunesmith:confirm:no:")
    cancelled = await studio.bo.click(asked.response, custom_id=no)
    assert cancelled.response.content == "Cancelled. Nothing was charged."
    assert await studio.credits() == 990 and studio.channel.threads == []

    asked = await studio.bo.slash(studio.channel, "music tools stems", track=number, every_instrument=True)
    yes, _ = button_ids(asked.response)
    started = await studio.bo.click(asked.response, custom_id=yes)
    assert "Started **stems (every instrument)** of *Harbour* for 50 credits" in started.response.content
    stems = await message_with(studio, post, ": Drums")
    names = sorted(await files(stems))
    assert f"harbour-{number}-drums.wav" in names and f"harbour-{number}-bass.wav" in names and len(names) >= 4
    assert await studio.credits() == 940
    again = await studio.bo.click(asked.response, custom_id=yes)
    assert "expired" in again.response.content and await studio.credits() == 940

    # A confirmation not answered in time expires (and after a restart, which forgets it, it says the same).
    asked = await studio.bo.slash(studio.channel, "music tools stems", track=number, every_instrument=True)
    yes, _ = button_ids(asked.response)
    studio.clock.shift(601)
    late = await studio.bo.click(asked.response, custom_id=yes)
    assert late.response.content == (
        "This confirmation expired (or was already used); run the command again. Nothing was charged."
    )
    assert await studio.credits() == 940

    # The threshold is the server's: at 5, even a song asks first.
    await studio.admin.slash(studio.channel, "studio settings", confirm_above=5)
    asked = await studio.ana.slash(studio.channel, "music create", prompt="jazz")
    assert asked.ephemeral and "this costs **10 credits**" in asked.response.content


async def test_a_richer_style_comes_with_a_button_that_composes_with_it(studio: Studio) -> None:
    asked = await studio.ana.slash(studio.channel, "music tools richer-style", style="lofi, rain")
    text = await answered(studio, asked)
    assert text.startswith("✨ A richer style (1 credit):\n>>> lofi, rain")
    [button] = button_ids(asked.response)
    assert button.startswith("tunesmith:style:create:")
    shown = await studio.ana.click(asked.response, custom_id=button)
    assert shown.modal is not None and shown.modal["title"] == "Compose a song"
    style = defaults(shown)["Style"]
    assert style.startswith("lofi, rain") and len(style) > len("lofi, rain")
    await submit(studio.ana, shown, Title="Rainy Window")
    [post] = await studio.wait_for_posts(1)
    assert post.embeds[0].title == "Rainy Window"
    assert await studio.credits() == 1000 - 1 - 10


async def test_a_persona_saved_from_a_post_sings_a_new_song(studio: Studio) -> None:
    post = await song(studio)
    number = track_id(post)
    shown = await studio.bo.select(post, ["persona"], custom_id=f"tunesmith:remix:menu:{number}")
    assert shown.modal is not None and shown.modal["title"] == "Persona from Harbour"
    saved = await submit(studio.bo, shown, **{"Name of the persona": "Velvet", "What the voice is like": "smoky"})
    assert await answered(studio, saved) == (
        "🎙️ Saved the persona **Velvet** (10 credits). Pick it with `/music create persona:` to have it sing a new song."
    )
    again = await studio.ana.slash(studio.channel, "music persona save", track=number, name="velvet")
    assert "already has a persona named “velvet”" in await answered(studio, again)
    choices = await studio.ana.autocomplete(studio.channel, "music create", "persona", "vel")
    assert [c["name"] for c in choices] == ["Velvet"]
    await studio.ana.slash(
        studio.channel, "music create", prompt="soul", title="Sung by Velvet", persona=choices[0]["value"]
    )
    sung = await studio.wait_for_posts(2)
    assert sung[-1].embeds[0].title == "Sung by Velvet"
    listed = await studio.ana.slash(studio.channel, "music persona list")
    assert "**Velvet** · saved by" in (listed.response.embeds[0].description or "")
    assert await studio.credits() == 1000 - 10 - 10 - 10


async def test_a_persona_the_provider_retired_is_refunded_and_no_longer_offered(studio: Studio) -> None:
    post = await song(studio)
    number = track_id(post)
    assert studio.app.sandbox is not None
    studio.app.sandbox.inject("retired", operation="persona")
    refused = await studio.ana.slash(studio.channel, "music persona save", track=number, name="Velvet")
    assert "retired" in (await answered(studio, refused)).lower()
    assert await studio.credits() == 990  # refunded
    shown = await studio.bo.slash(studio.channel, "music show", track=number)
    repost = studio.track_posts()[-1]
    assert "Save voice as persona" not in menus(repost)[f"tunesmith:remix:menu:{number}"]
    refused = await studio.ana.slash(studio.channel, "music persona save", track=number, name="Velvet")
    assert (await answered(studio, refused)).startswith("Save persona was retired by the music provider")
    assert shown is not None and await studio.credits() == 990
    # The provider brings it back, and an admin switches it back on (the operation autocompletes, retired first).
    studio.app.sandbox.clear_failures()
    choices = await studio.admin.autocomplete(studio.channel, "studio provider", "reinstate", "")
    assert choices[0] == {"name": "Save persona (persona)", "value": "persona"}
    back = await studio.admin.slash(studio.channel, "studio provider", reinstate="persona")
    assert back.response.content == "Save persona is switched back on."
    saved = await studio.ana.slash(studio.channel, "music persona save", track=number, name="Velvet")
    assert (await answered(studio, saved)).startswith("🎙️ Saved the persona **Velvet** (10 credits)")


async def test_a_tool_the_provider_lacks_is_refused_without_charge_and_fuzz_times_lyrics_for_free(
    tmp_path: Path,
) -> None:
    async with (
        Sandbox(render_seconds=0.3) as sandbox,
        running(
            tmp_path,
            provider="fuzz",
            fuzz_api_key="sandbox-key",
            fuzz_base_url=sandbox.fuzz_base_url,
            render_s=0.3,
            clip_seconds=None,
        ) as studio,
    ):
        # With lyrics (FUZZ sings nothing for a style alone): its songs come back with their words timed.
        shown = await studio.ana.slash(studio.channel, "music compose")
        lyrics = "[Verse]\nCity lights are calling me\nNeon rain on the avenue\n[Chorus]\nDance with me tonight"
        await submit(studio.ana, shown, Title="Two Takes", Style="city pop", Lyrics=lyrics)
        posts = await studio.wait_for_posts(2)
        assert await studio.credits() == 990
        number = track_id(posts[0])
        refused = await studio.bo.slash(studio.channel, "music tools midi", track=number)
        assert refused.ephemeral and (await answered(studio, refused)) == (
            "MIDI isn't offered by the current music provider (fuzz). Nothing was charged."
        )
        refused = await studio.bo.slash(studio.channel, "music tools stems", track=number)
        assert (
            refused.response.content
            == "Stems (vocals + instrumental) isn't offered by the current music provider (fuzz)."
        )
        # FUZZ's songs come with their lyrics timed: the menu offers only that, answered from the track, for free.
        assert menus(posts[0]) == {f"tunesmith:tools:menu:{number}": ["Lyrics timeline"]}
        timeline = await studio.bo.select(posts[0], ["lyrics_timeline"], custom_id=f"tunesmith:tools:menu:{number}")
        assert (await answered(studio, timeline)).endswith("(free: already known).")
        thread = next(t for t in studio.channel.threads if t.id == posts[0].id)
        message = await studio.until(lambda: studio.messages(thread) and studio.messages(thread)[-1])
        lrc = (await files(message))[f"two-takes-{number}.lrc"].decode()
        assert len(parse_lrc(lrc)) >= 2
        assert await studio.credits() == 990  # nothing moved


async def test_costs_of_every_operation_are_set_through_autocomplete(studio: Studio) -> None:
    choices = await studio.admin.autocomplete(studio.channel, "quota-admin costs", "operation", "stems")
    assert [c["value"] for c in choices] == ["stems_basic", "stems_full"]
    assert choices[1]["name"] == "Stems (every instrument) (stems_full)"
    everything = await studio.admin.autocomplete(studio.channel, "quota-admin costs", "operation", "")
    assert len(everything) == 24  # more than Discord's 25 fixed choices once a provider has every operation
    done = await studio.admin.slash(studio.channel, "quota-admin costs", operation="stems_full", cost=40)
    assert done.response.content == "Stems (every instrument) now costs 40 credits here."
    refused = await studio.admin.slash(studio.channel, "quota-admin costs", operation="teleport", cost=1)
    assert refused.response.content == "There is no operation called “teleport”; pick one from the list."
    quota = await studio.ana.slash(studio.channel, "quota")
    assert "Stems (every instrument): 40" in quota.response.embeds[0].fields[-1].value


async def test_lyrics_priced_above_the_threshold_ask_first_too(studio: Studio) -> None:
    await studio.admin.slash(studio.channel, "quota-admin costs", operation="lyrics", cost=25)
    asked = await studio.ana.slash(studio.channel, "music lyrics", idea="a lighthouse keeper")
    assert (await answered(studio, asked)).startswith("**Lyrics**: this costs **25 credits** (you have 1000 left).")
    assert await studio.credits() == 1000
    yes, _ = button_ids(asked.response)
    confirmed = await studio.ana.click(asked.response, custom_id=yes)
    drafts = await answered(studio, confirmed)
    assert drafts == "Lyrics for “a lighthouse keeper” (25 credits). Pick one to compose:"
    assert [b.split(":")[2] for b in button_ids(confirmed.response)] == ["compose", "compose"]
    assert await studio.credits() == 975


async def test_menus_work_after_a_restart_and_an_old_confirmation_says_it_expired(studio: Studio) -> None:
    post = await song(studio)
    number = track_id(post)
    asked = await studio.bo.select(post, ["stems_full"], custom_id=f"tunesmith:tools:menu:{number}")
    yes, _ = button_ids(asked.response)
    # A new process on the same database (and the same sandbox): what was held in memory is gone.
    await studio.app.core.runtime.stop()
    await studio.app.store.close()
    async with build(studio.app.settings, start_web=False, sandbox=studio.app.sandbox) as app:
        await app.core.runtime.start(app.notifier)
        await studio.env.restart_bot(app.bot)
        try:
            late = await studio.bo.click(asked.response, custom_id=yes)
            assert "This confirmation expired" in late.response.content
            bpm = await studio.bo.select(post, ["bpm"], custom_id=f"tunesmith:tools:menu:{number}")
            assert "BPM: posted in" in await answered(studio, bpm)
            shown = await studio.bo.select(post, ["remaster"], custom_id=f"tunesmith:remix:menu:{number}")
            assert shown.modal is not None and shown.modal["title"] == "Remaster: Harbour"
            quota = await app.services.credits.quota(studio.guild.id, studio.bo.id)
            assert quota.server_remaining == 1000 - 10 - 1
        finally:
            await app.core.runtime.stop()
