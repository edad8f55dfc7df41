"""The discord.py client: holds the Services, registers the persistent buttons, loads the cogs."""

from __future__ import annotations

import logging
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.domain.ports import FileFetcher
from bot.services import Services
from bot.ui.access import ChannelHomes
from bot.ui.errors import reply_error
from bot.ui.posts import TrackPosts

log = logging.getLogger(__name__)

EXTENSIONS = ("cogs.music", "cogs.quota", "cogs.studio", "cogs.owner")


class TunesmithTree(app_commands.CommandTree["Tunesmith"]):
    async def on_error(self, interaction: discord.Interaction[Tunesmith], error: app_commands.AppCommandError) -> None:
        await reply_error(interaction, error)


class Tunesmith(commands.Bot):
    """The bot. Needs no privileged intents: everything is slash commands, buttons and modals."""

    def __init__(self, services: Services, files: FileFetcher, *, sync_commands: bool = False, **options: Any) -> None:
        super().__init__(
            # A mention prefix needs no message-content intent; it carries only the owner's sync command.
            command_prefix=commands.when_mentioned,
            intents=discord.Intents.default(),
            allowed_mentions=discord.AllowedMentions.none(),
            tree_cls=TunesmithTree,
            help_command=None,
            **options,
        )
        self.services = services
        self.posts = TrackPosts(self, files)
        self.channel_homes = ChannelHomes(self)  # where archived threads belong, for permissions
        self.sync_commands = sync_commands

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


class ShardedTunesmith(Tunesmith, commands.AutoShardedBot):
    """The bot on some of Discord's shards (TUNESMITH_SHARD_COUNT, TUNESMITH_SHARD_IDS): one process of many, all
    on one PostgreSQL database. discord.py's AutoShardedBot runs the listed shards over one REST client."""


def make_bot(
    services: Services,
    files: FileFetcher,
    *,
    sync_commands: bool = False,
    shard_count: int | None = None,
    shard_ids: list[int] | None = None,
) -> Tunesmith:
    """The bot: sharded when a shard count is set (with this process's shards, else all of them)."""
    if shard_count is None:
        return Tunesmith(services, files, sync_commands=sync_commands)
    return ShardedTunesmith(
        services,
        files,
        sync_commands=sync_commands,
        shard_count=shard_count,
        shard_ids=shard_ids if shard_ids is not None else list(range(shard_count)),
    )
