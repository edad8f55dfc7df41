"""Messages and threads: create, edit, delete, with Discord's limits, nonces, uploads and events.

Shared by every way a message comes to be: a bot's ``POST /channels/{id}/messages``, an interaction response or
follow-up, a member's message from the page. Ephemeral messages are kept in memory only and sent to their one
member, never stored or listed for anybody else, as on Discord.
"""

from __future__ import annotations

import asyncio
import io
import logging
import re
from dataclasses import dataclass
from typing import Any

from PIL import Image, UnidentifiedImageError

from bot.playground import limits
from bot.playground import permissions as p
from bot.playground.errors import JSON, ApiError, FormErrors, is_snowflake, unknown
from bot.playground.gateway import Gateway
from bot.playground.state import (
    EPHEMERAL,
    HAS_THREAD,
    LOADING,
    PUBLIC_THREAD,
    State,
    content_type_for,
    iso,
    safe_filename,
)

log = logging.getLogger(__name__)

NONCE_WINDOW = 300.0  # seconds; Discord says "the past few minutes"
EPHEMERAL_KEPT = 2000  # ephemeral messages kept in memory for edits and clicks on their buttons
DEFAULT, REPLY, CHAT_INPUT_COMMAND, CONTEXT_MENU_COMMAND = 0, 19, 20, 23
_EDITABLE_FLAGS = limits.SUPPRESS_EMBEDS


@dataclass
class Upload:
    """One file part of a multipart request (``files[n]``)."""

    field: str
    filename: str
    content_type: str | None
    data: bytes

    @property
    def index(self) -> int | None:
        match = re.fullmatch(r"files\[(\d+)\]", self.field)
        return int(match[1]) if match else None


@dataclass
class Origin:
    """The interaction a message answers: ``interaction_metadata`` and friends."""

    interaction_id: int
    kind: int  # the interaction's type
    user_id: int
    name: str | None  # "music create" for a command
    source_message_id: int | None  # the clicked message
    triggering: JSON | None = None  # for a modal submitted from a button


