"""The real Tunesmith in the playground, end to end, acting as members through the page's API.

``bot.app.run`` is started exactly as ``make run`` starts it without a token: discord.py pointed at the
playground, logged in with its bot token, commands synced, the sandbox provider rendering real WAV and PNG files
that the bot uploads as multipart form data.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from bot.playground import Playground
from tests.playground.conftest import Acting
from tests.playground.tunesmith import RENDER_TIMEOUT, assert_track_post, create_track, settings_for, tunesmith_running


async def test_music_create_posts_the_track_with_its_audio(
    playground: Playground, acting_as: Acting, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    settings = settings_for(playground, tmp_path)
    async with tunesmith_running(settings, playground) as running, acting_as("ben") as ben:
        index = await ben.command_index()
        (music,) = [c for c in index["application_commands"] if c["name"] == "music"]
        assert {"create", "extend", "cover", "show", "history"} <= {o["name"] for o in music["options"]}
        # /studio needs Manage Server: Ben's command list does not offer it.
        assert "studio" not in {c["name"] for c in index["application_commands"]}

        studio = ben.channel_id("studio")
        post = await create_track(ben, running, studio, title="Wire")
        history = await ben.history(studio)
        assert [m["id"] for m in history if m["embeds"]] == [post.message["id"]]  # one post, the edited status

        # The track option autocompletes from the server's tracks, with the author's name (a member lookup by id
        # over the gateway, as the bot has no members intent).
        offered = await running.watch(
            ben.outcome(await ben.command("music extend", studio, {"track": "Wi"}, focused="track"))
        )
        assert offered.kind == "choices"
        assert [c["value"] for c in offered.data["choices"]] == [post.track_id]
        assert offered.data["choices"][0]["name"].startswith(f"#{post.track_id} Wire · Ben · ")

    problems = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert problems == [], [r.getMessage() for r in problems]
    assert playground.bot_token not in caplog.text  # the token is never logged


async def test_extend_button_opens_a_form_and_the_remix_lands_in_a_thread(
    playground: Playground, acting_as: Acting, tmp_path: Path
) -> None:
    settings = settings_for(playground, tmp_path)
    async with tunesmith_running(settings, playground) as running, acting_as("chloe") as chloe:
        studio = chloe.channel_id("studio")
        parent = await create_track(chloe, running, studio, title="Wire")

        mark = chloe.gateway.mark()
        opened = await running.watch(
            chloe.outcome(await chloe.click(parent.message, f"tunesmith:track:extend:{parent.track_id}"))
        )
        assert opened.kind == "modal" and opened.data["title"] == "Extend: Wire"
        submitted = await running.watch(chloe.outcome(await chloe.submit(opened.data, {"Title": "Wire, extended"})))
        assert submitted.kind == "success"

        thread = await running.watch(chloe.message(lambda t: True, event="THREAD_CREATE", since=mark))
        assert thread["name"] == "Remixes of Wire" and thread["id"] == parent.message["id"]
        reply = await running.watch(
            chloe.message(
                lambda m: m.get("interaction_metadata", {}).get("id") == submitted.data["id"] and bool(m["content"]),
                event="MESSAGE_UPDATE",
                since=mark,
            )
        )
        assert reply["flags"] & 64 and f"<#{thread['id']}>" in reply["content"]  # "your remix is in #…"
        status = await running.watch(chloe.message(lambda m: m["channel_id"] == thread["id"], since=mark))
        assert "Queued" in status["content"] and "Extend" in status["content"]
        remix = await running.watch(
            chloe.message(
                lambda m: m["id"] == status["id"] and bool(m["embeds"]),
                event="MESSAGE_UPDATE",
                since=mark,
                timeout=RENDER_TIMEOUT,
            )
        )
        child = await assert_track_post(remix, title="Wire, extended")
        assert child.track_id != parent.track_id
        assert "Extension of *Wire*" in remix["embeds"][0]["description"]
        # The channel got nothing new: the remix lives in the thread.
        assert [m["id"] for m in await chloe.history(studio) if m["embeds"]] == [parent.message["id"]]
        assert [m["id"] for m in await chloe.history(thread["id"])] == [status["id"]]
