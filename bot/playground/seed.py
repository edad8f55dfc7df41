"""The guild a fresh (or reset) playground starts with: "Tunesmith Playground", #studio and #lounge, four members.

Ids are a stored base snowflake plus fixed offsets, so a reset gives back the very same guild, channels, roles and
members (the bot's own database keeps referring to them), and tokens are stored, so the bot and the page keep
theirs across restarts.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime

from bot.playground import permissions as p
from bot.playground.errors import JSON

GUILD_NAME = "Tunesmith Playground"
APPLICATION_NAME = "Tunesmith"
GUILD_TEXT = 0


@dataclass(frozen=True)
class SeedMember:
    key: str  # username
    global_name: str
    avatar_color: str
    admin: bool = False


MEMBERS = (
    SeedMember("ana", "Ana", "#eb459e", admin=True),  # the owner
    SeedMember("ben", "Ben", "#3ba55c"),
    SeedMember("chloe", "Chloe", "#faa61a"),
    SeedMember("dev", "Dev", "#5865f2"),
)
BOT_COLOR = "#ed4245"

# Offsets from the base snowflake.
STUDIO, LOUNGE, ADMIN_ROLE, MUSICIAN_ROLE, BOT_ROLE, BOT_USER = 1, 2, 3, 4, 5, 6
FIRST_MEMBER = 10


@dataclass
class Identity:
    """What must never change once made: ids and tokens."""

    base: int
    bot_token: str
    user_tokens: dict[str, str] = field(default_factory=dict)

    @property
    def guild_id(self) -> int:
        return self.base

    @property
    def application_id(self) -> int:
        return self.base + BOT_USER  # the bot user shares its application's id, as every bot made since 2020

    @property
    def owner_id(self) -> int:
        return self.base + FIRST_MEMBER

    @property
    def studio_id(self) -> int:
        return self.base + STUDIO

    @property
    def lounge_id(self) -> int:
        return self.base + LOUNGE

    def member_id(self, index: int) -> int:
        return self.base + FIRST_MEMBER + index

    def dumps(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def loads(cls, text: str) -> Identity:
        raw = json.loads(text)
        return cls(base=int(raw["base"]), bot_token=str(raw["bot_token"]), user_tokens=dict(raw["user_tokens"]))

    @classmethod
    def new(cls, base: int) -> Identity:
        # Local, not secret in any real sense (the page hands user tokens out), but unguessable from another site.
        return cls(
            base=base,
            bot_token=f"playground-bot.{secrets.token_urlsafe(24)}",
            user_tokens={m.key: f"playground-user.{secrets.token_urlsafe(18)}" for m in MEMBERS},
        )


@dataclass
class Seed:
    users: list[JSON]
    members: list[JSON]
    roles: list[JSON]
    channels: list[JSON]


def user(user_id: int, username: str, global_name: str | None, color: str, *, bot: bool = False) -> JSON:
    return {
        "id": str(user_id),
        "username": username,
        "discriminator": "0",
        "global_name": global_name,
        "avatar": None,
        "bot": bot,
        "system": False,
        "public_flags": 0,
        "accent_color": int(color.lstrip("#"), 16),
        "avatar_decoration_data": None,
        "banner": None,
    }


def member(user_object: JSON, roles: list[int], joined_at: str) -> JSON:
    return {
        "user": user_object,
        "roles": [str(r) for r in roles],
        "joined_at": joined_at,
        "nick": None,
        "avatar": None,
        "deaf": False,
        "mute": False,
        "flags": 0,
        "pending": False,
        "premium_since": None,
        "communication_disabled_until": None,
    }


def role(
    role_id: int,
    name: str,
    permissions: int,
    position: int,
    *,
    color: int = 0,
    hoist: bool = False,
    bot_id: int | None = None,
) -> JSON:
    data: JSON = {
        "id": str(role_id),
        "name": name,
        "permissions": str(permissions),
        "position": position,
        "color": color,
        "colors": {"primary_color": color, "secondary_color": None, "tertiary_color": None},
        "hoist": hoist,
        "icon": None,
        "unicode_emoji": None,
        "managed": bot_id is not None,
        "mentionable": False,
        "flags": 0,
    }
    if bot_id is not None:
        data["tags"] = {"bot_id": str(bot_id)}
    return data


def text_channel(channel_id: int, guild_id: int, name: str, position: int, topic: str) -> JSON:
    return {
        "id": str(channel_id),
        "type": GUILD_TEXT,
        "guild_id": str(guild_id),
        "name": name,
        "position": position,
        "permission_overwrites": [],
        "nsfw": False,
        "parent_id": None,
        "topic": topic,
        "last_message_id": None,
        "rate_limit_per_user": 0,
        "flags": 0,
    }


def seed(identity: Identity, now: datetime | None = None) -> Seed:
    joined = (now or datetime.now(UTC)).isoformat()
    base, gid = identity.base, identity.guild_id
    bot = user(identity.application_id, "tunesmith", APPLICATION_NAME, BOT_COLOR, bot=True)
    users = [bot]
    members = [member(bot, [base + BOT_ROLE], joined)]
    for index, seeded in enumerate(MEMBERS):
        person = user(identity.member_id(index), seeded.key, seeded.global_name, seeded.avatar_color)
        users.append(person)
        members.append(member(person, [base + ADMIN_ROLE] if seeded.admin else [], joined))
    roles = [
        role(gid, "@everyone", p.EVERYONE_DEFAULT, 0),
        role(base + MUSICIAN_ROLE, "Musician", 0, 1, color=0x1ABC9C),
        role(base + BOT_ROLE, APPLICATION_NAME, p.BOT_DEFAULT, 2, bot_id=identity.application_id),
        role(base + ADMIN_ROLE, "Admin", p.MODERATOR, 3, color=0xE91E63, hoist=True),
    ]
    channels = [
        text_channel(identity.studio_id, gid, "studio", 0, "Make songs together: type / to start"),
        text_channel(identity.lounge_id, gid, "lounge", 1, "Everything else"),
    ]
    return Seed(users, members, roles, channels)
