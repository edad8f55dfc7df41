"""Moderation and server administration end to end (SimCord): /studio settings, block, ban and status, the rules
they set (channels, role, cooldown, blocked content, bans), provider moderation failures, and the audit log.

Every refusal is checked the way a member meets it (an ephemeral reply, nothing posted publicly) and against the
ledger (no refusal costs credits).
"""

from __future__ import annotations

import asyncio
import re
import time
from pathlib import Path
from typing import Any

import discord
import pytest
import simcord

from bot.sandbox import Sandbox
from tests.ui.conftest import Studio, running

BUDGET = 1000  # the operator default the harness runs with
CREATE = 10  # default cost of create (and of every remix)
MANAGE_SERVER = "You need the Manage Server permission for this."
WAV = b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(28)


# --- helpers ----------------------------------------------------------------------------------------------------
def reply(result: simcord.InteractionResult) -> simcord.ResponseMessage:
    """The message a command answered with (after a defer, the follow-up that replaced "thinking…")."""
    if result.followups:
        return result.followups[-1]
    assert result.response is not None, result
    return result.response


def ephemeral(result: simcord.InteractionResult) -> str:
    """The text of an ephemeral answer (a refusal or an admin's confirmation): only the one who asked sees it."""
    message = reply(result)
    assert message.ephemeral, f"expected an ephemeral answer, got a public message: {message.content!r}"
    assert not message.embeds
    return message.content


refusal = ephemeral


def admitted(result: simcord.InteractionResult) -> str:
    """The public status message of an admitted job. It is read as it is now: a job can be past "Queued" (even
    finished, or refused by the provider) by the time the command has answered, so any stage of the job's own
    message counts (its headline names the job, or it became the track post)."""
    message = reply(result)
    assert not message.ephemeral, f"expected the job to start, got: {message.content!r}"
    headline = re.search(r"· job #\d+\n(⏳ Queued|📨 Submitted|🎛️ Rendering|❌ |🚫 )", message.content)
    track_post = bool(message.embeds) and (message.embeds[0].footer.text or "").startswith("Track #")
    assert headline or track_post, message.content
    return message.content


def modal_inputs(shown: simcord.InteractionResult) -> dict[str, dict[str, Any]]:
    """A modal's text inputs by label (discord.py generates their custom_ids)."""
    assert shown.modal is not None, shown
    inputs: dict[str, dict[str, Any]] = {}

    def walk(component: dict[str, Any], label: str | None = None) -> None:
        if component.get("type") == 4:  # text input
            inputs[label or component["label"]] = component
        for child in component.get("components") or []:
            walk(child)
        if component.get("component"):  # a Label wrapper (type 18)
            walk(component["component"], component.get("label"))

    for component in shown.modal["components"]:
        walk(component)
    return inputs


async def submit(member: Any, shown: simcord.InteractionResult, **by_label: str) -> simcord.InteractionResult:
    """Submit a form as a member would: the pre-filled values, with ``by_label`` typed over them."""
    inputs = modal_inputs(shown)
    values = {i["custom_id"]: i["value"] for i in inputs.values() if i.get("value")}
    values.update({inputs[label]["custom_id"]: value for label, value in by_label.items()})
    return await member.submit_modal(shown, values)


async def compose(studio: Studio, member: Any, *, title: str, style: str, lyrics: str) -> simcord.InteractionResult:
    shown = await member.slash(studio.channel, "music compose")
    return await submit(member, shown, Title=title, Style=style, Lyrics=lyrics)


async def settings(studio: Studio, **options: Any) -> discord.Embed:
    """Run /studio settings as the admin; returns the settings embed it answered with."""
    result = await studio.admin.slash(studio.channel, "studio settings", **options)
    message = reply(result)
    assert message.ephemeral
    assert message.embeds, message.content
    return message.embeds[0]


def field(embed: discord.Embed, name: str) -> str:
    return next(f.value for f in embed.fields if f.name == name) or ""


def admins_role(studio: Studio) -> Any:
    return studio.guild.roles["Admins"]


async def private_audit_channel(studio: Studio, name: str = "audit-log") -> Any:
    """An audit-log channel only admins (and the bot) can read, set with /studio settings."""
    channel = studio.guild.create_text_channel(
        name,
        overwrites={
            studio.guild.default_role: discord.PermissionOverwrite(view_channel=False),
            admins_role(studio): discord.PermissionOverwrite(view_channel=True),
            studio.guild.me: discord.PermissionOverwrite(view_channel=True, send_messages=True),
        },
    )
    embed = await settings(studio, audit_channel=channel)
    assert field(embed, "Audit log") == channel.mention
    return channel


def lines(channel: Any) -> list[str]:
    return [m.content for m in channel.history()]


async def wait_for_line(studio: Studio, channel: Any, needle: str, count: int = 1) -> list[str]:
    return await studio.until(
        lambda: (found := [t for t in lines(channel) if needle in t]) and len(found) >= count and found
    )


