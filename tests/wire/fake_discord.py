"""A loopback fake of Discord's gateway and REST API, just big enough for a discord.py 2.7.1 bot.

Wire tests run the real bot against it over real HTTP and a real websocket, so login, heartbeats, resume and
multipart uploads use discord.py's own network code. SimCord covers behaviour; this covers the wire.

Typical use (see ``conftest.py`` for the fixture and ``test_fake_discord.py`` for a full example)::

    fake = FakeDiscord()
    await fake.start()
    point_discord_at(fake.api_url, fake.gateway_url)
    async with bot_running(bot, fake):
        token = await fake.invoke_slash("ping")
        request = await fake.wait_for_request("POST", rf"/interactions/\\d+/{token}/callback")

The fake keeps one guild with one text channel, the bot's member and one human member. Everything the bot
sends is recorded (``requests``, ``messages``, ``interaction_responses``, ``identifies``, ``resumes``); a
route the fake does not know answers 404 and is kept in ``unhandled_requests``, so a test shows exactly
what is missing instead of hanging. The fake never answers 5xx (discord.py retries those with sleeps): an
exception in a handler answers 400 and is kept in ``errors``.
"""

# The test helpers take a ``timeout`` on purpose: a wire test must fail, not hang, when the bot stays silent.

from __future__ import annotations

import asyncio
import contextlib
import copy
import hashlib
import itertools
import json
import logging
import re
import secrets
import time
import uuid
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

import discord
from aiohttp import BodyPartReader, WSMsgType, web

_log = logging.getLogger(__name__)

JSON = dict[str, Any]
T = TypeVar("T")

API_PREFIX = "/api/v10"
DISCORD_EPOCH_MS = 1_420_070_400_000
# The default member may do everything, so permission checks only fail in tests that lower it on purpose.
ALL_PERMISSIONS = discord.Permissions.all().value
# What a fresh server gives @everyone in a text channel, roughly: enough to use a music bot.
DEFAULT_EVERYONE_PERMISSIONS = discord.Permissions(
    view_channel=True,
    send_messages=True,
    send_messages_in_threads=True,
    create_public_threads=True,
    embed_links=True,
    attach_files=True,
    add_reactions=True,
    read_message_history=True,
    use_application_commands=True,
).value
EPHEMERAL = 1 << 6
LOADING = 1 << 7
GUILD_TEXT, PUBLIC_THREAD, PRIVATE_THREAD = 0, 11, 12


class ApiError(Exception):
    """Raised inside a route handler to answer with Discord's error JSON."""

    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message


@dataclass
class UploadedFile:
    """One file part of a multipart request (``files[n]``)."""

    field: str
    filename: str
    content_type: str | None
    data: bytes


@dataclass
class RecordedRequest:
    """One REST request as the fake saw it. ``path`` is relative to the API base (``/channels/1/messages``)."""

    method: str
    path: str
    query: dict[str, str]
    json: Any  # the JSON body, or the multipart ``payload_json``; None without a body
    files: list[UploadedFile] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)
    handled: bool = True  # False: no such route in the fake (answered 404)
    status: int | None = None  # set once answered


@dataclass
class GatewayConnection:
    """One websocket connection from the bot."""

    query: dict[str, str]
    compress: str | None
    received: list[JSON] = field(default_factory=list)
    sent: list[JSON] = field(default_factory=list)
    close_code: int | None = None


@dataclass
class _Interaction:
    id: int
    token: str
    type: int
    channel_id: int
    guild_id: int | None
    user_id: int
    source_message_id: int | None  # the clicked message for component and modal interactions
    acknowledged: bool = False
    expired: bool = False
    original_message_id: int | None = None


class _Socket:
    """The fake's end of one gateway websocket, with per-connection zlib-stream compression."""

    def __init__(self, ws: web.WebSocketResponse, record: GatewayConnection) -> None:
        self.ws = ws
        self.record = record
        self.identified = False
        # discord.py 2.7.1 asks for compress=zlib-stream unless zstandard is importable (then zstd-stream).
        # zlib-stream is one deflate stream for the whole connection, each message ended by a Z_SYNC_FLUSH.
        # For zstd-stream (or none) the fake answers plain text frames, which discord.py parses without
        # decompressing, so the fake needs no zstd library.
        self._zlib = zlib.compressobj() if record.compress == "zlib-stream" else None
        # Heartbeat ACKs (the reader task) and dispatches (test and REST tasks) share the socket; the lock
        # keeps frames, and so the deflate stream, in the order they were compressed.
        self._lock = asyncio.Lock()

    async def send(self, payload: JSON) -> None:
        text = json.dumps(payload, separators=(",", ":"))
        async with self._lock:
            if self.ws.closed:
                raise ConnectionResetError("gateway socket is closed")
            if self._zlib is not None:
                frame = self._zlib.compress(text.encode()) + self._zlib.flush(zlib.Z_SYNC_FLUSH)
                await self.ws.send_bytes(frame)
            else:
                await self.ws.send_str(text)
            self.record.sent.append(payload)


Handler = Callable[[RecordedRequest, "re.Match[str]"], Awaitable[web.StreamResponse]]


