"""discord.py's own network code against the playground: login, sync, gateway (zlib-stream, heartbeats,
reconnect and resume), interactions, multipart uploads, threads and modals, with a tiny bot (not Tunesmith).

Members act through the page's API, so what is asserted is what a member sees.
"""

from __future__ import annotations

import asyncio
import io

import aiohttp
import discord
import pytest
import yarl
from discord import app_commands
from discord.ext import commands
from discord.gateway import DiscordWebSocket
from discord.http import Route

from bot.discord_endpoints import point_discord_at
from bot.playground import Playground
from tests.playground.conftest import Acting, bot_running

UPLOAD_BYTES = b"ID3\x04\x00fake mp3 bytes \x00\xff" * 64
UPLOAD_NAME = "take-1.mp3"


class PingBot(commands.Bot):
    """One plain reply, one deferred upload posted by channel id: the two paths Tunesmith relies on."""

    def __init__(self) -> None:
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=discord.Intents.default(),
            guild_ready_timeout=0.05,
            help_command=None,
        )

        @self.tree.command(name="ping", description="Answer pong")
        async def ping(interaction: discord.Interaction) -> None:
            await interaction.response.send_message("pong")

        @self.tree.command(name="upload", description="Post a file to this channel")
        async def upload(interaction: discord.Interaction) -> None:
            await interaction.response.defer(thinking=True)
            # By channel id, as Tunesmith posts results once the interaction token may have expired.
            channel = self.get_channel(interaction.channel_id or 0)
            assert isinstance(channel, discord.TextChannel)
            await channel.send("your take", file=discord.File(io.BytesIO(UPLOAD_BYTES), filename=UPLOAD_NAME))
            await interaction.followup.send("uploaded")

    async def setup_hook(self) -> None:
        await self.tree.sync()


async def download(url: str, **headers: str) -> tuple[int, bytes, dict[str, str]]:
    async with aiohttp.ClientSession() as http, http.get(url, headers=headers) as response:
        return response.status, await response.read(), dict(response.headers)


async def test_ping_upload_heartbeat_reconnect_and_resume(playground: Playground, acting_as: Acting) -> None:
    bot = PingBot()
    async with bot_running(bot, playground), acting_as("ana") as ana:
        studio = ana.channel_id("studio")
        # Login, sync and IDENTIFY reached the playground, over a zlib-stream gateway.
        stats = playground.stats
        assert stats.bot_identifies == 1 and stats.bot_intents == discord.Intents.default().value
        assert stats.bot_compression == "zlib-stream"
        assert bot.application_id == int(ana.application_id)
        channel = bot.get_channel(int(studio))
        assert isinstance(channel, discord.TextChannel) and channel.guild.name == "Tunesmith Playground"
        index = await ana.command_index()
        assert {c["name"] for c in index["application_commands"]} == {"ping", "upload"}

        mark = ana.gateway.mark()
        outcome = await ana.outcome(await ana.command("ping", studio))
        assert outcome.kind == "success"
        pong = await ana.message(lambda m: m["content"] == "pong", since=mark)
        assert pong["interaction_metadata"]["user"]["id"] == str(ana.id)
        assert pong["interaction"]["name"] == "ping" and pong["author"]["bot"] is True

        mark = ana.gateway.mark()
        await ana.command("upload", studio)
        thinking = await ana.message(lambda m: m["flags"] & 128, since=mark)  # "Tunesmith is thinking…"
        take = await ana.message(lambda m: m["content"] == "your take", since=mark)
        (attachment,) = take["attachments"]
        assert (attachment["filename"], attachment["size"]) == (UPLOAD_NAME, len(UPLOAD_BYTES))
        assert attachment["content_type"] == "audio/mpeg"
        status, data, _ = await download(attachment["url"])
        assert status == 200 and data == UPLOAD_BYTES
        # The first follow-up of a deferred response replaces the "thinking…" message.
        done = await ana.message(lambda m: m["id"] == thinking["id"], event="MESSAGE_UPDATE", since=mark)
        assert done["content"] == "uploaded" and not done["flags"] & 128

        # discord.py heartbeats as soon as HELLO arrives.
        assert playground.stats.bot_heartbeats >= 1

        for abrupt in (False, True):  # Discord's op 7 RECONNECT, then a dropped connection
            resumes = playground.stats.bot_resumes
            await playground.reconnect_bot(abrupt=abrupt)
            mark = ana.gateway.mark()
            # Interactions made while the bot reconnects are held for its session and delivered on RESUME.
            outcome = await ana.outcome(await ana.command("ping", studio))
            assert outcome.kind == "success"
            await ana.message(lambda m: m["content"] == "pong", since=mark)
            assert playground.stats.bot_resumes == resumes + 1
        assert playground.stats.bot_identifies == 1  # resumed every time, never re-identified
        assert yarl.URL(playground.gateway_url) == bot.ws.gateway  # resume_gateway_url from READY
    await asyncio.wait_for(playground.wait_for_bot(online=False), 10)  # bot.close() ended its session


