"""Bodies from outside are hostile: random JSON shaped like Discord's gets Discord's 4xx errors, never a 500."""

from __future__ import annotations

import random
from typing import Any

from bot.playground import Playground
from tests.playground.conftest import FakeClock, member_of
from tests.playground.driver import RawBot

KEYS = [
    "type",
    "data",
    "content",
    "embeds",
    "components",
    "options",
    "name",
    "value",
    "custom_id",
    "id",
    "title",
    "description",
    "fields",
    "footer",
    "text",
    "author",
    "label",
    "style",
    "values",
    "choices",
    "flags",
    "nonce",
    "channel_id",
    "guild_id",
    "application_id",
    "message_id",
    "attachments",
    "focused",
    "url",
    "min_values",
    "max_values",
    "placeholder",
    "component",
    "enforce_nonce",
    "message_reference",
    "allowed_mentions",
    "parse",
]


def junk(rng: random.Random, depth: int = 0) -> Any:
    pick = rng.random()
    if depth > 3 or pick < 0.3:
        return rng.choice(
            [
                None,
                True,
                False,
                0,
                -1,
                2**64,
                1.5,
                1e308,
                "",
                "x" * rng.randint(1, 300),
                "12345",
                "@original",
                "<@1>",
                [],
                {},
            ]
        )
    if pick < 0.55:
        return [junk(rng, depth + 1) for _ in range(rng.randint(0, 6))]
    return {rng.choice(KEYS): junk(rng, depth + 1) for _ in range(rng.randint(0, 6))}


def shaped(rng: random.Random, base: dict[str, Any]) -> dict[str, Any]:
    body = dict(base)
    for _ in range(rng.randint(1, 4)):
        body[rng.choice(KEYS)] = junk(rng)
    return body


async def test_random_bodies_never_break_the_server(clocked: Playground, clock: FakeClock) -> None:
    rng = random.Random(20_250_101)
    studio = str(clocked.state.identity.studio_id)
    async with RawBot(clocked.api_url, clocked.gateway_url, clocked.bot_token) as bot, member_of(clocked, "ben") as ben:
        synced = await bot.sync(
            [
                {
                    "name": "ping",
                    "description": "p",
                    "type": 1,
                    "options": [
                        {"type": 4, "name": "n", "description": "n"},
                        {"type": 11, "name": "f", "description": "f"},
                    ],
                }
            ]
        )
        command = {
            "type": 2,
            "application_id": bot.application_id,
            "guild_id": ben.guild_id,
            "channel_id": studio,
            "nonce": "1",
            "data": {"id": synced[0]["id"], "name": "ping", "type": 1},
        }
        select = {"type": 3, "custom_id": "s", "options": [{"label": "a", "value": "a"}]}
        menu = await bot.rest.call(
            "POST", f"/channels/{studio}/messages", json_body={"components": [{"type": 1, "components": [select]}]}
        )
        click = {
            **command,
            "type": 3,
            "message_id": menu["id"],
            "data": {"custom_id": "s", "component_type": 3, "values": ["a"]},
        }
        statuses: set[int] = set()
        for _ in range(150):
            clock.advance(10)  # never rate limited: what is tested is the handling of the body
            base = rng.choice([command, click])
            member = await ben.rest.raw("POST", "/interactions", json_body=shaped(rng, base))
            posted = await bot.rest.raw("POST", f"/channels/{studio}/messages", json_body=shaped(rng, {}))
            synced_junk = await bot.rest.raw(
                "PUT",
                f"/applications/{bot.application_id}/commands",
                json_body=[shaped(rng, {"name": "x", "description": "y"})],
            )
            statuses |= {member.status, posted.status, synced_junk.status}
        await bot.sync([{"name": "ping", "description": "p", "type": 1}])
        mark = bot.gateway.mark()
        await ben.command("ping", studio, refresh=True)
        interaction = await bot.next_interaction(since=mark)
        for _ in range(150):
            answered = await bot.respond(interaction, shaped(rng, {"type": rng.choice([4, 5, 7, 8, 9])}))
            statuses.add(answered.status)
            if answered.status < 300:
                break
    assert all(status < 500 for status in statuses), statuses
    assert statuses & {400}  # the junk was refused, as Discord refuses it
