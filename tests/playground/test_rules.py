"""Discord's rules, as the playground enforces them on a bot, each with the error a bot gets on Discord.

The bot here is a bare one (``RawBot``: HTTP and a websocket, no library), so each rule can be broken on purpose;
members act through the page's API. Time is a fake clock wherever a rule is about time.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.playground import Playground
from bot.playground import permissions as p
from tests.playground.conftest import FakeClock, member_of
from tests.playground.driver import JSON, Member, RawBot

PING = {"name": "ping", "description": "Answer pong", "type": 1}
ECHO = {
    "name": "echo",
    "description": "Echo typed options",
    "type": 1,
    "options": [
        {"type": 4, "name": "count", "description": "1 to 10", "required": True, "min_value": 1, "max_value": 10},
        {"type": 3, "name": "word", "description": "at most 5", "max_length": 5},
        {"type": 3, "name": "pick", "description": "autocompleted", "autocomplete": True},
    ],
}


def raw_bot(server: Playground, **kwargs: int) -> RawBot:
    return RawBot(server.api_url, server.gateway_url, server.bot_token, **kwargs)


async def invoke(
    bot: RawBot, member: Member, name: str = "ping", options: JSON | None = None, channel: str = "studio"
) -> tuple[str, JSON]:
    """A member runs a command; returns the nonce and the INTERACTION_CREATE the bot got."""
    mark = bot.gateway.mark()
    nonce = await member.command(name, member.channel_id(channel), options)
    return nonce, await bot.next_interaction(since=mark)


# --- the interaction deadline, one response, the 15-minute token -----------------------------------------------


async def test_an_unanswered_interaction_fails_for_the_member_and_a_late_answer_is_unknown(
    clocked: Playground, clock: FakeClock
) -> None:
    async with raw_bot(clocked) as bot, member_of(clocked, "ben") as ben:
        await bot.sync([PING])
        nonce, interaction = await invoke(bot, ben)
        clock.advance(3.01)  # Discord's 3 seconds go by
        late = await bot.respond(interaction, {"type": 4, "data": {"content": "too late"}})
        assert (late.status, late.body["code"], late.body["message"]) == (404, 10062, "Unknown interaction")
        outcome = await ben.outcome(nonce)
        assert outcome.kind == "failure" and outcome.data["reason"] == "The application did not respond"
        assert all(m["content"] != "too late" for m in await ben.history(ben.channel_id("studio")))


async def test_the_deadline_runs_on_its_own(state_path: Path, restore_discord_endpoints: None) -> None:
    server = Playground(state_path=state_path, port=0, interaction_deadline=0.2)
    await server.start()
    try:
        async with raw_bot(server) as bot, member_of(server, "ben") as ben:
            await bot.sync([PING])
            nonce, _ = await invoke(bot, ben)
            outcome = await ben.outcome(nonce)  # nobody answers: the member is told, without asking
            assert outcome.kind == "failure" and outcome.data["reason"] == "The application did not respond"
    finally:
        await server.stop()


async def test_an_interaction_takes_one_response(clocked: Playground) -> None:
    async with raw_bot(clocked) as bot, member_of(clocked, "ben") as ben:
        await bot.sync([PING])
        nonce, interaction = await invoke(bot, ben)
        first = await bot.respond(interaction, {"type": 4, "data": {"content": "pong"}})
        assert first.status == 204
        again = await bot.respond(interaction, {"type": 5})
        assert (again.status, again.body["code"]) == (400, 40060)
        assert again.body["message"] == "Interaction has already been acknowledged."
        assert (await ben.outcome(nonce)).kind == "success"


async def test_the_token_works_for_15_minutes(clocked: Playground, clock: FakeClock) -> None:
    async with raw_bot(clocked) as bot, member_of(clocked, "ben") as ben:
        await bot.sync([PING])
        _, interaction = await invoke(bot, ben)
        response = await bot.respond(interaction, {"type": 5}, params={"with_response": "true"})
        assert response.body["interaction"]["response_message_loading"] is True
        hook = f"/webhooks/{bot.application_id}/{interaction['token']}"
        clock.advance(14 * 60)
        edited = await bot.rest.call("PATCH", f"{hook}/messages/@original", json_body={"content": "done"})
        assert edited["content"] == "done" and not edited["flags"] & 128
        followup = await bot.rest.call("POST", hook, json_body={"content": "more"}, params={"wait": "true"})
        assert followup["content"] == "more"
        clock.advance(60 + 1)
        for method, path, body in (
            ("POST", hook, {"content": "too late"}),
            ("PATCH", f"{hook}/messages/@original", {"content": "too late"}),
            ("GET", f"{hook}/messages/@original", None),
        ):
            expired = await bot.rest.raw(method, path, json_body=body)
            assert (expired.status, expired.body["code"]) == (401, 50027), (method, path, expired.body)


# --- body limits -------------------------------------------------------------------------------------------------

LONG = "x" * 5000
MESSAGE_LIMITS = [
    ({"content": "x" * 2001}, "content"),
    ({"embeds": [{"title": "t"}] * 11}, "embeds"),
    ({"embeds": [{"title": "x" * 257}]}, "embeds.0.title"),
    ({"embeds": [{"description": "x" * 4097}]}, "embeds.0.description"),
    ({"embeds": [{"fields": [{"name": "n", "value": "v"}] * 26}]}, "embeds.0.fields"),
    ({"embeds": [{"fields": [{"name": "x" * 257, "value": "v"}]}]}, "embeds.0.fields.0.name"),
    ({"embeds": [{"fields": [{"name": "n", "value": "x" * 1025}]}]}, "embeds.0.fields.0.value"),
    ({"embeds": [{"footer": {"text": "x" * 2049}}]}, "embeds.0.footer.text"),
    ({"embeds": [{"author": {"name": "x" * 257}}]}, "embeds.0.author.name"),
    ({"embeds": [{"description": "x" * 4000}, {"description": "x" * 2001}]}, "embeds"),  # 6001 in all
    (
        {
            "components": [
                {"type": 1, "components": [{"type": 2, "style": 1, "label": "b", "custom_id": f"c{i}"}]}
                for i in range(6)
            ]
        },
        "components",
    ),
    (
        {
            "components": [
                {
                    "type": 1,
                    "components": [{"type": 2, "style": 1, "label": "b", "custom_id": f"c{i}"} for i in range(6)],
                }
            ]
        },
        "components.0.components",
    ),
    (
        {"components": [{"type": 1, "components": [{"type": 2, "style": 1, "label": "b", "custom_id": "x" * 101}]}]},
        "components.0.components.0.custom_id",
    ),
    (
        {"components": [{"type": 1, "components": [{"type": 2, "style": 1, "label": "x" * 81, "custom_id": "c"}]}]},
        "components.0.components.0.label",
    ),
    (
        {
            "components": [
                {
                    "type": 1,
                    "components": [
                        {
                            "type": 3,
                            "custom_id": "s",
                            "options": [{"label": f"o{i}", "value": f"o{i}"} for i in range(26)],
                        }
                    ],
                }
            ]
        },
        "components.0.components.0.options",
    ),
]


def error_paths(tree: JSON, prefix: str = "") -> set[str]:
    found: set[str] = set()
    for key, value in tree.items():
        if key == "_errors":
            found.add(prefix)
        else:
            found |= error_paths(value, f"{prefix}.{key}" if prefix else key)
    return found


@pytest.mark.parametrize(("body", "path"), MESSAGE_LIMITS, ids=[p for _, p in MESSAGE_LIMITS])
async def test_message_limits_answer_invalid_form_body(
    clocked: Playground, clock: FakeClock, body: JSON, path: str
) -> None:
    async with raw_bot(clocked) as bot:
        studio = str(clocked.state.identity.studio_id)
        refused = await bot.rest.raw("POST", f"/channels/{studio}/messages", json_body=body)
        assert (refused.status, refused.body["code"], refused.body["message"]) == (400, 50035, "Invalid Form Body")
        assert error_paths(refused.body["errors"]) == {path}


async def test_the_limits_are_limits_not_less(clocked: Playground, clock: FakeClock) -> None:
    """Exactly at every limit, a message is accepted (so the limits above are Discord's, not stricter)."""
    async with raw_bot(clocked) as bot:
        studio = str(clocked.state.identity.studio_id)
        at_limit = [
            {"content": "x" * 2000, "embeds": [{"title": "x" * 256, "description": "x" * 3744}]},
            {"embeds": [{"fields": [{"name": "x" * 200, "value": "x" * 20}] * 25}]},
            {
                "components": [
                    {
                        "type": 1,
                        "components": [
                            {"type": 2, "style": 1, "label": "x" * 80, "custom_id": f"{r}{i}".ljust(100, "x")}
                            for i in range(5)
                        ],
                    }
                    for r in range(5)
                ]
            },
        ]
        for body in at_limit:
            clock.advance(5)
            await bot.rest.call("POST", f"/channels/{studio}/messages", json_body=body)
        empty = await bot.rest.raw("POST", f"/channels/{studio}/messages", json_body={"content": ""})
        assert (empty.status, empty.body["code"]) == (400, 50006)


async def test_interaction_responses_are_checked_too(clocked: Playground) -> None:
    """Errors in a callback's data sit under ``data``; a refused response leaves the interaction unanswered."""
    async with raw_bot(clocked) as bot, member_of(clocked, "ben") as ben:
        await bot.sync([PING, ECHO])
        modal = {
            "custom_id": "m",
            "title": "t",
            "components": [{"type": 1, "components": [{"type": 4, "custom_id": "i", "label": "l", "style": 1}]}],
        }
        bad_modals = [
            ({**modal, "title": "x" * 46}, "data.title"),
            ({**modal, "custom_id": "x" * 101}, "data.custom_id"),
            (
                {
                    **modal,
                    "components": [
                        {"type": 1, "components": [{"type": 4, "custom_id": f"i{n}", "label": "l", "style": 1}]}
                        for n in range(6)
                    ],
                },
                "data.components",
            ),
            (
                {
                    **modal,
                    "components": [
                        {
                            "type": 1,
                            "components": [{"type": 4, "custom_id": "i", "label": "l", "style": 1, "max_length": 4001}],
                        }
                    ],
                },
                "data.components.0.components.0.max_length",
            ),
            (
                {
                    **modal,
                    "components": [
                        {
                            "type": 1,
                            "components": [
                                {"type": 4, "custom_id": "i", "label": "l", "style": 1, "value": "x" * 4001}
                            ],
                        }
                    ],
                },
                "data.components.0.components.0.value",
            ),
        ]
        nonce, interaction = await invoke(bot, ben)
        for data, path in bad_modals:
            refused = await bot.respond(interaction, {"type": 9, "data": data})
            assert (refused.status, refused.body["code"]) == (400, 50035)
            assert error_paths(refused.body["errors"]) == {path}
        too_long = await bot.respond(interaction, {"type": 4, "data": {"content": "x" * 2001}})
        assert error_paths(too_long.body["errors"]) == {"data.content"}
        assert (await bot.respond(interaction, {"type": 9, "data": modal})).status == 204
        opened = await ben.outcome(nonce)
        assert opened.kind == "modal" and opened.data["custom_id"] == "m"

        mark = bot.gateway.mark()
        nonce = await ben.command("echo", ben.channel_id("studio"), {"count": 1, "pick": "ro"}, focused="pick")
        interaction = await bot.next_interaction(since=mark)
        choices = [{"name": f"choice {i}", "value": str(i)} for i in range(26)]
        refused = await bot.respond(interaction, {"type": 8, "data": {"choices": choices}})
        assert error_paths(refused.body["errors"]) == {"data.choices"}
        named = [{"name": "x" * 101, "value": "v"}]
        refused = await bot.respond(interaction, {"type": 8, "data": {"choices": named}})
        assert error_paths(refused.body["errors"]) == {"data.choices.0.name"}
        assert (await bot.respond(interaction, {"type": 8, "data": {"choices": choices[:25]}})).status == 204
        offered = await ben.outcome(nonce)
        assert offered.kind == "choices" and len(offered.data["choices"]) == 25


COMMAND_LIMITS = [
    ([{**PING, "name": "Ping"}], "0.name"),
    ([{**PING, "name": "x" * 33}], "0.name"),
    ([{**PING, "description": ""}], "0.description"),
    ([{**PING, "description": "x" * 101}], "0.description"),
    ([{**PING, "options": [{"type": 3, "name": f"o{i}", "description": "d"} for i in range(26)]}], "0.options"),
    ([{**PING, "options": [{"type": 3, "name": "o", "description": "x" * 101}]}], "0.options.0.description"),
    (
        [
            {
                **PING,
                "options": [
                    {
                        "type": 3,
                        "name": "o",
                        "description": "d",
                        "choices": [{"name": f"c{i}", "value": f"c{i}"} for i in range(26)],
                    }
                ],
            }
        ],
        "0.options.0.choices",
    ),
    (
        [
            {
                **PING,
                "options": [
                    {"type": 3, "name": "o", "description": "d", "choices": [{"name": "x" * 101, "value": "c"}]}
                ],
            }
        ],
        "0.options.0.choices.0.name",
    ),
    ([PING, PING], "1.name"),
]


@pytest.mark.parametrize(("commands", "path"), COMMAND_LIMITS, ids=[p for _, p in COMMAND_LIMITS])
async def test_command_sync_limits(clocked: Playground, commands: list[JSON], path: str) -> None:
    async with raw_bot(clocked) as bot:
        refused = await bot.rest.raw("PUT", f"/applications/{bot.application_id}/commands", json_body=commands)
        assert (refused.status, refused.body["code"]) == (400, 50035)
        assert error_paths(refused.body["errors"]) == {path}
        assert await bot.rest.call("GET", f"/applications/{bot.application_id}/commands") == []  # nothing synced


async def test_uploads_over_the_guilds_limit_are_refused(clocked: Playground) -> None:
    async with raw_bot(clocked) as bot:
        studio = str(clocked.state.identity.studio_id)
        limit = 10 * 1024 * 1024  # premium tier 0
        refused = await bot.rest.raw(
            "POST",
            f"/channels/{studio}/messages",
            json_body={"content": "big"},
            files=[("big.wav", b"\0" * (limit + 1), "audio/wav")],
        )
        assert (refused.status, refused.body["code"], refused.body["message"]) == (
            413,
            40005,
            "Request entity too large",
        )
        two = [("a.wav", b"\0" * (limit // 2 + 1), "audio/wav"), ("b.png", b"\0" * (limit // 2), "image/png")]
        refused = await bot.rest.raw("POST", f"/channels/{studio}/messages", json_body={"content": "two"}, files=two)
        assert refused.status == 413  # the files of one message count together
        fits = await bot.rest.call(
            "POST",
            f"/channels/{studio}/messages",
            json_body={"content": "ok"},
            files=[("a.wav", b"RIFF" + b"\0" * 100, "application/octet-stream")],
        )
        assert fits["attachments"][0]["size"] == 104 and fits["attachments"][0]["content_type"] == "audio/wav"


# --- nonces and rate limits --------------------------------------------------------------------------------------


async def test_a_repeated_create_with_the_same_enforced_nonce_returns_the_first_message(
    clocked: Playground, clock: FakeClock
) -> None:
    async with raw_bot(clocked) as bot, member_of(clocked, "ben") as ben:
        studio = str(clocked.state.identity.studio_id)
        body = {"content": "posted once", "nonce": "job-7-post", "enforce_nonce": True}
        first = await bot.rest.call("POST", f"/channels/{studio}/messages", json_body=body)
        again = await bot.rest.call("POST", f"/channels/{studio}/messages", json_body=body)
        assert again["id"] == first["id"] and first["nonce"] == "job-7-post"
        assert [m["content"] for m in await ben.history(studio)] == ["posted once"]
        # Without enforce_nonce, a nonce does not deduplicate; after a few minutes, neither does enforce_nonce.
        loose = {"content": "twice", "nonce": "n"}
        await bot.rest.call("POST", f"/channels/{studio}/messages", json_body=loose)
        await bot.rest.call("POST", f"/channels/{studio}/messages", json_body=loose)
        clock.advance(301)
        later = await bot.rest.call("POST", f"/channels/{studio}/messages", json_body=body)
        assert later["id"] != first["id"]
        contents = [m["content"] for m in await ben.history(studio)]
        assert contents == ["posted once", "twice", "twice", "posted once"]


async def test_rate_limit_headers_and_429(clocked: Playground, clock: FakeClock) -> None:
    async with raw_bot(clocked) as bot:
        studio, lounge = str(clocked.state.identity.studio_id), str(clocked.state.identity.lounge_id)
        remaining = []
        for n in range(5):
            sent = await bot.rest.raw("POST", f"/channels/{studio}/messages", json_body={"content": f"m{n}"})
            assert sent.status == 200
            assert sent.headers["X-RateLimit-Limit"] == "5"
            assert float(sent.headers["X-RateLimit-Reset-After"]) == 5.0  # the clock stands still
            assert float(sent.headers["X-RateLimit-Reset"]) == clock.now + 5
            remaining.append(int(sent.headers["X-RateLimit-Remaining"]))
            bucket = sent.headers["X-RateLimit-Bucket"]
        assert remaining == [4, 3, 2, 1, 0]
        refused = await bot.rest.raw("POST", f"/channels/{studio}/messages", json_body={"content": "m5"})
        assert refused.status == 429 and refused.body["retry_after"] == 5.0 and refused.body["global"] is False
        assert refused.headers["X-RateLimit-Scope"] == "user" and refused.headers["Retry-After"] == "5"
        assert refused.headers["X-RateLimit-Bucket"] == bucket
        # Per channel: another channel has its own allowance (with the same bucket hash).
        other = await bot.rest.raw("POST", f"/channels/{lounge}/messages", json_body={"content": "elsewhere"})
        assert other.status == 200 and other.headers["X-RateLimit-Remaining"] == "4"
        assert other.headers["X-RateLimit-Bucket"] == bucket
        clock.advance(5)
        again = await bot.rest.raw("POST", f"/channels/{studio}/messages", json_body={"content": "m5"})
        assert again.status == 200 and again.headers["X-RateLimit-Remaining"] == "4"


# --- permissions -------------------------------------------------------------------------------------------------


async def test_permissions_follow_roles_and_channel_overwrites(clocked: Playground, clock: FakeClock) -> None:
    state = clocked.state
    studio, lounge = str(state.identity.studio_id), str(state.identity.lounge_id)
    everyone, admin_role = str(state.guild_id), str(state.identity.base + 3)
    async with raw_bot(clocked) as bot, member_of(clocked, "ana") as ana, member_of(clocked, "ben") as ben:
        await bot.sync([PING])
        # The owner hides #lounge from @everyone except the Admin role, and stops the bot from posting there.
        await ana.rest.call(
            "PUT",
            f"/channels/{lounge}/permissions/{everyone}",
            json_body={"type": 0, "allow": "0", "deny": str(p.VIEW_CHANNEL)},
        )
        await ana.rest.call(
            "PUT",
            f"/channels/{lounge}/permissions/{admin_role}",
            json_body={"type": 0, "allow": str(p.VIEW_CHANNEL), "deny": "0"},
        )
        await ana.rest.call(
            "PUT",
            f"/channels/{lounge}/permissions/{bot.application_id}",
            json_body={"type": 1, "allow": str(p.VIEW_CHANNEL), "deny": str(p.SEND_MESSAGES)},
        )
        hidden = await ben.rest.raw("GET", f"/channels/{lounge}/messages")
        assert (hidden.status, hidden.body["code"]) == (403, 50001)
        refused = await ben.rest.raw(
            "POST",
            "/interactions",
            json_body={
                "type": 2,
                "application_id": bot.application_id,
                "guild_id": str(state.guild_id),
                "channel_id": lounge,
                "nonce": "1",
                "data": {"id": "1", "name": "ping", "type": 1},
            },
        )
        assert (refused.status, refused.body["code"]) == (403, 50001)
        muted = await bot.rest.raw("POST", f"/channels/{lounge}/messages", json_body={"content": "hi"})
        assert (muted.status, muted.body["code"]) == (403, 50013)

        # The interaction carries the member's and the bot's permissions in that channel.
        _, in_lounge = await invoke(bot, ana, channel="lounge")
        assert int(in_lounge["member"]["permissions"]) == p.ALL  # the owner
        assert not int(in_lounge["app_permissions"]) & p.SEND_MESSAGES
        _, in_studio = await invoke(bot, ben)
        ben_perms = int(in_studio["member"]["permissions"])
        assert ben_perms & p.SEND_MESSAGES and not ben_perms & p.MANAGE_GUILD
        wanted = p.SEND_MESSAGES | p.ATTACH_FILES | p.EMBED_LINKS | p.CREATE_PUBLIC_THREADS
        assert int(in_studio["app_permissions"]) & wanted == wanted

        # Only Manage Roles may give roles; the owner makes Ben an admin, and Ben's permissions follow.
        given = await ben.rest.raw("PUT", f"/guilds/{state.guild_id}/members/{ben.id}/roles/{admin_role}")
        assert (given.status, given.body["code"]) == (403, 50013)
        mark = ben.gateway.mark()
        await ana.rest.call("PUT", f"/guilds/{state.guild_id}/members/{ben.id}/roles/{admin_role}")
        update = await ben.message(lambda m: m["user"]["id"] == str(ben.id), event="GUILD_MEMBER_UPDATE", since=mark)
        assert admin_role in update["roles"]
        _, promoted = await invoke(bot, ben)
        assert int(promoted["member"]["permissions"]) & p.MANAGE_GUILD
        assert (await ben.rest.raw("GET", f"/channels/{lounge}/messages")).status == 200
        # A role at or above one's own highest cannot be given (Ben's highest is Admin itself).
        musician = str(state.identity.base + 4)
        await ben.rest.call("PUT", f"/guilds/{state.guild_id}/members/{ben.id}/roles/{musician}")
        top = await ben.rest.raw("PUT", f"/guilds/{state.guild_id}/members/{ben.id}/roles/{admin_role}")
        assert top.status == 403
        assert studio  # (studio stays open to everyone throughout)


async def test_commands_needing_permissions_are_hidden_and_refused(clocked: Playground) -> None:
    async with raw_bot(clocked) as bot, member_of(clocked, "ben") as ben, member_of(clocked, "ana") as ana:
        admin_only = {**PING, "name": "admin", "default_member_permissions": str(p.MANAGE_GUILD)}
        synced = await bot.sync([PING, admin_only])
        assert {c["name"] for c in (await ana.command_index())["application_commands"]} == {"ping", "admin"}
        assert {c["name"] for c in (await ben.command_index())["application_commands"]} == {"ping"}
        command = next(c for c in synced if c["name"] == "admin")
        forced = await ben.rest.raw(
            "POST",
            "/interactions",
            json_body={
                "type": 2,
                "application_id": bot.application_id,
                "guild_id": ben.guild_id,
                "channel_id": ben.channel_id("studio"),
                "nonce": "1",
                "data": {"id": command["id"], "name": "admin", "type": 1},
            },
        )
        assert (forced.status, forced.body["code"]) == (403, 50013)


# --- what reaches the bot ----------------------------------------------------------------------------------------


async def test_typed_options_reach_the_bot_as_typed_but_must_have_the_right_type(clocked: Playground) -> None:
    async with raw_bot(clocked) as bot, member_of(clocked, "ben") as ben:
        await bot.sync([ECHO])
        # Past min/max and max_length: passed on as typed (the bot's own validation must be what refuses them).
        _, interaction = await invoke(bot, ben, "echo", {"count": 99, "word": "far too long"})
        options = {o["name"]: o["value"] for o in interaction["data"]["options"]}
        assert options == {"count": 99, "word": "far too long"}
        wrong = await ben.rest.raw(
            "POST",
            "/interactions",
            json_body={
                "type": 2,
                "application_id": bot.application_id,
                "guild_id": ben.guild_id,
                "channel_id": ben.channel_id("studio"),
                "nonce": "2",
                "data": {
                    "id": interaction["data"]["id"],
                    "name": "echo",
                    "type": 1,
                    "options": [{"type": 4, "name": "count", "value": "many"}],
                },
            },
        )
        assert (wrong.status, wrong.body["code"]) == (400, 50035)
        assert error_paths(wrong.body["errors"]) == {"data.options.0.value"}


async def test_without_the_message_content_intent_the_bot_sees_only_mentions(clocked: Playground) -> None:
    async with raw_bot(clocked) as bot, member_of(clocked, "ben") as ben:
        studio = ben.channel_id("studio")
        await ben.say(studio, "hello there")
        await ben.say(studio, f"<@{bot.application_id}> sync")
        plain = await bot.gateway.wait_for("MESSAGE_CREATE", lambda m: m["author"]["id"] == str(ben.id))
        assert plain["content"] == ""
        mention = await bot.gateway.wait_for(
            "MESSAGE_CREATE", lambda m: m["content"] != "" and m["author"]["id"] == str(ben.id)
        )
        assert mention["content"] == f"<@{bot.application_id}> sync"
        assert [m["id"] for m in mention["mentions"]] == [bot.application_id]