class FakeDiscord:
    """Just enough Discord for a ``commands.Bot``: login, gateway (zlib-stream, heartbeats, resume), REST.

    State a test can read (all plain data, filled as the bot talks):

    * ``requests``: every REST request, in order; ``unhandled_requests``: those that got a 404 for lack of a
      route; ``errors``: exceptions raised by the fake's handlers (a bug in the fake or a malformed request).
    * ``messages[channel_id]``: message dicts as Discord would store them (content, embeds, components, flags,
      attachments with ``filename``, ``size``, ``content_type`` and the uploaded ``bytes``).
    * ``channels``: channel and thread objects by id; ``threads``: threads created by the bot.
    * ``global_commands`` / ``guild_commands[guild_id]``: what the bot synced, with the ids the fake gave.
    * ``interaction_responses[token]``: every request made with that interaction token (callback, edits of
      @original, follow-ups), in order; ``modals[custom_id]``: the last modal the bot opened with that id.
    * ``identifies``, ``resumes``: the IDENTIFY / RESUME payloads; ``intents``: from the last IDENTIFY;
      ``heartbeats`` / ``heartbeat_acks``: counts; ``gateway_connections``: every websocket.
    """

    def __init__(
        self,
        token: str = "fake-bot-token",
        *,
        heartbeat_interval_ms: int = 41_250,
        attachment_size_limit: int = 10 * 1024 * 1024,
        member_permissions: int = ALL_PERMISSIONS,
    ) -> None:
        self.token = token
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self.attachment_size_limit = attachment_size_limit
        self.member_permissions = member_permissions
        self._ids = itertools.count(1)

        self.application_id = self.snowflake()
        self.bot_user_id = self.application_id  # as for every bot created since 2020
        self.guild_id = self.snowflake()
        self.channel_id = self.snowflake()
        self.user_id = self.snowflake()  # the human member who runs commands by default
        self.member_role_id = self.snowflake()

        self.users: dict[int, JSON] = {}
        self.members: dict[int, JSON] = {}
        self.roles: dict[int, JSON] = {}
        self.channels: dict[int, JSON] = {}
        self.messages: dict[int, list[JSON]] = {}
        self.threads: list[JSON] = []
        self.global_commands: list[JSON] = []
        self.guild_commands: dict[int, list[JSON]] = {}
        self.requests: list[RecordedRequest] = []
        self.errors: list[str] = []
        self.interaction_responses: dict[str, list[RecordedRequest]] = {}
        self.modals: dict[str, JSON] = {}
        self.identifies: list[JSON] = []
        self.resumes: list[JSON] = []
        self.intents: int | None = None
        self.heartbeats = 0
        self.heartbeat_acks = 0
        self.gateway_connections: list[GatewayConnection] = []
        self.session_id: str | None = None

        self._interactions: dict[str, _Interaction] = {}
        self._blobs: dict[int, bytes] = {}
        self._sockets: set[_Socket] = set()
        self._live: _Socket | None = None  # the socket whose session is READY or RESUMED
        self._seq = 0
        self._pending: list[tuple[str, JSON]] = []  # dispatched while no session was live
        self._emit_lock = asyncio.Lock()
        self._changed = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self._port: int | None = None
        self._routes = self._route_table()

        self._add_user(self.bot_user_id, "tunesmith-test", bot=True)
        self._add_user(self.user_id, "tester")
        self.roles[self.guild_id] = self._role(self.guild_id, "@everyone", DEFAULT_EVERYONE_PERMISSIONS, 0)
        self.roles[self.member_role_id] = self._role(self.member_role_id, "Member", 0, 1)
        self.members[self.bot_user_id] = self._member(self.bot_user_id, [])
        self.members[self.user_id] = self._member(self.user_id, [self.member_role_id])
        self.channels[self.channel_id] = {
            "id": str(self.channel_id),
            "type": GUILD_TEXT,
            "guild_id": str(self.guild_id),
            "name": "general",
            "position": 0,
            "permission_overwrites": [],
            "nsfw": False,
            "parent_id": None,
            "topic": None,
            "last_message_id": None,
            "rate_limit_per_user": 0,
        }
        self.messages[self.channel_id] = []

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_get("/gateway", self._gateway)
        app.router.add_get("/attachments/{channel_id}/{attachment_id}/{filename}", self._attachment)
        app.router.add_route("*", API_PREFIX + "/{tail:.*}", self._api)
        # A short shutdown timeout: stop() closes every socket itself, nothing should be left to wait for.
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self._port = int(self._runner.addresses[0][1])
        _log.info("FakeDiscord listening on %s", self.base_url)

    async def stop(self) -> None:
        for sock in list(self._sockets):
            with contextlib.suppress(Exception):
                await sock.ws.close(code=1001, message=b"fake discord stopping")
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeDiscord:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    @property
    def base_url(self) -> str:
        if self._port is None:
            raise RuntimeError("FakeDiscord is not started")
        return f"http://127.0.0.1:{self._port}"

    @property
    def api_url(self) -> str:
        """For ``TUNESMITH_DISCORD_API_URL``."""
        return self.base_url + API_PREFIX

    @property
    def gateway_url(self) -> str:
        """For ``TUNESMITH_DISCORD_GATEWAY_URL``; also what READY and ``/gateway/bot`` hand out."""
        return self.base_url.replace("http://", "ws://", 1) + "/gateway"

    @property
    def unhandled_requests(self) -> list[RecordedRequest]:
        return [r for r in self.requests if not r.handled]

    @property
    def live(self) -> bool:
        """True while a gateway session is READY or RESUMED on an open socket."""
        return self._live is not None

    # ------------------------------------------------------------------ helpers for tests

    def snowflake(self) -> int:
        """A fresh, increasing, real-looking snowflake."""
        ms = int(time.time() * 1000) - DISCORD_EPOCH_MS
        return (ms << 22) | (next(self._ids) & 0x3FFFFF)

    async def wait_for(self, predicate: Callable[[], T], *, timeout: float = 5.0, what: str = "condition") -> T:
        """Wait until ``predicate()`` is truthy and return it; TimeoutError (naming ``what``) otherwise."""
        try:
            async with asyncio.timeout(timeout):
                while True:
                    result = predicate()
                    if result:
                        return result
                    await self._changed.wait()
        except TimeoutError:
            raise TimeoutError(f"FakeDiscord: no {what} within {timeout}s") from None

    async def wait_for_request(
        self, method: str, path_regex: str, timeout: float = 5.0, *, since: int = 0
    ) -> RecordedRequest:
        """The first answered request at index >= ``since`` whose method matches and path fullmatches.

        Pass ``since=len(fake.requests)`` to ignore what came before; interaction tokens and snowflakes in the
        regex make most waits unique anyway.
        """
        pattern = re.compile(path_regex)

        def find() -> RecordedRequest | None:
            for request in self.requests[since:]:
                if request.status is not None and request.method == method.upper() and pattern.fullmatch(request.path):
                    return request
            return None

        return await self.wait_for(find, timeout=timeout, what=f"{method} {path_regex}")

    async def wait_until_live(self, timeout: float = 5.0) -> None:
        await self.wait_for(lambda: self._live is not None, timeout=timeout, what="live gateway session")

    async def dispatch(self, event: str, data: JSON, *, timeout: float = 5.0) -> None:
        """Send a DISPATCH event to the bot, first waiting (up to ``timeout``) for a live session."""
        await self.wait_until_live(timeout)
        await self._emit(event, data)

    async def drop_connection(self, code: int = 4000) -> None:
        """Close the live gateway socket with a resumable code; discord.py reconnects and sends RESUME.

        Events dispatched before the RESUME arrives are held and delivered after RESUMED, as Discord does;
        nothing already delivered is replayed. Wait for the resume with ``wait_for(lambda: fake.resumes)``
        or simply call another helper (they wait for a live session).
        """
        sock = self._live
        if sock is None:
            raise RuntimeError("FakeDiscord: no live gateway connection to drop")
        self._set_live(None)
        await sock.ws.close(code=code, message=b"fake discord dropped the connection")

    def add_member(self, username: str, *, user_id: int | None = None, role_ids: Iterable[int] = ()) -> int:
        """A new member of the guild (before the bot connects, or it is only known from interactions)."""
        user_id = user_id or self.snowflake()
        self._add_user(user_id, username)
        self.members[user_id] = self._member(user_id, list(role_ids))
        return user_id

    def add_attachment(self, filename: str, data: bytes, content_type: str | None = None) -> JSON:
        """An attachment a *user* uploaded, e.g. for an attachment option of ``invoke_slash``.

        The bytes are served by the fake at the attachment's ``url``, so ``Attachment.read()`` works.
        """
        return self._public_attachment(self._new_attachment(self.channel_id, filename, data, content_type))

    def expire_interaction(self, token: str) -> None:
        """Make Discord forget an interaction token, as it does after 15 minutes (answers 401 50027)."""
        self._interactions[token].expired = True

    def message(self, message_id: int) -> JSON:
        """A stored message by id, in whichever channel."""
        for messages in self.messages.values():
            for msg in messages:
                if int(msg["id"]) == message_id:
                    return msg
        raise LookupError(f"FakeDiscord: no message {message_id}")

    async def human_pause(self, reaction_time: float = 0.05, *, timeout: float = 5.0) -> None:
        """Wait until every request the bot made is answered, then ``reaction_time`` seconds more.

        discord.py registers a view or modal only once it has *read* the callback response, and the
        fake cannot see that moment: without a pause a click sent right after the response can reach the
        bot first, and discord.py silently drops it. A person needs far longer than this to click.
        """
        await self.wait_for(
            lambda: all(r.status is not None for r in self.requests), timeout=timeout, what="answered requests"
        )
        await asyncio.sleep(reaction_time)

    async def invoke_slash(
        self,
        name: str,
        options: list[JSON] | Mapping[str, Any] | None = None,
        *,
        user_id: int | None = None,
        channel_id: int | None = None,
        guild_id: int | None = None,
        subcommand: str | None = None,
        group: str | None = None,
        resolved: JSON | None = None,
        permissions: int | None = None,
        locale: str = "en-US",
        timeout: float = 5.0,
    ) -> str:
        """Run a synced slash command as a member would; returns the interaction token.

        ``options`` are ``{"name", "value"}`` dicts (or a ``{name: value}`` mapping); their types come from
        the synced definition, and unknown or missing required options raise ValueError, since the Discord
        client would not send them. An attachment option takes a dict from ``add_attachment``; user, channel
        and role options take ids and are resolved from the fake's guild. ``resolved`` is merged on top.
        """
        guild_id = guild_id or self.guild_id
        command = self._find_command(name, guild_id, command_type=1)
        schema: list[JSON] = command.get("options") or []
        if group and not subcommand:
            raise ValueError("a subcommand group needs a subcommand")
        for part, kind in ((group, 2), (subcommand, 1)):
            if not part:
                continue
            found = next((o for o in schema if o["name"] == part and o["type"] == kind), None)
            if found is None:
                raise ValueError(f"/{name} has no {'group' if kind == 2 else 'subcommand'} {part!r}")
            schema = found.get("options") or []

        resolved_data: JSON = {}
        leaf = self._typed_options(name, schema, options, resolved_data)
        nested = leaf
        if subcommand:
            nested = [{"type": 1, "name": subcommand, "options": nested}]
        if group:
            nested = [{"type": 2, "name": group, "options": nested}]
        for key, values in (resolved or {}).items():
            resolved_data.setdefault(key, {}).update(values)

        data: JSON = {"id": command["id"], "name": name, "type": 1, "options": nested}
        if "guild_id" in command:
            data["guild_id"] = command["guild_id"]
        if resolved_data:
            data["resolved"] = resolved_data
        return await self._send_interaction(
            2,
            data,
            user_id=user_id,
            channel_id=channel_id,
            guild_id=guild_id,
            permissions=permissions,
            locale=locale,
            timeout=timeout,
        )

    async def click(
        self,
        message_id: int,
        custom_id: str,
        *,
        values: list[str] | None = None,
        user_id: int | None = None,
        permissions: int | None = None,
        reaction_time: float = 0.05,
        timeout: float = 5.0,
    ) -> str:
        """Click a button (or pick ``values`` of a select) on a stored message; returns the token.

        The component must exist on the message and not be disabled, otherwise LookupError / ValueError:
        a user could not have clicked it. See ``human_pause`` for ``reaction_time``.
        """
        msg = self.message(message_id)
        component = _find_component(msg.get("components") or [], custom_id)
        if component is None:
            raise LookupError(f"FakeDiscord: message {message_id} has no component {custom_id!r}")
        if component.get("disabled"):
            raise ValueError(f"FakeDiscord: component {custom_id!r} is disabled")
        data: JSON = {"custom_id": custom_id, "component_type": component["type"]}
        if component["type"] != 2:
            data["values"] = values or []
        elif values is not None:
            raise ValueError("values are only for selects")
        channel_id = int(msg["channel_id"])
        await self.human_pause(reaction_time)
        return await self._send_interaction(
            3,
            data,
            user_id=user_id,
            channel_id=channel_id,
            guild_id=self._guild_of(channel_id),
            message=self._public_message(msg),
            permissions=permissions,
            timeout=timeout,
        )

    async def submit_modal(
        self,
        custom_id: str,
        values: Mapping[str, str | list[str]],
        *,
        user_id: int | None = None,
        channel_id: int | None = None,
        reaction_time: float = 0.05,
        timeout: float = 5.0,
    ) -> str:
        """Submit the last modal the bot opened with ``custom_id``; ``values`` by input custom_id.

        The submission mirrors the modal's layout (action rows or labels), as Discord does. See
        ``human_pause`` for ``reaction_time``.
        """
        modal = self.modals.get(custom_id)
        if modal is None:
            raise LookupError(f"FakeDiscord: the bot opened no modal {custom_id!r} (opened: {list(self.modals)})")
        remaining = dict(values)
        components = [_submitted(c, remaining) for c in modal.get("components") or []]
        if remaining:
            raise ValueError(f"FakeDiscord: modal {custom_id!r} has no inputs {sorted(remaining)}")
        channel_id = channel_id or self.channel_id
        await self.human_pause(reaction_time)
        return await self._send_interaction(
            5,
            {"custom_id": custom_id, "components": components},
            user_id=user_id,
            channel_id=channel_id,
            guild_id=self._guild_of(channel_id),
            timeout=timeout,
        )

    # ------------------------------------------------------------------ gateway

    async def _gateway(self, request: web.Request) -> web.StreamResponse:
        # A short close timeout: drop_connection() and stop() wait for the bot's close reply at most this long.
        ws = web.WebSocketResponse(max_msg_size=0, timeout=2.0)
        await ws.prepare(request)
        query = dict(request.query)
        record = GatewayConnection(query=query, compress=query.get("compress"))
        self.gateway_connections.append(record)
        sock = _Socket(ws, record)
        self._sockets.add(sock)
        _log.debug("gateway connection %s", query)
        try:
            if query.get("encoding", "json") != "json":
                await ws.close(code=4002, message=b"only encoding=json")  # Discord's "decode error"
                return ws
            await sock.send({"op": 10, "d": {"heartbeat_interval": self.heartbeat_interval_ms}, "s": None})
            async for msg in ws:
                if msg.type is WSMsgType.TEXT:
                    payload = json.loads(msg.data)
                elif msg.type is WSMsgType.BINARY:
                    payload = json.loads(msg.data.decode())
                else:
                    break
                record.received.append(payload)
                await self._on_gateway(sock, payload)
                self._notify()
        except ConnectionResetError:
            _log.debug("gateway socket reset")
        except Exception as exc:
            _log.exception("FakeDiscord gateway handler failed")
            self.errors.append(f"gateway: {exc!r}")
        finally:
            record.close_code = ws.close_code
            self._sockets.discard(sock)
            if self._live is sock:
                self._set_live(None)
            self._notify()
        return ws

    async def _on_gateway(self, sock: _Socket, payload: JSON) -> None:
        op, data = payload.get("op"), payload.get("d")
        if op == 1:  # HEARTBEAT
            self.heartbeats += 1
            await sock.send({"op": 11, "d": None, "s": None})
            self.heartbeat_acks += 1
        elif op == 2:  # IDENTIFY
            await self._identify(sock, data or {})
        elif op == 6:  # RESUME
            await self._resume(sock, data or {})
        elif op == 8:  # REQUEST_GUILD_MEMBERS (discord.py chunks guilds when the members intent is on)
            await self._send_dispatch(
                sock,
                "GUILD_MEMBERS_CHUNK",
                {
                    "guild_id": str(self.guild_id),
                    "members": list(self.members.values()),
                    "chunk_index": 0,
                    "chunk_count": 1,
                    "not_found": [],
                    "nonce": (data or {}).get("nonce"),
                },
            )
        elif op in (3, 4):  # presence and voice state updates: recorded, nothing to answer
            pass
        else:
            _log.warning("FakeDiscord: unknown gateway op %s", op)

    async def _identify(self, sock: _Socket, data: JSON) -> None:
        if data.get("token") != self.token:
            await sock.ws.close(code=4004, message=b"Authentication failed.")
            return
        if sock.identified:
            await sock.ws.close(code=4005, message=b"Already authenticated.")
            return
        sock.identified = True
        self.identifies.append(data)
        self.intents = data.get("intents")
        self.session_id = uuid.uuid4().hex
        self._seq = 0
        if self._pending:
            _log.debug("new session: dropping %d undelivered events", len(self._pending))
        self._pending.clear()
        bot = self.users[self.bot_user_id]
        ready = {
            "v": 10,
            "user": {**bot, "verified": True, "mfa_enabled": False, "email": None, "flags": 0},
            "guilds": [{"id": str(self.guild_id), "unavailable": True}],
            "session_id": self.session_id,
            "session_type": "normal",
            "resume_gateway_url": self.gateway_url,
            "shard": data.get("shard", [0, 1]),
            "application": {"id": str(self.application_id), "flags": 0},
            "private_channels": [],
            "presences": [],
            "relationships": [],
            "geo_ordered_rtc_regions": ["fake"],
        }
        # Under the emit lock so nothing dispatched meanwhile slips in before READY or lands in the queue.
        async with self._emit_lock:
            await self._dispatch_locked(sock, "READY", ready)
            await self._dispatch_locked(sock, "GUILD_CREATE", self._guild_payload())
            self._set_live(sock)

    async def _resume(self, sock: _Socket, data: JSON) -> None:
        if data.get("token") != self.token:
            await sock.ws.close(code=4004, message=b"Authentication failed.")
            return
        if self.session_id is None or data.get("session_id") != self.session_id:
            await sock.send({"op": 9, "d": False, "s": None})  # INVALID_SESSION, not resumable
            return
        sock.identified = True
        self.resumes.append(data)
        async with self._emit_lock:
            await self._dispatch_locked(sock, "RESUMED", {})
            while self._pending:
                event, event_data = self._pending.pop(0)
                await self._dispatch_locked(sock, event, event_data)
            self._set_live(sock)

    async def _send_dispatch(self, sock: _Socket, event: str, data: JSON) -> None:
        async with self._emit_lock:
            await self._dispatch_locked(sock, event, data)

    async def _dispatch_locked(self, sock: _Socket, event: str, data: JSON) -> None:
        self._seq += 1
        await sock.send({"op": 0, "t": event, "s": self._seq, "d": data})

    async def _emit(self, event: str, data: JSON) -> None:
        # Sequence numbers must follow send order, hence the lock around choosing the socket and sending.
        async with self._emit_lock:
            sock = self._live
            if sock is None:
                self._pending.append((event, data))
                return
            self._seq += 1
            try:
                await sock.send({"op": 0, "t": event, "s": self._seq, "d": data})
            except ConnectionResetError:
                self._seq -= 1
                self._pending.append((event, data))

    def _set_live(self, sock: _Socket | None) -> None:
        self._live = sock
        self._notify()

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    # ------------------------------------------------------------------ REST plumbing

    def _route_table(self) -> list[tuple[str, re.Pattern[str], Handler, bool]]:
        app = r"(?P<app>\d+)"
        tok = r"(?P<token>[^/]+)"
        cid = r"(?P<cid>\d+)"
        mid = r"(?P<mid>\d+)"
        table: list[tuple[str, str, Handler, bool]] = [
            # (method, path regex, handler, needs "Authorization: Bot <token>")
            ("GET", r"/users/@me", self._get_me, True),
            ("GET", r"/(?:oauth2/)?applications/@me", self._get_application, True),
            ("GET", r"/gateway", self._get_gateway, False),
            ("GET", r"/gateway/bot", self._get_gateway_bot, True),
            ("GET", rf"/applications/{app}/commands", self._get_commands, True),
            ("PUT", rf"/applications/{app}/commands", self._put_commands, True),
            ("POST", rf"/applications/{app}/commands", self._post_command, True),
            ("GET", rf"/applications/{app}/guilds/(?P<gid>\d+)/commands", self._get_commands, True),
            ("PUT", rf"/applications/{app}/guilds/(?P<gid>\d+)/commands", self._put_commands, True),
            ("POST", rf"/applications/{app}/guilds/(?P<gid>\d+)/commands", self._post_command, True),
            ("POST", rf"/interactions/(?P<iid>\d+)/{tok}/callback", self._callback, False),
            ("GET", rf"/webhooks/{app}/{tok}/messages/(?P<mid>@original|\d+)", self._get_webhook_msg, False),
            ("PATCH", rf"/webhooks/{app}/{tok}/messages/(?P<mid>@original|\d+)", self._edit_webhook_msg, False),
            ("DELETE", rf"/webhooks/{app}/{tok}/messages/(?P<mid>@original|\d+)", self._del_webhook_msg, False),
            ("POST", rf"/webhooks/{app}/{tok}", self._followup, False),
            ("GET", rf"/channels/{cid}", self._get_channel, True),
            ("PATCH", rf"/channels/{cid}", self._edit_channel, True),
            ("GET", rf"/channels/{cid}/messages", self._get_history, True),
            ("POST", rf"/channels/{cid}/messages", self._post_message, True),
            ("GET", rf"/channels/{cid}/messages/{mid}", self._get_message, True),
            ("PATCH", rf"/channels/{cid}/messages/{mid}", self._edit_message, True),
            ("DELETE", rf"/channels/{cid}/messages/{mid}", self._delete_message, True),
            ("POST", rf"/channels/{cid}/messages/{mid}/threads", self._thread_from_message, True),
            ("POST", rf"/channels/{cid}/threads", self._thread_without_message, True),
            ("POST", rf"/channels/{cid}/typing", self._typing, True),
        ]
        return [(method, re.compile(regex), handler, auth) for method, regex, handler, auth in table]

    async def _api(self, request: web.Request) -> web.StreamResponse:
        path = "/" + request.match_info["tail"]
        recorded = RecordedRequest(
            method=request.method,
            path=path,
            query=dict(request.query),
            json=None,
            headers={k: v for k, v in request.headers.items() if k.lower() != "authorization"},
        )
        self.requests.append(recorded)
        try:
            await self._read_body(request, recorded)
            response = await self._route(request, recorded)
        except ApiError as exc:
            response = _error(exc.status, exc.code, exc.message)
        except Exception as exc:
            # Never a 5xx: discord.py would retry with sleeps and the test would time out instead of failing.
            _log.exception("FakeDiscord handler failed for %s %s", request.method, path)
            self.errors.append(f"{request.method} {path}: {exc!r}")
            response = _error(400, 50035, f"fake discord error: {exc!r}")
        recorded.status = response.status
        _ratelimit_headers(response, request.method, path)
        self._notify()
        return response

    async def _route(self, request: web.Request, recorded: RecordedRequest) -> web.StreamResponse:
        for method, pattern, handler, needs_auth in self._routes:
            match = pattern.fullmatch(recorded.path)
            if match is None or method != request.method:
                continue
            if needs_auth and request.headers.get("Authorization") != f"Bot {self.token}":
                raise ApiError(401, 0, "401: Unauthorized")
            return await handler(recorded, match)
        recorded.handled = False
        _log.warning("FakeDiscord has no route for %s %s", request.method, recorded.path)
        return _error(404, 0, "404: Not Found")

    @staticmethod
    async def _read_body(request: web.Request, recorded: RecordedRequest) -> None:
        if not request.can_read_body:
            return
        if request.content_type.startswith("multipart/"):
            reader = await request.multipart()
            while (part := await reader.next()) is not None:
                if not isinstance(part, BodyPartReader):
                    raise ApiError(400, 50035, "nested multipart is not supported")
                if part.name == "payload_json":
                    recorded.json = json.loads(await part.text())
                else:
                    recorded.files.append(
                        UploadedFile(
                            field=part.name or "",
                            filename=part.filename or "",
                            content_type=part.headers.get("Content-Type"),
                            data=bytes(await part.read(decode=False)),
                        )
                    )
        else:
            raw = await request.read()
            if raw:
                recorded.json = json.loads(raw)

    async def _attachment(self, request: web.Request) -> web.StreamResponse:
        data = self._blobs.get(int(request.match_info["attachment_id"]))
        if data is None:
            return web.Response(status=404, text="asset not found")
        return web.Response(body=data, content_type="application/octet-stream")

    # ------------------------------------------------------------------ REST: identity and commands

    async def _get_me(self, req: RecordedRequest, m: re.Match[str]) -> web.StreamResponse:
        return _json({**self.users[self.bot_user_id], "verified": True, "mfa_enabled": False, "flags": 0})

    async def _get_application(self, req: RecordedRequest, m: re.Match[str]) -> web.StreamResponse:
        return _json(
            {
                "id": str(self.application_id),
                "name": "Tunesmith (fake)",
                "icon": None,
                "description": "",
                "summary": "",
                "bot_public": True,
                "bot_require_code_grant": False,
                "verify_key": "0" * 64,
                "owner": self.users[self.user_id],
                "team": None,
                "flags": 0,
                "bot": self.users[self.bot_user_id],
                "redirect_uris": [],
                "interactions_endpoint_url": None,
            }
        )

    async def _get_gateway(self, req: RecordedRequest, m: re.Match[str]) -> web.StreamResponse:
        return _json({"url": self.gateway_url})

    async def _get_gateway_bot(self, req: RecordedRequest, m: re.Match[str]) -> web.StreamResponse:
        limit = {"total": 1000, "remaining": 999, "reset_after": 0, "max_concurrency": 1}
        return _json({"url": self.gateway_url, "shards": 1, "session_start_limit": limit})

    def _check_app(self, m: re.Match[str]) -> None:
        if int(m["app"]) != self.application_id:
            raise ApiError(404, 10002, "Unknown Application")

    def _command_list(self, m: re.Match[str]) -> list[JSON]:
        self._check_app(m)
        gid = m.groupdict().get("gid")
        return self.global_commands if gid is None else self.guild_commands.setdefault(int(gid), [])

    async def _get_commands(self, req: RecordedRequest, m: re.Match[str]) -> web.StreamResponse:
        return _json(self._command_list(m))

    async def _put_commands(self, req: RecordedRequest, m: re.Match[str]) -> web.StreamResponse:
        current = self._command_list(m)
        if not isinstance(req.json, list):
            raise ApiError(400, 50035, "Invalid Form Body: expected a list of commands")
        gid = m.groupdict().get("gid")
        stored = [self._stored_command(body, current, gid) for body in req.json]
        current[:] = stored
        return _json(stored)

    async def _post_command(self, req: RecordedRequest, m: re.Match[str]) -> web.StreamResponse:
        current = self._command_list(m)
        command = self._stored_command(req.json or {}, current, m.groupdict().get("gid"))
        current[:] = [c for c in current if c["id"] != command["id"]] + [command]
        return _json(command, status=201)

    def _stored_command(self, body: JSON, current: list[JSON], gid: str | None) -> JSON:
        kind = body.get("type", 1)
        previous = next((c for c in current if c["name"] == body.get("name") and c["type"] == kind), None)
        command: JSON = {
            "description": "",
            "options": [],
            "default_member_permissions": None,
            "nsfw": False,
            **body,
            "type": kind,
            "id": previous["id"] if previous else str(self.snowflake()),
            "application_id": str(self.application_id),
            "version": str(self.snowflake()),
        }
        if gid is not None:
            command["guild_id"] = gid
        return command

    def _find_command(self, name: str, guild_id: int, *, command_type: int) -> JSON:
        for command in [*self.guild_commands.get(guild_id, []), *self.global_commands]:
            if command["name"] == name and command["type"] == command_type:
                return command
        synced = sorted(c["name"] for c in [*self.global_commands, *self.guild_commands.get(guild_id, [])])
        raise LookupError(f"FakeDiscord: no synced command {name!r} (synced: {synced}); did the bot sync?")

    def _typed_options(
        self, command: str, schema: list[JSON], given: list[JSON] | Mapping[str, Any] | None, resolved: JSON
    ) -> list[JSON]:
        items = [{"name": k, "value": v} for k, v in given.items()] if isinstance(given, Mapping) else given or []
        by_name = {o["name"]: o for o in schema}
        out: list[JSON] = []
        for item in items:
            option = dict(item)
            definition = by_name.get(option["name"])
            if definition is None and "type" not in option:
                raise ValueError(f"/{command} has no option {option['name']!r} (has {sorted(by_name)})")
            kind = option.setdefault("type", definition["type"] if definition else 3)
            value = option.get("value")
            if kind == 11 and isinstance(value, dict):  # attachment: pass the object, send its id
                resolved.setdefault("attachments", {})[str(value["id"])] = value
                option["value"] = str(value["id"])
            elif kind == 6:
                uid = int(value)
                self._ensure_user(uid)
                resolved.setdefault("users", {})[str(uid)] = self.users[uid]
                if uid in self.members:
                    member = {k: v for k, v in self.members[uid].items() if k != "user"}
                    resolved.setdefault("members", {})[str(uid)] = {**member, "permissions": "0"}
                option["value"] = str(uid)
            elif kind == 7 and int(value) in self.channels:
                channel = self.channels[int(value)]
                resolved.setdefault("channels", {})[str(value)] = {**channel, "permissions": str(ALL_PERMISSIONS)}
                option["value"] = str(value)
            elif kind == 8 and int(value) in self.roles:
                resolved.setdefault("roles", {})[str(value)] = self.roles[int(value)]
                option["value"] = str(value)
            out.append(option)
        missing = [o["name"] for o in schema if o.get("required") and o["name"] not in {i["name"] for i in out}]
        if missing:
            raise ValueError(f"/{command} needs options {missing}")
        return out

    # ------------------------------------------------------------------ REST: interactions

    def _interaction(self, m: re.Match[str], *, check_app: bool = True) -> _Interaction:
        if check_app and int(m["app"]) != self.application_id:
            raise ApiError(404, 10015, "Unknown Webhook")
        interaction = self._interactions.get(m["token"])
        if interaction is None:
            raise ApiError(404, 10015, "Unknown Webhook")
        if interaction.expired:
            raise ApiError(401, 50027, "Invalid Webhook Token")
        return interaction

    def _record_for(self, interaction: _Interaction, req: RecordedRequest) -> None:
        self.interaction_responses.setdefault(interaction.token, []).append(req)

    async def _callback(self, req: RecordedRequest, m: re.Match[str]) -> web.StreamResponse:
        interaction = self._interactions.get(m["token"])
        if interaction is None or interaction.id != int(m["iid"]):
            raise ApiError(404, 10062, "Unknown interaction")
        if interaction.expired:
            raise ApiError(404, 10062, "Unknown interaction")
        self._record_for(interaction, req)
        if interaction.acknowledged:
            raise ApiError(400, 40060, "Interaction has already been acknowledged.")
        body: JSON = req.json or {}
        kind = body.get("type")
        data: JSON = body.get("data") or {}
        message: JSON | None = None
        if kind == 4:  # CHANNEL_MESSAGE_WITH_SOURCE
            message = self._create_message(interaction.channel_id, data, req.files, interaction=interaction)
            interaction.original_message_id = int(message["id"])
        elif kind == 5:  # DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE: a "thinking…" message
            flags = (data.get("flags") or 0) | LOADING
            message = self._create_message(
                interaction.channel_id, {"content": "", "flags": flags}, [], interaction=interaction, empty_ok=True
            )
            interaction.original_message_id = int(message["id"])
        elif kind in (6, 7):  # DEFERRED_UPDATE_MESSAGE / UPDATE_MESSAGE: the clicked message is the original
            if interaction.source_message_id is None:
                raise ApiError(400, 40043, "This interaction type cannot update a message")
            interaction.original_message_id = interaction.source_message_id
            if kind == 7:
                message = self.message(interaction.source_message_id)
                self._apply_edit(message, data, req.files)
                await self._emit_update(message)
        elif kind == 9:  # MODAL
            self.modals[data["custom_id"]] = data
        elif kind not in (1, 8, 10, 12):
            raise ApiError(400, 50035, f"Invalid Form Body: unknown callback type {kind}")
        interaction.acknowledged = True
        if message is not None and kind in (4, 5):
            await self._emit_create(message)
        if req.query.get("with_response", "").lower() not in ("1", "true"):
            return web.Response(status=204)
        answer: JSON = {
            "interaction": {
                "id": str(interaction.id),
                "type": interaction.type,
                "response_message_loading": kind == 5,
                "response_message_ephemeral": bool(message and message["flags"] & EPHEMERAL),
            },
            "resource": {"type": kind},
        }
        if interaction.original_message_id is not None and kind in (4, 5, 7):
            answer["interaction"]["response_message_id"] = str(interaction.original_message_id)
        if message is not None:
            answer["resource"]["message"] = self._public_message(message)
        return _json(answer)

    def _webhook_message(self, interaction: _Interaction, mid: str) -> JSON:
        if mid == "@original":
            if interaction.original_message_id is None:
                raise ApiError(404, 10008, "Unknown Message")
            return self.message(interaction.original_message_id)
        try:
            msg = self.message(int(mid))
        except LookupError:
            raise ApiError(404, 10008, "Unknown Message") from None
        if msg.get("webhook_id") != str(self.application_id):
            raise ApiError(404, 10008, "Unknown Message")
        return msg

    async def _get_webhook_msg(self, req: RecordedRequest, m: re.Match[str]) -> web.StreamResponse:
        interaction = self._interaction(m)
        self._record_for(interaction, req)
        return _json(self._public_message(self._webhook_message(interaction, m["mid"])))

    async def _edit_webhook_msg(self, req: RecordedRequest, m: re.Match[str]) -> web.StreamResponse:
        interaction = self._interaction(m)
        self._record_for(interaction, req)
        msg = self._webhook_message(interaction, m["mid"])
        self._apply_edit(msg, req.json or {}, req.files)
        await self._emit_update(msg)
        return _json(self._public_message(msg))

    async def _del_webhook_msg(self, req: RecordedRequest, m: re.Match[str]) -> web.StreamResponse:
        interaction = self._interaction(m)
        self._record_for(interaction, req)
        await self._remove_message(self._webhook_message(interaction, m["mid"]))
        return web.Response(status=204)

    async def _followup(self, req: RecordedRequest, m: re.Match[str]) -> web.StreamResponse:
        interaction = self._interaction(m)
        self._record_for(interaction, req)
        if not interaction.acknowledged:
            raise ApiError(404, 10015, "Unknown Webhook")  # what Discord answers before the callback
        body: JSON = req.json or {}
        channel_id = int(req.query.get("thread_id") or interaction.channel_id)
        message = self._create_message(channel_id, body, req.files, interaction=interaction)
        await self._emit_create(message)
        if req.query.get("wait", "").lower() in ("1", "true"):
            return _json(self._public_message(message))
        return web.Response(status=204)

    # ------------------------------------------------------------------ REST: channels and messages

    def _channel(self, m: re.Match[str]) -> JSON:
        channel = self.channels.get(int(m["cid"]))
        if channel is None:
            raise ApiError(404, 10003, "Unknown Channel")
        return channel

    def _channel_message(self, m: re.Match[str]) -> JSON:
        self._channel(m)
        for msg in self.messages[int(m["cid"])]:
            if msg["id"] == m["mid"]:
                return msg
        raise ApiError(404, 10008, "Unknown Message")

    async def _get_channel(self, req: RecordedRequest, m: re.Match[str]) -> web.StreamResponse:
        return _json(self._channel(m))

    async def _edit_channel(self, req: RecordedRequest, m: re.Match[str]) -> web.StreamResponse:
        channel = self._channel(m)
        body: JSON = req.json or {}
        for key in ("name", "topic", "rate_limit_per_user", "flags"):
            if key in body:
                channel[key] = body[key]
        if "thread_metadata" in channel:
            for key in ("archived", "locked", "auto_archive_duration", "invitable"):
                if key in body:
                    channel["thread_metadata"][key] = body[key]
            await self._emit("THREAD_UPDATE", channel)
        else:
            await self._emit("CHANNEL_UPDATE", channel)
        return _json(channel)

    async def _get_history(self, req: RecordedRequest, m: re.Match[str]) -> web.StreamResponse:
        self._channel(m)
        limit = int(req.query.get("limit", 50))
        newest_first = list(reversed(self.messages[int(m["cid"])]))
        return _json([self._public_message(msg) for msg in newest_first[:limit]])

    async def _post_message(self, req: RecordedRequest, m: re.Match[str]) -> web.StreamResponse:
        self._channel(m)
        message = self._create_message(int(m["cid"]), req.json or {}, req.files)
        await self._emit_create(message)
        return _json(self._public_message(message))

    async def _get_message(self, req: RecordedRequest, m: re.Match[str]) -> web.StreamResponse:
        return _json(self._public_message(self._channel_message(m)))

    async def _edit_message(self, req: RecordedRequest, m: re.Match[str]) -> web.StreamResponse:
        msg = self._channel_message(m)
        if msg["author"]["id"] != str(self.bot_user_id):
            raise ApiError(403, 50005, "Cannot edit a message authored by another user")
        self._apply_edit(msg, req.json or {}, req.files)
        await self._emit_update(msg)
        return _json(self._public_message(msg))

    async def _delete_message(self, req: RecordedRequest, m: re.Match[str]) -> web.StreamResponse:
        await self._remove_message(self._channel_message(m))
        return web.Response(status=204)

    async def _typing(self, req: RecordedRequest, m: re.Match[str]) -> web.StreamResponse:
        self._channel(m)
        return web.Response(status=204)

    async def _thread_from_message(self, req: RecordedRequest, m: re.Match[str]) -> web.StreamResponse:
        msg = self._channel_message(m)
        if int(msg["id"]) in self.channels:
            raise ApiError(400, 160004, "A thread has already been created for this message")
        # Discord gives a thread started from a message the message's id.
        thread = self._new_thread(int(m["cid"]), int(msg["id"]), PUBLIC_THREAD, req.json or {})
        msg["thread"] = thread
        await self._emit("THREAD_CREATE", {**thread, "newly_created": True})
        return _json(thread, status=201)

    async def _thread_without_message(self, req: RecordedRequest, m: re.Match[str]) -> web.StreamResponse:
        self._channel(m)
        body: JSON = req.json or {}
        thread = self._new_thread(int(m["cid"]), self.snowflake(), body.get("type", PRIVATE_THREAD), body)
        await self._emit("THREAD_CREATE", {**thread, "newly_created": True})
        return _json(thread, status=201)

    def _new_thread(self, parent_id: int, thread_id: int, kind: int, body: JSON) -> JSON:
        if "name" not in body:
            raise ApiError(400, 50035, "Invalid Form Body: name is required")
        now = _now()
        thread: JSON = {
            "id": str(thread_id),
            "type": kind,
            "guild_id": str(self.guild_id),
            "parent_id": str(parent_id),
            "owner_id": str(self.bot_user_id),
            "name": body["name"],
            "last_message_id": None,
            "message_count": 0,
            "member_count": 1,
            "total_message_sent": 0,
            "rate_limit_per_user": body.get("rate_limit_per_user", 0),
            "flags": 0,
            "thread_metadata": {
                "archived": False,
                "locked": False,
                "auto_archive_duration": body.get("auto_archive_duration", 1440),
                "archive_timestamp": now,
                "create_timestamp": now,
                "invitable": body.get("invitable", True),
            },
            "member": {
                "id": str(thread_id),
                "user_id": str(self.bot_user_id),
                "join_timestamp": now,
                "flags": 0,
            },
        }
        self.channels[thread_id] = thread
        self.messages[thread_id] = []
        self.threads.append(thread)
        return thread

    # ------------------------------------------------------------------ messages

    def _create_message(
        self,
        channel_id: int,
        body: JSON,
        files: list[UploadedFile],
        *,
        interaction: _Interaction | None = None,
        empty_ok: bool = False,
    ) -> JSON:
        if channel_id not in self.channels:
            raise ApiError(404, 10003, "Unknown Channel")
        content = body.get("content") or ""
        if len(content) > 2000:
            raise ApiError(400, 50035, "Invalid Form Body: content must be 2000 or fewer in length")
        has_body = content or body.get("embeds") or body.get("components") or files or body.get("poll")
        if not (has_body or empty_ok):
            raise ApiError(400, 50006, "Cannot send an empty message")
        message: JSON = {
            "id": str(self.snowflake()),
            "type": 20 if interaction is not None and interaction.type == 2 else 0,
            "channel_id": str(channel_id),
            "author": self.users[self.bot_user_id],
            "content": content,
            "embeds": body.get("embeds") or [],
            "components": body.get("components") or [],
            "attachments": self._attachments(channel_id, [], body, files),
            "tts": bool(body.get("tts")),
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": [],
            "pinned": False,
            "timestamp": _now(),
            "edited_timestamp": None,
            "flags": body.get("flags") or 0,
        }
        if "message_reference" in body:
            message["message_reference"] = body["message_reference"]
        if interaction is not None:
            message["webhook_id"] = str(self.application_id)
            message["application_id"] = str(self.application_id)
            message["interaction_metadata"] = {
                "id": str(interaction.id),
                "type": interaction.type,
                "user": self.users[interaction.user_id],
                "authorizing_integration_owners": {"0": str(self.guild_id)},
            }
        self.messages[channel_id].append(message)
        self.channels[channel_id]["last_message_id"] = message["id"]
        return message

    def _apply_edit(self, message: JSON, body: JSON, files: list[UploadedFile]) -> None:
        if "content" in body:
            content = body["content"] or ""
            if len(content) > 2000:
                raise ApiError(400, 50035, "Invalid Form Body: content must be 2000 or fewer in length")
            message["content"] = content
        for key in ("embeds", "components"):
            if key in body:
                message[key] = body[key] or []
        if "flags" in body and body["flags"] is not None:
            # Only SUPPRESS_EMBEDS can be changed by an edit; ephemeral stays as it was.
            message["flags"] = (message["flags"] & ~4) | (body["flags"] & 4)
        if "attachments" in body or files:
            channel_id = int(message["channel_id"])
            message["attachments"] = self._attachments(channel_id, message["attachments"], body, files)
        message["flags"] &= ~LOADING  # editing the "thinking…" message is what ends the deferral
        message["edited_timestamp"] = _now()

    def _attachments(self, channel_id: int, existing: list[JSON], body: JSON, files: list[UploadedFile]) -> list[JSON]:
        uploads: dict[int, UploadedFile] = {}
        for position, upload in enumerate(files):
            match = re.fullmatch(r"files\[(\d+)\]", upload.field)
            uploads[int(match[1]) if match else position] = upload
        for upload in files:
            if len(upload.data) > self.attachment_size_limit:
                raise ApiError(413, 40005, "Request entity too large")
        kept = {int(a["id"]): a for a in existing}
        if "attachments" not in body:
            # Without an attachments list Discord keeps what is there and appends every uploaded file.
            return [*existing, *(self._new_attachment(channel_id, u.filename, u.data, u.content_type) for u in files)]
        result: list[JSON] = []
        for entry in body["attachments"] or []:
            aid = int(entry["id"])
            if aid in uploads:
                upload = uploads.pop(aid)
                filename = entry.get("filename") or upload.filename
                attachment = self._new_attachment(channel_id, filename, upload.data, upload.content_type)
                if entry.get("description"):
                    attachment["description"] = entry["description"]
                result.append(attachment)
            elif aid in kept:
                result.append(kept[aid])
            else:
                raise ApiError(400, 50035, f"Invalid Form Body: unknown attachment id {aid}")
        for upload in uploads.values():
            result.append(self._new_attachment(channel_id, upload.filename, upload.data, upload.content_type))
        return result

    def _new_attachment(self, channel_id: int, filename: str, data: bytes, content_type: str | None) -> JSON:
        aid = self.snowflake()
        self._blobs[aid] = data
        url = f"{self.base_url}/attachments/{channel_id}/{aid}/{filename}"
        return {
            "id": str(aid),
            "filename": filename,
            "size": len(data),
            "content_type": content_type,
            "url": url,
            "proxy_url": url,
            "bytes": data,
        }

    async def _remove_message(self, message: JSON) -> None:
        channel_id = int(message["channel_id"])
        self.messages[channel_id].remove(message)
        if not message["flags"] & EPHEMERAL:
            guild_id = str(self._guild_of(channel_id))
            await self._emit(
                "MESSAGE_DELETE", {"id": message["id"], "channel_id": str(channel_id), "guild_id": guild_id}
            )

    async def _emit_create(self, message: JSON) -> None:
        # Discord sends no gateway events for ephemeral messages.
        if not message["flags"] & EPHEMERAL:
            guild_id = str(self._guild_of(int(message["channel_id"])))
            await self._emit("MESSAGE_CREATE", {**self._public_message(message), "guild_id": guild_id})

    async def _emit_update(self, message: JSON) -> None:
        if not message["flags"] & EPHEMERAL:
            guild_id = str(self._guild_of(int(message["channel_id"])))
            await self._emit("MESSAGE_UPDATE", {**self._public_message(message), "guild_id": guild_id})

    @staticmethod
    def _public_attachment(attachment: JSON) -> JSON:
        return {k: v for k, v in attachment.items() if k != "bytes"}

    def _public_message(self, message: JSON) -> JSON:
        # The stored message keeps the uploaded bytes for assertions; the wire copy must be JSON.
        public = copy.deepcopy({k: v for k, v in message.items() if k != "attachments"})
        public["attachments"] = [self._public_attachment(a) for a in message["attachments"]]
        return public

    # ------------------------------------------------------------------ payload builders

    async def _send_interaction(
        self,
        kind: int,
        data: JSON,
        *,
        user_id: int | None,
        channel_id: int | None,
        guild_id: int | None,
        message: JSON | None = None,
        permissions: int | None = None,
        locale: str = "en-US",
        timeout: float = 5.0,
    ) -> str:
        user_id = user_id or self.user_id
        channel_id = channel_id or self.channel_id
        guild_id = guild_id or self.guild_id
        self._ensure_user(user_id)
        if channel_id not in self.channels:
            raise LookupError(f"FakeDiscord: no channel {channel_id}")
        interaction = _Interaction(
            id=self.snowflake(),
            token=f"fake-itoken-{secrets.token_hex(12)}",
            type=kind,
            channel_id=channel_id,
            guild_id=guild_id,
            user_id=user_id,
            source_message_id=int(message["id"]) if message else None,
        )
        self._interactions[interaction.token] = interaction
        member = self.members.get(user_id) or self._member(user_id, [])
        perms = str(self.member_permissions if permissions is None else permissions)
        payload: JSON = {
            "id": str(interaction.id),
            "application_id": str(self.application_id),
            "type": kind,
            "data": data,
            "guild_id": str(guild_id),
            "guild": {"id": str(guild_id), "locale": "en-US", "features": []},
            "channel_id": str(channel_id),
            "channel": self.channels[channel_id],
            "member": {**member, "permissions": perms},
            "token": interaction.token,
            "version": 1,
            "app_permissions": str(ALL_PERMISSIONS),
            "locale": locale,
            "guild_locale": "en-US",
            "entitlements": [],
            "authorizing_integration_owners": {"0": str(guild_id)},
            "context": 0,
            "attachment_size_limit": self.attachment_size_limit,
        }
        if message is not None:
            payload["message"] = message
        await self.dispatch("INTERACTION_CREATE", payload, timeout=timeout)
        return interaction.token

    def _guild_of(self, channel_id: int) -> int:
        channel = self.channels.get(channel_id)
        if channel is None:
            raise LookupError(f"FakeDiscord: no channel {channel_id}")
        return int(channel["guild_id"])

    def _guild_payload(self) -> JSON:
        return {
            "id": str(self.guild_id),
            "name": "Fake Studio",
            "icon": None,
            "owner_id": str(self.user_id),
            "unavailable": False,
            "large": False,
            "member_count": len(self.members),
            "joined_at": _now(),
            "features": [],
            "preferred_locale": "en-US",
            "premium_tier": 0,
            "roles": list(self.roles.values()),
            "emojis": [],
            "stickers": [],
            "channels": [c for c in self.channels.values() if c["type"] not in (PUBLIC_THREAD, PRIVATE_THREAD)],
            "threads": [c for c in self.channels.values() if c["type"] in (PUBLIC_THREAD, PRIVATE_THREAD)],
            "members": list(self.members.values()),
            "presences": [],
            "voice_states": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
            "soundboard_sounds": [],
        }

    def _add_user(self, user_id: int, username: str, *, bot: bool = False) -> None:
        self.users[user_id] = {
            "id": str(user_id),
            "username": username,
            "discriminator": "0",
            "global_name": None,
            "avatar": None,
            "bot": bot,
            "public_flags": 0,
        }

    def _ensure_user(self, user_id: int) -> None:
        if user_id not in self.users:
            self._add_user(user_id, f"user{user_id % 10_000}")

    def _member(self, user_id: int, role_ids: list[int]) -> JSON:
        return {
            "user": self.users[user_id],
            "roles": [str(r) for r in role_ids],
            "joined_at": _now(),
            "nick": None,
            "avatar": None,
            "deaf": False,
            "mute": False,
            "flags": 0,
            "pending": False,
            "premium_since": None,
            "communication_disabled_until": None,
        }

    @staticmethod
    def _role(role_id: int, name: str, permissions: int, position: int) -> JSON:
        return {
            "id": str(role_id),
            "name": name,
            "permissions": str(permissions),
            "position": position,
            "color": 0,
            "hoist": False,
            "managed": False,
            "mentionable": False,
            "flags": 0,
        }


