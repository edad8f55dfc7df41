"""Who asks, and where: the Discord facts core needs to apply a server's rules, without Discord."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


class ChannelAccess(Protocol):
    """What a member may see and moderate, channel by channel (the ui answers from Discord's permissions).

    A thread counts as its parent channel. Core asks about the channel where a job or a track lives, never
    about the channel where a command was typed. Asynchronous: the ui may have to look a channel up (an archived
    thread is no longer in Discord's cache).
    """

    async def can_view(self, channel_id: int) -> bool: ...

    async def can_moderate(self, channel_id: int) -> bool: ...


@dataclass(frozen=True, slots=True)
class Requester:
    """A member acting in a server: ids, roles and permissions, as plain values."""

    guild_id: int
    channel_id: int
    user_id: int
    role_ids: frozenset[int] = frozenset()
    parent_channel_id: int | None = None  # when asked in a thread: the channel it belongs to
    is_admin: bool = False  # Manage Server, server-wide
    is_moderator: bool = False  # Manage Messages, server-wide (a channel's own overwrites count only there)
    access: ChannelAccess | None = None
    """Per-channel permissions, when the ui provides them; without, the flags above apply everywhere."""

    async def can_view(self, channel_id: int) -> bool:
        """Whether the member may see what lives in ``channel_id`` (its tracks, their titles and files)."""
        return True if self.access is None else await self.access.can_view(channel_id)

    async def can_moderate(self, channel_id: int) -> bool:
        """Power over other members' jobs and tracks that live in ``channel_id``: server-wide Manage Messages, or
        Manage Messages in that channel (never in the channel where the command was typed)."""
        if self.is_moderator or self.is_admin:
            return True
        return False if self.access is None else await self.access.can_moderate(channel_id)
