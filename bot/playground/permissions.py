"""Discord's permission arithmetic: @everyone, roles, administrator, the owner, and channel overwrites.

Follows the developer docs' algorithm ("Permission Overwrites" under Permissions): base permissions from
@everyone and the member's roles; administrator or ownership means everything; then in a channel the
@everyone overwrite, the member's role overwrites (all denies, then all allows) and the member's own overwrite.
A thread takes its parent's overwrites. Without View Channel nothing else counts, and without Send Messages the
permissions that only make sense when sending are dropped, as Discord does implicitly.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

JSON = dict[str, Any]

CREATE_INSTANT_INVITE = 1 << 0
KICK_MEMBERS = 1 << 1
BAN_MEMBERS = 1 << 2
ADMINISTRATOR = 1 << 3
MANAGE_CHANNELS = 1 << 4
MANAGE_GUILD = 1 << 5
ADD_REACTIONS = 1 << 6
VIEW_AUDIT_LOG = 1 << 7
VIEW_CHANNEL = 1 << 10
SEND_MESSAGES = 1 << 11
SEND_TTS_MESSAGES = 1 << 12
MANAGE_MESSAGES = 1 << 13
EMBED_LINKS = 1 << 14
ATTACH_FILES = 1 << 15
READ_MESSAGE_HISTORY = 1 << 16
MENTION_EVERYONE = 1 << 17
USE_EXTERNAL_EMOJIS = 1 << 18
CHANGE_NICKNAME = 1 << 26
MANAGE_ROLES = 1 << 28
USE_APPLICATION_COMMANDS = 1 << 31
MANAGE_THREADS = 1 << 34
CREATE_PUBLIC_THREADS = 1 << 35
CREATE_PRIVATE_THREADS = 1 << 36
SEND_MESSAGES_IN_THREADS = 1 << 38
MODERATE_MEMBERS = 1 << 40

ALL = (1 << 51) - 1  # every permission Discord defines today (bits 0-50)

# What a fresh server gives @everyone: enough to chat and use a music bot.
EVERYONE_DEFAULT = (
    CREATE_INSTANT_INVITE
    | CHANGE_NICKNAME
    | VIEW_CHANNEL
    | SEND_MESSAGES
    | SEND_MESSAGES_IN_THREADS
    | CREATE_PUBLIC_THREADS
    | EMBED_LINKS
    | ATTACH_FILES
    | ADD_REACTIONS
    | USE_EXTERNAL_EMOJIS
    | READ_MESSAGE_HISTORY
    | USE_APPLICATION_COMMANDS
)
# What the README asks an operator to grant the bot when inviting it.
BOT_DEFAULT = (
    VIEW_CHANNEL
    | SEND_MESSAGES
    | SEND_MESSAGES_IN_THREADS
    | CREATE_PUBLIC_THREADS
    | ATTACH_FILES
    | EMBED_LINKS
    | READ_MESSAGE_HISTORY
    | USE_APPLICATION_COMMANDS
)
MODERATOR = MANAGE_GUILD | MANAGE_ROLES | MANAGE_MESSAGES | MANAGE_THREADS | MODERATE_MEMBERS | KICK_MEMBERS

_NEEDS_SEND = MENTION_EVERYONE | SEND_TTS_MESSAGES | ATTACH_FILES | EMBED_LINKS
THREAD_TYPES = frozenset({10, 11, 12})


def base_permissions(guild_id: int, owner_id: int, roles: Mapping[int, JSON], member: JSON) -> int:
    """A member's guild-wide permissions."""
    if int(member["user"]["id"]) == owner_id:
        return ALL
    perms = int(roles[guild_id]["permissions"])
    for role_id in member.get("roles") or ():
        role = roles.get(int(role_id))
        if role is not None:
            perms |= int(role["permissions"])
    return ALL if perms & ADMINISTRATOR else perms


def channel_permissions(
    guild_id: int, owner_id: int, roles: Mapping[int, JSON], member: JSON, overwrites: Iterable[JSON], channel_type: int
) -> int:
    """A member's permissions in a channel with these overwrites (a thread passes its parent's)."""
    perms = base_permissions(guild_id, owner_id, roles, member)
    if perms & ADMINISTRATOR or perms == ALL:
        return ALL
    by_id = {int(o["id"]): o for o in overwrites}
    everyone = by_id.get(guild_id)
    if everyone is not None:
        perms = (perms & ~int(everyone["deny"])) | int(everyone["allow"])
    allow = deny = 0
    for role_id in member.get("roles") or ():
        overwrite = by_id.get(int(role_id))
        if overwrite is not None and overwrite.get("type", 0) == 0:
            allow |= int(overwrite["allow"])
            deny |= int(overwrite["deny"])
    perms = (perms & ~deny) | allow
    own = by_id.get(int(member["user"]["id"]))
    if own is not None and own.get("type", 1) == 1:
        perms = (perms & ~int(own["deny"])) | int(own["allow"])
    if not perms & VIEW_CHANNEL:
        return 0
    if channel_type in THREAD_TYPES:
        # In a thread, sending is governed by Send Messages in Threads instead.
        perms = (perms & ~SEND_MESSAGES) | (SEND_MESSAGES if perms & SEND_MESSAGES_IN_THREADS else 0)
    if not perms & SEND_MESSAGES:
        perms &= ~_NEEDS_SEND
    return perms


def highest_position(roles: Mapping[int, JSON], member: JSON) -> int:
    return max((int(roles[int(r)]["position"]) for r in member.get("roles") or () if int(r) in roles), default=0)
