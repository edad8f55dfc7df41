"""The page's side of the playground: members, the page, history paging, attachments with ranges."""

from __future__ import annotations

import logging

import aiohttp
import discord
import pytest
from discord.ext import commands

from bot.playground import Playground
from tests.playground.conftest import Acting, FakeClock, bot_running, member_of
from tests.playground.driver import RawBot, members


async def test_members_and_their_tokens(playground: Playground) -> None:
    listed = await members(playground.url)
    assert len(listed) >= 4 and "tunesmith" not in listed  # the bot is not someone to act as
    assert sum(m["is_owner"] for m in listed.values()) == 1
    assert len({m["avatar_color"] for m in listed.values()}) == len(listed)
    assert len({m["global_name"] for m in listed.values()}) == len(listed)
    async with aiohttp.ClientSession() as http:
        for member in listed.values():
            async with http.get(playground.api_url + "/users/@me", headers={"Authorization": member["token"]}) as r:
                assert (await r.json())["id"] == member["id"]
        async with http.get(playground.api_url + "/users/@me", headers={"Authorization": "nope"}) as r:
            assert r.status == 401 and (await r.json())["code"] == 0


async def test_ready_has_the_whole_guild(acting_as: Acting) -> None:
    async with acting_as("ana") as ana:
        guild = ana.guild
        assert guild["name"] == "Tunesmith Playground"
        assert [c["name"] for c in sorted(guild["channels"], key=lambda c: c["position"])] == ["studio", "lounge"]
        assert {r["name"] for r in guild["roles"]} >= {"@everyone", "Admin"}
        assert len(guild["members"]) == 5  # four people and the bot
        assert ana.gateway.ready["application"]["bot"]["username"] == "tunesmith"
        assert ana.gateway.ready["user"]["id"] == str(ana.id)


async def test_the_page_is_served_only_to_local_names(playground: Playground) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.get(playground.url + "/") as page:
            assert page.status == 200 and page.content_type == "text/html"
            assert "Tunesmith" in await page.text()
        async with http.get(playground.url + "/static/../server.py") as escape:
            assert escape.status == 404
        async with http.get(playground.url + "/app/members", headers={"Host": "evil.example:8000"}) as rebound:
            assert rebound.status == 421  # a DNS-rebinding page gets nothing
        async with http.get(playground.url + "/app/members", headers={"Host": "localhost"}) as local:
            assert local.status == 200


async def test_history_pages_like_discord(clocked: Playground, clock: FakeClock) -> None:
    async with member_of(clocked, "ben") as ben:
        lounge = ben.channel_id("lounge")
        sent = []
        for n in range(25):
            if n % 5 == 0:
                clock.advance(5)  # five messages per five seconds per channel
            sent.append((await ben.say(lounge, f"m{n}"))["id"])
        newest = await ben.history(lounge, limit="10")
        assert [m["content"] for m in newest] == [f"m{n}" for n in range(24, 14, -1)]
        older = await ben.history(lounge, limit="10", before=newest[-1]["id"])
        assert [m["content"] for m in older] == [f"m{n}" for n in range(14, 4, -1)]
        after = await ben.history(lounge, limit="3", after=sent[0])
        assert [m["content"] for m in after] == ["m3", "m2", "m1"]
        around = await ben.history(lounge, limit="5", around=sent[10])
        assert [m["content"] for m in around] == ["m12", "m11", "m10", "m9", "m8"]
        assert len(await ben.history(lounge, limit="100")) == 25
        for bad in ({"limit": "101"}, {"limit": "0"}, {"before": "abc"}):
            refused = await ben.rest.raw("GET", f"/channels/{lounge}/messages", params=bad)
            assert (refused.status, refused.body["code"]) == (400, 50035)


async def test_attachments_are_served_with_ranges(playground: Playground) -> None:
    audio = b"RIFF" + bytes(range(256)) * 4
    async with RawBot(playground.api_url, playground.gateway_url, playground.bot_token) as bot:
        studio = str(playground.state.identity.studio_id)
        posted = await bot.rest.call(
            "POST",
            f"/channels/{studio}/messages",
            json_body={"content": "take"},
            files=[("take 1.wav", audio, "application/octet-stream")],
        )
    (attachment,) = posted["attachments"]
    assert attachment["filename"] == "take_1.wav"  # as Discord names uploads
    async with aiohttp.ClientSession() as http:
        async with http.get(attachment["url"], headers={"Range": "bytes=4-9"}) as part:
            assert part.status == 206 and await part.read() == audio[4:10]
            assert part.headers["Content-Range"] == f"bytes 4-9/{len(audio)}"
            assert part.headers["Content-Type"] == "audio/wav"
        async with http.get(attachment["url"]) as whole:
            assert whole.status == 200 and await whole.read() == audio
        async with http.get(attachment["url"].replace("take_1.wav", "other.wav")) as wrong:
            assert wrong.status == 404


async def test_a_bot_that_honours_the_headers_works_under_the_rate_limits(
    playground: Playground, acting_as: Acting, caplog: pytest.LogCaptureFixture
) -> None:
    """Seven posts in a row in one channel: discord.py waits for the bucket instead of being refused."""
    caplog.set_level(logging.WARNING, logger="discord")
    bot = commands.Bot(
        command_prefix=commands.when_mentioned, intents=discord.Intents.default(), guild_ready_timeout=0.05
    )
    async with bot_running(bot, playground), acting_as("ben") as ben:
        channel = bot.get_channel(int(ben.channel_id("studio")))
        assert isinstance(channel, discord.TextChannel)
        for n in range(7):
            await channel.send(f"post {n}")
        assert [m["content"] for m in reversed(await ben.history(ben.channel_id("studio")))] == [
            f"post {n}" for n in range(7)
        ]
    assert not [r for r in caplog.records if "rate limited" in r.getMessage()]  # never a 429


async def test_presence_is_who_is_connected(playground: Playground) -> None:
    async with member_of(playground, "ben") as ben:
        assert [p["user"]["id"] for p in ben.guild["presences"]] == [str(ben.id)]
        async with RawBot(playground.api_url, playground.gateway_url, playground.bot_token) as bot:
            online = await ben.message(lambda p: p["user"]["id"] == bot.application_id, event="PRESENCE_UPDATE")
            assert online["status"] == "online"
            async with member_of(playground, "chloe") as chloe:
                present = {p["user"]["id"] for p in chloe.guild["presences"]}
                assert present == {str(ben.id), str(chloe.id), bot.application_id}
            mark = ben.gateway.mark()
        offline = await ben.message(
            lambda p: p["user"]["id"] == bot.application_id, event="PRESENCE_UPDATE", since=mark
        )
        assert offline["status"] == "offline"
