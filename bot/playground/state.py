"""The playground's Discord: one guild with its users, members, roles, channels, threads and commands.

Small things live in memory (and are written through to SQLite on every change); messages are read from SQLite
when needed, so 500 messages in a channel cost nothing until someone scrolls. This module knows who may see and
do what (``permissions``), and how each object looks on the wire (``*_out``); it never sends anything itself.
"""

from __future__ import annotations

import copy
import logging
import mimetypes
import re
from collections.abc import Callable
from datetime import UTC, datetime

from bot.playground import permissions as p
from bot.playground import seed as seeding
from bot.playground.errors import JSON, ApiError, unknown
from bot.playground.store import SCHEMA_VERSION, Store

log = logging.getLogger(__name__)

DISCORD_EPOCH_MS = 1_420_070_400_000
GUILD_TEXT, PUBLIC_THREAD, PRIVATE_THREAD = 0, 11, 12
THREAD_TYPES = frozenset({10, PUBLIC_THREAD, PRIVATE_THREAD})
EPHEMERAL, LOADING, HAS_THREAD = 1 << 6, 1 << 7, 1 << 5
# discord.py's Guild.filesize_limit, by boost tier.
UPLOAD_LIMITS = {0: 10 * 1024 * 1024, 1: 10 * 1024 * 1024, 2: 50 * 1024 * 1024, 3: 100 * 1024 * 1024}
_USER_MENTION = re.compile(r"<@!?(\d{1,20})>")
_ROLE_MENTION = re.compile(r"<@&(\d{1,20})>")
_CONTENT_TYPES = {".wav": "audio/wav", ".mp3": "audio/mpeg", ".ogg": "audio/ogg", ".png": "image/png"}


class Snowflakes:
    """Increasing, real-looking snowflakes (timestamp in the high bits) that never repeat, even across restarts."""

    def __init__(self, clock: Callable[[], float], last: int = 0) -> None:
        self._clock = clock
        self.last = last

    def next(self) -> int:
        candidate = (int(self._clock() * 1000) - DISCORD_EPOCH_MS) << 22
        self.last = max(candidate, self.last + 1)
        return self.last


def iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).isoformat()


def content_type_for(filename: str, declared: str | None) -> str:
    """Discord derives an attachment's type from the file; clients mostly send application/octet-stream."""
    suffix = ("." + filename.rsplit(".", 1)[-1].lower()) if "." in filename else ""
    if suffix in _CONTENT_TYPES:
        return _CONTENT_TYPES[suffix]
    if declared and declared != "application/octet-stream" and re.fullmatch(r"[\w.+-]+/[\w.+-]+", declared):
        return declared
    return mimetypes.guess_type(filename)[0] or "application/octet-stream"


