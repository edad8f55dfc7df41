"""Every /music subcommand, as a member uses it: the options, the forms, the replies and what lands in the channel."""

from __future__ import annotations

import io
import wave
from typing import Any

import pytest
import simcord

from bot.domain.models import LYRICS_MAX, DraftedLyrics
from tests.ui.conftest import Studio
from tests.ui.helpers import WAV, button_ids, defaults, fields, files, form, submit, track_id


def wav_bytes(seconds: float = 0.5) -> bytes:
    """A small real WAV file, as a member would upload it."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(b"\x00\x10" * int(8000 * seconds))
    return buffer.getvalue()


def lineage(post: object) -> str:
    return (post.embeds[0].description or "").splitlines()[0]  # type: ignore[attr-defined]


async def make_track(studio: Studio, title: str = "Base", prompt: str = "indie rock") -> None:
    before = len(studio.track_posts())
    await studio.ana.slash(studio.channel, "music create", prompt=prompt, title=title)
    await studio.wait_for_posts(before + 1)


async def test_compose_opens_a_form_and_makes_a_song_from_its_lyrics(studio: Studio) -> None:
    shown = await studio.ana.slash(studio.channel, "music compose", model="fuzz-1.1", seed="5")
    assert shown.modal is not None and shown.modal["title"] == "Compose a song"
    inputs = form(shown)
    assert list(inputs) == ["Title", "Style", "Lyrics"]
    assert inputs["Lyrics"]["style"] == 2 and inputs["Style"]["required"] and inputs["Lyrics"]["required"]
    assert defaults(shown) == {}

    lyrics = "[Verse]\nHeave away, haul away\nThe tide is turning"
    result = await submit(studio.ana, shown, Title="Harbour", Style="sea shanty", Lyrics=lyrics)
    assert result.response is not None and not result.response.ephemeral
    assert "**Create** · “Harbour”" in result.response.content
    [post] = await studio.wait_for_posts(1)
    assert post.id == result.response.id
    embed = post.embeds[0]
    assert embed.title == "Harbour"
    assert fields(embed)["Lyrics"] == lyrics
    assert fields(embed)["Model"] == "FUZZ-1.1"  # the slash option travels through the form
    assert "**Style:** sea shanty" in (embed.description or "")

    # A form with instrumental on and lyrics is refused by our validation, ephemerally and for free.
    shown = await studio.ana.slash(studio.channel, "music compose", instrumental=True)
    refused = await submit(studio.ana, shown, Style="ambient", Lyrics="[Verse]\nwords")
    assert refused.ephemeral and "instrumental" in refused.response.content
    assert await studio.credits() == 990 and len(studio.messages()) == 1


async def test_remix_commands_start_at_once_into_the_remix_thread(studio: Studio) -> None:
    await make_track(studio)
    extend = await studio.ana.slash(studio.channel, "music extend", track=1, at=2.0, prompt="heavier drums")
    cover = await studio.bo.slash(studio.channel, "music cover", track=1, prompt="jazz trio", strength=0.5)
    [thread] = studio.channel.threads
    for result, verb in ((extend, "extend"), (cover, "cover")):
        assert result.ephemeral
        assert result.response.content == f"Started **{verb}** of *Base* for 10 credits. Follow it in <#{thread.id}>."
    await studio.wait_for_posts(2, thread)
    await studio.ana.slash(studio.channel, "music replace", track=1, start=1.0, end=3.0, prompt="choir")
    await studio.bo.slash(studio.channel, "music variation", track=1, model="FUZZ-1.0", seed="9")
    await studio.wait_for_posts(4, thread)
    await studio.ana.slash(studio.channel, "music swap-vocals", track=1, prompt="deep baritone")
    await studio.bo.slash(studio.channel, "music swap-sound", track=1, prompt="string quartet")
    posts = await studio.wait_for_posts(6, thread)

    by_label = {lineage(p).split(" *")[0]: p for p in posts}
    assert sorted(by_label) == sorted(
        ["Extension of", "Cover of", "New section in", "Variation of", "New vocals on", "New sound for"]
    )
    for post in posts:
        assert lineage(post).endswith(f"*Base* by <@{studio.ana.id}>")
        assert post.attachments and button_ids(post)[-1] == f"tunesmith:track:delete:{track_id(post)}"
    assert "**Style:** jazz trio" in (by_label["Cover of"].embeds[0].description or "")
    assert fields(by_label["Variation of"].embeds[0])["Model"] == "FUZZ-1.0"
    assert fields(by_label["New vocals on"].embeds[0])["Author"] == f"<@{studio.ana.id}>"
    assert len(studio.track_posts()) == 1 and len(studio.channel.threads) == 1
    assert await studio.credits() == 1000 - 7 * 10

    # Our validation answers what Discord's option ranges can't: a section must end after it starts.
    refused = await studio.ana.slash(studio.channel, "music replace", track=1, start=3.0, end=1.0)
    assert refused.ephemeral and "end after it starts" in refused.response.content
    assert await studio.credits() == 1000 - 7 * 10


async def test_remix_commands_with_lyrics_open_a_prefilled_form(studio: Studio) -> None:
    await make_track(studio)
    [original] = studio.track_posts()
    lyrics = fields(original.embeds[0])["Lyrics"].splitlines()[0]

    shown = await studio.bo.slash(studio.channel, "music extend", track=1, at=2.5, prompt="faster", lyrics=True)
    assert shown.modal["title"] == "Extend: Base"
    assert defaults(shown) == {"Continue from (seconds)": "2.5", "Style of the continuation": "faster"}

    shown = await studio.bo.slash(studio.channel, "music cover", track=1, strength=0.5, lyrics=True)
    assert shown.modal["title"] == "Cover: Base"
    prefilled = defaults(shown)
    assert prefilled["New style"] == "indie rock" and prefilled["Strength (0.2–1)"] == "0.5"
    assert prefilled["Lyrics"].startswith(lyrics) and prefilled["Title"] == "Base (Cover)"

    shown = await studio.bo.slash(studio.channel, "music swap-sound", track=1, prompt="brass band", lyrics=True)
    assert defaults(shown)["New arrangement"] == "brass band" and defaults(shown)["Lyrics"].startswith(lyrics)

    shown = await studio.bo.slash(studio.channel, "music replace", track=1, start=1.0, end=3.0, lyrics=True)
    assert defaults(shown)["Section start (seconds)"] == "1" and defaults(shown)["Section end (seconds)"] == "3"
    await submit(studio.bo, shown, Lyrics="[Bridge]\nA new middle")
    [thread] = studio.channel.threads

    shown = await studio.ana.slash(studio.channel, "music swap-vocals", track=1, prompt="soprano", lyrics=True)
    assert defaults(shown)["New voice"] == "soprano" and defaults(shown)["Lyrics"].startswith(lyrics)
    await submit(studio.ana, shown, Lyrics="[Verse]\nBrand new words")
    posts = await studio.wait_for_posts(2, thread)
    by_label = {lineage(p).split(" *")[0]: p for p in posts}
    assert fields(by_label["New section in"].embeds[0])["Author"] == f"<@{studio.bo.id}>"
    assert "Brand new words" in fields(by_label["New vocals on"].embeds[0])["Lyrics"]

    # A number that doesn't parse is a plain ephemeral error, and nothing is charged.
    shown = await studio.bo.click(original, custom_id="tunesmith:track:cover:1")
    refused = await submit(studio.bo, shown, **{"Strength (0.2–1)": "strong"})
    assert refused.ephemeral and refused.response.content == "Strength (0.2–1) must be a number, not “strong”."
    assert await studio.credits() == 1000 - 3 * 10


async def test_discord_enforces_option_ranges_and_our_validation_the_rest(studio: Studio) -> None:
    for options in (
        {"weirdness": 1.5},
        {"sound_strength": 0.1},
        {"lyrics_strength": -0.1},
        {"title": "x" * 81},
        {"seed": "9" * 65},
    ):
        with pytest.raises(simcord.OptionError):
            await studio.ana.slash(studio.channel, "music create", prompt="pop", **options)
    with pytest.raises(simcord.OptionError):
        await studio.ana.slash(studio.channel, "music create", prompt="p" * 1001)
    # Sonic takes styles up to 1000 characters, so Discord lets 200 through; the Producer's limit is the bot's.
    refused = await studio.ana.slash(studio.channel, "music create", prompt="p" * 200)
    assert refused.ephemeral and refused.response.content == "Style is too long (at most 199 characters)."
    with pytest.raises(simcord.OptionError):
        await studio.ana.slash(studio.channel, "music cover", track=1, strength=0.1)

    refused = await studio.ana.slash(studio.channel, "music create", prompt="pop", cover_url="not a link")
    assert refused.ephemeral and "http(s) link" in refused.response.content
    refused = await studio.ana.slash(studio.channel, "music create", prompt="pop", model="FUZZ-9")
    assert refused.ephemeral and "unknown model" in refused.response.content
    refused = await studio.ana.slash(studio.channel, "music extend", track=42)
    assert refused.ephemeral and refused.response.content == "There is no track #42 in this server."
    assert studio.messages() == [] and await studio.credits() == 1000


async def test_download_turns_the_status_message_into_the_file(studio: Studio) -> None:
    await make_track(studio, title="Base")
    result = await studio.bo.slash(studio.channel, "music download", track=1, format="wav")
    status = result.response
    assert not status.ephemeral and "**Download**" in status.content and "2 credits" in status.content
    done = await studio.until(lambda: [m for m in studio.messages() if m.id == status.id and m.attachments])
    message = done[0]
    assert message.content.startswith(f"⬇️ WAV of *Base* for <@{studio.bo.id}>: http")
    assert message.content.endswith(".wav")
    attached = await files(message)
    assert list(attached) == ["base-1.wav"] and attached["base-1.wav"].startswith(WAV)

    result = await studio.bo.slash(studio.channel, "music download", track=1)  # mp3 by default
    status = result.response
    done = await studio.until(lambda: [m for m in studio.messages() if m.id == status.id and m.attachments])
    # The sandbox only synthesises WAV, so its "mp3" link is a WAV file: the file is named after what it is.
    link = done[0].content.rsplit(": ", 1)[1]
    assert done[0].content.startswith(f"⬇️ MP3 of *Base* for <@{studio.bo.id}>: http")
    assert [a.filename for a in done[0].attachments] == ["base-1." + link.rsplit(".", 1)[1]]

    # The WAV button on a track post does the same.
    [post] = studio.track_posts()
    clicked = await studio.ana.click(post, custom_id="tunesmith:track:wav:1")
    assert "**Download**" in clicked.response.content
    await studio.until(lambda: [m for m in studio.messages() if m.id == clicked.response.id and m.attachments])
    assert await studio.credits() == 1000 - 10 - 3 * 2


async def test_lyrics_drafts_open_the_compose_form(studio: Studio) -> None:
    result = await studio.ana.slash(studio.channel, "music lyrics", idea="a lighthouse keeper")
    [drafts] = result.followups or [result.response]
    assert drafts.ephemeral
    assert drafts.content == "Lyrics for “a lighthouse keeper” (1 credit). Pick one to compose:"
    assert len(drafts.embeds) == 2 and all(e.description for e in drafts.embeds)
    assert button_ids(drafts) == ["tunesmith:lyrics:compose:1:0", "tunesmith:lyrics:compose:1:1"]
    assert await studio.credits() == 999

    shown = await studio.ana.click(drafts, custom_id="tunesmith:lyrics:compose:1:1")
    assert shown.modal["title"] == "Compose a song"
    draft = drafts.embeds[1]
    assert defaults(shown) == {"Title": draft.title, "Lyrics": draft.description}
    made = await submit(studio.ana, shown, Style="folk ballad")
    assert not made.ephemeral
    [post] = await studio.wait_for_posts(1)
    assert post.embeds[0].title == draft.title
    assert fields(post.embeds[0])["Lyrics"].splitlines()[0] == (draft.description or "").splitlines()[0]
    assert await studio.credits() == 989


async def test_a_long_draft_still_fits_the_compose_form(studio: Studio, monkeypatch: pytest.MonkeyPatch) -> None:
    long = "[Verse]\n" + "la " * 1200  # longer than the form's Lyrics field takes

    async def draft_lyrics(idea: str) -> list[DraftedLyrics]:
        return [DraftedLyrics(title="T" * 100, lyrics=long)]

    monkeypatch.setattr(studio.app.provider, "draft_lyrics", draft_lyrics)
    result = await studio.ana.slash(studio.channel, "music lyrics", idea="la la land")
    [drafts] = result.followups or [result.response]
    shown = await studio.ana.click(drafts, custom_id="tunesmith:lyrics:compose:1:0")
    inputs = form(shown)
    for label in ("Title", "Lyrics"):  # Discord refuses a pre-filled value longer than the field allows
        assert len(inputs[label]["value"]) <= inputs[label]["max_length"], label
    assert long.startswith(inputs["Lyrics"]["value"])
    made = await submit(studio.ana, shown, Style="chant")
    assert not made.ephemeral and "**Create**" in made.response.content


async def test_cancel_returns_the_credits_and_only_to_the_owner(studio: Studio) -> None:
    studio.app.sandbox.render_seconds = 60  # long enough to cancel
    started = await studio.ana.slash(studio.channel, "music create", prompt="slow drone", title="Forever")
    assert await studio.credits() == 990
    choices = await studio.ana.autocomplete(studio.channel, "music cancel", "job", "")
    assert [c["value"] for c in choices] == [1] and choices[0]["name"].startswith("#1 Create · ")
    assert await studio.bo.autocomplete(studio.channel, "music cancel", "job", "") == []

    refused = await studio.bo.slash(studio.channel, "music cancel", job=1)
    assert refused.ephemeral and refused.response.content == "You can only cancel your own jobs."
    assert await studio.credits() == 990

    done = await studio.ana.slash(studio.channel, "music cancel", job=1)
    assert done.ephemeral and done.response.content == "Cancelled job #1; 10 credits were returned."
    assert await studio.credits() == 1000
    status = await studio.until(
        lambda: [m for m in studio.messages() if m.id == started.response.id and "🚫" in m.content]
    )
    assert status[0].content.endswith("🚫 Cancelled. Your 10 credits were returned.")
    again = await studio.ana.slash(studio.channel, "music cancel", job=1)
    assert again.ephemeral and "already ended" in again.response.content
    assert studio.track_posts() == []


async def test_upload_brings_audio_in_and_refuses_other_files(studio: Studio) -> None:
    async def from_discord_cdn(url: str) -> bytes | None:
        return studio.env.backend.cdn.get(url)

    studio.app.sandbox.upload_resolver = from_discord_cdn
    audio = wav_bytes()
    refused = await studio.ana.slash(studio.channel, "music upload", file=("notes.txt", b"just text"))
    assert refused.ephemeral
    assert refused.response.content == "That file isn't audio. Upload an mp3, wav, m4a, ogg or flac file."
    assert studio.messages() == [] and await studio.credits() == 1000

    result = await studio.ana.slash(studio.channel, "music upload", file=("demo take.wav", audio), title="My Demo")
    assert not result.ephemeral and "**Upload** · “My Demo”" in result.response.content
    assert "2 credits" in result.response.content
    [post] = await studio.wait_for_posts(1)
    assert post.id == result.response.id and post.embeds[0].title == "My Demo"
    # The member's own bytes, as they came; an upload task has no cover art (providers.md), so none is attached.
    assert await files(post) == {"my-demo-1.wav": audio}
    assert post.embeds[0].image.url is None
    assert "tunesmith:track:extend:1" in button_ids(post)
    assert await studio.credits() == 998

    # Without a title the file's name is the title; an upload has no lyrics to sing over.
    await studio.bo.slash(studio.channel, "music upload", file=("riff.wav", audio))
    posts = await studio.wait_for_posts(2)
    assert posts[1].embeds[0].title == "riff"
    refused = await studio.bo.slash(studio.channel, "music swap-vocals", track=1, prompt="tenor")
    assert refused.ephemeral and "no lyrics to sing" in refused.response.content
    assert await studio.credits() == 996


async def long_lyrics_track(studio: Studio) -> Any:
    """A track whose lyrics are longer than a request may carry: an extension appends its lyrics to the parent's."""
    shown = await studio.ana.slash(studio.channel, "music compose")
    await submit(studio.ana, shown, Title="Epic", Style="prog rock", Lyrics="[Verse]\n" + "la la la\n" * 220)
    [post] = await studio.wait_for_posts(1)
    shown = await studio.ana.click(post, custom_id="tunesmith:track:extend:1")
    await submit(studio.ana, shown, **{"Lyrics for the new part": "[Verse 2]\n" + "na na na\n" * 150})
    [thread] = studio.channel.threads
    [extension] = await studio.wait_for_posts(1, thread)
    track = await studio.app.services.library.track(studio.as_admin(), 2)
    assert track.lyrics is not None and len(track.lyrics) > LYRICS_MAX
    return extension


async def test_swap_vocals_keeps_working_on_a_track_with_very_long_lyrics(studio: Studio) -> None:
    await long_lyrics_track(studio)
    started = await studio.bo.slash(studio.channel, "music swap-vocals", track=2, prompt="whisper")
    assert started.response.content.startswith("Started **swap vocals** of *Epic (Extended)*")


async def test_variation_keeps_working_on_a_track_with_very_long_lyrics(studio: Studio) -> None:
    extension = await long_lyrics_track(studio)
    shown = await studio.bo.click(extension, custom_id="tunesmith:track:variation:2")
    started = await submit(studio.bo, shown)
    # Pressed inside the remix thread, so the status message is posted right there.
    assert started.response.content == "Started **variation** of *Epic (Extended)* for 10 credits. Follow it here."
