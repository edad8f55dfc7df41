"""The wire-test infrastructure itself: a tiny discord.py bot (not Tunesmith) against FakeDiscord.

Everything goes through discord.py's real HTTP client and gateway websocket, so these tests also pin down
what ``point_discord_at`` has to patch for the bot to reach the fake and nothing else.
"""

from __future__ import annotations

import io
import math

import aiohttp
import discord
import pytest
import yarl
from discord import app_commands
from discord.ext import commands
from discord.gateway import DiscordWebSocket
from discord.http import Route

from bot.discord_endpoints import point_discord_at
from tests.wire.fake_discord import FakeDiscord, bot_running

UPLOAD_BYTES = b"ID3\x04\x00fake mp3 bytes \x00\xff" * 64
UPLOAD_NAME = "take-1.mp3"


class PingBot(commands.Bot):
    """One plain reply, one deferred upload posted by channel id: the two paths Tunesmith relies on."""

    def __init__(self, **options: object) -> None:
        # guild_ready_timeout: discord.py otherwise waits 2 s after the last GUILD_CREATE before READY.
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=discord.Intents.default(),
            guild_ready_timeout=0.05,
            help_command=None,
            **options,
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


async def test_ping_upload_heartbeat_and_resume(fake_discord: FakeDiscord) -> None:
    fake = fake_discord
    bot = PingBot()
    async with bot_running(bot, fake):
        # Login, command sync and IDENTIFY all reached the fake, over a zlib-stream gateway.
        assert fake.requests[0].method == "GET" and fake.requests[0].path == "/users/@me"
        assert {c["name"] for c in fake.global_commands} == {"ping", "upload"}
        assert len(fake.identifies) == 1 and fake.intents == discord.Intents.default().value
        assert fake.gateway_connections[0].compress == "zlib-stream"
        assert bot.application_id == fake.application_id
        channel = bot.get_channel(fake.channel_id)
        assert isinstance(channel, discord.TextChannel) and channel.guild.id == fake.guild_id

        token = await fake.invoke_slash("ping")
        callback = await fake.wait_for_request("POST", rf"/interactions/\d+/{token}/callback")
        assert callback.json["type"] == 4 and callback.json["data"]["content"] == "pong"
        assert fake.interaction_responses[token] == [callback]
        assert fake.messages[fake.channel_id][-1]["content"] == "pong"

        token = await fake.invoke_slash("upload")
        upload = await fake.wait_for_request("POST", rf"/channels/{fake.channel_id}/messages")
        assert upload.json["content"] == "your take"
        assert [(f.field, f.filename, f.data) for f in upload.files] == [("files[0]", UPLOAD_NAME, UPLOAD_BYTES)]
        stored = fake.messages[fake.channel_id][-1]["attachments"]
        assert [(a["filename"], a["size"], a["bytes"]) for a in stored] == [
            (UPLOAD_NAME, len(UPLOAD_BYTES), UPLOAD_BYTES)
        ]
        followup = await fake.wait_for_request("POST", rf"/webhooks/{fake.application_id}/{token}")
        assert followup.json["content"] == "uploaded"
        assert [r.json["type"] for r in fake.interaction_responses[token][:1]] == [5]  # deferred first

        # discord.py heartbeats as soon as HELLO arrives; the ACK gives it a latency.
        await fake.wait_for(lambda: fake.heartbeat_acks >= 1, what="heartbeat ACK")
        await fake.wait_for(lambda: math.isfinite(bot.latency), what="latency from the ACK")

        session, seq_before = fake.session_id, bot.ws.sequence
        await fake.drop_connection()
        resume = await fake.wait_for(lambda: fake.resumes, what="RESUME")
        assert resume[0]["session_id"] == session and resume[0]["seq"] >= (seq_before or 0)
        assert len(fake.identifies) == 1  # resumed, not re-identified
        # The reconnection went to resume_gateway_url from READY, i.e. the fake again.
        assert len(fake.gateway_connections) == 2
        assert yarl.URL(fake.gateway_url) == bot.ws.gateway

        token = await fake.invoke_slash("ping")
        again = await fake.wait_for_request("POST", rf"/interactions/\d+/{token}/callback")
        assert again.json["data"]["content"] == "pong"

    assert fake.unhandled_requests == [] and fake.errors == []


async def test_an_auto_sharded_bot_takes_the_gateway_url_from_the_fake(fake_discord: FakeDiscord) -> None:
    fake = fake_discord
    bot = commands.AutoShardedBot(
        command_prefix=commands.when_mentioned, intents=discord.Intents.default(), guild_ready_timeout=0.05
    )
    async with bot_running(bot, fake):
        gateway_bot = await fake.wait_for_request("GET", "/gateway/bot")
        assert gateway_bot.status == 200
        assert fake.identifies[0]["shard"] == [0, 1]
    assert fake.unhandled_requests == [] and fake.errors == []


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