# ---------------------------------------------------------------------- module helpers


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _json(data: Any, status: int = 200) -> web.Response:
    # Exactly "application/json", no charset: discord.py's json_or_text compares the header verbatim and
    # would otherwise hand the bot the body as a str.
    body = json.dumps(data, separators=(",", ":")).encode()
    return web.Response(body=body, status=status, headers={"Content-Type": "application/json"})


def _error(status: int, code: int, message: str) -> web.Response:
    return _json({"message": message, "code": code}, status=status)


def _ratelimit_headers(response: web.StreamResponse, method: str, path: str) -> None:
    # Sane, never-exhausted buckets: discord.py exercises its bucket bookkeeping but never sleeps.
    route = re.sub(r"\d{5,}", "{id}", path)  # one bucket per route, whatever the ids in it
    bucket = hashlib.sha1(f"{method} {route}".encode()).hexdigest()[:16]
    response.headers["X-RateLimit-Limit"] = "50"
    response.headers["X-RateLimit-Remaining"] = "49"
    response.headers["X-RateLimit-Reset"] = f"{time.time() + 1:.3f}"
    response.headers["X-RateLimit-Reset-After"] = "1.000"
    response.headers["X-RateLimit-Bucket"] = bucket


def _children(component: JSON) -> list[JSON]:
    found: list[JSON] = list(component.get("components") or [])
    for key in ("accessory", "component"):
        if isinstance(component.get(key), dict):
            found.append(component[key])
    return found


