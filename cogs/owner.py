"""Owner-only maintenance, reached by mentioning the bot (needs no message-content intent): @Tunesmith sync."""

from __future__ import annotations

import logging

import discord
from discord.ext import commands

from bot.client import Tunesmith

log = logging.getLogger(__name__)


class Owner(commands.Cog):
    def __init__(self, bot: Tunesmith) -> None:
        self.bot = bot

    @commands.command(name="sync")
    @commands.is_owner()
    async def sync(self, ctx: commands.Context[Tunesmith], scope: str = "global") -> None:
        """Publish the slash commands: `@Tunesmith sync` (everywhere, takes up to an hour) or `sync here`."""
        if scope == "here" and ctx.guild is not None:
            self.bot.tree.copy_global_to(guild=ctx.guild)
            synced = await self.bot.tree.sync(guild=ctx.guild)
        else:
            synced = await self.bot.tree.sync()
        log.info("owner synced %d commands (%s)", len(synced), scope)
        await ctx.reply(f"Synced {len(synced)} commands ({scope}).", allowed_mentions=discord.AllowedMentions.none())


async def setup(bot: Tunesmith) -> None:
    await bot.add_cog(Owner(bot))
