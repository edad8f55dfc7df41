"""The playground server: one aiohttp app with the page, the user-side helpers, the REST API and the gateway."""

from __future__ import annotations

import ipaddress
import logging
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from aiohttp import web

from bot.playground.errors import is_snowflake
from bot.playground.gateway import Gateway, GatewayStats
from bot.playground.interactions import Interactions
from bot.playground.messages import Messages
from bot.playground.ratelimits import RateLimiter
from bot.playground.rest import API_PREFIX, Api
from bot.playground.state import State
from bot.playground.store import Store

log = logging.getLogger(__name__)

STATIC = Path(__file__).with_name("static")
HEARTBEAT_INTERVAL_MS = 41_250
PLACEHOLDER = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Tunesmith playground</title></head>
<body><main><h1>Tunesmith playground</h1>
<p>The server is running, but the page's files are not installed (<code>bot/playground/static/</code>).</p>
</main></body></html>
"""
_LOCAL_NAMES = {"localhost", "127.0.0.1", "::1"}


def _host_name(host: str | None) -> str:
    """The name in a Host header, without its port (``[::1]:8000`` → ``::1``)."""
    host = (host or "").lower()
    if host.startswith("["):
        return host[1:].split("]", 1)[0]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


class Playground:
    """A local Discord: the server the bot connects to like to Discord, and the page members use.

    ``start()`` opens (or creates) the state at ``state_path`` and binds ``host:port`` (port 0: any free port);
    then ``url``, ``api_url``, ``gateway_url`` and ``bot_token`` say how to reach it. ``stop()`` closes it.
    ``clock`` (wall-clock seconds) and ``interaction_deadline`` are there so tests can make time pass.
    """

    def __init__(
        self,
        *,
        state_path: Path,
        host: str = "127.0.0.1",
        port: int = 8000,
        clock: Callable[[], float] = time.time,
        interaction_deadline: float = 3.0,
        heartbeat_interval_ms: int = HEARTBEAT_INTERVAL_MS,
    ) -> None:
        self.state_path = Path(state_path)
        self.host = host
        self.port = port
        self._clock = clock
        self._deadline = interaction_deadline
        self._heartbeat_ms = heartbeat_interval_ms
        self._runner: web.AppRunner | None = None
        self._store: Store | None = None
        self._state: State | None = None
        self._gateway: Gateway | None = None
        self._interactions: Interactions | None = None
        self._bound_port: int | None = None

    # --- lifecycle --------------------------------------------------------------------------------------------
    async def start(self) -> None:
        self._store = await Store.open(self.state_path)
        try:
            state = self._state = await State.open(self._store, self._clock)
            gateway = self._gateway = Gateway(
                state, heartbeat_interval_ms=self._heartbeat_ms, url=lambda: self.gateway_url
            )
            messages = Messages(state, gateway)
            interactions = self._interactions = Interactions(state, gateway, messages, deadline=self._deadline)
            api = Api(state, gateway, messages, interactions, RateLimiter(self._clock))
            app = web.Application(middlewares=[self._only_local_hosts], client_max_size=2 * 1024 * 1024)
            app.router.add_get("/gateway", gateway.handle)
            app.router.add_route("*", API_PREFIX + "/{tail:.*}", api.handle)
            app.router.add_get("/attachments/{channel_id}/{attachment_id}/{filename}", self._attachment)
            app.router.add_get("/app/members", self._members)
            app.router.add_post("/app/reset", self._reset)
            app.router.add_get("/", self._page)
            app.router.add_get("/static/{path:.*}", self._static)
            # A short shutdown timeout: stop() closes every socket itself.
            self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
            await self._runner.setup()
            site = web.TCPSite(self._runner, self.host, self.port)
            await site.start()
            self._bound_port = int(self._runner.addresses[0][1])
            state.base_url = self.url
        except BaseException:
            await self.stop()
            raise
        log.info("playground listening on %s (state in %s)", self.url, self.state_path)

    async def stop(self) -> None:
        if self._interactions is not None:
            await self._interactions.close()
        if self._gateway is not None:
            await self._gateway.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._store is not None:
            await self._store.close()
            self._store = None

    async def __aenter__(self) -> Playground:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    # --- where it is ------------------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        if self._bound_port is None:
            raise RuntimeError("the playground is not started")
        host = self.host
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            address = None
        if address is not None and address.is_unspecified:
            host = "127.0.0.1"  # bound to every interface: this machine reaches it on loopback
        elif address is not None and address.version == 6:
            host = f"[{host}]"
        return f"http://{host}:{self._bound_port}"

    @property
    def api_url(self) -> str:
        return self.url + API_PREFIX

    @property
    def gateway_url(self) -> str:
        return self.url.replace("http://", "ws://", 1) + "/gateway"

    @property
    def bot_token(self) -> str:
        return self.state.identity.bot_token

    @property
    def state(self) -> State:
        if self._state is None:
            raise RuntimeError("the playground is not started")
        return self._state

    @property
    def stats(self) -> GatewayStats:
        """What the bot did on the gateway (connections, IDENTIFYs, RESUMEs, heartbeats)."""
        assert self._gateway is not None
        return self._gateway.stats

    async def wait_for_bot(self, *, online: bool = True) -> None:
        """Until the bot has a gateway connection open (or, ``online=False``, none)."""
        assert self._gateway is not None
        await (self._gateway.bot_online if online else self._gateway.bot_offline).wait()

    async def reconnect_bot(self, *, abrupt: bool = False) -> None:
        """Ask the bot to reconnect and resume (Discord's op 7), or drop its connection (``abrupt``)."""
        assert self._gateway is not None
        await self._gateway.reconnect_bots(abrupt=abrupt)

    async def reset(self) -> None:
        """Back to the seeded guild (members' sessions end; the bot is told about the threads that went)."""
        state, gateway = self.state, self._gateway
        assert gateway is not None
        threads = [state.channel_out(c) for c in state.channels.values() if state.is_thread(c)]
        await state.reset()
        for thread in threads:
            await gateway.to_bot("THREAD_DELETE", {k: thread[k] for k in ("id", "guild_id", "parent_id", "type")})
        await gateway.end_user_sessions()
        log.info("the playground was reset")

    # --- the page and its helpers -----------------------------------------------------------------------------
    @web.middleware
    async def _only_local_hosts(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        # Bound to loopback, only loopback names are served: another web site cannot reach this server through
        # a DNS name of its own (DNS rebinding) and read the members' tokens.
        if self._loopback() and _host_name(request.host) not in _LOCAL_NAMES:
            return web.Response(status=421, text="this playground answers on 127.0.0.1 and localhost only")
        return await handler(request)

    def _loopback(self) -> bool:
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return self.host == "localhost"

    async def _page(self, request: web.Request) -> web.StreamResponse:
        index = STATIC / "index.html"
        if index.is_file():
            return web.FileResponse(index, headers={"Cache-Control": "no-cache"})
        return web.Response(text=PLACEHOLDER, content_type="text/html")

    async def _static(self, request: web.Request) -> web.StreamResponse:
        root = STATIC.resolve()
        target = (root / request.match_info["path"]).resolve()
        if not target.is_relative_to(root) or not target.is_file():
            raise web.HTTPNotFound()
        return web.FileResponse(target, headers={"Cache-Control": "no-cache"})

    async def _members(self, request: web.Request) -> web.StreamResponse:
        state = self.state
        members = []
        for user_id, member in state.members.items():
            user = member["user"]
            if user.get("bot"):
                continue
            members.append(
                {
                    "id": user["id"],
                    "username": user["username"],
                    "global_name": user.get("global_name"),
                    "avatar_color": state.avatar_colors.get(user_id, "#5865f2"),
                    "token": state.token_of(user_id),
                    "roles": list(member["roles"]),
                    "is_owner": user_id == state.identity.owner_id,
                }
            )
        return web.json_response(members)

    async def _reset(self, request: web.Request) -> web.StreamResponse:
        # A member's token is required: a custom header cannot be sent cross-site without CORS, which this
        # server never grants, so no other web page can wipe the playground.
        if self.state.user_for_token(request.headers.get("Authorization", "")) in (None, self.state.bot_id):
            return web.json_response({"message": "401: Unauthorized", "code": 0}, status=401)
        await self.reset()
        return web.Response(status=204)

    async def _attachment(self, request: web.Request) -> web.StreamResponse:
        raw = request.match_info["attachment_id"]
        found = await self.state.store.attachment(int(raw)) if is_snowflake(raw) else None
        if found is None:
            raise web.HTTPNotFound()
        channel_id, filename, content_type, path = found
        if request.match_info["channel_id"] != str(channel_id) or request.match_info["filename"] != filename:
            raise web.HTTPNotFound()
        if not path.is_file():
            raise web.HTTPNotFound()
        # FileResponse answers Range requests (206), so an <audio> element can read the duration and seek.
        return web.FileResponse(
            path,
            headers={
                "Content-Type": content_type,
                "Content-Disposition": f'inline; filename="{filename}"',
                "Cache-Control": "public, max-age=31536000, immutable",
                "X-Content-Type-Options": "nosniff",
            },
        )