def _find_component(components: list[JSON], custom_id: str) -> JSON | None:
    for component in components:
        if component.get("custom_id") == custom_id and component.get("type") != 1:
            return component
        inner = _find_component(_children(component), custom_id)
        if inner is not None:
            return inner
    return None


def _submitted(component: JSON, values: dict[str, str | list[str]]) -> JSON:
    """The modal-submit form of one modal component, taking its value out of ``values``."""
    kind = component["type"]
    if kind == 1:
        return {"type": 1, "components": [_submitted(c, values) for c in component.get("components") or []]}
    if kind == 18:
        return {"type": 18, "component": _submitted(component["component"], values)}
    custom_id = component.get("custom_id")
    out: JSON = {"type": kind}
    if "id" in component:
        out["id"] = component["id"]
    if custom_id is None:
        return out
    out["custom_id"] = custom_id
    value = values.pop(custom_id, None)
    if kind == 4:  # text input
        out["value"] = value if isinstance(value, str) else component.get("value") or ""
    else:  # selects and other inputs carry a list of values
        out["values"] = list(value) if isinstance(value, list) else [value] if value else []
    return out


@contextlib.asynccontextmanager
async def bot_running(
    bot: discord.Client,
    fake: FakeDiscord,
    *,
    token: str | None = None,
    ready_timeout: float = 5.0,
    close_timeout: float = 5.0,
) -> AsyncIterator[asyncio.Task[None]]:
    """Run ``bot.start(token or fake.token)`` in a task until the bot is ready; close it (and wait) on exit.

    If the bot fails to log in or connect, its exception is raised here instead of a timeout, and if the
    bot's task died during the block, that error is raised on exit. Give the bot
    ``guild_ready_timeout=0.05``: discord.py otherwise waits 2 s after the last GUILD_CREATE before READY.
    """
    task = asyncio.create_task(bot.start(token or fake.token), name="wire-test-bot")
    try:
        async with asyncio.timeout(ready_timeout):
            while not bot.is_ready():
                if task.done():
                    task.result()  # raises the bot's own error
                    raise RuntimeError("bot.start() returned before the bot was ready")
                await asyncio.sleep(0.01)
        crashed = False
        yield task
        crashed = task.done()
    finally:
        await bot.close()
        try:
            await asyncio.wait_for(asyncio.shield(task), timeout=close_timeout)
        except TimeoutError:
            task.cancel()
            _log.warning("bot did not stop within %ss; cancelled", close_timeout)
        except Exception:
            # Only reached while another exception propagates or the bot crashed during the block
            # (checked below); the first is the one worth seeing.
            _log.debug("bot task ended with an error", exc_info=True)
    if crashed:
        task.result()
        raise RuntimeError("the bot stopped during the test")