class Messages:
    def __init__(self, state: State, gateway: Gateway) -> None:
        self._state = state
        self._gateway = gateway
        self._ephemeral: dict[int, JSON] = {}
        self._pending_nonces: dict[tuple[int, str], asyncio.Future[JSON]] = {}

    # --- reading ----------------------------------------------------------------------------------------------
    async def find(self, message_id: int) -> JSON | None:
        """A stored or ephemeral message, by id."""
        if message_id in self._ephemeral:
            return self._ephemeral[message_id]
        return await self._state.store.message(message_id)

    async def in_channel(self, channel_id: int, message_id: int) -> JSON:
        """A stored (never ephemeral) message of this channel, or 404 Unknown Message."""
        self._state.channel(channel_id)
        message = await self._state.store.message(message_id)
        if message is None or int(message["channel_id"]) != channel_id:
            raise unknown("Message", 10008)
        return message

    def ephemeral_owner(self, message: JSON) -> int | None:
        owner = message.get("_for")
        return int(owner) if owner is not None else None

    # --- creating ---------------------------------------------------------------------------------------------
    async def create(
        self,
        channel: JSON,
        author_id: int,
        body: JSON,
        uploads: list[Upload],
        *,
        origin: Origin | None = None,
        loading: bool = False,
        errors_under: str | None = None,
        announce: bool = True,
    ) -> JSON:
        """Validate, store and announce a message; with ``enforce_nonce``, a repeat returns the first message.

        ``announce=False`` leaves MESSAGE_CREATE to the caller (an interaction response is announced once the
        bot has read the answer to its callback).
        """
        self._validate(body, uploads, errors_under=errors_under, partial=False)
        if not loading and limits.is_empty(body, len(uploads)):
            raise limits.empty_message()
        nonce = body.get("nonce")
        key = (author_id, str(nonce)) if nonce is not None and body.get("enforce_nonce") else None
        if key is not None:
            pending = self._pending_nonces.get(key)
            if pending is not None:
                return await asyncio.shield(pending)
            earlier = await self._state.store.message_by_nonce(key[0], key[1], self._state.clock() - NONCE_WINDOW)
            if earlier is not None:
                return earlier
            future: asyncio.Future[JSON] = asyncio.get_running_loop().create_future()
            self._pending_nonces[key] = future
        try:
            message = await self._create(
                channel, author_id, body, uploads, origin=origin, loading=loading, announce=announce
            )
        except BaseException as exc:
            if key is not None:
                future = self._pending_nonces.pop(key)
                future.set_exception(exc if isinstance(exc, Exception) else RuntimeError("cancelled"))
                future.exception()  # retrieved: nobody may be waiting
            raise
        if key is not None:
            self._pending_nonces.pop(key).set_result(message)
        return message

    async def _create(
        self,
        channel: JSON,
        author_id: int,
        body: JSON,
        uploads: list[Upload],
        *,
        origin: Origin | None,
        loading: bool,
        announce: bool,
    ) -> JSON:
        state = self._state
        channel_id = int(channel["id"])
        self._check_upload_size(uploads)
        flags = (body.get("flags") or 0) & limits.SENDABLE_FLAGS
        if origin is None:
            flags &= ~EPHEMERAL  # only interaction responses can be ephemeral
        if loading:
            flags |= LOADING
        is_bot = author_id == state.bot_id
        content = body.get("content") or ""
        perms = state.permissions(author_id, channel)
        mentions, mention_roles, everyone = state.mentions(
            content, body.get("allowed_mentions"), can_everyone=bool(perms & p.MENTION_EVERYONE) or origin is not None
        )
        message_id = state.snowflakes.next()
        now = state.clock()
        message: JSON = {
            "id": str(message_id),
            "type": DEFAULT,
            "channel_id": str(channel_id),
            "author": dict(state.users[author_id]),
            "content": content,
            "embeds": _embeds(body.get("embeds")) if is_bot else [],
            "components": list(body.get("components") or []) if is_bot else [],
            "attachments": [],
            "tts": bool(body.get("tts")) and bool(perms & p.SEND_TTS_MESSAGES),
            "mention_everyone": everyone,
            "mentions": mentions,
            "mention_roles": mention_roles,
            "mention_channels": [],
            "pinned": False,
            "timestamp": iso(now),
            "edited_timestamp": None,
            "flags": flags,
            "reactions": [],
        }
        if body.get("nonce") is not None:
            message["nonce"] = body["nonce"]
        reference = body.get("message_reference")
        if isinstance(reference, dict) and is_snowflake(reference.get("message_id")):
            referenced = await self.find(int(reference["message_id"]))
            if referenced is not None and self.ephemeral_owner(referenced) is None:
                message["type"] = REPLY
                message["message_reference"] = {
                    "type": 0,
                    "message_id": referenced["id"],
                    "channel_id": referenced["channel_id"],
                    "guild_id": str(state.guild_id),
                }
                message["referenced_message"] = {k: v for k, v in referenced.items() if k != "referenced_message"}
        if origin is not None:
            self._mark_interaction(message, origin)
        if flags & EPHEMERAL and origin is not None:
            message["_for"] = str(origin.user_id)
        new_attachments = await self._store_uploads(channel_id, uploads, body, ephemeral=bool(flags & EPHEMERAL))
        message["attachments"] = new_attachments
        if message.get("_for"):
            self._ephemeral[message_id] = message
            while len(self._ephemeral) > EPHEMERAL_KEPT:  # the oldest go, as a client forgets them
                del self._ephemeral[next(iter(self._ephemeral))]
        else:
            await state.store.put_message(message, author_id=author_id, nonce=_nonce_key(body), created_at=now)
            await state.store.link_attachments(message_id, [int(a["id"]) for a in new_attachments])
            channel["last_message_id"] = str(message_id)
            if state.is_thread(channel):
                channel["message_count"] = int(channel.get("message_count") or 0) + 1
                channel["total_message_sent"] = int(channel.get("total_message_sent") or 0) + 1
            await state.save_channel(channel)
        if announce:
            await self.emit("MESSAGE_CREATE", message)
        return message

    def _mark_interaction(self, message: JSON, origin: Origin) -> None:
        state = self._state
        user = dict(state.users[origin.user_id])
        message["webhook_id"] = str(state.application_id)
        message["application_id"] = str(state.application_id)
        metadata: JSON = {
            "id": str(origin.interaction_id),
            "type": origin.kind,
            "user": user,
            "authorizing_integration_owners": {"0": str(state.guild_id)},
        }
        if origin.name:
            metadata["name"] = origin.name
            metadata["command_type"] = 1
            message["type"] = CHAT_INPUT_COMMAND
            # The older field, still sent, and what a client shows above the reply ("Ana used /music create").
            message["interaction"] = {
                "id": str(origin.interaction_id),
                "type": origin.kind,
                "name": origin.name,
                "user": user,
            }
        if origin.source_message_id is not None:
            metadata["interacted_message_id"] = str(origin.source_message_id)
        if origin.triggering is not None:
            metadata["triggering_interaction_metadata"] = origin.triggering
        message["interaction_metadata"] = metadata

    # --- editing and deleting ---------------------------------------------------------------------------------
    async def edit(
        self,
        message: JSON,
        body: JSON,
        uploads: list[Upload],
        *,
        errors_under: str | None = None,
        announce: bool = True,
    ) -> JSON:
        """Apply an edit (content, embeds, components, attachments, suppress-embeds); a loading message ends."""
        self._validate(body, uploads, errors_under=errors_under, partial=True)
        self._check_upload_size(uploads)
        was_loading = bool(message["flags"] & LOADING)
        if "content" in body:
            message["content"] = body["content"] or ""
        if "embeds" in body:
            message["embeds"] = _embeds(body["embeds"])
        if "components" in body:
            message["components"] = list(body["components"] or [])
        if body.get("flags") is not None:
            message["flags"] = (message["flags"] & ~_EDITABLE_FLAGS) | (body["flags"] & _EDITABLE_FLAGS)
        if body.get("allowed_mentions") is not None or "content" in body:
            mentions, roles, everyone = self._state.mentions(
                message["content"], body.get("allowed_mentions"), can_everyone=True
            )
            message.update(mentions=mentions, mention_roles=roles, mention_everyone=everyone)
        old = {int(a["id"]) for a in message["attachments"]}
        if "attachments" in body or uploads:
            message["attachments"] = await self._edited_attachments(message, body, uploads)
        message["flags"] &= ~LOADING  # filling in the "thinking…" message is what ends the deferral
        if not was_loading:
            message["edited_timestamp"] = iso(self._state.clock())
        if not (message["content"] or message["embeds"] or message["components"] or message["attachments"]):
            raise limits.empty_message()
        kept = {int(a["id"]) for a in message["attachments"]}
        if self.ephemeral_owner(message) is None:
            await self._state.store.update_message(message)
            await self._state.store.link_attachments(int(message["id"]), sorted(kept - old))
            await self._state.store.drop_attachments(sorted(old - kept))
        if announce:
            await self.emit("MESSAGE_UPDATE", message)
        return message

    async def delete(self, message: JSON) -> None:
        state = self._state
        message_id = int(message["id"])
        if self._ephemeral.pop(message_id, None) is None:
            await state.store.delete_message(message_id)
            channel = state.channels.get(int(message["channel_id"]))
            if channel is not None and state.is_thread(channel):
                channel["message_count"] = max(int(channel.get("message_count") or 0) - 1, 0)
                await state.save_channel(channel)
        else:
            await state.store.drop_attachments([int(a["id"]) for a in message["attachments"]])
        await self.emit("MESSAGE_DELETE", message)

    # --- threads ----------------------------------------------------------------------------------------------
    async def start_thread(self, channel: JSON, message: JSON | None, creator_id: int, body: JSON) -> JSON:
        """A public thread from a message (it takes the message's id), or one without a starter message."""
        state = self._state
        if state.is_thread(channel):
            raise ApiError(400, 50024, "Cannot execute action on this channel type")
        errors = FormErrors()
        name = body.get("name")
        if errors.required(("name",), name) and errors.string(name, ("name",)):
            errors.length_between(("name",), name, 1, 100)
        duration = body.get("auto_archive_duration", 4320)
        if duration not in (60, 1440, 4320, 10080):
            errors.add(("auto_archive_duration",), "BASE_TYPE_CHOICES", "Value must be one of {60, 1440, 4320, 10080}.")
        kind = PUBLIC_THREAD if message is not None else body.get("type", 12)
        if kind not in (11, 12):
            errors.add(("type",), "BASE_TYPE_CHOICES", "Value must be one of {11, 12}.")
        errors.raise_if_any()
        needed = p.CREATE_PUBLIC_THREADS if kind == PUBLIC_THREAD else p.CREATE_PRIVATE_THREADS
        state.require(creator_id, channel, needed)
        if message is not None:
            if int(message["id"]) in state.channels:
                raise ApiError(400, 160004, "A thread has already been created for this message")
            thread_id = int(message["id"])  # a thread started from a message has the message's id
        else:
            thread_id = state.snowflakes.next()
        now = iso(state.clock())
        thread: JSON = {
            "id": str(thread_id),
            "type": kind,
            "guild_id": str(state.guild_id),
            "parent_id": channel["id"],
            "owner_id": str(creator_id),
            "name": name,
            "last_message_id": None,
            "message_count": 0,
            "member_count": 1,
            "total_message_sent": 0,
            "rate_limit_per_user": int(body.get("rate_limit_per_user") or 0),
            "flags": 0,
            "applied_tags": [],
            "thread_metadata": {
                "archived": False,
                "locked": False,
                "auto_archive_duration": duration,
                "archive_timestamp": now,
                "create_timestamp": now,
                "invitable": bool(body.get("invitable", True)),
            },
            "_members": [str(creator_id)],
        }
        await state.save_channel(thread)
        out = {
            **state.channel_out(thread),
            "newly_created": True,
            "member": {"id": str(thread_id), "user_id": str(creator_id), "join_timestamp": now, "flags": 0},
        }
        await self.emit_channel("THREAD_CREATE", thread, out)
        if message is not None:
            message["flags"] = int(message["flags"]) | HAS_THREAD
            await state.store.update_message(message)
            await self.emit("MESSAGE_UPDATE", message)
        return out

    # --- events -----------------------------------------------------------------------------------------------
    async def emit(self, event: str, message: JSON) -> None:
        state = self._state
        channel = state.channels.get(int(message["channel_id"]))
        if channel is None:
            return
        author_id = int(message["author"]["id"])
        if event == "MESSAGE_DELETE":
            data: JSON = {"id": message["id"], "channel_id": message["channel_id"], "guild_id": str(state.guild_id)}
        else:
            data = {**state.message_out(message), "guild_id": str(state.guild_id)}
            if author_id in state.members:
                data["member"] = state.member_out(author_id, with_user=False)
        owner = self.ephemeral_owner(message)
        if owner is not None:
            await self._gateway.to_users(event, data, users=[owner])
            return
        await self.emit_channel(event, channel, data)

    async def emit_channel(self, event: str, channel: JSON, data: JSON) -> None:
        """An event about a channel (or in it) to the bot and to the members who can see the channel."""
        state = self._state
        if state.can_view(state.bot_id, channel):
            await self._gateway.to_bot(event, data)
        await self._gateway.to_users(event, data, visible=lambda uid: state.can_view(uid, channel))

    # --- helpers ----------------------------------------------------------------------------------------------
    def _validate(self, body: JSON, uploads: list[Upload], *, errors_under: str | None, partial: bool) -> None:
        errors = FormErrors()
        if errors_under is not None:
            with errors.under(errors_under):
                limits.check_message(body, errors, files=len(uploads), partial=partial)
        else:
            limits.check_message(body, errors, files=len(uploads), partial=partial)
        errors.raise_if_any()

    def _check_upload_size(self, uploads: list[Upload]) -> None:
        # The playground counts a message's files together against the guild's limit (Discord's own limit is per
        # file, with a larger cap on the whole request): a post that fits here fits on Discord.
        if sum(len(u.data) for u in uploads) > self._state.upload_limit():
            raise ApiError(413, 40005, "Request entity too large")

    async def _store_uploads(
        self, channel_id: int, uploads: list[Upload], body: JSON, *, ephemeral: bool
    ) -> list[JSON]:
        described = {str(a.get("id")): a for a in body.get("attachments") or [] if isinstance(a, dict)}
        result = []
        for position, upload in enumerate(uploads):
            index = upload.index if upload.index is not None else position
            entry = described.get(str(index), {})
            result.append(await self.store_file(channel_id, upload, entry, ephemeral=ephemeral))
        return result

    async def store_file(self, channel_id: int, upload: Upload, entry: JSON, *, ephemeral: bool = False) -> JSON:
        """Keep one uploaded file and describe it as Discord's attachment object (without its URL)."""
        state = self._state
        filename = safe_filename(str(entry.get("filename") or upload.filename or "unknown"))
        content_type = content_type_for(filename, upload.content_type)
        attachment_id = state.snowflakes.next()
        await state.store.put_attachment(attachment_id, channel_id, filename, content_type, upload.data)
        attachment: JSON = {
            "id": str(attachment_id),
            "filename": filename,
            "size": len(upload.data),
            "content_type": content_type,
        }
        if isinstance(entry.get("description"), str):
            attachment["description"] = entry["description"][:1024]
        if ephemeral:
            attachment["ephemeral"] = True
        if content_type.startswith("image/"):
            size = await asyncio.to_thread(_image_size, upload.data)
            if size is not None:
                attachment["width"], attachment["height"] = size
        return attachment

    async def _edited_attachments(self, message: JSON, body: JSON, uploads: list[Upload]) -> list[JSON]:
        channel_id = int(message["channel_id"])
        ephemeral = self.ephemeral_owner(message) is not None
        existing = list(message["attachments"])
        if "attachments" not in body:
            # Without an attachments list Discord keeps what is there and appends every uploaded file.
            return [*existing, *await self._store_uploads(channel_id, uploads, {}, ephemeral=ephemeral)]
        by_index = {u.index if u.index is not None else i: u for i, u in enumerate(uploads)}
        kept = {a["id"]: a for a in existing}
        result: list[JSON] = []
        errors = FormErrors()
        for position, entry in enumerate(body.get("attachments") or []):
            key = str(entry.get("id")) if isinstance(entry, dict) else ""
            if key.isdigit() and int(key) in by_index:
                upload = by_index.pop(int(key))
                result.append(await self.store_file(channel_id, upload, entry, ephemeral=ephemeral))
            elif key in kept:
                result.append(kept[key])
            else:
                errors.add(("attachments", position, "id"), "ATTACHMENT_NOT_FOUND", "Unknown attachment")
        errors.raise_if_any()
        for upload in by_index.values():
            result.append(await self.store_file(channel_id, upload, {}, ephemeral=ephemeral))
        return result


def _embeds(embeds: Any) -> list[JSON]:
    return [{"type": "rich", **e} for e in embeds or [] if isinstance(e, dict)]


def _nonce_key(body: JSON) -> str | None:
    nonce = body.get("nonce")
    return str(nonce) if nonce is not None and body.get("enforce_nonce") else None


def _image_size(data: bytes) -> tuple[int, int] | None:
    try:
        with Image.open(io.BytesIO(data)) as image:
            return int(image.width), int(image.height)
    except (UnidentifiedImageError, OSError, ValueError):
        return None
