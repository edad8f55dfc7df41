"""Who asks, and where: the Discord facts core needs to apply a server's rules, without Discord."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


class ChannelAccess(Protocol):
    """What a member may see and moderate, channel by channel (the ui answers from Discord's permissions).

    A thread counts as its parent channel. Core asks about the channel where a job or a track lives, never
    about the channel where a command was typed.
    """

    def can_view(self, channel_id: int) -> bool: ...

    def can_moderate(self, channel_id: int) -> bool: ...


@dataclass(frozen=True, slots=True)
class Requester:
    """A member acting in a server: ids, roles and permissions, as plain values."""

    guild_id: int
    channel_id: int
    user_id: int
    role_ids: frozenset[int] = frozenset()
    parent_channel_id: int | None = None  # when asked in a thread: the channel it belongs to
    is_admin: bool = False  # Manage Server
    is_moderator: bool = False  # Manage Messages
    access: ChannelAccess | None = None
    """Per-channel permissions, when the ui provides them; without, the flags above apply everywhere."""

    def can_view(self, channel_id: int) -> bool:
        return True if self.access is None else self.access.can_view(channel_id)

    def can_moderate(self, channel_id: int) -> bool:
        """Power over other members' jobs and tracks that live in ``channel_id``."""
        if self.access is not None:
            return self.access.can_moderate(channel_id)
        return self.is_moderator or self.is_admin