async def quiet(studio: Studio, seconds: float = 0.4) -> None:
    """Let the engine and the bot run a little longer (to show that nothing more arrives)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        await studio.env.settle()
        await asyncio.sleep(0.05)


def message_by_id(channel: Any, message_id: int) -> discord.Message:
    return next(m for m in channel.history() if m.id == message_id)


async def first_track(studio: Studio, member: Any = None, prompt: str = "lofi beats") -> int:
    """Make one track and wait for its post; returns the track id."""
    admitted(await (member or studio.ana).slash(studio.channel, "music create", prompt=prompt, title="Night Drive"))
    await studio.wait_for_posts(1)
    tracks = await studio.app.services.library.find(studio.as_admin(), "")
    return tracks[0].id


def hidden_from(channel: Any, member: Any) -> bool:
    try:
        channel.history(viewer=member)
    except simcord.SetupError:
        return True
    return False


# --- /studio settings -------------------------------------------------------------------------------------------
async def test_settings_shows_the_embed_and_stores_every_setting(studio: Studio) -> None:
    service, gid = studio.app.services.studio, studio.guild.id
    embed = await settings(studio)
    assert embed.title == "Studio settings"
    assert field(embed, "Allowed channels") == "everywhere"
    assert (field(embed, "Required role"), field(embed, "Remix threads")) == ("none", "on")
    assert (field(embed, "Audit log"), field(embed, "Cooldown"), field(embed, "Built-in block list")) == (
        "off",
        "none",
        "on",
    )
    other = studio.guild.create_text_channel("other")
    audit = studio.guild.create_text_channel("audit")
    role = studio.guild.create_role("Musicians")

    embed = await settings(studio, allow_channel=studio.channel)
    assert field(embed, "Allowed channels") == studio.channel.mention
    embed = await settings(studio, allow_channel=other)
    assert field(embed, "Allowed channels") == f"{studio.channel.mention}, {other.mention}"
    assert (await service.settings(gid)).allowed_channel_ids == [studio.channel.id, other.id]
    embed = await settings(studio, disallow_channel=studio.channel)
    assert (await service.settings(gid)).allowed_channel_ids == [other.id]
    embed = await settings(studio, all_channels=True)
    assert field(embed, "Allowed channels") == "everywhere"
    assert (await service.settings(gid)).allowed_channel_ids == []

    embed = await settings(studio, required_role=role)
    assert field(embed, "Required role") == role.mention
    assert (await service.settings(gid)).required_role_id == role.id
    embed = await settings(studio, no_required_role=True)
    assert field(embed, "Required role") == "none"
    assert (await service.settings(gid)).required_role_id is None

    embed = await settings(studio, remix_threads=False)
    assert field(embed, "Remix threads") == "off"
    assert (await service.settings(gid)).remix_threads is False

    embed = await settings(studio, audit_channel=audit)
    assert field(embed, "Audit log") == audit.mention
    assert (await service.settings(gid)).audit_channel_id == audit.id
    embed = await settings(studio, audit_off=True)
    assert field(embed, "Audit log") == "off"
    assert (await service.settings(gid)).audit_channel_id is None

    # The model is stored in the provider's own spelling, whatever the case typed.
    embed = await settings(studio, default_model=studio.app.services.catalog.models[0].lower())
    assert field(embed, "Default model") == studio.app.services.catalog.models[0]
    assert (await service.settings(gid)).default_model == studio.app.services.catalog.models[0]
    text = refusal(await studio.admin.slash(studio.channel, "studio settings", default_model="no-such-model"))
    assert text.startswith("Unknown model 'no-such-model'")
    assert all(model in text for model in studio.app.services.catalog.models)  # listed as members would type them
    assert (await service.settings(gid)).default_model == studio.app.services.catalog.models[0]

    embed = await settings(studio, cooldown=45)
    assert field(embed, "Cooldown") == "45 s"
    assert (await service.settings(gid)).cooldown_s == 45
    embed = await settings(studio, builtin_blocklist=False)
    assert field(embed, "Built-in block list") == "off"
    assert (await service.settings(gid)).use_default_blocklist is False

    # Several at once, and the default model is used by a member's create.
    embed = await settings(studio, cooldown=0, builtin_blocklist=True, remix_threads=True)
    assert (field(embed, "Cooldown"), field(embed, "Built-in block list"), field(embed, "Remix threads")) == (
        "none",
        "on",
        "on",
    )
    admitted(await studio.ana.slash(studio.channel, "music create", prompt="lofi beats"))
    job = (await studio.app.services.jobs.active_jobs(gid, studio.ana.id))[0]
    assert job.request["model"] == studio.app.services.catalog.models[0]


async def test_admin_commands_are_checked_by_the_bot_not_only_by_discord(studio: Studio) -> None:
    # Discord hides /studio and /quota-admin from members without Manage Server (default_member_permissions)...
    with pytest.raises(simcord.SetupError, match="default-member-permissions"):
        await studio.ana.slash(studio.channel, "studio settings")
    # ...but a server's admin can override that per command in Server Settings > Integrations. SimCord models
    # those overrides (guild.set_command_permissions); with one letting ana see the commands, the bot must
    # still refuse her, because she still lacks Manage Server.
    commands = {c.name: c for c in await studio.app.bot.tree.fetch_commands()}
    studio.guild.set_command_permissions(commands["studio"], {studio.ana: True})
    studio.guild.set_command_permissions(commands["quota-admin"], {studio.ana: True})
    assert "studio settings" in studio.ana.available_commands(studio.channel)

    before = await studio.app.services.studio.settings(studio.guild.id)
    attempts: list[tuple[str, dict[str, Any]]] = [
        ("studio settings", {}),
        ("studio settings", {"cooldown": 5}),
        ("studio settings", {"audit_channel": studio.channel}),
        ("studio block add", {"pattern": "kazoo"}),
        ("studio block remove", {"pattern": "kazoo"}),
        ("studio block list", {}),
        ("studio ban", {"member": studio.bo, "reason": "no"}),
        ("studio unban", {"member": studio.bo}),
        ("studio status", {}),
        ("studio provider", {}),
        ("studio provider", {"reinstate": "cover"}),
        ("quota-admin grant", {"amount": 500}),
        ("quota-admin costs", {"operation": "create", "cost": 0}),
    ]
    for name, options in attempts:
        assert refusal(await studio.ana.slash(studio.channel, name, **options)) == MANAGE_SERVER, name
    assert await studio.app.services.studio.settings(studio.guild.id) == before
    assert await studio.app.services.studio.block_list(studio.as_admin()) == ([], True)
    assert await studio.app.services.studio.bans(studio.guild.id) == []
    assert await studio.credits() == BUDGET
    # No settings embed, block list or status leaked into the channel.
    assert not [m for m in studio.channel.history() if m.embeds]


# --- channels, role, cooldown, remix threads --------------------------------------------------------------------
async def test_music_only_in_allowed_channels_and_admins_are_exempt(studio: Studio) -> None:
    other = studio.guild.create_text_channel("general")
    await settings(studio, allow_channel=studio.channel)
    text = refusal(await studio.ana.slash(other, "music create", prompt="lofi beats"))
    assert text == f"Music can't be made in this channel. Try {studio.channel.mention}."
    assert not other.history(viewer=studio.bo)  # nobody else sees the refusal
    assert await studio.credits() == BUDGET
    # Lyrics drafts follow the same rule.
    assert "can't be made in this channel" in refusal(await studio.ana.slash(other, "music lyrics", idea="rain"))
    assert await studio.credits() == BUDGET

    admitted(await studio.admin.slash(other, "music create", prompt="lofi beats"))
    admitted(await studio.ana.slash(studio.channel, "music create", prompt="lofi beats"))
    assert await studio.credits() == BUDGET - 2 * CREATE


async def test_remixes_in_the_remix_thread_of_an_allowed_channel_are_allowed(studio: Studio) -> None:
    await settings(studio, allow_channel=studio.channel)
    track_id = await first_track(studio)
    result = await studio.ana.slash(studio.channel, "music variation", track=track_id)
    assert "Follow it in" in reply(result).content
    thread = await studio.until(lambda: studio.channel.threads and studio.channel.threads[0])
    posts = await studio.wait_for_posts(1, thread)
    # The buttons of a post in the thread are pressed in the thread, whose id is not in the allowed list.
    shown = await studio.bo.click(posts[0], label="Variation")
    assert reply(await submit(studio.bo, shown)).content.endswith("Follow it here.")
    await studio.wait_for_posts(2, thread)
    assert await studio.credits() == BUDGET - 3 * CREATE


async def test_required_role(studio: Studio) -> None:
    role = studio.guild.create_role("Musicians")
    musician = studio.guild.add_member(studio.env.create_user("cy"), roles=[role])
    await settings(studio, required_role=role)
    text = refusal(await studio.ana.slash(studio.channel, "music create", prompt="lofi beats"))
    assert text == f"You need the {role.mention} role to make music here."
    assert "role" in refusal(await compose(studio, studio.ana, title="T", style="lofi", lyrics="la la"))
    assert await studio.credits() == BUDGET
    admitted(await musician.slash(studio.channel, "music create", prompt="lofi beats"))
    admitted(await studio.admin.slash(studio.channel, "music create", prompt="lofi beats"))
    await settings(studio, no_required_role=True)
    admitted(await studio.ana.slash(studio.channel, "music create", prompt="lofi beats"))


async def test_cooldown_between_jobs(studio: Studio) -> None:
    await settings(studio, cooldown=30)
    admitted(await studio.ana.slash(studio.channel, "music create", prompt="lofi beats"))
    text = refusal(await studio.ana.slash(studio.channel, "music create", prompt="more lofi"))
    assert re.fullmatch(r"Slow down a little: you can start another song in (30|29) s\.", text), text
    assert await studio.credits() == BUDGET - CREATE
    # Another member, and admins, are not held up by ana's cooldown.
    admitted(await studio.bo.slash(studio.channel, "music create", prompt="lofi beats"))
    admitted(await studio.admin.slash(studio.channel, "music create", prompt="lofi beats"))
    admitted(await studio.admin.slash(studio.channel, "music create", prompt="lofi beats"))

    studio.clock.shift(20)
    text = refusal(await studio.ana.slash(studio.channel, "music create", prompt="more lofi"))
    assert re.search(r"in (10|9) s\.$", text), text
    studio.clock.shift(11)
    admitted(await studio.ana.slash(studio.channel, "music create", prompt="more lofi"))
    assert (await studio.app.services.credits.quota(studio.guild.id, studio.ana.id)).server_remaining == (
        BUDGET - 5 * CREATE
    )


async def test_remix_threads_off_posts_remixes_in_the_channel(studio: Studio) -> None:
    track_id = await first_track(studio)
    await settings(studio, remix_threads=False)
    result = await studio.bo.slash(studio.channel, "music variation", track=track_id)
    # Without threads the status message is posted right here, in the channel.
    assert reply(result).content == "Started **variation** of *Night Drive* for 10 credits. Follow it here."
    posts = await studio.wait_for_posts(2)
    assert "Variation of *Night Drive*" in (posts[1].embeds[0].description or "")
    assert studio.channel.threads == []


# --- blocked words and patterns -----------------------------------------------------------------------------------
OBFUSCATED = [
    "KAZOO anthem",  # case
    "k a z o o",  # spacing
    "k.a.z.o.o core",  # punctuation inside the word
    "ka-zoo",
    "kaaazzooooo",  # repeated letters
    "k4z00 wave",  # digits for letters
    "kázóó",  # accents
    "ＫＡＺＯＯ",  # full-width
    "kazoos and drums",  # plural
]


async def test_blocked_word_is_refused_however_it_is_written(studio: Studio) -> None:
    audit = await private_audit_channel(studio)
    result = await studio.admin.slash(studio.channel, "studio block add", pattern="Kazoo")
    assert ephemeral(result) == "Blocked word: Kazoo."
    for prompt in OBFUSCATED:
        text = refusal(await studio.ana.slash(studio.channel, "music create", prompt=prompt))
        assert text == "Your style contains a blocked word or phrase, so nothing was generated or charged.", prompt
    text = refusal(await studio.ana.slash(studio.channel, "music create", prompt="lofi beats", title="Kazoo Nights"))
    assert text == "Your title contains a blocked word or phrase, so nothing was generated or charged."
    text = refusal(
        await compose(studio, studio.ana, title="Fine", style="lofi", lyrics="la la la\nall night K-A-Z-O-O")
    )
    assert text == "Your lyrics contain a blocked word or phrase, so nothing was generated or charged."
    text = refusal(await studio.ana.slash(studio.channel, "music lyrics", idea="a song about my kazoo"))
    assert text == "Your idea contains a blocked word or phrase, so nothing was generated or charged."
    assert await studio.credits() == BUDGET
    # Nothing public was posted; the member never sees the rule.
    assert studio.channel.history(viewer=studio.bo) == []

    # The audit channel names the rule, and only admins can read it.
    refused = await wait_for_line(studio, audit, "**refused**", count=len(OBFUSCATED) + 3)
    assert all("[rule hit: word: Kazoo]" in line and f"<@{studio.ana.id}>" in line for line in refused)
    assert hidden_from(audit, studio.ana) and hidden_from(audit, studio.bo)
    assert not hidden_from(audit, studio.admin)

    # Words that merely contain the letters are not blocked.
    admitted(await studio.ana.slash(studio.channel, "music create", prompt="jazz with a bazooka"))
    assert await studio.credits() == BUDGET - CREATE


async def test_block_list_remove_and_the_builtin_list(studio: Studio) -> None:
    await studio.admin.slash(studio.channel, "studio block add", pattern="kazoo")
    await studio.admin.slash(studio.channel, "studio block add", pattern=r"kaz+oo\d+", regex=True)
    for again in ("kazoo", "KaZoo"):  # words match in any case, so these are the same rule
        result = await studio.admin.slash(studio.channel, "studio block add", pattern=again)
        assert refusal(result) == "That rule is already on the list."
    listed = reply(await studio.admin.slash(studio.channel, "studio block list"))
    assert listed.ephemeral
    assert listed.embeds[0].description == "`kazoo`\n`kaz+oo\\d+` (regex)\nBuilt-in list: on"

    assert "blocked" in refusal(await studio.ana.slash(studio.channel, "music create", prompt="kazoo"))
    result = await studio.admin.slash(studio.channel, "studio block remove", pattern="Kazoo")
    assert ephemeral(result) == "Removed `kazoo` from the block list."  # as it was stored
    assert [r.pattern for r in (await studio.app.services.studio.block_list(studio.as_admin()))[0]] == [r"kaz+oo\d+"]
    admitted(await studio.ana.slash(studio.channel, "music create", prompt="kazoo"))
    assert "not on the list" in refusal(
        await studio.admin.slash(studio.channel, "studio block remove", pattern="kazoo")
    )

    # The built-in list is on by default (a term from it, spaced out) and can be switched off.
    assert "blocked" in refusal(await studio.bo.slash(studio.channel, "music create", prompt="p t h c"))
    assert await studio.credits() == BUDGET - CREATE
    await settings(studio, builtin_blocklist=False)
    listed = reply(await studio.admin.slash(studio.channel, "studio block list"))
    assert listed.embeds[0].description.endswith("Built-in list: off")
    admitted(await studio.bo.slash(studio.channel, "music create", prompt="p t h c"))


async def test_upload_with_a_blocked_file_name_is_refused(studio: Studio) -> None:
    await studio.admin.slash(studio.channel, "studio block add", pattern="kazoo")
    # Separators in a file name split words; inside a word they are obfuscation.
    for name in ("my-KAZOO_demo.wav", "kazoo.wav", "ka.zoo.mp3", "k-a-z-o-o (final).flac"):
        text = refusal(await studio.ana.slash(studio.channel, "music upload", file=(name, WAV)))
        assert text == "Your file name contains a blocked word or phrase, so nothing was generated or charged.", name
    assert await studio.credits() == BUDGET
    assert "title contains" in refusal(
        await studio.ana.slash(studio.channel, "music upload", file=("demo.wav", WAV), title="kazoo")
    )
    admitted(await studio.ana.slash(studio.channel, "music upload", file=("demo.wav", WAV)))


async def test_block_regex_is_validated_bounded_and_enforced(studio: Studio) -> None:
    text = refusal(await studio.admin.slash(studio.channel, "studio block add", pattern="([a-z", regex=True))
    assert text.startswith("That is not a valid regular expression:")
    for pathological in ("(a+)+$", "(a|aa)+$"):
        # Refused by the bounded trial run (no wall-clock bound here: a busy machine is slower, not wrong).
        text = refusal(await studio.admin.slash(studio.channel, "studio block add", pattern=pathological, regex=True))
        assert text.startswith("That pattern is too slow to run safely"), pathological
    text = refusal(await studio.admin.slash(studio.channel, "studio block add", pattern="x*", regex=True))
    assert "matches empty text" in text
    assert await studio.app.services.studio.block_list(studio.as_admin()) == ([], True)

    result = await studio.admin.slash(studio.channel, "studio block add", pattern=r"kaz+oo\d+", regex=True)
    assert ephemeral(result) == r"Blocked regex: kaz+oo\d+."
    assert "blocked" in refusal(await studio.ana.slash(studio.channel, "music create", prompt="KAZZZOO99 remix"))
    assert await studio.credits() == BUDGET
    admitted(await studio.ana.slash(studio.channel, "music create", prompt="kazoo remix"))

    # Even a pattern that got past validation (stored before it, say) cannot stall admission: it runs with a
    # time bound, and a text it cannot finish on is refused with a message the member can act on (fail closed).
    await studio.app.store.add_blocked_term(studio.guild.id, "(a|aa)+$", is_regex=True, added_by=0, now=time.time())
    studio.app.core.blocklist.forget(studio.guild.id)  # as after a restart: the stored rules are read again
    text = refusal(await studio.bo.slash(studio.channel, "music create", prompt="a" * 60 + "b"))
    assert "too long or too complex to check" in text and "shorten or simplify" in text
    assert await studio.credits() == BUDGET - 10  # only kazoo remix was charged


# --- bans -------------------------------------------------------------------------------------------------------
async def test_ban_refuses_every_generation_and_unban_lifts_it(studio: Studio) -> None:
    audit = await private_audit_channel(studio)
    track = await first_track(studio)
    result = await studio.admin.slash(studio.channel, "studio ban", member=studio.bo, reason="spamming the channel")
    assert ephemeral(result) == f"{studio.bo.mention} can no longer make music here."
    banned = "You are banned from making music in this server. Reason: spamming the channel"

    bo, ch = studio.bo, studio.channel
    attempts: list[tuple[str, dict[str, Any]]] = [
        ("music create", {"prompt": "lofi beats"}),
        ("music extend", {"track": track, "at": 10.0}),
        ("music cover", {"track": track, "prompt": "jazz"}),
        ("music replace", {"track": track, "start": 0.0, "end": 5.0, "prompt": "jazz"}),
        ("music variation", {"track": track}),
        ("music swap-vocals", {"track": track, "prompt": "a deep voice"}),
        ("music swap-sound", {"track": track, "prompt": "strings"}),
        ("music upload", {"file": ("demo.wav", WAV)}),
        ("music download", {"track": track, "format": "wav"}),
        ("music lyrics", {"idea": "rain on the window"}),
    ]
    for name, options in attempts:
        assert refusal(await bo.slash(ch, name, **options)) == banned, name
    assert refusal(await compose(studio, bo, title="T", style="lofi", lyrics="la la")) == banned
    post = studio.track_posts()[0]
    assert refusal(await bo.click(post, label="WAV")) == banned
    assert refusal(await submit(bo, await bo.click(post, label="Cover"))) == banned
    assert await studio.credits(bo) == BUDGET - CREATE  # only ana's track was paid for

    # Admins can be banned too (but not ban themselves).
    assert refusal(await studio.admin.slash(ch, "studio ban", member=studio.admin)) == "You can't ban yourself."

    assert ephemeral(await studio.admin.slash(ch, "studio unban", member=bo)) == f"{bo.mention} can make music again."
    admitted(await bo.slash(ch, "music create", prompt="lofi beats"))
    assert refusal(await studio.admin.slash(ch, "studio unban", member=bo)) == "That member is not banned."

    ban = await wait_for_line(studio, audit, "**ban**")
    assert ban == [f"<@{studio.admin.id}> **ban** · <@{bo.id}> → spamming the channel"]
    assert await wait_for_line(studio, audit, "**unban**") == [f"<@{studio.admin.id}> **unban** · <@{bo.id}>"]


# --- /studio status ---------------------------------------------------------------------------------------------
async def test_status_shows_provider_health_queue_in_flight_and_credits(tmp_path: Path) -> None:
    # A slow sandbox and one provider slot, so one job is in flight and the next waits in the queue.
    async with running(tmp_path, sandbox_render_seconds=30, provider_concurrency=1) as studio:
        embed = reply(await studio.admin.slash(studio.channel, "studio status")).embeds[0]
        assert embed.title == "Studio status"
        assert field(embed, "Provider") == "sandbox · ✅ answering"
        assert (field(embed, "Queue"), field(embed, "In flight")) == ("0 waiting", "0")
        assert float(field(embed, "Provider credits")) == await studio.app.provider.credits()

        # A provider that does not answer is reported, not an error.
        studio.app.sandbox.inject("server_error", count=20)
        embed = reply(await studio.admin.slash(studio.channel, "studio status")).embeds[0]
        assert field(embed, "Provider") == "sandbox · ⚠️ The music provider is unavailable right now."
        assert field(embed, "Provider credits") == "not reported"
        studio.app.sandbox.clear_failures()

        admitted(await studio.ana.slash(studio.channel, "music create", prompt="lofi beats"))
        await studio.until(lambda: studio.app.core.web.in_flight() == 1)
        admitted(await studio.bo.slash(studio.channel, "music create", prompt="lofi beats"))
        message = reply(await studio.admin.slash(studio.channel, "studio status"))
        assert message.ephemeral
        embed = message.embeds[0]
        assert (field(embed, "Queue"), field(embed, "In flight")) == ("1 waiting", "1")


# --- provider moderation ----------------------------------------------------------------------------------------
async def test_provider_moderation_failures_are_explained_refunded_and_noted(studio: Studio) -> None:
    audit = await private_audit_channel(studio)
    reason = "The song description contains artist names: 'X'"
    studio.app.sandbox.inject("moderation", count=6, message=reason)
    notes: list[int] = []
    for attempt in range(1, 7):
        result = await studio.ana.slash(studio.channel, "music create", prompt=f"in the style of X, take {attempt}")
        admitted(result)
        status_id = reply(result).id
        text = await studio.until(lambda sid=status_id: "❌" in (c := message_by_id(studio.channel, sid).content) and c)
        assert f"The provider's content filter refused this: {reason}" in text
        assert text.endswith("Your 10 credits were returned.")
        assert await studio.credits() == BUDGET
        failed = await wait_for_line(studio, audit, f"job #{attempt} ·")
        assert f"→ failed: The provider's content filter refused this: {reason}" in failed[0]
        # A note after every third refusal in the window: one per burst, not one per refusal after the third.
        if attempt % 3:
            await quiet(studio, 0.2)
        else:
            await wait_for_line(studio, audit, "**moderation-note**", count=attempt // 3)
        notes.append(len([t for t in lines(audit) if "**moderation-note**" in t]))
    assert notes == [0, 0, 1, 1, 1, 2]
    note = f"<@{studio.ana.id}> **moderation-note** · 3 requests refused by the provider's content filter in 10 minutes"
    assert [t for t in lines(audit) if "moderation-note" in t] == [f"{note} → worth a look"] * 2
    # The next job goes through: the failures were the provider's, not a lock on the member.
    admitted(await studio.ana.slash(studio.channel, "music create", prompt="lofi beats"))
    await studio.wait_for_posts(1)


# --- the audit log ----------------------------------------------------------------------------------------------
async def test_audit_log_has_one_entry_per_job_and_per_admin_change(studio: Studio) -> None:
    audit = await private_audit_channel(studio)
    admin, ana, bo, ch = studio.admin, studio.ana, studio.bo, studio.channel
    first = lines(audit)
    assert first == [f"<@{admin.id}> **settings** · audit log = {audit.mention}"]

    long_prompt = "dreamy lofi beats with warm vinyl crackle and soft rain " * 3
    admitted(await ana.slash(ch, "music create", prompt=long_prompt.strip(), title="Night Drive"))
    post = (await studio.wait_for_posts(1))[0]
    await wait_for_line(studio, audit, "**create finished**")
    await quiet(studio)
    entries = [t for t in lines(audit) if "job #1" in t]
    assert len(entries) == 1, entries  # one entry per job, not one per step or per clip
    link = f"https://discord.com/channels/{studio.guild.id}/{ch.id}/{post.id}"
    assert entries[0].startswith(f"<@{ana.id}> **create finished** · job #1 · dreamy lofi beats with warm vinyl")
    assert "…" in entries[0] and long_prompt.strip() not in entries[0]  # the prompt is truncated
    assert entries[0].endswith(f"→ track #1 *Night Drive* (-10 credits) {link}")

    # A drafted-lyrics job is a job too: one entry, with its credit.
    reply(await bo.slash(ch, "music lyrics", idea="rain on the window"))
    lyric = await wait_for_line(studio, audit, "**lyrics finished**")
    assert lyric[0].startswith(f"<@{bo.id}> **lyrics finished** · job #2 · rain on the window")
    assert lyric[0].endswith("(-1 credits)")

    # A refusal is one entry, with nothing charged.
    await admin.slash(ch, "studio block add", pattern="kazoo")
    refusal(await bo.slash(ch, "music create", prompt="kazoo"))
    refused = await wait_for_line(studio, audit, "**refused**")
    assert refused == [
        f"<@{bo.id}> **refused** · Create: kazoo → Your style contains a blocked word or phrase, so nothing was "
        "generated or charged. [rule hit: word: kazoo]"
    ]

    # A cancelled job is one entry too (its outcome and the refund), and so is a failed one.
    studio.app.sandbox.render_seconds = 60
    admitted(await ana.slash(ch, "music create", prompt="slow jam"))
    ephemeral(await ana.slash(ch, "music cancel", job=3))
    cancelled = await wait_for_line(studio, audit, "job #3 ·")
    studio.app.sandbox.render_seconds = 0.3
    studio.app.sandbox.inject("task_failure", message="the renderer fell over")
    admitted(await ana.slash(ch, "music create", prompt="broken jam"))
    failed = await wait_for_line(studio, audit, "job #4 ·")
    await quiet(studio)
    assert [t for t in lines(audit) if "job #3" in t] == cancelled
    assert cancelled == [f"<@{ana.id}> **create finished** · job #3 · slow jam → cancelled (10 credits returned)"]
    assert [t for t in lines(audit) if "job #4" in t] == failed
    assert failed[0].startswith(f"<@{ana.id}> **create finished** · job #4 · broken jam → failed: ")
    assert failed[0].endswith("(10 credits returned)")
    assert await studio.credits() == BUDGET - CREATE - 1  # only the posted track and the lyrics were paid for

    # One entry per admin change.
    before = len(lines(audit))
    await settings(studio, cooldown=5, remix_threads=False)
    await admin.slash(ch, "quota-admin costs", operation="create", cost=5)
    await admin.slash(ch, "quota-admin grant", amount=50, member=ana)
    await admin.slash(ch, "studio ban", member=bo, reason="spam")
    await admin.slash(ch, "studio unban", member=bo)
    await admin.slash(ch, "studio block remove", pattern="kazoo")
    await quiet(studio, 0.2)
    assert lines(audit)[before:] == [
        f"<@{admin.id}> **settings** · remix threads = off, cooldown = 5 s",
        f"<@{admin.id}> **settings** · Create now costs 5",
        f"<@{admin.id}> **grant** · to <@{ana.id}> (+50 credits)",
        f"<@{admin.id}> **ban** · <@{bo.id}> → spam",
        f"<@{admin.id}> **unban** · <@{bo.id}>",
        f"<@{admin.id}> **block** · removed 'kazoo'",
    ]
    assert lines(audit)[:1] == first  # earlier entries are never edited
    # Nothing of this is posted in the studio channel itself.
    assert not [m for m in ch.history() if "**settings**" in m.content or "finished**" in m.content]

    # Switching the audit log off is itself logged (in the old channel); after that, nothing is written.
    await settings(studio, audit_off=True)
    assert lines(audit)[-1] == f"<@{admin.id}> **settings** · audit log = off"
    count = len(lines(audit))
    await settings(studio, cooldown=0)
    admitted(await ana.slash(ch, "music create", prompt="lofi"))
    await studio.wait_for_posts(2)
    await quiet(studio)
    assert len(lines(audit)) == count


async def test_no_refusal_costs_credits(studio: Studio) -> None:
    """Every kind of refusal in one ledger: the server and the member keep every credit."""
    # The one admitted job stays in flight to the end (it counts as active), however slowly the machine runs.
    assert studio.app.sandbox is not None
    studio.app.sandbox.render_seconds = 3600.0
    other = studio.guild.create_text_channel("general")
    role = studio.guild.create_role("Musicians")
    ana, ch = studio.ana, studio.channel
    await studio.admin.slash(ch, "studio block add", pattern="kazoo")
    await settings(studio, allow_channel=ch)
    refusal(await ana.slash(other, "music create", prompt="lofi"))  # wrong channel
    await settings(studio, all_channels=True, required_role=role)
    refusal(await ana.slash(ch, "music create", prompt="lofi"))  # missing role
    await settings(studio, no_required_role=True, cooldown=60)
    admitted(await ana.slash(ch, "music create", prompt="lofi"))
    refusal(await ana.slash(ch, "music create", prompt="lofi"))  # cooldown
    await settings(studio, cooldown=0)
    refusal(await ana.slash(ch, "music create", prompt="k a z o o"))  # blocked word
    refusal(await ana.slash(ch, "music upload", file=("kazoo.wav", WAV)))  # blocked file name
    await studio.admin.slash(ch, "studio ban", member=ana)
    refusal(await ana.slash(ch, "music create", prompt="lofi"))  # banned
    refusal(await ana.slash(ch, "music lyrics", idea="rain"))
    await studio.admin.slash(ch, "studio unban", member=ana)
    quota = await studio.app.services.credits.quota(studio.guild.id, ana.id)
    assert quota.server_remaining == BUDGET - CREATE  # only the one admitted job
    assert quota.member_active_jobs == 1


def fuzz_world(tmp_path: Path, sandbox: Sandbox) -> Any:
    """The bot with FUZZ as its provider, pointed at a sandbox's FUZZ endpoints."""
    # Core expects a real provider's 30 s render before its first poll; the sandbox takes 0.3 s.
    return running(
        tmp_path, provider="fuzz", fuzz_api_key="sandbox-key", fuzz_base_url=sandbox.fuzz_base_url, render_s=0.3
    )


