"""Power and visibility come from where a job or track lives, never from where a command is typed.

- Manage Messages in one channel gives power over the jobs and tracks of that channel only (issue 9.2).
- A member finds, shows, remixes, downloads and lists only tracks of channels they can view; a thread counts as
  its parent (issue 9.3).
- A deleted track is not named in a lineage (issue 9.11).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import discord
import pytest

from tests.ui.conftest import Studio, running
from tests.ui.helpers import defaults, submit, track_id


@pytest.fixture
async def studio(tmp_path: Path) -> AsyncIterator[Studio]:
    async with running(tmp_path, render_s=0.15) as world:
        yield world


def helper_of(studio: Studio, channel_name: str) -> tuple[Any, Any]:
    """A channel where the member ``bo`` has Manage Messages (a channel overwrite; nothing server-wide)."""
    helpers = studio.guild.create_role("Helpers")
    channel = studio.guild.create_text_channel(
        channel_name, overwrites={helpers: discord.PermissionOverwrite(manage_messages=True)}
    )
    bo = studio.guild.add_member(studio.env.create_user("bo-helper"), roles=[helpers])
    return channel, bo


def private_channel(studio: Studio, name: str = "private") -> Any:
    """A channel only ana (and the bot) can view."""
    return studio.guild.create_text_channel(
        name,
        overwrites={
            studio.guild.default_role: discord.PermissionOverwrite(view_channel=False),
            studio.ana: discord.PermissionOverwrite(view_channel=True),
            studio.guild.me: discord.PermissionOverwrite(view_channel=True, send_messages=True),
        },
    )


# --- 9.2: permissions from the wrong channel ----------------------------------------------------------------------
async def test_manage_messages_in_one_channel_gives_no_power_over_another_channels_jobs(studio: Studio) -> None:
    lounge, bo = helper_of(studio, "lounge")
    studio.app.sandbox.render_seconds = 60  # long enough to try cancelling it
    await studio.ana.slash(studio.channel, "music create", prompt="slow drone", title="Forever")
    assert await studio.credits() == 990

    refused = await bo.slash(lounge, "music cancel", job=1)
    assert refused.ephemeral and refused.response.content == "You can only cancel your own jobs."
    job = await studio.app.services.jobs.job(studio.guild.id, 1)
    assert job is not None and not job.state.finished
    assert await studio.credits() == 990

    # Where it lives, a moderator of that channel may: ana's job in the lounge.
    await studio.ana.slash(lounge, "music create", prompt="slow drone", title="Lounge")
    done = await bo.slash(lounge, "music cancel", job=2)
    assert done.ephemeral and done.response.content == "Cancelled job #2; 10 credits were returned."
    # And from any channel: what counts is where the job lives.
    await studio.ana.slash(lounge, "music create", prompt="slow drone", title="Lounge again")
    done = await bo.slash(studio.channel, "music cancel", job=3)
    assert done.ephemeral and done.response.content == "Cancelled job #3; 10 credits were returned."


async def test_manage_messages_in_one_channel_cannot_delete_a_track_that_lives_elsewhere(studio: Studio) -> None:
    lounge, bo = helper_of(studio, "lounge")
    await studio.ana.slash(studio.channel, "music create", prompt="dream pop", title="Glass")
    [post] = await studio.wait_for_posts(1)

    # bo shows the track in the lounge, where he has Manage Messages, and presses its Delete there.
    shown = await bo.slash(lounge, "music show", track=1)
    assert not shown.ephemeral
    [repost] = await studio.wait_for_posts(1, lounge)
    refused = await bo.click(repost, custom_id="tunesmith:track:delete:1")
    assert refused.ephemeral
    assert refused.response.content == "Only the track's author or a moderator (Manage Messages) can delete it."
    assert await studio.app.services.library.track(studio.as_admin(), 1)  # still there
    refused = await bo.click(post, custom_id="tunesmith:track:delete:1")
    assert refused.ephemeral and "Only the track's author" in refused.response.content

    # A track that lives in the lounge is his to moderate, from wherever he presses Delete.
    await studio.ana.slash(lounge, "music create", prompt="dream pop", title="Lounge Song")
    posts = await studio.until(lambda: [p for p in studio.track_posts(lounge) if p.embeds[0].title == "Lounge Song"])
    number = track_id(posts[0])
    await bo.slash(studio.channel, "music show", track=number)
    again = await studio.until(lambda: [p for p in studio.track_posts() if p.embeds[0].title == "Lounge Song"])
    deleted = await bo.click(again[0], custom_id=f"tunesmith:track:delete:{number}")
    assert deleted.ephemeral and deleted.response.content == "Deleted *Lounge Song*."


async def test_manage_messages_in_one_channel_cannot_forget_someone_elses_persona(studio: Studio) -> None:
    """A persona belongs to the whole server: only server-wide Manage Messages moderates it."""
    lounge, bo = helper_of(studio, "lounge")
    await studio.ana.slash(studio.channel, "music create", prompt="soul", title="Velvet Song")
    [post] = await studio.wait_for_posts(1)
    saved = await studio.ana.slash(studio.channel, "music persona save", track=track_id(post), name="Velvet")
    await studio.until(lambda: saved.response and saved.response.content.startswith("🎙️ Saved"))
    [persona] = await studio.app.services.personas.of_server(studio.guild.id)

    refused = await bo.slash(lounge, "music persona forget", persona=persona.id)
    assert refused.ephemeral
    assert refused.response.content == "Only the member who saved a persona, or a moderator, can forget it."
    assert await studio.app.services.personas.of_server(studio.guild.id) == [persona]
    forgot = await studio.admin.slash(lounge, "music persona forget", persona=persona.id)
    assert forgot.ephemeral and forgot.response.content == "Forgot the persona **Velvet**."


# --- 9.3: tracks of private channels ------------------------------------------------------------------------------
async def test_a_private_channels_tracks_stay_there(studio: Studio) -> None:
    private = private_channel(studio)
    await studio.ana.slash(private, "music create", prompt="whispers", title="Secret Song")
    [secret] = await studio.wait_for_posts(1, private)
    await studio.bo.slash(studio.channel, "music create", prompt="sunshine", title="Open Song")
    [open_post] = await studio.wait_for_posts(1)
    secret_id, open_id = track_id(secret), track_id(open_post)

    # bo can't view #private: its track is not in his autocomplete, nor in history, and naming it finds nothing.
    choices = await studio.bo.autocomplete(studio.channel, "music show", "track", "")
    assert [c["value"] for c in choices] == [open_id]
    assert await studio.bo.autocomplete(studio.channel, "music cover", "track", "Secret") == []
    history = (await studio.bo.slash(studio.channel, "music history")).response.embeds[0].description or ""
    assert "Open Song" in history and "Secret Song" not in history
    missing = f"There is no track #{secret_id} in this server."
    for command, options in (
        ("music show", {}),
        ("music tree", {}),
        ("music download", {}),
        ("music remaster", {}),
        ("music cover", {"prompt": "rock"}),
        ("music extend", {}),
        ("music tools bpm", {}),
        ("music tools wav", {}),
        ("music persona save", {"name": "Whisper"}),
    ):
        refused = await studio.bo.slash(studio.channel, command, track=secret_id, **options)
        assert refused.ephemeral, command
        assert refused.response.content == missing, (command, refused.response.content)
    refused = await studio.bo.slash(studio.channel, "music mashup", track=open_id, other=secret_id)
    assert refused.ephemeral and refused.response.content == missing
    assert len(studio.track_posts()) == 1  # nothing re-posted here
    assert await studio.credits() == 980  # and nothing spent (two songs made)

    # ana, who can view it, finds and shows it anywhere.
    choices = await studio.ana.autocomplete(studio.channel, "music show", "track", "Secret")
    assert [c["value"] for c in choices] == [secret_id]
    shown = await studio.ana.slash(studio.channel, "music show", track=secret_id)
    assert not shown.ephemeral


async def test_a_remix_thread_counts_as_its_private_parent(studio: Studio) -> None:
    private = private_channel(studio)
    await studio.ana.slash(private, "music create", prompt="whispers", title="Secret Song")
    [secret] = await studio.wait_for_posts(1, private)
    shown = await studio.ana.click(secret, custom_id=f"tunesmith:track:cover:{track_id(secret)}")
    await submit(studio.ana, shown, **{"New style": "acoustic"})
    [thread] = private.threads
    [cover] = await studio.wait_for_posts(1, thread)
    cover_id = track_id(cover)

    assert [c["value"] for c in await studio.bo.autocomplete(studio.channel, "music show", "track", "")] == []
    refused = await studio.bo.slash(studio.channel, "music show", track=cover_id)
    assert refused.ephemeral and refused.response.content == f"There is no track #{cover_id} in this server."
    choices = await studio.ana.autocomplete(studio.channel, "music show", "track", "")
    assert sorted(c["value"] for c in choices) == sorted([track_id(secret), cover_id])

    # Archived (a quiet day later), the thread leaves discord.py's cache: it is looked up, and still counts.
    cached = studio.app.bot.get_guild(studio.guild.id)
    assert cached is not None
    archived = cached.get_thread(thread.id)
    assert archived is not None
    cached._remove_thread(archived)
    assert cached.get_thread(thread.id) is None
    choices = await studio.ana.autocomplete(studio.channel, "music show", "track", "")
    assert sorted(c["value"] for c in choices) == sorted([track_id(secret), cover_id])
    assert [c["value"] for c in await studio.bo.autocomplete(studio.channel, "music show", "track", "")] == []


async def test_a_lineage_does_not_name_a_track_from_a_channel_the_member_cant_view(studio: Studio) -> None:
    private = private_channel(studio)
    await studio.ana.slash(private, "music create", prompt="whispers", title="Secret Song")
    [secret] = await studio.wait_for_posts(1, private)
    # ana covers it from the open channel, with remix threads off: the cover lives in #studio.
    await settings_as_admin(studio, remix_threads=False)
    await studio.ana.slash(studio.channel, "music cover", track=track_id(secret), prompt="acoustic")
    [cover] = await studio.wait_for_posts(1)
    cover_id = track_id(cover)
    assert "Secret Song" in (cover.embeds[0].description or "")  # posted by ana, who can view it

    tree = (await studio.bo.slash(studio.channel, "music tree", track=cover_id)).response.embeds[0].description
    assert tree is not None and "a track in a private channel" in tree
    assert "Secret Song" not in tree.replace("Secret Song (Cover)", "")  # the cover's own title is ana's to give
    await studio.bo.slash(studio.channel, "music show", track=cover_id)
    posts = await studio.wait_for_posts(2)
    line = posts[-1].embeds[0].description or ""
    assert line.startswith("Cover of a track in a private channel\n") and f"<@{studio.ana.id}>" not in line
    # ana sees the whole lineage.
    tree = (await studio.ana.slash(studio.channel, "music tree", track=cover_id)).response.embeds[0].description
    assert tree is not None and "Secret Song" in tree


async def settings_as_admin(studio: Studio, **options: Any) -> None:
    result = await studio.admin.slash(studio.channel, "studio settings", **options)
    assert result.ephemeral


# --- 9.11: deleted tracks in lineage ------------------------------------------------------------------------------
async def test_a_deleted_track_is_not_named_in_a_lineage(studio: Studio) -> None:
    await studio.ana.slash(studio.channel, "music create", prompt="dream pop", title="Glass")
    [original] = await studio.wait_for_posts(1)
    shown = await studio.bo.click(original, custom_id="tunesmith:track:cover:1")
    assert defaults(shown)["New style"] == "dream pop"
    await submit(studio.bo, shown, **{"New style": "acoustic folk"})
    [thread] = studio.channel.threads
    [cover] = await studio.wait_for_posts(1, thread)
    cover_id = track_id(cover)
    deleted = await studio.ana.click(original, custom_id="tunesmith:track:delete:1")
    assert deleted.ephemeral and deleted.response.content == "Deleted *Glass*."

    tree = (await studio.bo.slash(studio.channel, "music tree", track=cover_id)).response.embeds[0].description
    assert tree is not None and "Glass" not in tree.replace("Glass (Cover)", "")
    assert "a deleted track" in tree and f"<@{studio.ana.id}>" not in tree
    await studio.bo.slash(studio.channel, "music show", track=cover_id)
    [repost] = await studio.wait_for_posts(1)
    line = repost.embeds[0].description or ""
    assert line.startswith("Cover of a deleted track") and f"<@{studio.ana.id}>" not in line