async def test_an_auto_sharded_bot_takes_the_gateway_url_from_the_playground(playground: Playground) -> None:
    bot = commands.AutoShardedBot(
        command_prefix=commands.when_mentioned, intents=discord.Intents.default(), guild_ready_timeout=0.05
    )
    async with bot_running(bot, playground):
        assert bot.shard_count == 1 and playground.stats.bot_identifies == 1
        assert [g.name for g in bot.guilds] == ["Tunesmith Playground"]


class StudioView(discord.ui.View):
    def __init__(self) -> None:
        super().__init__(timeout=30)

    @discord.ui.button(label="Thread", custom_id="studio:thread")
    async def thread(self, interaction: discord.Interaction, button: discord.ui.Button[StudioView]) -> None:
        await interaction.response.defer()
        assert interaction.message is not None
        thread = await interaction.message.create_thread(name="Take 1")
        await thread.send("lyrics go here")

    @discord.ui.button(label="Rename", custom_id="studio:rename")
    async def rename(self, interaction: discord.Interaction, button: discord.ui.Button[StudioView]) -> None:
        await interaction.response.send_modal(RenameModal())


class RenameModal(discord.ui.Modal, title="Rename"):
    name: discord.ui.TextInput[RenameModal] = discord.ui.TextInput(label="Title", custom_id="rename:title")

    def __init__(self) -> None:
        super().__init__(custom_id="rename")

    async def on_submit(self, interaction: discord.Interaction) -> None:
        await interaction.response.send_message(f"renamed to {self.name.value}", ephemeral=True)


async def test_buttons_threads_and_modals(playground: Playground, acting_as: Acting) -> None:
    bot = PingBot()

    @bot.tree.command(name="studio", description="Open the studio")
    @app_commands.describe(title="Song title")
    async def studio_command(interaction: discord.Interaction, title: str) -> None:
        await interaction.response.send_message(f"Studio: {title}", view=StudioView())

    async with bot_running(bot, playground), acting_as("ben") as ben, acting_as("chloe") as chloe:
        studio = ben.channel_id("studio")
        mark = ben.gateway.mark()
        await ben.command("studio", studio, {"title": "Night Drive"})
        post = await ben.message(lambda m: m["content"] == "Studio: Night Drive", since=mark)

        mark = ben.gateway.mark()
        assert (await ben.outcome(await ben.click(post, "studio:thread"))).kind == "success"
        thread = await ben.message(lambda t: t["name"] == "Take 1", event="THREAD_CREATE", since=mark)
        assert thread["id"] == post["id"] and thread["parent_id"] == studio  # a thread takes its message's id
        lyrics = await ben.message(lambda m: m["content"] == "lyrics go here", since=mark)
        assert lyrics["channel_id"] == thread["id"]
        starter = await ben.message(lambda m: m["id"] == post["id"], event="MESSAGE_UPDATE", since=mark)
        assert starter["thread"]["name"] == "Take 1"
        assert bot.get_channel(int(thread["id"])) is not None  # THREAD_CREATE reached the bot's cache

        mark = ben.gateway.mark()
        modal = await ben.outcome(await ben.click(post, "studio:rename"))
        assert modal.kind == "modal" and modal.data["title"] == "Rename"
        await ben.outcome(await ben.submit(modal.data, {"Title": "Day Drive"}))
        reply = await ben.message(lambda m: m["content"] == "renamed to Day Drive", since=mark)
        assert reply["flags"] & 64  # ephemeral: only Ben sees it...
        await chloe.say(studio, "anyone there?")
        await ben.message(lambda m: m["content"] == "anyone there?")
        assert all(m["content"] != "renamed to Day Drive" for _, m in chloe.gateway.events if "content" in m)
        history = await ben.history(studio)  # ...and it is in nobody's history
        assert all(not m["flags"] & 64 for m in history)


