"""/quota for everyone, /quota-admin for people with Manage Server."""

from __future__ import annotations

from typing import Literal

import discord
from discord import app_commands
from discord.ext import commands

from bot.client import Tunesmith
from bot.domain.models import Operation, Period
from bot.ui import render
from bot.ui.flows import requester

Interaction = discord.Interaction[Tunesmith]
OperationName = Literal[
    "create", "extend", "cover", "replace", "variation", "swap_vocals", "swap_sound", "upload", "download", "lyrics"
]


class Quota(commands.Cog):
    def __init__(self, bot: Tunesmith) -> None:
        self.bot = bot

    @app_commands.command(name="quota", description="Credits left for the server and for you, and what things cost")
    @app_commands.guild_only()
    async def quota(self, interaction: Interaction) -> None:
        """Credits left for the server and for you, what each operation costs, and when credits reset."""
        who = requester(interaction)
        quota = await interaction.client.services.credits.quota(who.guild_id, who.user_id)
        await interaction.response.send_message(
            embed=render.quota_embed(quota, member_name=interaction.user.display_name), ephemeral=True
        )


@app_commands.guild_only()
@app_commands.default_permissions(manage_guild=True)
class QuotaAdmin(commands.GroupCog, group_name="quota-admin", group_description="Manage the server's credits"):
    """Every command here is also checked by the bot (Manage Server), not only by Discord's defaults."""

    def __init__(self, bot: Tunesmith) -> None:
        self.bot = bot
        super().__init__()

    @app_commands.command(name="set-server", description="Set the server's budget per period")
    @app_commands.describe(budget="Credits per period", period="How often credits reset")
    async def set_server(
        self,
        interaction: Interaction,
        budget: app_commands.Range[int, 0, 10_000_000],
        period: Literal["day", "week", "month"] | None = None,
    ) -> None:
        """Set the server's budget per period."""
        settings = await interaction.client.services.credits.set_server_budget(
            requester(interaction), budget, Period(period) if period else None
        )
        await interaction.response.send_message(
            f"The server now has {settings.budget} credits per {settings.period.value}.", ephemeral=True
        )

    @app_commands.command(name="set-member", description="Cap what one member may spend per period")
    @app_commands.describe(member="The member", cap="Credits per period; leave empty to remove the cap")
    async def set_member(
        self,
        interaction: Interaction,
        member: discord.Member,
        cap: app_commands.Range[int, 0, 10_000_000] | None = None,
    ) -> None:
        """Cap what one member may spend per period (inside the server's budget)."""
        await interaction.client.services.credits.set_member_cap(requester(interaction), member.id, cap)
        text = (
            f"{member.mention} may spend {cap} credits per period."
            if cap is not None
            else (f"{member.mention} has no personal cap now.")
        )
        await interaction.response.send_message(text, ephemeral=True)

    @app_commands.command(name="grant", description="Add credits to the server, or to one member's allowance")
    @app_commands.describe(amount="Credits to add (negative to take back)", member="Only this member")
    async def grant(
        self,
        interaction: Interaction,
        amount: app_commands.Range[int, -1_000_000, 1_000_000],
        member: discord.Member | None = None,
    ) -> None:
        """Add credits to the server's current period, or to one member's allowance."""
        left = await interaction.client.services.credits.grant(
            requester(interaction), amount, member.id if member else None
        )
        whom = member.mention if member else "The server"
        await interaction.response.send_message(f"Done. {whom} now has {left} credits left.", ephemeral=True)

    @app_commands.command(name="costs", description="Change what an operation costs in this server")
    @app_commands.describe(operation="The operation", cost="Credits it costs")
    async def costs(
        self, interaction: Interaction, operation: OperationName, cost: app_commands.Range[int, 0, 100_000]
    ) -> None:
        """Change what an operation costs in this server."""
        op = Operation(operation)
        await interaction.client.services.credits.set_cost(requester(interaction), op, cost)
        await interaction.response.send_message(f"{op.label} now costs {cost} credits here.", ephemeral=True)

    @app_commands.command(name="reset", description="Start a new period now: everyone's credits go back to full")
    async def reset(self, interaction: Interaction) -> None:
        """Start a new period now: everyone's credits go back to full."""
        settings = await interaction.client.services.credits.reset_period(requester(interaction))
        await interaction.response.send_message(
            f"Credits reset: the server is back to {settings.budget}.", ephemeral=True
        )


async def setup(bot: Tunesmith) -> None:
    await bot.add_cog(Quota(bot))
    await bot.add_cog(QuotaAdmin(bot))
