"""What a member sees that no other test checked: each test drives the bot through Discord (SimCord, the sandbox
over loopback) and asserts on the messages, files, credits and texts a member reads. docs/testing.md lists them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import discord
import httpx

from bot.app import build
from tests.ui.conftest import Studio, running
from tests.ui.helpers import button_ids, fields, submit


class Sent:
    """The JSON bodies the bot sent to the provider, by path (read off the bot's own HTTP client, on the wire)."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.bodies: list[tuple[str, dict[str, Any]]] = []
        http.event_hooks["request"].append(self._record)

    async def _record(self, request: httpx.Request) -> None:
        if request.method == "POST" and request.content:
            self.bodies.append((request.url.path, json.loads(request.content)))

    def to(self, suffix: str) -> list[dict[str, Any]]:
        return [body for path, body in self.bodies if path.endswith(suffix)]


def status_of(studio: Studio, message_id: int, channel: Any = None) -> str:
    return next(m.content for m in studio.messages(channel) if m.id == message_id)


async def test_create_s_options_reach_the_provider_and_an_instrumental_post_has_no_lyrics(studio: Studio) -> None:
    sent = Sent(studio.app.http)
    await studio.ana.slash(
        studio.channel,
        "music create",
        prompt="ambient piano",
        title="Still Water",
        instrumental=True,
        seed="4242",
        lyrics_strength=0.4,
        sound_strength=0.7,
        weirdness=0.9,
        cover_url="https://example.com/art.png",
    )
    [post] = await studio.wait_for_posts(1)
    [body] = sent.to("/producer/create")
    assert body["seed"] == "4242"
    assert (body["lyrics_strength"], body["sound_strength"], body["weirdness"]) == (0.4, 0.7, 0.9)
    assert body["make_instrumental"] is True and body.get("lyrics") is None
    assert body["cover_url"] == "https://example.com/art.png"
    assert body["sound"] == "ambient piano" and body["title"] == "Still Water"
    # The post of an instrumental has no Lyrics field (the provider's "[Instrumental]" is not shown as lyrics).
    embed = post.embeds[0]
    assert embed.title == "Still Water"
    assert "Lyrics" not in fields(embed) and "Model" in fields(embed)

    # Without those options nothing is sent for them: the provider's defaults apply.
    await studio.ana.slash(studio.channel, "music create", prompt="ambient piano", title="Plain")
    await studio.wait_for_posts(2)
    plain = sent.to("/producer/create")[1]
    for option in ("seed", "lyrics_strength", "sound_strength", "weirdness", "cover_url"):
        assert plain.get(option) is None, option
    assert plain["make_instrumental"] is False


async def test_a_post_shows_the_first_eight_lines_of_the_lyrics(studio: Studio) -> None:
    lyrics = "\n".join(f"line number {n}" for n in range(1, 13))
    shown = await studio.ana.slash(studio.channel, "music compose")
    await submit(studio.ana, shown, Title="Twelve", Style="folk", Lyrics=lyrics)
    [post] = await studio.wait_for_posts(1)
    assert fields(post.embeds[0])["Lyrics"].splitlines() == [f"line number {n}" for n in range(1, 9)]


async def test_an_upload_over_20_mib_is_refused_for_free(studio: Studio) -> None:
    too_big = b"RIFF" + bytes(21 * 1024 * 1024)
    refused = await studio.ana.slash(studio.channel, "music upload", file=("live set.wav", too_big))
    assert refused.ephemeral
    assert refused.response.content == "That file is 21.0 MiB; the limit is 20 MiB."
    assert studio.messages() == [] and await studio.credits() == 1000


async def test_a_failed_lyrics_draft_is_explained_and_refunded(studio: Studio) -> None:
    studio.app.sandbox.inject("retired", operation="lyrics", message="Lyrics are gone.")
    retired = await studio.ana.slash(studio.channel, "music lyrics", idea="a lighthouse keeper")
    [answer] = retired.followups or [retired.response]
    assert answer.ephemeral and answer.content == "This operation was retired by the provider."
    assert await studio.credits() == 1000
    studio.app.sandbox.clear_failures()

    studio.app.sandbox.inject("server_error", count=50)
    down = await studio.ana.slash(studio.channel, "music lyrics", idea="a lighthouse keeper")
    [answer] = down.followups or [down.response]
    assert answer.ephemeral and answer.content == "The music provider is unavailable right now."
    assert not answer.components  # no Compose buttons for drafts that never came
    assert await studio.credits() == 1000
    studio.app.sandbox.clear_failures()

    # The next draft works and is charged once.
    fine = await studio.ana.slash(studio.channel, "music lyrics", idea="a lighthouse keeper")
    [drafts] = fine.followups or [fine.response]
    assert drafts.content.startswith("Lyrics for “a lighthouse keeper” (1 credit)")
    assert await studio.credits() == 999


async def test_cancelling_a_job_that_is_still_in_line(tmp_path: Path) -> None:
    async with running(tmp_path, provider_concurrency=1) as studio:
        studio.app.sandbox.render_seconds = 60  # the first job holds the provider's only slot
        await studio.ana.slash(studio.channel, "music create", prompt="slow drone", title="First")
        await studio.until(lambda: studio.app.sandbox.stats.submits == 1)  # the first job has the slot
        waiting = await studio.bo.slash(studio.channel, "music create", prompt="bossa nova", title="Second")
        assert "⏳ Queued · #1 in line · 10 credits" in waiting.response.content
        job = await studio.app.store.job(2)
        assert job is not None and job.task_id is None  # never sent to the provider

        done = await studio.bo.slash(studio.channel, "music cancel", job=2)
        assert done.ephemeral and done.response.content == "Cancelled job #2; 10 credits were returned."
        text = await studio.until(lambda: "🚫" in (t := status_of(studio, waiting.response.id)) and t)
        assert text.endswith("🚫 Cancelled. Your 10 credits were returned.")
        assert await studio.credits(studio.bo) == 990  # only ana's first job is still paid for
        assert studio.app.sandbox.stats.submits == 1  # the cancelled job never reached the provider


async def test_track_autocomplete_says_how_old_each_track_is(studio: Studio) -> None:
    ages = [(3 * 86400 + 60, "3d ago"), (5 * 3600, "5h ago"), (12 * 60, "12m ago"), (0, "just now")]
    for number, (ago, _) in enumerate(ages, start=1):
        studio.clock.shift(-ago)  # the track is stamped by the bot's clock, as if made that long ago
        await studio.ana.slash(studio.channel, "music create", prompt="lofi", title=f"Song {number}")
        await studio.wait_for_posts(number)
        studio.clock.shift(ago)
    choices = await studio.bo.autocomplete(studio.channel, "music extend", "track", "song")
    names = {c["value"]: c["name"] for c in choices}
    for number, (_, age) in enumerate(ages, start=1):
        assert names[number] == f"#{number} Song {number} · ana · {age}"


async def test_a_server_with_its_limit_of_jobs_in_flight_refuses_the_next(tmp_path: Path) -> None:
    async with running(tmp_path, max_jobs_per_server=2) as studio:
        studio.app.sandbox.render_seconds = 60
        await studio.ana.slash(studio.channel, "music create", prompt="one")
        await studio.bo.slash(studio.channel, "music create", prompt="two")
        refused = await studio.admin.slash(studio.channel, "music create", prompt="three")
        assert refused.ephemeral
        assert refused.response.content == (
            "This server already has 2 songs in the works (the limit is 2). Try again in a minute."
        )
        assert len(studio.messages()) == 2 and await studio.credits() == 980


async def test_a_remix_is_posted_in_the_channel_when_its_thread_can_t_be_opened(studio: Studio) -> None:
    await studio.ana.slash(studio.channel, "music create", prompt="synthwave", title="Neon")
    await studio.wait_for_posts(1)
    studio.env.inject_error("POST", "/channels/*/messages/*/threads", status=403, code=50001, message="Missing Access")
    started = await studio.bo.slash(studio.channel, "music variation", track=1)
    [answer] = started.followups or [started.response]
    assert "Follow it here." in answer.content
    posts = await studio.wait_for_posts(2)
    assert studio.channel.threads == []
    assert (posts[1].embeds[0].description or "").startswith(f"Variation of *Neon* by <@{studio.ana.id}>")
    assert await studio.credits() == 980


async def test_a_job_whose_status_message_can_t_be_posted_could_not_start_and_is_refunded(studio: Studio) -> None:
    studio.expected_errors = (discord.HTTPException,)  # the injected failure, which the error handler logs
    await studio.ana.slash(studio.channel, "music create", prompt="synthwave", title="Neon")
    await studio.wait_for_posts(1)
    # The status message goes into the remix thread, then answering the member fails.
    studio.env.inject_error("PATCH", "/webhooks/*/*/messages/@original", status=500)
    await studio.bo.slash(studio.channel, "music variation", track=1)
    [thread] = studio.channel.threads
    status = await studio.until(lambda: [m for m in studio.messages(thread) if "Could not start" in m.content])
    assert status[0].content.endswith("🚫 Could not start. Your 10 credits were returned.")
    assert await studio.credits() == 990  # only the first song is paid for
    job = await studio.app.store.job(2)
    assert job is not None and job.state.value == "cancelled"


async def test_account_credit_and_timeout_failures_in_plain_words(tmp_path: Path) -> None:
    async with running(tmp_path, job_deadline=120.0) as studio:
        studio.app.sandbox.inject("credits")
        first = await studio.ana.slash(studio.channel, "music create", prompt="lofi", title="Broke")
        text = await studio.until(lambda: "❌" in (t := status_of(studio, first.response.id)) and t)
        assert text.endswith(
            "❌ The music provider refused the bot's account; an admin has to fix it. Your 10 credits were returned."
        )
        studio.app.sandbox.render_seconds = 600  # far past the deadline
        second = await studio.ana.slash(studio.channel, "music create", prompt="lofi", title="Slow")

        async def submitted() -> bool:
            job = await studio.app.store.job(2)
            return job is not None and job.task_id is not None

        await studio.until(submitted)
        studio.clock.shift(121.0)  # the bot's clock passes the 2-minute deadline; the provider is still rendering
        text = await studio.until(lambda: "❌" in (t := status_of(studio, second.response.id)) and t)
        assert text.endswith(
            "❌ The music provider did not finish within 2 minutes, so the job was given up. "
            "Your 10 credits were returned."
        )
        assert await studio.credits() == 1000


async def test_history_s_last_page_and_lyrics_compose_buttons_after_a_restart(studio: Studio) -> None:
    for number in range(1, 12):  # eleven tracks: a full first page of ten and a last page of one
        await studio.ana.slash(studio.channel, "music create", prompt="lofi", title=f"Track {number}")
        await studio.wait_for_posts(number)
    history = (await studio.bo.slash(studio.channel, "music history")).response
    assert history.embeds[0].footer.text == "Page 1 of 2"
    titles = [line.split("**")[1] for line in (history.embeds[0].description or "").splitlines()]
    assert titles == [f"Track {n}" for n in range(11, 1, -1)]  # newest first, ten to a page
    assert button_ids(history) == ["tunesmith:history:newer:0:0", "tunesmith:history:older:0:1"]
    assert [c["disabled"] for c in history.components[0]["components"]] == [True, False]  # nothing newer
    result = await studio.ana.slash(studio.channel, "music lyrics", idea="a lighthouse keeper")
    [drafts] = result.followups or [result.response]
    assert button_ids(drafts) == ["tunesmith:lyrics:compose:12:0", "tunesmith:lyrics:compose:12:1"]

    await studio.app.core.runtime.stop()
    await studio.app.store.close()
    async with build(studio.app.settings, start_web=False, sandbox=studio.app.sandbox) as app:
        await app.core.runtime.start(app.notifier)
        await studio.env.restart_bot(app.bot)
        try:
            # History's buttons from before the restart: the last page, and nothing older than it.
            last = await studio.bo.click(history, custom_id="tunesmith:history:older:0:1")
            embed = last.response.embeds[0]
            assert embed.footer.text == "Page 2 of 2"
            assert [line.split("**")[1] for line in (embed.description or "").splitlines()] == ["Track 1"]
            assert [c["disabled"] for row in last.response.components for c in row["components"]] == [False, True]
            back = await studio.bo.click(last.response, custom_id="tunesmith:history:newer:0:0")
            assert back.response.embeds[0].footer.text == "Page 1 of 2"

            # The lyrics drafts' Compose button from before the restart opens the form, and the song is made.
            shown = await studio.ana.click(drafts, custom_id="tunesmith:lyrics:compose:12:0")
            assert shown.modal is not None and shown.modal["title"] == "Compose a song"
            assert (await submit(studio.ana, shown, Style="sea shanty")).ephemeral is False
            posts = await studio.wait_for_posts(12)
            assert posts[-1].embeds[0].title == drafts.embeds[0].title
        finally:
            await app.core.runtime.stop()
