"""What a member may see and moderate, channel by channel, from Discord's permissions (core's ``ChannelAccess``).

Core asks about the channel where a job or a track lives, never the channel where a command was typed: Manage
Messages in #general gives no power over a track in #staff, and a track made in a channel a member cannot view is
not theirs to find, show, remix or download. A thread counts as its parent channel. Discord's cache holds the
active threads only; an archived one (a remix thread quiet for a day) is looked up once and remembered.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

import discord

if TYPE_CHECKING:
    from bot.client import Tunesmith

log = logging.getLogger(__name__)

LOOKUP_TIMEOUT_S = 2.0


class ChannelHomes:
    """Thread id → the channel it belongs to, for the threads Discord's cache no longer holds (one per bot)."""

    def __init__(self, client: Tunesmith) -> None:
        self._client = client
        self._parents: dict[int, int | None] = {}  # None: gone, or never visible to the bot

    async def home(self, guild: discord.Guild, channel_id: int) -> discord.abc.GuildChannel | None:
        """The channel whose permissions apply to what lives in ``channel_id``, or None when it is gone."""
        found = guild.get_channel_or_thread(channel_id)
        if isinstance(found, discord.Thread):
            return found.parent or guild.get_channel(found.parent_id)
        if found is not None:
            return found
        if channel_id not in self._parents:
            parent_id = await self._lookup(channel_id)
            if parent_id is False:
                return None  # Discord did not answer: not remembered, asked again next time
            self._parents[channel_id] = parent_id
        parent_id = self._parents[channel_id]
        return guild.get_channel(parent_id) if parent_id is not None else None

    async def _lookup(self, channel_id: int) -> int | bool | None:
        try:
            async with asyncio.timeout(LOOKUP_TIMEOUT_S):
                channel = await self._client.fetch_channel(channel_id)
        except (discord.NotFound, discord.Forbidden):
            return None
        except (discord.HTTPException, TimeoutError):
            log.warning("could not look up channel %d for permissions", channel_id, exc_info=True)
            return False
        return channel.parent_id if isinstance(channel, discord.Thread) else channel.id


class MemberAccess:
    """One member's permissions in the channels core asks about (computed once per channel per interaction)."""

    def __init__(self, member: discord.Member, homes: ChannelHomes) -> None:
        self._member = member
        self._guild = member.guild
        self._homes = homes
        self._wide = member.guild_permissions
        self._known: dict[int, discord.Permissions | None] = {}

    async def _permissions(self, channel_id: int) -> discord.Permissions | None:
        if channel_id not in self._known:
            home = await self._homes.home(self._guild, channel_id)
            self._known[channel_id] = home.permissions_for(self._member) if home is not None else None
        return self._known[channel_id]

    async def can_view(self, channel_id: int) -> bool:
        if self._wide.administrator:
            return True
        permissions = await self._permissions(channel_id)
        return permissions is not None and permissions.view_channel

    async def can_moderate(self, channel_id: int) -> bool:
        if self._wide.administrator or self._wide.manage_messages:
            return True
        permissions = await self._permissions(channel_id)
        return permissions is not None and permissions.view_channel and permissions.manage_messages


class HereOnly:
    """Without the member's roles (the server is not in the cache): only the channel asked in, and no moderation."""

    def __init__(self, *channel_ids: int | None) -> None:
        self._here = {c for c in channel_ids if c is not None}

    async def can_view(self, channel_id: int) -> bool:
        return channel_id in self._here

    async def can_moderate(self, channel_id: int) -> bool:
        return False
