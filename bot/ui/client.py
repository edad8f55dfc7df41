"""The discord.py client: wires the cogs, the persistent buttons and the error handler to the Studio service."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.core.studio import Studio
from bot.ui.errors import reply_error

if TYPE_CHECKING:
    from bot.ui.notifier import DiscordNotifier

log = logging.getLogger(__name__)

EXTENSIONS = ("cogs.music", "cogs.quota", "cogs.studio", "cogs.owner")


class TunesmithTree(app_commands.CommandTree["Tunesmith"]):
    async def on_error(self, interaction: discord.Interaction[Tunesmith], error: app_commands.AppCommandError) -> None:
        await reply_error(interaction, error)


class Tunesmith(commands.Bot):
    """The bot. Needs no privileged intents: everything is slash commands, buttons and modals."""

    def __init__(self, studio: Studio, *, sync_commands: bool = False) -> None:
        super().__init__(
            # A mention prefix needs no message-content intent; it carries only the owner's sync command.
            command_prefix=commands.when_mentioned,
            intents=discord.Intents.default(),
            allowed_mentions=discord.AllowedMentions.none(),
            tree_cls=TunesmithTree,
            help_command=None,
        )
        self.studio = studio
        self.sync_commands = sync_commands
        self.notifier: DiscordNotifier | None = None

    async def setup_hook(self) -> None:
        from bot.ui.buttons import DYNAMIC_ITEMS

        for extension in EXTENSIONS:
            await self.load_extension(extension)
        self.add_dynamic_items(*DYNAMIC_ITEMS)
        if self.sync_commands:
            synced = await self.tree.sync()
            log.info("synced %d slash commands (TUNESMITH_SYNC_COMMANDS=true)", len(synced))

    async def on_ready(self) -> None:
        log.info("logged in as %s (%s) in %d servers", self.user, getattr(self.user, "id", "?"), len(self.guilds))
