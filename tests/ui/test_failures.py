"""When things go wrong: the provider refuses or retires an operation, or the bot itself has a bug."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from tests.ui.conftest import Studio
from tests.ui.helpers import button_ids, reference_of, submit


def message_with(studio: Studio, message_id: int, text: str, channel: Any = None) -> Any:
    return next((m for m in studio.messages(channel) if m.id == message_id and text in m.content), None)


async def test_a_provider_moderation_failure_shows_its_reason_and_returns_the_credits(studio: Studio) -> None:
    reason = "The lyrics contain copyrighted content: 'x'"
    studio.app.sandbox.inject("moderation", message=reason)
    started = await studio.ana.slash(studio.channel, "music create", prompt="pop", title="Borrowed")
    status = started.response
    failed = await studio.until(lambda: message_with(studio, status.id, "❌"))
    assert failed.content == (
        f"🎵 <@{studio.ana.id}> · **Create** · “Borrowed” · job #1\n"
        f"❌ The provider's content filter refused this: {reason} Your 10 credits were returned."
    )
    assert failed.embeds == [] and failed.components == [] and failed.attachments == []
    assert len(studio.messages()) == 1 and studio.track_posts() == []
    assert await studio.credits() == 1000


async def test_a_retired_operation_is_switched_off(studio: Studio) -> None:
    await studio.ana.slash(studio.channel, "music create", prompt="synthpop", title="Old Song")
    [old_post] = await studio.wait_for_posts(1)
    assert "tunesmith:track:cover:1" in button_ids(old_post)

    studio.app.sandbox.inject("retired", operation="cover")
    shown = await studio.bo.click(old_post, custom_id="tunesmith:track:cover:1")
    started = await submit(studio.bo, shown, **{"New style": "bluegrass"})
    [thread] = studio.channel.threads
    status = await studio.until(lambda: [m for m in studio.messages(thread) if "❌" in m.content])
    assert status[0].content.endswith(
        "❌ This operation was retired by the provider, so it's switched off for now. Your 10 credits were returned."
    )
    assert started.ephemeral and await studio.credits() == 990

    # From now on: no Cover button on new posts, and asking for a cover is refused for free.
    await studio.ana.slash(studio.channel, "music create", prompt="synthpop", title="New Song")
    posts = await studio.wait_for_posts(2)
    new_ids = button_ids(posts[1])
    assert "tunesmith:track:cover:2" not in new_ids  # the failed cover made no track: this is track 2
    assert new_ids[:2] == ["tunesmith:track:extend:2", "tunesmith:track:variation:2"]
    retired = "Cover was retired by the music provider, so it's switched off for now. Nothing was charged."
    for result in (
        await studio.bo.slash(studio.channel, "music cover", track=1, prompt="bluegrass"),
        await studio.bo.slash(studio.channel, "music cover", track=1, lyrics=True),
        await studio.bo.click(old_post, custom_id="tunesmith:track:cover:1"),  # the old post still has one
    ):
        assert result.ephemeral and result.modal is None
        assert result.response.content == retired
    assert await studio.credits() == 980
    # Other operations are unaffected.
    shown = await studio.bo.click(posts[1], custom_id="tunesmith:track:variation:2")
    await submit(studio.bo, shown)
    [remixes] = [t for t in studio.channel.threads if t.id == posts[1].id]
    [variation] = await studio.wait_for_posts(1, remixes)
    assert (variation.embeds[0].description or "").startswith("Variation of *New Song*")
    assert await studio.credits() == 970


async def test_an_unexpected_error_shows_a_reference_that_is_in_the_log(
    studio: Studio, caplog: pytest.LogCaptureFixture
) -> None:
    await studio.ana.slash(studio.channel, "music create", prompt="lofi")
    [post] = await studio.wait_for_posts(1)

    async def delivered() -> bool:  # nothing is left for the job runtime to write
        return await studio.app.store.undelivered_jobs() == []

    await studio.until(delivered)

    await studio.app.store.close()  # the database goes away under the running bot
    studio.expected_errors = (RuntimeError,)
    caplog.set_level(logging.ERROR, logger="bot.ui.errors")
    for result in (
        await studio.ana.slash(studio.channel, "music history"),  # a command
        await studio.ana.click(post, custom_id="tunesmith:track:extend:1"),  # a button
    ):
        assert result.ephemeral
        text = result.response.content
        assert text.startswith("Something went wrong on our side.") and "reference" in text
        assert "database" not in text  # the member sees no internals
        code = reference_of(text)
        [record] = [r for r in caplog.records if code in r.getMessage()]
        assert record.getMessage() == f"unexpected error (reference {code})"
        assert record.exc_info is not None and isinstance(record.exc_info[1], RuntimeError)
        assert str(record.exc_info[1]) == "database is not open"


async def test_a_task_that_fails_upstream_is_explained_and_refunded(studio: Studio) -> None:
    studio.app.sandbox.inject("task_failure", message="GPU node lost")
    started = await studio.ana.slash(studio.channel, "music create", prompt="trance", title="Lost")
    failed = await studio.until(lambda: message_with(studio, started.response.id, "❌"))
    assert failed.content.endswith("\n❌ The music provider is down right now. Your 10 credits were returned.")
    assert studio.track_posts() == [] and await studio.credits() == 1000


async def test_an_admin_sees_retired_operations_and_switches_one_back_on(studio: Studio) -> None:
    await studio.ana.slash(studio.channel, "music create", prompt="synthpop", title="Old Song")
    [post] = await studio.wait_for_posts(1)
    studio.app.sandbox.inject("retired", operation="cover", message="Use the new cover endpoint.")
    await submit(studio.bo, await studio.bo.click(post, custom_id="tunesmith:track:cover:1"))
    [thread] = studio.channel.threads
    await studio.until(lambda: [m for m in studio.messages(thread) if "❌" in m.content])

    shown = await studio.admin.slash(studio.channel, "studio provider")
    assert shown.ephemeral
    page = shown.response.embeds[0]
    assert page.title == "Provider · sandbox"
    lines = (page.description or "").splitlines()
    assert "✅ **Create** (`create`)" in lines
    assert any(line.startswith("⛔ **Cover** (`cover`): retired by the provider") for line in lines), lines
    # Members may not switch anything back on, even where a server shows them /studio.
    commands = {c.name: c for c in await studio.app.bot.tree.fetch_commands()}
    studio.guild.set_command_permissions(commands["studio"], {studio.ana: True})
    refused = await studio.ana.slash(studio.channel, "studio provider", reinstate="cover")
    assert refused.ephemeral and refused.response.content == "You need the Manage Server permission for this."

    studio.app.sandbox.clear_failures()  # the provider brought the endpoint back
    done = await studio.admin.slash(studio.channel, "studio provider", reinstate="cover")
    assert done.ephemeral and done.response.content == "Cover is switched back on."
    assert "✅ **Cover** (`cover`)" in (done.response.embeds[0].description or "")
    again = await studio.admin.slash(studio.channel, "studio provider", reinstate="cover")
    assert again.response.content == "Cover was not retired; nothing changed."

    # The button comes back on new posts, and a cover is made again.
    await studio.ana.slash(studio.channel, "music create", prompt="synthpop", title="New Song")
    posts = await studio.wait_for_posts(2)
    assert "tunesmith:track:cover:2" in button_ids(posts[1])
    await studio.bo.slash(studio.channel, "music cover", track=2, prompt="bluegrass")
    [remixes] = [t for t in studio.channel.threads if t.id == posts[1].id]
    [cover] = await studio.wait_for_posts(1, remixes)
    assert (cover.embeds[0].description or "").startswith("Cover of *New Song*")
