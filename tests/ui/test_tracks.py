"""A song's life on Discord: the track post, remixes through its buttons into a thread, and browsing tracks."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.ui.conftest import Studio, running
from tests.ui.helpers import PNG, WAV, button_ids, defaults, fields, files, submit

TRACK_BUTTONS = ["extend", "cover", "variation", "swap_vocals", "swap_sound", "replace", "wav", "delete"]


def track_buttons(track: int) -> list[str]:
    return [f"tunesmith:track:{action}:{track}" for action in TRACK_BUTTONS]


@pytest.fixture
async def studio(tmp_path: Path) -> AsyncIterator[Studio]:
    """Tracks here are the sandbox's songs at their own length (20-30 s): forms start at a track's end, and a
    big file is linked instead of attached."""
    async with running(tmp_path, clip_seconds=None) as world:
        yield world


async def test_create_edits_the_status_message_into_the_track_post(studio: Studio) -> None:
    result = await studio.ana.slash(
        studio.channel,
        "music create",
        prompt="lofi beats, rainy night",
        title="Night Drive",
        model="FUZZ-2.0 Pro",
        seed="42",
        lyrics_strength=0.5,
        sound_strength=0.6,
        weirdness=0.3,
    )
    status = result.response
    assert status is not None and not status.ephemeral
    assert f"<@{studio.ana.id}>" in status.content and "**Create**" in status.content
    assert "“Night Drive”" in status.content and "job #1" in status.content
    assert "Queued" in status.content and "10 credits" in status.content

    [post] = await studio.wait_for_posts(1)
    assert post.id == status.id  # the status message became the post: no second message
    assert len(studio.messages()) == 1
    assert post.content == ""
    embed = post.embeds[0]
    assert embed.title == "Night Drive"
    assert "**Style:** lofi beats, rainy night" in (embed.description or "")
    assert fields(embed)["Author"] == f"<@{studio.ana.id}>"
    assert fields(embed)["Model"] == "FUZZ-2.0 Pro"
    minutes, _, seconds = fields(embed)["Duration"].partition(":")
    assert minutes == "0" and 20 <= int(seconds) <= 30  # the sandbox's songs run 20-30 s
    assert fields(embed)["Lyrics"]  # the sandbox writes lyrics for a style-only song
    assert embed.footer.text == "Track #1 · sandbox"
    assert embed.image.url == "attachment://cover-1.png"
    attached = await files(post)
    assert sorted(attached) == ["cover-1.png", "night-drive-1.wav"]
    assert attached["night-drive-1.wav"].startswith(WAV)
    assert attached["cover-1.png"].startswith(PNG)
    assert button_ids(post) == track_buttons(1)
    assert await studio.credits() == 990


async def test_remixes_through_buttons_gather_in_one_thread_on_the_original(studio: Studio) -> None:
    await studio.ana.slash(studio.channel, "music create", prompt="synthwave, neon", title="Starry Night")
    [original] = await studio.wait_for_posts(1)
    lyrics = fields(original.embeds[0])["Lyrics"]

    # Cover: the form starts from the track, so bo only changes the style.
    shown = await studio.bo.click(original, custom_id="tunesmith:track:cover:1")
    assert shown.modal is not None and shown.modal["title"] == "Cover: Starry Night"
    prefilled = defaults(shown)
    assert prefilled["New style"] == "synthwave, neon"
    assert prefilled["Title"] == "Starry Night (Cover)"
    assert prefilled["Lyrics"].startswith(lyrics.splitlines()[0])
    assert "Strength (0.2–1)" not in prefilled
    started = await submit(studio.bo, shown, **{"New style": "acoustic folk"})
    assert started.response is not None and started.response.ephemeral

    [thread] = studio.channel.threads
    assert thread.id == original.id  # opened on the original post
    assert thread.name == "Remixes of Starry Night"
    assert started.response.content == (
        f"Started **cover** of *Starry Night* for 10 credits. Follow it in <#{thread.id}>."
    )
    [cover] = await studio.wait_for_posts(1, thread)
    embed = cover.embeds[0]
    assert embed.title == "Starry Night (Cover)"
    assert (embed.description or "").startswith(f"Cover of *Starry Night* by <@{studio.ana.id}>")
    assert "**Style:** acoustic folk" in (embed.description or "")
    assert fields(embed)["Author"] == f"<@{studio.bo.id}>"
    assert sorted(await files(cover)) == ["cover-2.png", "starry-night-cover-2.wav"]
    assert button_ids(cover) == track_buttons(2)

    # Extend, from the original again: the form continues from the end, and the result joins the same thread.
    shown = await studio.ana.click(original, custom_id="tunesmith:track:extend:1")
    prefilled = defaults(shown)
    assert 20 <= float(prefilled.pop("Continue from (seconds)")) <= 30  # the end of the song
    assert prefilled == {"Style of the continuation": "synthwave, neon"}
    await submit(studio.ana, shown, **{"Lyrics for the new part": "[Bridge]\nStill the stars"})
    posts = await studio.wait_for_posts(2, thread)
    assert (posts[1].embeds[0].description or "").startswith(f"Extension of *Starry Night* by <@{studio.ana.id}>")

    # A remix of a remix stays in that thread: no threads inside threads.
    shown = await studio.bo.click(cover, custom_id="tunesmith:track:variation:2")
    assert defaults(shown) == {}
    await submit(studio.bo, shown, Seed="7")
    posts = await studio.wait_for_posts(3, thread)
    assert (posts[2].embeds[0].description or "").startswith(
        f"Variation of *Starry Night (Cover)* by <@{studio.bo.id}>"
    )
    assert len(studio.channel.threads) == 1
    assert len(studio.track_posts()) == 1  # the channel keeps only the original
    assert await studio.credits() == 1000 - 4 * 10

    # /music tree: where a track came from and what came of it.
    tree = await studio.bo.slash(studio.channel, "music tree", track=1)
    text = tree.response.embeds[0].description or ""
    assert tree.response.embeds[0].title == "Lineage of Starry Night"
    assert "**`#1` Starry Night**" in text
    assert "`#2` Starry Night (Cover) · Cover" in text and "`#3` Starry Night (Extended) · Extend" in text
    tree = await studio.bo.slash(studio.channel, "music tree", track=4)
    lines = (tree.response.embeds[0].description or "").splitlines()
    assert "`#1` Starry Night" in lines[0] and "`#2` Starry Night (Cover)" in lines[1] and "**`#4`" in lines[2]
    assert "(no remixes yet)" in lines[3]


async def test_show_reposts_a_track_whose_buttons_all_open_their_forms(studio: Studio) -> None:
    await studio.ana.slash(studio.channel, "music create", prompt="dream pop", title="Glass")
    await studio.wait_for_posts(1)
    shown = await studio.bo.slash(studio.channel, "music show", track=1)
    posts = studio.track_posts()
    assert len(posts) == 2 and not shown.ephemeral
    repost = posts[1]
    assert repost.embeds[0].title == "Glass" and repost.embeds[0].image.url == "attachment://cover-1.png"
    attached = await files(repost)
    assert attached["glass-1.wav"].startswith(WAV) and attached["cover-1.png"].startswith(PNG)
    assert button_ids(repost) == track_buttons(1)

    # Every remix button opens its form, pre-filled from the track.
    lyrics = fields(repost.embeds[0])["Lyrics"].splitlines()[0]
    forms = {}
    for action in ("extend", "cover", "variation", "swap_vocals", "swap_sound", "replace"):
        forms[action] = await studio.bo.click(repost, custom_id=f"tunesmith:track:{action}:1")
        assert forms[action].modal is not None, action
    titles = {action: opened.modal["title"] for action, opened in forms.items()}
    assert titles == {
        "extend": "Extend: Glass",
        "cover": "Cover: Glass",
        "variation": "Variation: Glass",
        "swap_vocals": "Swap vocals: Glass",
        "swap_sound": "Swap sound: Glass",
        "replace": "Replace section: Glass",
    }
    extend_form = defaults(forms["extend"])
    assert 20 <= float(extend_form.pop("Continue from (seconds)")) <= 30
    assert extend_form == {"Style of the continuation": "dream pop"}
    assert defaults(forms["cover"])["New style"] == "dream pop" and defaults(forms["cover"])["Title"] == "Glass (Cover)"
    assert defaults(forms["variation"]) == {}
    assert defaults(forms["swap_vocals"])["New voice"] == "dream pop"
    assert defaults(forms["swap_vocals"])["Lyrics"].startswith(lyrics)
    assert defaults(forms["swap_sound"])["New arrangement"] == "dream pop"
    replace = defaults(forms["replace"])
    assert (replace["Section start (seconds)"], replace["Style"]) == ("0", "dream pop")
    assert replace["Lyrics"].startswith(lyrics)

    await submit(studio.bo, forms["replace"], **{"Section start (seconds)": "1", "Section end (seconds)": "2.5"})
    await submit(studio.bo, forms["swap_vocals"], **{"New voice": "falsetto"})
    [thread] = studio.channel.threads
    assert thread.id == posts[0].id  # the remix thread hangs off the original post, not the repost
    remixes = await studio.wait_for_posts(2, thread)
    assert sorted((p.embeds[0].description or "").split(" *")[0] for p in remixes) == [
        "New section in",
        "New vocals on",
    ]

    missing = await studio.bo.slash(studio.channel, "music show", track=99)
    assert missing.ephemeral and missing.response.content == "There is no track #99 in this server."


async def test_history_and_autocomplete(studio: Studio) -> None:
    # Paging through more than one page (ten tracks a page) is in tests/ui/test_what_members_see.py.
    # One after the other, so track numbers and ages follow the order they were made in.
    for number, (member, prompt, title) in enumerate(
        [
            (studio.ana, "ambient", "First Light"),
            (studio.ana, "drum and bass", "Night Bus"),
            (studio.bo, "bossa nova", "Night Swim"),
        ],
        start=1,
    ):
        await member.slash(studio.channel, "music create", prompt=prompt, title=title)
        await studio.wait_for_posts(number)

    page = await studio.bo.slash(studio.channel, "music history")
    message = page.response
    assert message is not None and not message.ephemeral
    embed = message.embeds[0]
    assert embed.title == "Recent tracks · this server" and embed.footer.text == "Page 1 of 1"
    titles = [line.split("**")[1] for line in (embed.description or "").splitlines()]
    assert titles == ["Night Swim", "Night Bus", "First Light"]
    assert button_ids(message) == ["tunesmith:history:newer:0:0", "tunesmith:history:older:0:0"]
    assert [c["disabled"] for c in message.components[0]["components"]] == [True, True]  # one page: no paging

    mine = await studio.bo.slash(studio.channel, "music history", member=studio.ana)
    embed = mine.response.embeds[0]
    assert embed.title == f"Recent tracks · <@{studio.ana.id}>" and "Night Swim" not in (embed.description or "")

    choices = await studio.bo.autocomplete(studio.channel, "music extend", "track", "night")
    assert [c["value"] for c in choices] == [3, 2]
    assert choices[0]["name"] == "#3 Night Swim · bo · just now"
    assert choices[1]["name"] == "#2 Night Bus · ana · just now"
    everything = await studio.bo.autocomplete(studio.channel, "music cover", "track", "")
    assert [c["value"] for c in everything] == [3, 2, 1]

    models = await studio.bo.autocomplete(studio.channel, "music create", "model", "pro")
    assert [c["name"] for c in models] == ["FUZZ-2.0 Pro", "FUZZ-1.1 Pro", "FUZZ-1.0 Pro"]
    assert all(c["name"] == c["value"] for c in models)
    assert len(await studio.bo.autocomplete(studio.channel, "music variation", "model", "")) == 10


async def test_audio_too_large_for_the_server_is_linked_instead(
    studio: Studio, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(studio.app.bot.posts, "upload_limit", lambda guild_id: 100_000)  # a WAV here is ~176 kB
    await studio.ana.slash(studio.channel, "music create", prompt="noise", title="Huge")
    [post] = await studio.wait_for_posts(1)
    description = post.embeds[0].description or ""
    assert "🔗 [Download the audio](http" in description and "(too large to attach here)" in description
    attached = await files(post)
    assert list(attached) == ["cover-1.png"] and attached["cover-1.png"].startswith(PNG)
    assert post.embeds[0].image.url == "attachment://cover-1.png"
