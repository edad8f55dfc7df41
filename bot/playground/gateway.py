"""The gateway websocket, for the bot and for the page's users alike (``/gateway``, v10, JSON).

Discord's session rules: HELLO, then IDENTIFY (READY, and for a bot GUILD_CREATE) or RESUME (the missed events
in order, then RESUMED); heartbeats are acknowledged; events carry a per-session sequence number and are kept
for a while, so a session whose socket dropped can resume without losing any. A bot gets only the events its
intents ask for (and message content only with the Message Content intent, or when it is mentioned); a user
gets the events of the channels they can see, and their own interactions' lifecycle.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import logging
import secrets
import zlib
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from aiohttp import WSMsgType, web

from bot.playground.errors import JSON
from bot.playground.state import State

log = logging.getLogger(__name__)

# Gateway intents (https://discord.com/developers/docs/events/gateway#gateway-intents).
GUILDS, GUILD_MEMBERS, GUILD_MESSAGES, GUILD_MESSAGE_TYPING, MESSAGE_CONTENT = 1 << 0, 1 << 1, 1 << 9, 1 << 11, 1 << 15
_INTENT_OF = {
    "GUILD_CREATE": GUILDS,
    "GUILD_UPDATE": GUILDS,
    "GUILD_DELETE": GUILDS,
    "GUILD_ROLE_CREATE": GUILDS,
    "GUILD_ROLE_UPDATE": GUILDS,
    "GUILD_ROLE_DELETE": GUILDS,
    "CHANNEL_CREATE": GUILDS,
    "CHANNEL_UPDATE": GUILDS,
    "CHANNEL_DELETE": GUILDS,
    "THREAD_CREATE": GUILDS,
    "THREAD_UPDATE": GUILDS,
    "THREAD_DELETE": GUILDS,
    "THREAD_LIST_SYNC": GUILDS,
    "THREAD_MEMBER_UPDATE": GUILDS,
    "THREAD_MEMBERS_UPDATE": GUILD_MEMBERS,
    "GUILD_MEMBER_ADD": GUILD_MEMBERS,
    "GUILD_MEMBER_UPDATE": GUILD_MEMBERS,
    "GUILD_MEMBER_REMOVE": GUILD_MEMBERS,
    "MESSAGE_CREATE": GUILD_MESSAGES,
    "MESSAGE_UPDATE": GUILD_MESSAGES,
    "MESSAGE_DELETE": GUILD_MESSAGES,
    "MESSAGE_DELETE_BULK": GUILD_MESSAGES,
    "TYPING_START": GUILD_MESSAGE_TYPING,
}
BUFFERED_EVENTS = 1000  # per session, for RESUME
RESUME_WINDOW = 180.0  # seconds a session without a socket stays resumable
OP_DISPATCH, OP_HEARTBEAT, OP_IDENTIFY, OP_RESUME, OP_RECONNECT = 0, 1, 2, 6, 7
OP_REQUEST_MEMBERS, OP_INVALID_SESSION, OP_HELLO, OP_HEARTBEAT_ACK = 8, 9, 10, 11


class _Socket:
    """One websocket, with per-connection zlib-stream compression when asked for."""

    def __init__(self, ws: web.WebSocketResponse, compress: str | None) -> None:
        self.ws = ws
        # discord.py asks for zlib-stream (zstd-stream when zstandard is installed; that, or nothing, gets plain
        # text frames, which every client parses without decompressing). zlib-stream is one deflate stream for
        # the whole connection, each message ending with a Z_SYNC_FLUSH.
        self._zlib = zlib.compressobj() if compress == "zlib-stream" else None
        self.compression = "zlib-stream" if self._zlib is not None else None
        self.heartbeats = 0
        self._lock = asyncio.Lock()

    async def send(self, payload: JSON) -> None:
        text = json.dumps(payload, separators=(",", ":"), ensure_ascii=False)
        async with self._lock:
            if self.ws.closed:
                raise ConnectionResetError("gateway socket is closed")
            if self._zlib is not None:
                await self.ws.send_bytes(self._zlib.compress(text.encode()) + self._zlib.flush(zlib.Z_SYNC_FLUSH))
            else:
                await self.ws.send_str(text)

    async def close(self, code: int, message: str) -> None:
        with contextlib.suppress(Exception):
            await self.ws.close(code=code, message=message.encode())


@dataclass
class Session:
    id: str
    user_id: int
    bot: bool
    intents: int
    shard: tuple[int, int]
    socket: _Socket | None = None
    seq: int = 0
    buffer: deque[JSON] = field(default_factory=lambda: deque(maxlen=BUFFERED_EVENTS))
    detached_at: float | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def dispatch(self, event: str, data: JSON) -> None:
        async with self.lock:
            self.seq += 1
            payload = {"op": OP_DISPATCH, "t": event, "s": self.seq, "d": data}
            self.buffer.append(payload)
            await self._send(payload)

    async def _send(self, payload: JSON) -> None:
        if self.socket is None:
            return
        with contextlib.suppress(ConnectionResetError, RuntimeError):  # kept in the buffer: a RESUME gets it
            await self.socket.send(payload)


@dataclass
class GatewayStats:
    """What the bot did on the gateway, for diagnostics (and the wire tests)."""

    bot_connections: int = 0
    bot_identifies: int = 0
    bot_resumes: int = 0
    bot_heartbeats: int = 0
    bot_compression: str | None = None
    bot_intents: int | None = None
    bot_close_codes: list[int | None] = field(default_factory=list)  # closes the bot started (None: others)


class Gateway:
    def __init__(self, state: State, *, heartbeat_interval_ms: int, url: Callable[[], str]) -> None:
        self._state = state
        self._interval_ms = heartbeat_interval_ms
        self._url = url
        self._sessions: dict[str, Session] = {}
        self._sockets: set[_Socket] = set()
        self.stats = GatewayStats()
        self.bot_online = asyncio.Event()
        self.bot_offline = asyncio.Event()
        self.bot_offline.set()
        self._online: set[int] = set()  # users (and the bot) with a session that has a socket

    # --- the websocket ----------------------------------------------------------------------------------------
    async def handle(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(max_msg_size=4 * 1024 * 1024, timeout=2.0)
        await ws.prepare(request)
        sock = _Socket(ws, request.query.get("compress"))
        self._sockets.add(sock)
        session: Session | None = None
        client_code: int | None = None  # the code of a close the client started
        try:
            if request.query.get("encoding", "json") != "json":
                await sock.close(4002, "Decode error: only encoding=json is supported")
                return ws
            await sock.send({"op": OP_HELLO, "d": {"heartbeat_interval": self._interval_ms}, "s": None, "t": None})
            # A client that stops heartbeating is gone: Discord closes such a session with 4009.
            timeout = self._interval_ms / 1000 * 1.5 + 5
            while True:
                try:
                    msg = await ws.receive(timeout=timeout)
                except TimeoutError:
                    await sock.close(4009, "Session timed out")
                    break
                if msg.type is WSMsgType.CLOSE:
                    client_code = int(msg.data) if isinstance(msg.data, int) else None
                if msg.type not in (WSMsgType.TEXT, WSMsgType.BINARY):
                    break
                try:
                    payload = json.loads(msg.data)
                except (ValueError, UnicodeDecodeError):
                    await sock.close(4002, "Decode error")
                    break
                if not isinstance(payload, dict):
                    await sock.close(4002, "Decode error")
                    break
                session = await self._received(sock, session, payload)
                if ws.closed:
                    break
        except ConnectionResetError:
            log.debug("gateway socket reset")
        except Exception:
            log.exception("gateway connection failed")
            await sock.close(4000, "Unknown error")
        finally:
            self._sockets.discard(sock)
            if session is not None and session.socket is sock:
                session.socket = None
                session.detached_at = self._state.clock()
                if session.bot:
                    self.stats.bot_close_codes.append(client_code)
                await self._presence_check(session.user_id)
        return ws

    async def _received(self, sock: _Socket, session: Session | None, payload: JSON) -> Session | None:
        op, data = payload.get("op"), payload.get("d")
        if op == OP_HEARTBEAT:
            sock.heartbeats += 1
            if session is not None and session.bot:
                self.stats.bot_heartbeats += 1
            await sock.send({"op": OP_HEARTBEAT_ACK, "d": None, "s": None, "t": None})
            return session
        if op == OP_IDENTIFY:
            if session is not None:
                await sock.close(4005, "Already authenticated.")
                return session
            return await self._identify(sock, data if isinstance(data, dict) else {})
        if op == OP_RESUME:
            if session is not None:
                await sock.close(4005, "Already authenticated.")
                return session
            return await self._resume(sock, data if isinstance(data, dict) else {})
        if session is None:
            await sock.close(4003, "Not authenticated.")
            return None
        if op == OP_REQUEST_MEMBERS and isinstance(data, dict):
            await self._members_chunk(session, data)
        # Presence (3), voice state (4) and the clients' own ops change nothing here.
        return session

    async def _identify(self, sock: _Socket, data: JSON) -> Session | None:
        token = data.get("token")
        user_id = self._state.user_for_token(token) if isinstance(token, str) else None
        if user_id is None:
            await sock.close(4004, "Authentication failed.")
            return None
        bot = user_id == self._state.bot_id
        intents = data.get("intents", 0)
        if bot and (not isinstance(intents, int) or isinstance(intents, bool) or intents < 0):
            await sock.close(4013, "Invalid intent(s).")
            return None
        shard_raw = data.get("shard") or [0, 1]
        valid = isinstance(shard_raw, list) and len(shard_raw) == 2 and all(isinstance(x, int) for x in shard_raw)
        if not valid or not 0 <= shard_raw[0] < shard_raw[1]:
            await sock.close(4010, "Invalid shard.")
            return None
        shard = (int(shard_raw[0]), int(shard_raw[1]))
        self._forget_sessions(bot_shard=shard if bot else None)
        session = Session(secrets.token_hex(16), user_id, bot, intents if bot else -1, shard, socket=sock)
        self._sessions[session.id] = session
        if bot:
            self.stats.bot_connections += 1
            self.stats.bot_identifies += 1
            self.stats.bot_heartbeats += sock.heartbeats  # discord.py's first heartbeat comes before IDENTIFY
            self.stats.bot_intents = intents
            self.stats.bot_compression = sock.compression
        me = {
            **copy.deepcopy(self._state.users[user_id]),
            "verified": True,
            "mfa_enabled": False,
            "email": None,
            "flags": 0,
        }
        ready: JSON = {
            "v": 10,
            "user": me,
            "session_id": session.id,
            "session_type": "normal",
            "resume_gateway_url": self._url(),
            "shard": list(shard),
            "private_channels": [],
            "relationships": [],
            "presences": [],
            "geo_ordered_rtc_regions": ["playground"],
            "guild_join_requests": [],
            "user_settings": {},
        }
        if bot:
            ready["guilds"] = [{"id": str(self._state.guild_id), "unavailable": True}] if self._owns(session) else []
            ready["application"] = {"id": str(self._state.application_id), "flags": 0}
        else:
            ready["guilds"] = [{**self._state.guild_out(for_user=user_id), "presences": self._presences(user_id)}]
            application = self._state.application_out()
            ready["application"] = {k: application[k] for k in ("id", "name", "icon", "description", "bot")}
        async with session.lock:
            # Under the session's lock, so nothing dispatched meanwhile lands before READY.
            session.seq += 1
            await session._send({"op": OP_DISPATCH, "t": "READY", "s": session.seq, "d": ready})
            if bot and self._owns(session):
                session.seq += 1
                guild = self._state.guild_out(with_members=bool(intents & GUILD_MEMBERS))
                await session._send({"op": OP_DISPATCH, "t": "GUILD_CREATE", "s": session.seq, "d": guild})
        await self._presence_check(user_id)
        return session

    async def _resume(self, sock: _Socket, data: JSON) -> Session | None:
        token = data.get("token")
        user_id = self._state.user_for_token(token) if isinstance(token, str) else None
        if user_id is None:
            await sock.close(4004, "Authentication failed.")
            return None
        self._forget_sessions()
        session = self._sessions.get(str(data.get("session_id")))
        seq = data.get("seq")
        seq = seq if isinstance(seq, int) and not isinstance(seq, bool) else 0
        first = session.buffer[0]["s"] if session is not None and session.buffer else None
        lost = first is not None and seq < first - 1  # older than what is kept
        if session is None or session.user_id != user_id or seq > session.seq or lost:
            await sock.send({"op": OP_INVALID_SESSION, "d": False, "s": None, "t": None})
            return None
        if session.socket is not None:
            old, session.socket = session.socket, None
            await old.close(4000, "Session resumed elsewhere")
        async with session.lock:
            session.socket = sock
            session.detached_at = None
            for payload in [e for e in session.buffer if e["s"] > seq]:
                await session._send(payload)
            session.seq += 1
            await session._send({"op": OP_DISPATCH, "t": "RESUMED", "s": session.seq, "d": {}})
        if session.bot:
            self.stats.bot_connections += 1
            self.stats.bot_resumes += 1
            self.stats.bot_heartbeats += sock.heartbeats
        await self._presence_check(session.user_id)
        return session

    async def _members_chunk(self, session: Session, data: JSON) -> None:
        state = self._state
        ids = data.get("user_ids")
        wanted = [ids] if isinstance(ids, str | int) else ids if isinstance(ids, list) else None
        if wanted is not None:
            found = [int(i) for i in wanted if str(i).isdigit() and int(i) in state.members]
            missing = [str(i) for i in wanted if not (str(i).isdigit() and int(i) in state.members)]
        else:
            query = str(data.get("query") or "").lower()
            limit = data.get("limit") if isinstance(data.get("limit"), int) else 0
            found = [
                uid
                for uid, m in state.members.items()
                if m["user"]["username"].lower().startswith(query)
                or (m.get("nick") or m["user"].get("global_name") or "").lower().startswith(query)
            ][: limit or None]
            missing = []
        await session.dispatch(
            "GUILD_MEMBERS_CHUNK",
            {
                "guild_id": str(state.guild_id),
                "members": [state.member_out(uid) for uid in found],
                "chunk_index": 0,
                "chunk_count": 1,
                "not_found": missing,
                "nonce": data.get("nonce"),
            },
        )

    # --- sending ----------------------------------------------------------------------------------------------
    def _owns(self, session: Session) -> bool:
        index, count = session.shard
        return (self._state.guild_id >> 22) % count == index

    async def to_bot(self, event: str, data: JSON) -> None:
        """An event of the guild to the bot's session(s) for its shard, as its intents allow."""
        state = self._state
        for session in [s for s in self._sessions.values() if s.bot and self._owns(s)]:
            needed = _INTENT_OF.get(event)
            own_member = event == "GUILD_MEMBER_UPDATE" and data.get("user", {}).get("id") == str(state.bot_id)
            if needed is not None and not session.intents & needed and not own_member:
                continue
            payload = data
            if event in ("MESSAGE_CREATE", "MESSAGE_UPDATE") and not session.intents & MESSAGE_CONTENT:
                payload = _without_content(data, state.bot_id)
            await session.dispatch(event, payload)

    async def to_users(
        self,
        event: str,
        data: JSON,
        *,
        users: Iterable[int] | None = None,
        visible: Callable[[int], bool] | None = None,
        session_id: str | None = None,
    ) -> None:
        """An event to users' sessions: ``users`` only, and/or those for whom ``visible(user_id)``.

        ``session_id`` narrows it to that one session when it is one of theirs (an interaction's lifecycle goes to
        the client that started it).
        """
        only = None if users is None else set(users)
        targets = [s for s in self._sessions.values() if not s.bot]
        chosen = self._sessions.get(session_id) if session_id else None
        if chosen is not None and not chosen.bot and (only is None or chosen.user_id in only):
            targets = [chosen]
        for session in targets:
            if only is not None and session.user_id not in only:
                continue
            if visible is not None and not visible(session.user_id):
                continue
            await session.dispatch(event, data)

    async def _presence_check(self, user_id: int) -> None:
        """Online while a session of theirs has a socket: members with the page open, the bot when connected."""
        online = any(s.user_id == user_id and s.socket is not None for s in self._sessions.values())
        if online == (user_id in self._online):
            return
        if online:
            self._online.add(user_id)
        else:
            self._online.discard(user_id)
        if user_id == self._state.bot_id:
            self._update_bot_online()
        await self.to_users("PRESENCE_UPDATE", self._presence(user_id, online))

    def _presence(self, user_id: int, online: bool) -> JSON:
        return {
            "user": {"id": str(user_id)},
            "guild_id": str(self._state.guild_id),
            "status": "online" if online else "offline",
            "activities": [],
            "client_status": {"web": "online"} if online else {},
        }

    def _presences(self, viewer: int) -> list[JSON]:
        return [self._presence(uid, True) for uid in sorted(self._online | {viewer})]

    def _update_bot_online(self) -> None:
        online = any(s.bot and s.socket is not None for s in self._sessions.values())
        for event, value in ((self.bot_online, online), (self.bot_offline, not online)):
            if value:
                event.set()
            else:
                event.clear()

    def _forget_sessions(self, *, bot_shard: tuple[int, int] | None = None) -> None:
        now = self._state.clock()
        for key, session in list(self._sessions.items()):
            expired = session.detached_at is not None and now - session.detached_at > RESUME_WINDOW
            # A bot that identifies again for a shard gives up its earlier session for it.
            replaced = bot_shard is not None and session.bot and session.shard == bot_shard and session.socket is None
            if expired or replaced:
                del self._sessions[key]

    # --- operations -------------------------------------------------------------------------------------------
    async def reconnect_bots(self, *, abrupt: bool = False) -> None:
        """Ask the bot's sessions to reconnect and resume (op 7), or drop their sockets (``abrupt``, code 4000)."""
        for session in [s for s in self._sessions.values() if s.bot and s.socket is not None]:
            sock = session.socket
            assert sock is not None
            if abrupt:
                await sock.close(4000, "Unknown error")
            else:
                with contextlib.suppress(ConnectionResetError):
                    await sock.send({"op": OP_RECONNECT, "d": None, "s": None, "t": None})

    async def end_user_sessions(self) -> None:
        """After a reset: users' sessions end (not resumable); their clients identify again and get a new READY."""
        for key, session in list(self._sessions.items()):
            if not session.bot:
                del self._sessions[key]
                if session.socket is not None:
                    await session.socket.close(4000, "The playground was reset")

    async def close(self) -> None:
        for sock in list(self._sockets):
            await sock.close(1001, "The playground is stopping")
        self._sessions.clear()
        self._online.clear()
        self._update_bot_online()


def _without_content(data: JSON, bot_id: int) -> JSON:
    """Without the Message Content intent a bot sees others' messages empty, unless it is mentioned in them."""
    author = (data.get("author") or {}).get("id")
    if author == str(bot_id) or any(m.get("id") == str(bot_id) for m in data.get("mentions") or []):
        return data
    stripped = dict(data)
    stripped.update(content="", embeds=[], attachments=[], components=[])
    stripped.pop("poll", None)
    return stripped
