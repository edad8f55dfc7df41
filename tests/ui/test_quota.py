"""Credits as members and admins see them: /quota, /quota-admin, and refusals that cost nothing."""

from __future__ import annotations

import pytest
import simcord

from bot.domain.models import DEFAULT_COSTS
from bot.providers.producer import PRODUCER_OPERATIONS
from tests.ui.conftest import Studio
from tests.ui.helpers import fields, submit

COSTS = (
    "Create: 10\nExtend: 10\nCover: 10\nReplace section: 10\nVariation: 10\nSwap vocals: 10\nSwap sound: 10\n"
    "Upload: 2\nDownload: 2\nLyrics: 1"
)


async def test_quota_shows_credits_left_and_what_things_cost(studio: Studio) -> None:
    await studio.ana.slash(studio.channel, "music create", prompt="lofi")
    await studio.wait_for_posts(1)
    result = await studio.ana.slash(studio.channel, "quota")
    assert result.ephemeral
    embed = result.response.embeds[0]
    shown = fields(embed)
    assert embed.title == "Credits"
    assert shown["Server"] == "990 of 1000 left this month"
    assert shown["ana"] == "no personal cap (the server's budget applies)"
    assert shown["Resets"].startswith("<t:") and shown["Resets"].endswith(":R>")
    assert shown["What each operation costs"] == COSTS
    assert embed.footer.text == "Songs in the works: 0 of 2"


async def test_quota_admin_commands(studio: Studio) -> None:
    admin, bo = studio.admin, studio.bo

    async def say(command: str, **options: object) -> str:
        result = await admin.slash(studio.channel, f"quota-admin {command}", **options)
        assert result.ephemeral
        return result.response.content

    async def quota_of(member: object) -> dict[str, str]:
        return fields((await member.slash(studio.channel, "quota")).response.embeds[0])  # type: ignore[attr-defined]

    assert await say("set-server", budget=500, period="week") == "The server now has 500 credits per week."
    assert (await quota_of(bo))["Server"] == "500 of 500 left this week"

    assert await say("set-member", member=bo, cap=15) == f"<@{bo.id}> may spend 15 credits per period."
    assert (await quota_of(bo))["bo"] == "15 of 15 left"
    await bo.slash(studio.channel, "music create", prompt="polka")
    await studio.wait_for_posts(1)
    assert (await quota_of(bo))["bo"] == "5 of 15 left"
    refused = await bo.slash(studio.channel, "music create", prompt="polka again")
    assert refused.ephemeral and refused.response.content.startswith(
        "You have 5 of your 15 credits left and create costs 10."
    )

    assert await say("grant", amount=10, member=bo) == f"Done. <@{bo.id}> now has 15 credits left."
    assert await say("grant", amount=100) == "Done. The server now has 590 credits left."
    assert (await quota_of(bo))["Server"] == "590 of 500 left this week"

    assert await say("costs", operation="create", cost=3) == "Create now costs 3 credits here."
    assert (await quota_of(bo))["What each operation costs"].startswith("Create: 3\n")
    await bo.slash(studio.channel, "music create", prompt="polka, cheaper")
    await studio.wait_for_posts(2)
    assert (await quota_of(bo))["bo"] == "12 of 15 left"

    assert await say("set-member", member=bo) == f"<@{bo.id}> has no personal cap now."
    assert await say("reset") == "Credits reset: the server is back to 500."
    assert (await quota_of(bo))["Server"] == "500 of 500 left this week"

    # Discord's client enforces the ranges.
    with pytest.raises(simcord.OptionError):
        await admin.slash(studio.channel, "quota-admin set-server", budget=-1)
    # Our own checks answer the rest: a grant of nothing.
    assert await say("grant", amount=0) == "Grant between 1 and 1,000,000 credits (negative to take some back)."


async def test_quota_admin_is_refused_by_the_bot_without_manage_server(studio: Studio) -> None:
    bo = studio.bo
    # Discord hides the group from members without Manage Server (default_permissions) ...
    with pytest.raises(simcord.SetupError, match="not visible"):
        await bo.slash(studio.channel, "quota-admin grant", amount=1000)
    # ... but a server can show it to anyone (Integrations settings), so the bot checks again by itself.
    commands = {c.name: c for c in await studio.app.bot.tree.fetch_commands()}
    studio.guild.set_command_permissions(commands["quota-admin"], {bo: True})
    for command, options in (
        ("set-server", {"budget": 1_000_000}),
        ("set-member", {"member": bo}),
        ("grant", {"amount": 1000}),
        ("costs", {"operation": "create", "cost": 0}),
        ("reset", {}),
    ):
        result = await bo.slash(studio.channel, f"quota-admin {command}", **options)
        assert result.ephemeral, command
        assert result.response.content == "You need the Manage Server permission for this.", command
    quota = await studio.app.services.credits.quota(studio.guild.id, bo.id)
    assert (quota.server_budget, quota.server_remaining, quota.member_cap) == (1000, 1000, None)
    assert quota.costs == {op: cost for op, cost in DEFAULT_COSTS.items() if op in PRODUCER_OPERATIONS}
    assert studio.messages() == []


async def test_an_exhausted_budget_is_refused_before_anything_is_spent(studio: Studio) -> None:
    await studio.admin.slash(studio.channel, "quota-admin set-server", budget=15)
    await studio.ana.slash(studio.channel, "music create", prompt="lofi", title="Last One")
    [post] = await studio.wait_for_posts(1)
    assert await studio.credits() == 5

    refused = await studio.ana.slash(studio.channel, "music create", prompt="lofi", title="One More")
    assert refused.ephemeral
    assert refused.response.content.startswith("This server has 5 credits left and create costs 10. Credits reset <t:")
    assert refused.response.content.endswith(":R>, or an admin can grant more.")
    # Through a button and its form too: no status message, no remix thread, nothing charged.
    shown = await studio.bo.click(post, custom_id="tunesmith:track:cover:1")
    refused = await submit(studio.bo, shown)
    assert refused.ephemeral and refused.response.content.startswith("This server has 5 credits left")
    assert len(studio.messages()) == 1 and studio.channel.threads == []
    assert await studio.credits() == 5


async def test_jobs_in_flight_are_limited_per_member(studio: Studio) -> None:
    studio.app.sandbox.render_seconds = 60  # both stay in the works
    await studio.ana.slash(studio.channel, "music create", prompt="one")
    await studio.ana.slash(studio.channel, "music create", prompt="two")
    refused = await studio.ana.slash(studio.channel, "music create", prompt="three")
    assert refused.ephemeral and refused.response.content.startswith(
        "You already have 2 song(s) in the works (the limit is 2)."
    )
    assert len(studio.messages()) == 2 and await studio.credits() == 980
    assert (await studio.bo.slash(studio.channel, "music create", prompt="bo's")).response.ephemeral is False