def safe_filename(name: str) -> str:
    """What Discord does to file names: unusual characters become underscores."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    cleaned = re.sub(r"[^A-Za-z0-9._-]", "_", base).strip(".") or "unknown"
    return cleaned[-100:]


class State:
    """The guild, in memory and in the store."""

    def __init__(self, store: Store, identity: seeding.Identity, clock: Callable[[], float]) -> None:
        self.store = store
        self.identity = identity
        self.clock = clock
        self.snowflakes = Snowflakes(clock)
        self.base_url = ""  # set once the server is bound
        self.users: dict[int, JSON] = {}
        self.members: dict[int, JSON] = {}
        self.roles: dict[int, JSON] = {}
        self.channels: dict[int, JSON] = {}
        self.commands: dict[int, JSON] = {}
        self.avatar_colors: dict[int, str] = {}
        self._tokens: dict[str, int] = {}
        self.premium_tier = 0
        self.created_at = clock()

    # --- opening, seeding, resetting ------------------------------------------------------------------------
    @classmethod
    async def open(cls, store: Store, clock: Callable[[], float]) -> State:
        version = await store.meta("schema")
        if version is not None and version != SCHEMA_VERSION:
            raise RuntimeError(
                f"the playground state has schema {version}, this version reads {SCHEMA_VERSION}; "
                "delete the file or reset it"
            )
        text = await store.meta("identity")
        if text is None:
            identity = seeding.Identity.new(Snowflakes(clock).next())
            state = cls(store, identity, clock)
            await state._write_seed()
            await store.set_meta("identity", identity.dumps())
            await store.set_meta("schema", SCHEMA_VERSION)
            log.info("created a new playground guild %d", identity.guild_id)
        else:
            state = cls(store, seeding.Identity.loads(text), clock)
        await state._load()
        state.snowflakes.last = max(await store.max_id(), state.identity.base + 100)
        return state

    async def _write_seed(self) -> None:
        seed = seeding.seed(self.identity, datetime.fromtimestamp(self.clock(), UTC))
        await self.store.put("users", *seed.users)
        await self.store.put("members", *seed.members)
        await self.store.put("roles", *seed.roles)
        await self.store.put("channels", *seed.channels)

    async def _load(self) -> None:
        self.users = {int(u["id"]): u for u in await self.store.load("users")}
        self.members = {int(m["user"]["id"]): m for m in await self.store.load("members")}
        self.roles = {int(r["id"]): r for r in await self.store.load("roles")}
        self.channels = {int(c["id"]): c for c in await self.store.load("channels")}
        self.commands = {int(c["id"]): c for c in await self.store.load("commands")}
        self._tokens = {self.identity.bot_token: self.identity.application_id}
        colors = {m.key: m.avatar_color for m in seeding.MEMBERS}
        self.avatar_colors = {self.identity.application_id: seeding.BOT_COLOR}
        for index, seeded in enumerate(seeding.MEMBERS):
            uid = self.identity.member_id(index)
            self._tokens[self.identity.user_tokens[seeded.key]] = uid
            self.avatar_colors[uid] = colors[seeded.key]

    async def reset(self) -> None:
        """Back to the seeded guild: same ids and tokens, no messages, threads or attachments; commands kept."""
        await self.store.wipe(keep_tables=("meta", "commands"))
        await self._write_seed()
        await self._load()

    # --- who is who -----------------------------------------------------------------------------------------
    @property
    def guild_id(self) -> int:
        return self.identity.guild_id

    @property
    def application_id(self) -> int:
        return self.identity.application_id

    @property
    def bot_id(self) -> int:
        return self.identity.application_id

    def user_for_token(self, token: str) -> int | None:
        return self._tokens.get(token)

    def token_of(self, user_id: int) -> str:
        return next(t for t, u in self._tokens.items() if u == user_id)

    def upload_limit(self) -> int:
        return UPLOAD_LIMITS.get(self.premium_tier, UPLOAD_LIMITS[0])

    # --- channels and permissions -------------------------------------------------------------------------
    def channel(self, channel_id: int) -> JSON:
        channel = self.channels.get(channel_id)
        if channel is None:
            raise unknown("Channel", 10003)
        return channel

    def is_thread(self, channel: JSON) -> bool:
        return int(channel["type"]) in THREAD_TYPES

    def permission_source(self, channel: JSON) -> JSON:
        """The channel whose overwrites apply: a thread's parent."""
        if self.is_thread(channel):
            return self.channels.get(int(channel["parent_id"]), channel)
        return channel

    def guild_permissions(self, user_id: int) -> int:
        member = self.members.get(user_id)
        if member is None:
            return 0
        return p.base_permissions(self.guild_id, self.identity.owner_id, self.roles, member)

    def permissions(self, user_id: int, channel: JSON) -> int:
        member = self.members.get(user_id)
        if member is None:
            return 0
        source = self.permission_source(channel)
        return p.channel_permissions(
            self.guild_id,
            self.identity.owner_id,
            self.roles,
            member,
            source.get("permission_overwrites") or [],
            int(channel["type"]),
        )

    def can_view(self, user_id: int, channel: JSON) -> bool:
        if self.is_thread(channel) and int(channel["type"]) == PRIVATE_THREAD:
            members = channel.get("_members") or []
            if str(user_id) not in members and not self.permissions(user_id, channel) & p.MANAGE_THREADS:
                return False
        return bool(self.permissions(user_id, channel) & p.VIEW_CHANNEL)

    def require(self, user_id: int, channel: JSON, needed: int) -> None:
        """403 Missing Access without View Channel, 403 Missing Permissions without the rest of ``needed``."""
        perms = self.permissions(user_id, channel)
        if not perms & p.VIEW_CHANNEL:
            raise ApiError(403, 50001, "Missing Access")
        if perms & needed != needed:
            raise ApiError(403, 50013, "Missing Permissions")

    # --- how things look on the wire ----------------------------------------------------------------------
    def channel_out(self, channel: JSON) -> JSON:
        return {k: v for k, v in channel.items() if not k.startswith("_")}

    def member_out(self, user_id: int, *, channel: JSON | None = None, with_user: bool = True) -> JSON:
        member = self.members.get(user_id)
        if member is None:
            raise unknown("Member", 10007)
        out = copy.deepcopy(member) if with_user else {k: copy.deepcopy(v) for k, v in member.items() if k != "user"}
        if channel is not None:
            out["permissions"] = str(self.permissions(user_id, channel))
        return out

    def roles_out(self) -> list[JSON]:
        return sorted(self.roles.values(), key=lambda r: int(r["position"]))

    def threads_visible(self, user_id: int | None) -> list[JSON]:
        return [
            self.channel_out(c)
            for c in self.channels.values()
            if self.is_thread(c)
            and (user_id is None or self.can_view(user_id, c))
            and not (c.get("thread_metadata") or {}).get("archived")
        ]

    def guild_out(self, *, for_user: int | None = None, with_members: bool = True) -> JSON:
        """The full guild as GUILD_CREATE (the bot, ``for_user=None``) or a user's READY carries it."""
        channels = [
            self.channel_out(c)
            for c in self.channels.values()
            if not self.is_thread(c) and (for_user is None or self.can_view(for_user, c))
        ]
        members = list(self.members.values()) if with_members else [self.members[self.bot_id]]
        return {
            **self.guild_summary(),
            "joined_at": iso(self.created_at),
            "large": False,
            "unavailable": False,
            "member_count": len(self.members),
            "channels": channels,
            "threads": self.threads_visible(for_user),
            "members": copy.deepcopy(members),
            "presences": [],
            "voice_states": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
            "soundboard_sounds": [],
        }

    def guild_summary(self) -> JSON:
        """``GET /guilds/{id}``: the guild with its roles."""
        return {
            "id": str(self.guild_id),
            "name": seeding.GUILD_NAME,
            "icon": None,
            "splash": None,
            "banner": None,
            "description": None,
            "owner_id": str(self.identity.owner_id),
            "afk_channel_id": None,
            "afk_timeout": 300,
            "verification_level": 0,
            "default_message_notifications": 1,
            "explicit_content_filter": 0,
            "mfa_level": 0,
            "nsfw_level": 0,
            "features": [],
            "preferred_locale": "en-US",
            "premium_tier": self.premium_tier,
            "premium_subscription_count": 0,
            "system_channel_id": str(self.identity.lounge_id),
            "system_channel_flags": 0,
            "rules_channel_id": None,
            "public_updates_channel_id": None,
            "max_members": 500000,
            "roles": self.roles_out(),
            "emojis": [],
            "stickers": [],
            "application_id": None,
        }

    def application_out(self) -> JSON:
        return {
            "id": str(self.application_id),
            "name": seeding.APPLICATION_NAME,
            "icon": None,
            "description": "Make songs together",
            "summary": "",
            "type": None,
            "bot_public": False,
            "bot_require_code_grant": False,
            "verify_key": "0" * 64,
            "flags": 0,
            "owner": copy.deepcopy(self.users[self.identity.owner_id]),
            "team": None,
            "bot": copy.deepcopy(self.users[self.bot_id]),
            "redirect_uris": [],
            "interactions_endpoint_url": None,
            "approximate_guild_count": 1,
        }

    def attachment_url(self, channel_id: int | str, attachment: JSON) -> str:
        return f"{self.base_url}/attachments/{channel_id}/{attachment['id']}/{attachment['filename']}"

    def message_out(self, message: JSON, *, with_thread: bool = True) -> JSON:
        """A stored message as clients get it: absolute attachment URLs, ``attachment://`` resolved, its thread."""
        out = copy.deepcopy({k: v for k, v in message.items() if not k.startswith("_")})
        by_name: dict[str, str] = {}
        for attachment in out.get("attachments") or []:
            url = self.attachment_url(out["channel_id"], attachment)
            attachment["url"] = attachment["proxy_url"] = url
            by_name[attachment["filename"]] = url
        for embed in out.get("embeds") or []:
            for key in ("image", "thumbnail", "author", "footer"):
                part = embed.get(key)
                field = "icon_url" if key in ("author", "footer") else "url"
                if isinstance(part, dict) and isinstance(part.get(field), str):
                    target = part[field]
                    if target.startswith("attachment://") and target[13:] in by_name:
                        part[field] = by_name[target[13:]]
                        part["proxy_icon_url" if field == "icon_url" else "proxy_url"] = part[field]
        if with_thread:
            thread = self.channels.get(int(out["id"]))
            if thread is not None and self.is_thread(thread) and thread.get("parent_id") == out["channel_id"]:
                out["thread"] = self.channel_out(thread)
        return out

    def mentions(self, content: str, allowed: JSON | None, *, can_everyone: bool) -> tuple[list[JSON], list[str], bool]:
        """The users and roles a message pings, after ``allowed_mentions``."""
        users = [int(m) for m in _USER_MENTION.findall(content)]
        roles = [int(m) for m in _ROLE_MENTION.findall(content)]
        everyone = can_everyone and ("@everyone" in content or "@here" in content)
        if allowed is not None:
            parse = allowed.get("parse") or []
            allowed_users = {int(u) for u in allowed.get("users") or [] if str(u).isdigit()}
            allowed_roles = {int(r) for r in allowed.get("roles") or [] if str(r).isdigit()}
            users = [u for u in users if "users" in parse or u in allowed_users]
            roles = [r for r in roles if "roles" in parse or r in allowed_roles]
            everyone = everyone and "everyone" in parse
        mentioned: list[JSON] = []
        for uid in dict.fromkeys(users):
            if uid in self.users:
                entry = copy.deepcopy(self.users[uid])
                if uid in self.members:
                    entry["member"] = self.member_out(uid, with_user=False)
                mentioned.append(entry)
        return mentioned, [str(r) for r in dict.fromkeys(roles) if r in self.roles], everyone

    # --- commands -------------------------------------------------------------------------------------------
    def command_list(self, guild_id: int | None) -> list[JSON]:
        """The global commands (``None``) or one guild's."""
        wanted = None if guild_id is None else str(guild_id)
        return [c for c in self.commands.values() if c.get("guild_id") == wanted]

    def usable_commands(self, user_id: int) -> list[JSON]:
        """What a member's command picker lists: global and guild commands their permissions allow."""
        perms = self.guild_permissions(user_id)
        usable = []
        for command in [*self.command_list(self.guild_id), *self.command_list(None)]:
            contexts = command.get("contexts")
            if contexts is not None and 0 not in contexts:
                continue
            required = command.get("default_member_permissions")
            if required is not None and int(required) & perms != int(required) and not perms & p.ADMINISTRATOR:
                continue
            usable.append(copy.deepcopy(command))
        return usable

    async def save_channel(self, channel: JSON) -> None:
        self.channels[int(channel["id"])] = channel
        await self.store.put("channels", channel)

    async def save_member(self, member: JSON) -> None:
        self.members[int(member["user"]["id"])] = member
        await self.store.put("members", member)
