"""The playground's state: it survives a restart (old buttons still reach the bot), and a reset clears it."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import pytest

from bot.playground import Playground
from tests.playground.conftest import FakeClock, member_of
from tests.playground.driver import RawBot
from tests.playground.tunesmith import create_track, fetch, settings_for, tunesmith_running


async def test_a_restart_keeps_the_conversation_and_old_buttons_still_work(
    state_path: Path, tmp_path: Path, restore_discord_endpoints: None
) -> None:
    first = Playground(state_path=state_path, port=0)
    await first.start()
    try:
        async with tunesmith_running(settings_for(first, tmp_path), first) as running, member_of(first, "ben") as ben:
            studio = ben.channel_id("studio")
            post = await create_track(ben, running, studio, title="Before the restart")
            await ben.say(studio, "see you tomorrow")
            before = await ben.history(studio)
            identity = (first.bot_token, ben.guild_id, studio, ben.token)
    finally:
        await first.stop()

    second = Playground(state_path=state_path, port=0)  # another port, the same file
    await second.start()
    try:
        async with (
            tunesmith_running(settings_for(second, tmp_path), second) as running,
            member_of(second, "ben") as ben,
        ):
            assert (second.bot_token, ben.guild_id, ben.channel_id("studio"), ben.token) == identity
            after = await ben.history(studio)
            assert [(m["id"], m["content"]) for m in after] == [(m["id"], m["content"]) for m in before]
            old_post = next(m for m in after if m["id"] == post.message["id"])
            (audio,) = [a for a in old_post["attachments"] if a["filename"].endswith(".wav")]
            assert audio["url"].startswith(second.url) and await fetch(audio["url"]) == post.audio
            # A button on a post from before the restart reaches the (restarted) bot.
            opened = await running.watch(
                ben.outcome(await ben.click(old_post, f"tunesmith:track:extend:{post.track_id}"))
            )
            assert opened.kind == "modal" and opened.data["title"] == "Extend: Before the restart"
    finally:
        await second.stop()


async def test_reset_clears_back_to_the_seeded_guild(clocked: Playground, clock: FakeClock) -> None:
    state = clocked.state
    studio = str(state.identity.studio_id)
    musician = str(state.identity.base + 4)
    async with RawBot(clocked.api_url, clocked.gateway_url, clocked.bot_token) as bot:
        await bot.sync([{"name": "ping", "description": "Answer pong", "type": 1}])
        async with member_of(clocked, "ana") as ana:
            said = await ana.say(studio, "hello")
            posted = await bot.rest.call(
                "POST",
                f"/channels/{studio}/messages",
                json_body={"content": "a file"},
                files=[("a.wav", b"RIFF....", "audio/wav")],
            )
            thread = await bot.rest.call(
                "POST", f"/channels/{studio}/messages/{said['id']}/threads", json_body={"name": "chat"}
            )
            ben_id = next(uid for uid, m in state.members.items() if m["user"]["username"] == "ben")
            await ana.rest.call("PUT", f"/guilds/{state.guild_id}/members/{ben_id}/roles/{musician}")

            async with aiohttp.ClientSession() as http:
                anonymous = await http.post(clocked.url + "/app/reset")
                assert anonymous.status == 401  # another web page cannot wipe the playground
                reset = await http.post(clocked.url + "/app/reset", headers={"Authorization": ana.token})
                assert reset.status == 204
                gone = await http.get(posted["attachments"][0]["url"])
                assert gone.status == 404
        deleted = await bot.gateway.wait_for("THREAD_DELETE")
        assert deleted["id"] == thread["id"]

    async with member_of(clocked, "ana") as ana, member_of(clocked, "ben") as ben:
        assert ana.guild["id"] == str(state.guild_id)
        assert sorted(c["name"] for c in ana.guild["channels"]) == ["lounge", "studio"]
        assert ana.guild["threads"] == [] and await ana.history(studio) == []
        assert next(m for m in ana.guild["members"] if m["user"]["id"] == str(ben.id))["roles"] == []
        # The bot's commands were kept (it syncs only when it starts).
        assert [c["name"] for c in (await ben.command_index())["application_commands"]] == ["ping"]


async def test_a_reset_ends_the_members_sessions(playground: Playground) -> None:
    async with member_of(playground, "dev") as dev:
        async with aiohttp.ClientSession() as http:
            await http.post(playground.url + "/app/reset", headers={"Authorization": dev.token})
        with pytest.raises(AssertionError, match="gateway closed"):
            await dev.gateway.wait_for("MESSAGE_CREATE")
        assert dev.gateway.close_code == 4000
        # The old session cannot be resumed: the client identifies again (and gets a new READY).
        assert dev.http is not None
        async with dev.http.ws_connect(playground.gateway_url) as ws:
            assert (await ws.receive_json())["op"] == 10
            session_id = dev.gateway.ready["session_id"]
            await ws.send_json({"op": 6, "d": {"token": dev.token, "session_id": session_id, "seq": 1}})
            assert await ws.receive_json() == {"op": 9, "d": False, "s": None, "t": None}