async def test_buttons_threads_and_modals(fake_discord: FakeDiscord) -> None:
    fake = fake_discord
    bot = PingBot()

    @bot.tree.command(name="studio", description="Open the studio")
    @app_commands.describe(title="Song title")
    async def studio(interaction: discord.Interaction, title: str) -> None:
        await interaction.response.send_message(f"Studio: {title}", view=StudioView())

    async with bot_running(bot, fake):
        with pytest.raises(ValueError, match="needs options"):
            await fake.invoke_slash("studio")
        token = await fake.invoke_slash("studio", {"title": "Night Drive"})
        await fake.wait_for_request("POST", rf"/interactions/\d+/{token}/callback")
        studio_message = fake.messages[fake.channel_id][-1]
        assert studio_message["content"] == "Studio: Night Drive"
        message_id = int(studio_message["id"])

        await fake.click(message_id, "studio:thread")
        post = await fake.wait_for_request("POST", rf"/channels/{message_id}/messages")
        assert post.json["content"] == "lyrics go here"
        assert [t["name"] for t in fake.threads] == ["Take 1"]
        assert bot.get_channel(message_id) is not None  # THREAD_CREATE reached the cache

        await fake.click(message_id, "studio:rename")
        await fake.wait_for(lambda: "rename" in fake.modals, what="modal")
        token = await fake.submit_modal("rename", {"rename:title": "Day Drive"})
        reply = await fake.wait_for_request("POST", rf"/interactions/\d+/{token}/callback")
        assert reply.json["data"] == {**reply.json["data"], "content": "renamed to Day Drive", "flags": 64}

    assert fake.unhandled_requests == [] and fake.errors == []


async def test_attachment_options_and_edits_of_the_original_response(fake_discord: FakeDiscord) -> None:
    fake = fake_discord
    bot = PingBot()

    @bot.tree.command(name="reverse", description="Reverse an uploaded file")
    async def reverse(interaction: discord.Interaction, audio: discord.Attachment) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        data = await audio.read()  # fetched from the attachment url the fake handed out
        await interaction.edit_original_response(
            content="reversed", attachments=[discord.File(io.BytesIO(data[::-1]), filename="esrever.bin")]
        )

    async with bot_running(bot, fake):
        upload = fake.add_attachment("demo.bin", b"abc123", "application/octet-stream")
        token = await fake.invoke_slash("reverse", {"audio": upload})
        edit = await fake.wait_for_request("PATCH", rf"/webhooks/{fake.application_id}/{token}/messages/@original")
        assert [f.data for f in edit.files] == [b"321cba"]
        original = fake.messages[fake.channel_id][-1]
        assert original["content"] == "reversed"
        assert original["flags"] == 64  # still ephemeral, no longer "thinking"
        assert [(a["filename"], a["bytes"]) for a in original["attachments"]] == [("esrever.bin", b"321cba")]
        assert [r.method for r in fake.interaction_responses[token]] == ["POST", "PATCH"]

    assert fake.unhandled_requests == [] and fake.errors == []


async def test_a_wrong_token_fails_login_instead_of_hanging(fake_discord: FakeDiscord) -> None:
    with pytest.raises(discord.LoginFailure):
        async with bot_running(PingBot(), fake_discord, token="not-the-fake-token"):
            pass
    assert fake_discord.requests[0].status == 401 and fake_discord.identifies == []


async def test_unknown_routes_answer_404_and_are_recorded(fake_discord: FakeDiscord) -> None:
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{fake_discord.api_url}/guilds/1/bans/2", json={"x": 1}) as response,
    ):
        assert response.status == 404
        assert await response.json() == {"message": "404: Not Found", "code": 0}
    assert [(r.method, r.path, r.json) for r in fake_discord.unhandled_requests] == [
        ("POST", "/guilds/1/bans/2", {"x": 1})
    ]


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


def test_point_discord_at_rejects_a_malformed_url_before_changing_anything(
    restore_discord_endpoints: None,
) -> None:
    base = Route.BASE
    with pytest.raises(ValueError, match="gateway URL"):
        point_discord_at("http://127.0.0.1:9/api/v10", "http://127.0.0.1:9/gateway")
    with pytest.raises(ValueError, match="API URL"):
        point_discord_at("127.0.0.1:9", None)
    assert base == Route.BASE