async def test_attachment_options_and_edits_of_the_original_response(playground: Playground, acting_as: Acting) -> None:
    bot = PingBot()

    @bot.tree.command(name="reverse", description="Reverse an uploaded file")
    async def reverse(interaction: discord.Interaction, audio: discord.Attachment) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        data = await audio.read()  # fetched from the attachment url the playground handed out
        await interaction.edit_original_response(
            content="reversed", attachments=[discord.File(io.BytesIO(data[::-1]), filename="esrever.bin")]
        )

    async with bot_running(bot, playground), acting_as("dev") as dev:
        mark = dev.gateway.mark()
        await dev.command(
            "reverse",
            dev.channel_id("lounge"),
            {"audio": 0},
            files=[("demo.bin", b"abc123", "application/octet-stream")],
        )
        edited = await dev.message(lambda m: m["content"] == "reversed", event="MESSAGE_UPDATE", since=mark)
        assert edited["flags"] == 64  # still ephemeral, no longer "thinking"
        assert edited["edited_timestamp"] is None  # filling in a deferral is not an edit
        (attachment,) = edited["attachments"]
        status, data, _ = await download(attachment["url"])
        assert (attachment["filename"], status, data) == ("esrever.bin", 200, b"321cba")


async def test_a_wrong_token_fails_login_instead_of_hanging(playground: Playground) -> None:
    with pytest.raises(discord.LoginFailure):
        async with bot_running(PingBot(), playground, token="not-the-playground-token"):
            pass
    assert playground.stats.bot_identifies == 0


async def test_unknown_routes_answer_discords_404(playground: Playground) -> None:
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{playground.api_url}/guilds/1/bans/2", json={"x": 1}) as response,
    ):
        assert response.status == 404
        assert await response.json() == {"message": "404: Not Found", "code": 0}


def test_point_discord_at_none_changes_nothing(restore_discord_endpoints: None) -> None:
    base, gateway = Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY
    point_discord_at(None, None)
    assert (base, gateway) == (Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY)


def test_point_discord_at_is_idempotent(restore_discord_endpoints: None) -> None:
    for _ in range(2):
        point_discord_at("http://127.0.0.1:9/api/v10/", "ws://127.0.0.1:9/gateway")
        assert Route.BASE == "http://127.0.0.1:9/api/v10"
        assert yarl.URL("ws://127.0.0.1:9/gateway") == DiscordWebSocket.DEFAULT_GATEWAY
        assert Route("GET", "/users/@me").url == "http://127.0.0.1:9/api/v10/users/@me"


def test_point_discord_at_rejects_a_malformed_url_before_changing_anything(restore_discord_endpoints: None) -> None:
    base = Route.BASE
    with pytest.raises(ValueError, match="gateway URL"):
        point_discord_at("http://127.0.0.1:9/api/v10", "http://127.0.0.1:9/gateway")
    with pytest.raises(ValueError, match="API URL"):
        point_discord_at("127.0.0.1:9", None)
    assert base == Route.BASE