async def test_fuzz_moderation_failure_shows_the_reason_and_refunds(tmp_path: Path) -> None:
    # FUZZ accepts the task and later reports it failed with `{"reason": "moderation", "is_flagged": true}`
    # (providers.md): that reason is all it says, so that is what the member is shown.
    async with Sandbox(render_seconds=0.3) as sandbox, fuzz_world(tmp_path, sandbox) as studio:
        sandbox.inject("moderation")
        result = await studio.ana.slash(studio.channel, "music create", prompt="in the style of X")
        admitted(result)
        status_id = reply(result).id
        text = await studio.until(lambda: "❌" in (c := message_by_id(studio.channel, status_id).content) and c)
        assert text.endswith(
            "❌ The provider's content filter flagged this request (moderation). Your 10 credits were returned."
        )
        assert await studio.credits() == BUDGET


async def test_a_two_song_job_is_still_one_audit_entry(tmp_path: Path) -> None:
    async with Sandbox(render_seconds=0.3) as sandbox, fuzz_world(tmp_path, sandbox) as studio:
        audit = await private_audit_channel(studio)
        admitted(await studio.ana.slash(studio.channel, "music create", prompt="city pop"))
        await studio.wait_for_posts(2)  # FUZZ makes two songs a task
        await wait_for_line(studio, audit, "**create finished**")
        await quiet(studio)
        entries = [t for t in lines(audit) if "job #1" in t]
        assert len(entries) == 1, entries
        assert entries[0].count("-10 credits") == 1


async def test_a_thread_counts_as_its_channel(studio: Studio) -> None:
    """Threads belong to their channel: with channels restricted, a command typed in a thread of an allowed
    channel is admitted, and one in a thread of another channel is refused."""
    track_id = await first_track(studio)
    other = studio.guild.create_text_channel("elsewhere")
    await settings(studio, allow_channel=studio.channel)
    # A cover by button opens the remix thread under the allowed channel.
    post = studio.track_posts()[0]
    shown = await studio.bo.click(post, custom_id=f"tunesmith:track:cover:{track_id}")
    await submit(studio.bo, shown)
    thread = await studio.until(lambda: studio.channel.threads and studio.channel.threads[0])
    admitted(await studio.ana.slash(thread, "music create", prompt="made in the thread"))
    # The other channel, and so its threads, stay closed.
    text = refusal(await studio.ana.slash(other, "music create", prompt="not here"))
    assert text.startswith("Music can't be made in this channel.")
