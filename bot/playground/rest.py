"""The REST API v10 under ``/api/v10``: the routes the bot uses and the ones the page's members use.

One route table; each route says who may call it (the bot with ``Bot <token>``, a member with their user token,
or either), which rate-limit bucket it counts against and the resource the bucket is per (a channel, the guild,
a webhook token). Every answer carries Discord's rate-limit headers. Errors are Discord's JSON errors; a bug here
answers 500 and is logged, never hidden.
"""

from __future__ import annotations

import copy
import json
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import BodyPartReader, web

from bot.playground import limits
from bot.playground import permissions as p
from bot.playground import ratelimits as rl
from bot.playground.errors import JSON, ApiError, FormErrors, is_snowflake, unknown
from bot.playground.gateway import Gateway
from bot.playground.interactions import After, CallbackResult, Interactions
from bot.playground.messages import Messages, Upload
from bot.playground.state import State, iso

log = logging.getLogger(__name__)

API_PREFIX = "/api/v10"
JSON_BODY_MAX = 1024 * 1024
MULTIPART_SLACK = 1024 * 1024  # payload_json and part headers on top of the files


@dataclass
class Call:
    request: web.Request
    match: re.Match[str]
    body: Any
    uploads: list[Upload]
    user_id: int
    bot: bool

    def arg(self, name: str) -> int:
        return int(self.match[name])

    @property
    def query(self) -> Any:
        return self.request.query


@dataclass
class Reply:
    status: int = 200
    body: Any = None
    after: list[After] = field(default_factory=list)


Handler = Callable[[Call], Awaitable[Reply]]


@dataclass(frozen=True)
class Route:
    method: str
    pattern: re.Pattern[str]
    handler: Handler
    who: str  # "bot", "user", "any" or "none"
    limit: rl.Limit
    resource: str | None  # the match group the bucket is per
    exempt_from_global: bool = False


def _json_response(status: int, body: Any, headers: dict[str, str]) -> web.Response:
    # Exactly "application/json", no charset: discord.py compares the header verbatim.
    data = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
    return web.Response(body=data, status=status, headers={**headers, "Content-Type": "application/json"})


def _reject_constant(value: str) -> Any:
    raise ValueError(f"{value} is not JSON")


def parse_json(raw: bytes | str) -> Any:
    """Strict JSON: NaN and Infinity are refused, so every number that gets in is finite."""
    try:
        return json.loads(raw, parse_constant=_reject_constant)
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, 50109, "The request body contains invalid JSON.") from None


class Api:
    def __init__(
        self, state: State, gateway: Gateway, messages: Messages, interactions: Interactions, limiter: rl.RateLimiter
    ) -> None:
        self._state = state
        self._gateway = gateway
        self._messages = messages
        self._interactions = interactions
        self._limiter = limiter
        self._routes = self._table()

    # --- dispatching ------------------------------------------------------------------------------------------
    def _table(self) -> list[Route]:
        app, tok = r"(?P<app>\d+)", r"(?P<token>[^/]+)"
        cid, mid, gid, uid = r"(?P<cid>\d+)", r"(?P<mid>\d+)", r"(?P<gid>\d+)", r"(?P<uid>\d+)"
        cmd = r"(?P<cmd>\d+)"
        d = rl.DEFAULT
        rows: list[tuple[str, str, Handler, str, rl.Limit, str | None]] = [
            ("GET", r"/users/@me", self.get_me, "any", d, None),
            ("GET", rf"/users/{uid}", self.get_user, "any", d, None),
            ("GET", r"/(?:oauth2/)?applications/@me", self.get_application, "bot", d, None),
            ("GET", r"/gateway", self.get_gateway, "none", d, None),
            ("GET", r"/gateway/bot", self.get_gateway_bot, "bot", d, None),
            ("GET", rf"/applications/{app}/commands", self.get_commands, "bot", d, "app"),
            ("PUT", rf"/applications/{app}/commands", self.put_commands, "bot", d, "app"),
            ("POST", rf"/applications/{app}/commands", self.post_command, "bot", d, "app"),
            ("GET", rf"/applications/{app}/commands/{cmd}", self.get_command, "bot", d, "app"),
            ("PATCH", rf"/applications/{app}/commands/{cmd}", self.patch_command, "bot", d, "app"),
            ("DELETE", rf"/applications/{app}/commands/{cmd}", self.delete_command, "bot", d, "app"),
            ("GET", rf"/applications/{app}/guilds/{gid}/commands", self.get_commands, "bot", d, "app"),
            ("PUT", rf"/applications/{app}/guilds/{gid}/commands", self.put_commands, "bot", d, "app"),
            ("POST", rf"/applications/{app}/guilds/{gid}/commands", self.post_command, "bot", d, "app"),
            ("GET", rf"/applications/{app}/guilds/{gid}/commands/{cmd}", self.get_command, "bot", d, "app"),
            ("PATCH", rf"/applications/{app}/guilds/{gid}/commands/{cmd}", self.patch_command, "bot", d, "app"),
            ("DELETE", rf"/applications/{app}/guilds/{gid}/commands/{cmd}", self.delete_command, "bot", d, "app"),
            ("POST", r"/interactions", self.post_interaction, "user", d, None),
            (
                "POST",
                rf"/interactions/(?P<iid>\d+)/{tok}/callback",
                self.callback,
                "none",
                rl.INTERACTION_CALLBACK,
                "iid",
            ),
            (
                "GET",
                rf"/webhooks/{app}/{tok}/messages/(?P<mid>@original|\d+)",
                self.get_webhook_message,
                "none",
                rl.WEBHOOK,
                "token",
            ),
            (
                "PATCH",
                rf"/webhooks/{app}/{tok}/messages/(?P<mid>@original|\d+)",
                self.edit_webhook_message,
                "none",
                rl.WEBHOOK,
                "token",
            ),
            (
                "DELETE",
                rf"/webhooks/{app}/{tok}/messages/(?P<mid>@original|\d+)",
                self.delete_webhook_message,
                "none",
                rl.WEBHOOK,
                "token",
            ),
            ("POST", rf"/webhooks/{app}/{tok}", self.followup, "none", rl.WEBHOOK, "token"),
            ("GET", rf"/channels/{cid}", self.get_channel, "any", d, "cid"),
            ("PATCH", rf"/channels/{cid}", self.patch_channel, "any", d, "cid"),
            ("PUT", rf"/channels/{cid}/permissions/(?P<oid>\d+)", self.put_overwrite, "any", d, "cid"),
            ("DELETE", rf"/channels/{cid}/permissions/(?P<oid>\d+)", self.delete_overwrite, "any", d, "cid"),
            ("GET", rf"/channels/{cid}/messages", self.get_messages, "any", d, "cid"),
            ("POST", rf"/channels/{cid}/messages", self.post_message, "any", rl.MESSAGE_CREATE, "cid"),
            ("GET", rf"/channels/{cid}/messages/{mid}", self.get_message, "any", d, "cid"),
            ("PATCH", rf"/channels/{cid}/messages/{mid}", self.patch_message, "any", rl.MESSAGE_EDIT, "cid"),
            ("DELETE", rf"/channels/{cid}/messages/{mid}", self.delete_message, "any", rl.MESSAGE_DELETE, "cid"),
            (
                "POST",
                rf"/channels/{cid}/messages/{mid}/threads",
                self.thread_from_message,
                "any",
                rl.THREAD_CREATE,
                "cid",
            ),
            ("POST", rf"/channels/{cid}/threads", self.thread_without_message, "any", rl.THREAD_CREATE, "cid"),
            ("PUT", rf"/channels/{cid}/thread-members/@me", self.join_thread, "any", d, "cid"),
            ("DELETE", rf"/channels/{cid}/thread-members/@me", self.leave_thread, "any", d, "cid"),
            ("GET", rf"/channels/{cid}/thread-members", self.thread_members, "any", d, "cid"),
            ("POST", rf"/channels/{cid}/typing", self.typing, "any", d, "cid"),
            ("GET", rf"/guilds/{gid}", self.get_guild, "any", d, "gid"),
            ("GET", rf"/guilds/{gid}/channels", self.get_guild_channels, "any", d, "gid"),
            ("GET", rf"/guilds/{gid}/threads/active", self.get_active_threads, "any", d, "gid"),
            ("GET", rf"/guilds/{gid}/roles", self.get_roles, "any", d, "gid"),
            ("GET", rf"/guilds/{gid}/members", self.get_members, "any", d, "gid"),
            ("GET", rf"/guilds/{gid}/members/{uid}", self.get_member, "any", d, "gid"),
            ("PUT", rf"/guilds/{gid}/members/{uid}/roles/(?P<rid>\d+)", self.add_role, "any", d, "gid"),
            ("DELETE", rf"/guilds/{gid}/members/{uid}/roles/(?P<rid>\d+)", self.remove_role, "any", d, "gid"),
            ("GET", rf"/guilds/{gid}/application-command-index", self.command_index, "user", d, "gid"),
        ]
        return [
            Route(method, re.compile(regex), handler, who, limit, resource, exempt_from_global=handler == self.callback)
            for method, regex, handler, who, limit, resource in rows
        ]

    async def handle(self, request: web.Request) -> web.StreamResponse:
        path = "/" + request.match_info["tail"]
        route, match = self._find(request.method, path)
        headers = {"Via": "1.1 google"}
        if route is None or match is None:
            return _json_response(404, {"message": "404: Not Found", "code": 0}, headers)
        try:
            for group, value in match.groupdict().items():
                if value is not None and value.isdigit() and not is_snowflake(value):
                    raise ApiError(
                        400,
                        50035,
                        "Invalid Form Body",
                        errors={
                            group: {
                                "_errors": [
                                    {"code": "NUMBER_TYPE_COERCE", "message": f'Value "{value}" is not snowflake.'}
                                ]
                            }
                        },
                    )
            user_id, bot = self._caller(request, route)
            who = f"user:{user_id}" if user_id else f"ip:{request.remote}"
            verdict = self._limiter.check(
                who,
                route.limit,
                match[route.resource] if route.resource else "",
                exempt_from_global=route.exempt_from_global,
            )
            headers.update(verdict.headers)
            if verdict.retry_after is not None:
                return _json_response(429, verdict.body(), headers)
            body, uploads = await self._read_body(request)
            reply = await route.handler(Call(request, match, body, uploads, user_id, bot))
        except ApiError as exc:
            return _json_response(exc.status, exc.body(), headers)
        except Exception:
            log.exception("playground: %s %s failed", request.method, path)
            return _json_response(500, {"message": "500: Internal Server Error", "code": 0}, headers)
        if reply.body is None and reply.status == 204:
            response: web.StreamResponse = web.Response(status=204, headers=headers)
        else:
            response = _json_response(reply.status, reply.body, headers)
        if reply.after:
            # What members see of an interaction response goes out once the bot has its answer, as it would
            # on Discord, where the bot's HTTP round trip is much shorter than the members' gateway's.
            await response.prepare(request)
            await response.write_eof()
            for action in reply.after:
                try:
                    await action()
                except Exception:
                    log.exception("playground: announcing %s %s failed", request.method, path)
        return response

    def _find(self, method: str, path: str) -> tuple[Route | None, re.Match[str] | None]:
        for route in self._routes:
            match = route.pattern.fullmatch(path)
            if match is not None and route.method == method:
                return route, match
        return None, None

    def _caller(self, request: web.Request, route: Route) -> tuple[int, bool]:
        if route.who == "none":
            return 0, False
        header = request.headers.get("Authorization", "")
        if header.startswith("Bot "):
            user_id = self._state.user_for_token(header[4:])
            bot = user_id == self._state.bot_id
        else:
            user_id = self._state.user_for_token(header) if header else None
            bot = False
            if user_id == self._state.bot_id:
                user_id = None  # a bot token without "Bot " is refused, as on Discord
        if user_id is None or (route.who == "bot" and not bot) or (route.who == "user" and bot):
            raise ApiError(401, 0, "401: Unauthorized")
        return user_id, bot

    async def _read_body(self, request: web.Request) -> tuple[Any, list[Upload]]:
        if not request.can_read_body:
            return None, []
        if request.content_type.startswith("multipart/"):
            return await self._read_multipart(request)
        if request.content_length is not None and request.content_length > JSON_BODY_MAX:
            raise ApiError(413, 40005, "Request entity too large")
        raw = await request.content.read(JSON_BODY_MAX + 1)
        if len(raw) > JSON_BODY_MAX:
            raise ApiError(413, 40005, "Request entity too large")
        return (parse_json(raw) if raw.strip() else None), []

    async def _read_multipart(self, request: web.Request) -> tuple[Any, list[Upload]]:
        budget = self._state.upload_limit() + MULTIPART_SLACK
        body: Any = None
        uploads: list[Upload] = []
        try:
            reader = await request.multipart()
            while (part := await reader.next()) is not None:
                if not isinstance(part, BodyPartReader):
                    raise ApiError(400, 50035, "Invalid Form Body")
                data = bytearray()
                while chunk := await part.read_chunk(64 * 1024):
                    data.extend(chunk)
                    budget -= len(chunk)
                    if budget < 0:
                        raise ApiError(413, 40005, "Request entity too large")
                if part.name == "payload_json":
                    body = parse_json(bytes(data))
                elif part.filename is not None or (part.name or "").startswith("files["):
                    uploads.append(
                        Upload(part.name or "", part.filename or "", part.headers.get("Content-Type"), bytes(data))
                    )
        except ValueError:
            raise ApiError(400, 50035, "Invalid Form Body") from None
        return body, uploads

    # --- identity and gateway ---------------------------------------------------------------------------------
    async def get_me(self, call: Call) -> Reply:
        me = copy.deepcopy(self._state.users[call.user_id])
        return Reply(
            body={
                **me,
                "verified": True,
                "mfa_enabled": False,
                "email": None,
                "flags": 0,
                "locale": "en-US",
                "premium_type": 0,
            }
        )

    async def get_user(self, call: Call) -> Reply:
        user = self._state.users.get(call.arg("uid"))
        if user is None:
            raise unknown("User", 10013)
        return Reply(body=copy.deepcopy(user))

    async def get_application(self, call: Call) -> Reply:
        return Reply(body=self._state.application_out())

    async def get_gateway(self, call: Call) -> Reply:
        return Reply(body={"url": self._gateway_url()})

    async def get_gateway_bot(self, call: Call) -> Reply:
        limit = {"total": 1000, "remaining": 999, "reset_after": 0, "max_concurrency": 1}
        return Reply(body={"url": self._gateway_url(), "shards": 1, "session_start_limit": limit})

    def _gateway_url(self) -> str:
        return self._state.base_url.replace("http://", "ws://", 1) + "/gateway"

    # --- commands ---------------------------------------------------------------------------------------------
    def _scope(self, call: Call) -> int | None:
        if call.arg("app") != self._state.application_id:
            raise unknown("Application", 10002)
        gid = call.match.groupdict().get("gid")
        if gid is not None and int(gid) != self._state.guild_id:
            raise ApiError(403, 50001, "Missing Access")
        return None if gid is None else int(gid)

    async def get_commands(self, call: Call) -> Reply:
        return Reply(body=copy.deepcopy(self._state.command_list(self._scope(call))))

    async def put_commands(self, call: Call) -> Reply:
        guild_id = self._scope(call)
        limits.check_commands(call.body)
        current = self._state.command_list(guild_id)
        stored = [self._stored_command(body, current, guild_id) for body in call.body]
        kept = {int(c["id"]) for c in stored}
        dropped = [int(c["id"]) for c in current if int(c["id"]) not in kept]
        for command_id in dropped:
            del self._state.commands[command_id]
        for command in stored:
            self._state.commands[int(command["id"])] = command
        await self._state.store.replace("commands", stored, dropped)
        log.info("the bot synced %d %s commands", len(stored), "guild" if guild_id else "global")
        return Reply(body=copy.deepcopy(stored))

    async def post_command(self, call: Call) -> Reply:
        guild_id = self._scope(call)
        errors = FormErrors()
        limits.check_command(call.body, errors)
        errors.raise_if_any()
        command = self._stored_command(call.body, self._state.command_list(guild_id), guild_id)
        existed = int(command["id"]) in self._state.commands
        self._state.commands[int(command["id"])] = command
        await self._state.store.put("commands", command)
        return Reply(200 if existed else 201, copy.deepcopy(command))

    def _command(self, call: Call) -> JSON:
        guild_id = self._scope(call)
        command = self._state.commands.get(call.arg("cmd"))
        if command is None or command.get("guild_id") != (None if guild_id is None else str(guild_id)):
            raise unknown("application command", 10063)
        return command

    async def get_command(self, call: Call) -> Reply:
        return Reply(body=copy.deepcopy(self._command(call)))

    async def patch_command(self, call: Call) -> Reply:
        command = self._command(call)
        if not isinstance(call.body, dict):
            raise ApiError(400, 50109, "The request body contains invalid JSON.")
        merged = {**command, **{k: v for k, v in call.body.items() if k not in ("id", "application_id", "version")}}
        errors = FormErrors()
        limits.check_command(merged, errors)
        errors.raise_if_any()
        merged["version"] = str(self._state.snowflakes.next())
        self._state.commands[int(merged["id"])] = merged
        await self._state.store.put("commands", merged)
        return Reply(body=copy.deepcopy(merged))

    async def delete_command(self, call: Call) -> Reply:
        command = self._command(call)
        del self._state.commands[int(command["id"])]
        await self._state.store.delete("commands", int(command["id"]))
        return Reply(204)

    def _stored_command(self, body: JSON, current: list[JSON], guild_id: int | None) -> JSON:
        kind = body.get("type", 1)
        previous = next((c for c in current if c["name"] == body.get("name") and c.get("type", 1) == kind), None)
        command: JSON = {
            "description": "",
            "options": [],
            "default_member_permissions": None,
            "nsfw": False,
            "contexts": None,
            "integration_types": [0],
            **copy.deepcopy(body),
            "type": kind,
            # Discord keeps a command's id when a sync keeps its name.
            "id": previous["id"] if previous else str(self._state.snowflakes.next()),
            "application_id": str(self._state.application_id),
            "version": str(self._state.snowflakes.next()),
        }
        if guild_id is not None:
            command["guild_id"] = str(guild_id)
        else:
            command.pop("guild_id", None)
        if command["default_member_permissions"] is not None:  # Discord answers it as a string
            command["default_member_permissions"] = str(command["default_member_permissions"])
        return command

    async def command_index(self, call: Call) -> Reply:
        self._guild(call)
        commands = self._state.usable_commands(call.user_id)
        application = self._state.application_out()
        return Reply(
            body={
                "applications": [
                    {
                        "id": application["id"],
                        "name": application["name"],
                        "icon": None,
                        "description": application["description"],
                        "bot_id": application["bot"]["id"],
                        "bot": application["bot"],
                        "command_count": len(commands),
                    }
                ],
                "application_commands": commands,
                "version": str(max((int(c["version"]) for c in commands), default=0)),
            }
        )

    # --- interactions -----------------------------------------------------------------------------------------
    async def post_interaction(self, call: Call) -> Reply:
        await self._interactions.create(call.user_id, call.body, call.uploads)
        return Reply(204)

    async def callback(self, call: Call) -> Reply:
        interaction = self._interactions.interaction_for_callback(call.arg("iid"), call.match["token"])
        result: CallbackResult = await self._interactions.callback(interaction, call.body, call.uploads)
        with_response = call.query.get("with_response", "").lower() in ("1", "true")
        if with_response:
            return Reply(200, result.body, result.after)
        return Reply(204, None, result.after)

    async def get_webhook_message(self, call: Call) -> Reply:
        interaction = self._interactions.interaction_for_webhook(call.arg("app"), call.match["token"])
        message = await self._interactions.webhook_message(interaction, call.match["mid"])
        return Reply(body=self._state.message_out(message))

    async def edit_webhook_message(self, call: Call) -> Reply:
        interaction = self._interactions.interaction_for_webhook(call.arg("app"), call.match["token"])
        message = await self._interactions.webhook_message(interaction, call.match["mid"])
        body = call.body if isinstance(call.body, dict) else {}
        edited = await self._messages.edit(message, body, call.uploads)
        return Reply(body=self._state.message_out(edited))

    async def delete_webhook_message(self, call: Call) -> Reply:
        interaction = self._interactions.interaction_for_webhook(call.arg("app"), call.match["token"])
        message = await self._interactions.webhook_message(interaction, call.match["mid"])
        await self._messages.delete(message)
        return Reply(204)

    async def followup(self, call: Call) -> Reply:
        interaction = self._interactions.interaction_for_webhook(call.arg("app"), call.match["token"])
        body = call.body if isinstance(call.body, dict) else {}
        message = await self._interactions.followup(interaction, body, call.uploads)
        if call.query.get("wait", "").lower() in ("1", "true"):
            return Reply(body=self._state.message_out(message))
        return Reply(204)

    # --- channels and messages --------------------------------------------------------------------------------
    def _channel(self, call: Call, *, needed: int = p.VIEW_CHANNEL) -> JSON:
        channel = self._state.channel(call.arg("cid"))
        self._state.require(call.user_id, channel, needed)
        return channel

    async def get_channel(self, call: Call) -> Reply:
        return Reply(body=self._state.channel_out(self._channel(call)))

    async def patch_channel(self, call: Call) -> Reply:
        state = self._state
        channel = self._channel(call)
        body = call.body if isinstance(call.body, dict) else {}
        perms = state.permissions(call.user_id, channel)
        thread = state.is_thread(channel)
        own_thread = thread and channel.get("owner_id") == str(call.user_id)
        if thread and not (own_thread or perms & p.MANAGE_THREADS):
            raise ApiError(403, 50013, "Missing Permissions")
        if not thread and not perms & p.MANAGE_CHANNELS:
            raise ApiError(403, 50013, "Missing Permissions")
        errors = FormErrors()
        if "name" in body and errors.string(body["name"], ("name",)):
            errors.length_between(("name",), body["name"], 1, 100)
        if "topic" in body and body["topic"] is not None and errors.string(body["topic"], ("topic",)):
            errors.max_length(("topic",), body["topic"], 1024)
        errors.raise_if_any()
        for key in ("name", "topic", "rate_limit_per_user"):
            if key in body:
                channel[key] = body[key]
        if thread:
            metadata = channel["thread_metadata"]
            for key in ("archived", "locked", "auto_archive_duration", "invitable"):
                if key in body:
                    metadata[key] = body[key]
            if "archived" in body:
                metadata["archive_timestamp"] = _now(state)
        await state.save_channel(channel)
        await self._messages.emit_channel(
            "THREAD_UPDATE" if thread else "CHANNEL_UPDATE", channel, state.channel_out(channel)
        )
        return Reply(body=state.channel_out(channel))

    async def put_overwrite(self, call: Call) -> Reply:
        state = self._state
        channel = self._channel(call, needed=p.VIEW_CHANNEL | p.MANAGE_ROLES)
        if state.is_thread(channel):
            raise ApiError(400, 50024, "Cannot execute action on this channel type")
        body = call.body if isinstance(call.body, dict) else {}
        target = int(call.match["oid"])
        kind = body.get("type", 0 if target in state.roles else 1)
        if kind not in (0, 1) or (kind == 0 and target not in state.roles) or (kind == 1 and target not in state.users):
            raise unknown("Overwrite", 10009)
        errors = FormErrors()
        for key in ("allow", "deny"):
            value = body.get(key, "0")
            if not str(value).isdigit() or int(value) > p.ALL:
                errors.add((key,), "NUMBER_TYPE_COERCE", f'Value "{value}" is not a valid permission set.')
        errors.raise_if_any()
        overwrite = {
            "id": str(target),
            "type": kind,
            "allow": str(int(body.get("allow", 0))),
            "deny": str(int(body.get("deny", 0))),
        }
        others = [o for o in channel.get("permission_overwrites") or [] if o["id"] != str(target)]
        channel["permission_overwrites"] = [*others, overwrite]
        await self._announce_channel(channel)
        return Reply(204)

    async def delete_overwrite(self, call: Call) -> Reply:
        channel = self._channel(call, needed=p.VIEW_CHANNEL | p.MANAGE_ROLES)
        target = call.match["oid"]
        channel["permission_overwrites"] = [o for o in channel.get("permission_overwrites") or [] if o["id"] != target]
        await self._announce_channel(channel)
        return Reply(204)

    async def _announce_channel(self, channel: JSON) -> None:
        # Who may see the channel may just have changed, so everyone hears about it.
        await self._state.save_channel(channel)
        out = self._state.channel_out(channel)
        await self._gateway.to_bot("CHANNEL_UPDATE", out)
        await self._gateway.to_users("CHANNEL_UPDATE", out)

    async def get_messages(self, call: Call) -> Reply:
        channel = self._channel(call, needed=p.VIEW_CHANNEL | p.READ_MESSAGE_HISTORY)
        errors = FormErrors()
        limit_raw = call.query.get("limit", "50")
        limit = int(limit_raw) if limit_raw.isdigit() else -1
        if not 1 <= limit <= 100:
            errors.add(
                ("limit",), "NUMBER_TYPE_MAX" if limit > 100 else "NUMBER_TYPE_MIN", "Must be between 1 and 100."
            )
        anchors: dict[str, int | None] = {}
        for key in ("around", "before", "after"):
            raw = call.query.get(key)
            if raw is not None and not is_snowflake(raw):
                errors.add((key,), "NUMBER_TYPE_COERCE", f'Value "{raw}" is not snowflake.')
            anchors[key] = int(raw) if raw is not None and is_snowflake(raw) else None
        errors.raise_if_any()
        # Discord takes one anchor, in this order of preference.
        around = anchors["around"]
        before = anchors["before"] if around is None else None
        after = anchors["after"] if around is None and before is None else None
        found = await self._state.store.history(
            int(channel["id"]), limit=limit, before=before, after=after, around=around
        )
        return Reply(body=[self._state.message_out(m) for m in found])

    async def get_message(self, call: Call) -> Reply:
        self._channel(call, needed=p.VIEW_CHANNEL | p.READ_MESSAGE_HISTORY)
        message = await self._messages.in_channel(call.arg("cid"), call.arg("mid"))
        return Reply(body=self._state.message_out(message))

    async def post_message(self, call: Call) -> Reply:
        state = self._state
        channel = state.channel(call.arg("cid"))
        needed = p.VIEW_CHANNEL | p.SEND_MESSAGES | (p.ATTACH_FILES if call.uploads else 0)
        state.require(call.user_id, channel, needed)
        body = call.body if isinstance(call.body, dict) else {}
        if state.is_thread(channel) and channel["thread_metadata"].get("archived"):
            if channel["thread_metadata"].get("locked"):
                raise ApiError(400, 50083, "Thread is archived")
            channel["thread_metadata"]["archived"] = False  # sending to an archived thread reopens it
        message = await self._messages.create(channel, call.user_id, body, call.uploads)
        return Reply(body=state.message_out(message))

    async def patch_message(self, call: Call) -> Reply:
        self._channel(call)
        message = await self._messages.in_channel(call.arg("cid"), call.arg("mid"))
        body = call.body if isinstance(call.body, dict) else {}
        if not call.bot:  # a person's message has no rich embeds or components
            body = {k: v for k, v in body.items() if k in ("content", "flags", "attachments", "allowed_mentions")}
        if int(message["author"]["id"]) != call.user_id:
            channel = self._state.channel(call.arg("cid"))
            only_flags = set(body) <= {"flags"}
            if not only_flags or not self._state.permissions(call.user_id, channel) & p.MANAGE_MESSAGES:
                raise ApiError(403, 50005, "Cannot edit a message authored by another user")
        edited = await self._messages.edit(message, body, call.uploads)
        return Reply(body=self._state.message_out(edited))

    async def delete_message(self, call: Call) -> Reply:
        channel = self._channel(call)
        message = await self._messages.in_channel(call.arg("cid"), call.arg("mid"))
        if int(message["author"]["id"]) != call.user_id:
            self._state.require(call.user_id, channel, p.VIEW_CHANNEL | p.MANAGE_MESSAGES)
        await self._messages.delete(message)
        return Reply(204)

    async def thread_from_message(self, call: Call) -> Reply:
        channel = self._channel(call)
        message = await self._messages.in_channel(call.arg("cid"), call.arg("mid"))
        body = call.body if isinstance(call.body, dict) else {}
        thread = await self._messages.start_thread(channel, message, call.user_id, body)
        return Reply(201, thread)

    async def thread_without_message(self, call: Call) -> Reply:
        channel = self._channel(call)
        body = call.body if isinstance(call.body, dict) else {}
        thread = await self._messages.start_thread(channel, None, call.user_id, body)
        return Reply(201, thread)

    async def join_thread(self, call: Call) -> Reply:
        thread = self._thread(call)
        members = thread.setdefault("_members", [])
        if str(call.user_id) not in members:
            members.append(str(call.user_id))
            thread["member_count"] = len(members)
            await self._state.save_channel(thread)
        return Reply(204)

    async def leave_thread(self, call: Call) -> Reply:
        thread = self._thread(call)
        members = thread.setdefault("_members", [])
        if str(call.user_id) in members:
            members.remove(str(call.user_id))
            thread["member_count"] = len(members)
            await self._state.save_channel(thread)
        return Reply(204)

    async def thread_members(self, call: Call) -> Reply:
        thread = self._thread(call)
        return Reply(
            body=[
                {
                    "id": thread["id"],
                    "user_id": uid,
                    "join_timestamp": thread["thread_metadata"]["create_timestamp"],
                    "flags": 0,
                }
                for uid in thread.get("_members") or []
            ]
        )

    def _thread(self, call: Call) -> JSON:
        channel = self._channel(call)
        if not self._state.is_thread(channel):
            raise ApiError(400, 50024, "Cannot execute action on this channel type")
        return channel

    async def typing(self, call: Call) -> Reply:
        state = self._state
        channel = self._channel(call, needed=p.VIEW_CHANNEL | p.SEND_MESSAGES)
        data = {
            "channel_id": channel["id"],
            "guild_id": str(state.guild_id),
            "user_id": str(call.user_id),
            "timestamp": int(state.clock()),
            "member": state.member_out(call.user_id),
        }
        if call.user_id != state.bot_id:
            await self._gateway.to_bot("TYPING_START", data)
        await self._gateway.to_users(
            "TYPING_START", data, visible=lambda uid: uid != call.user_id and state.can_view(uid, channel)
        )
        return Reply(204)

    # --- the guild --------------------------------------------------------------------------------------------
    def _guild(self, call: Call) -> None:
        if call.arg("gid") != self._state.guild_id:
            raise unknown("Guild", 10004)

    async def get_guild(self, call: Call) -> Reply:
        self._guild(call)
        summary = self._state.guild_summary()
        if call.query.get("with_counts", "").lower() in ("1", "true"):
            summary["approximate_member_count"] = len(self._state.members)
            summary["approximate_presence_count"] = 0
        return Reply(body=summary)

    async def get_guild_channels(self, call: Call) -> Reply:
        self._guild(call)
        state = self._state
        return Reply(
            body=[
                state.channel_out(c)
                for c in state.channels.values()
                if not state.is_thread(c) and (call.bot or state.can_view(call.user_id, c))
            ]
        )

    async def get_active_threads(self, call: Call) -> Reply:
        self._guild(call)
        return Reply(body={"threads": self._state.threads_visible(None if call.bot else call.user_id), "members": []})

    async def get_roles(self, call: Call) -> Reply:
        self._guild(call)
        return Reply(body=copy.deepcopy(self._state.roles_out()))

    async def get_members(self, call: Call) -> Reply:
        self._guild(call)
        raw_limit, raw_after = call.query.get("limit", "1"), call.query.get("after", "0")
        if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= 1000 or not raw_after.isdigit():
            raise ApiError(
                400,
                50035,
                "Invalid Form Body",
                errors={"limit": {"_errors": [{"code": "NUMBER_TYPE_MAX", "message": "Must be between 1 and 1000."}]}},
            )
        ids = sorted(uid for uid in self._state.members if uid > int(raw_after))[: int(raw_limit)]
        return Reply(body=[self._state.member_out(uid) for uid in ids])

    async def get_member(self, call: Call) -> Reply:
        self._guild(call)
        return Reply(body=self._state.member_out(call.arg("uid")))

    async def add_role(self, call: Call) -> Reply:
        return await self._change_role(call, add=True)

    async def remove_role(self, call: Call) -> Reply:
        return await self._change_role(call, add=False)

    async def _change_role(self, call: Call, *, add: bool) -> Reply:
        """A member with Manage Roles gives or takes a role below their own highest (the owner: any)."""
        self._guild(call)
        state = self._state
        target = state.members.get(call.arg("uid"))
        if target is None:
            raise unknown("Member", 10007)
        role_id = int(call.match["rid"])
        role = state.roles.get(role_id)
        if role is None or role_id == state.guild_id:
            raise unknown("Role", 10011)
        perms = state.guild_permissions(call.user_id)
        if not perms & p.MANAGE_ROLES:
            raise ApiError(403, 50013, "Missing Permissions")
        actor = state.members[call.user_id]
        is_owner = call.user_id == state.identity.owner_id
        if role.get("managed") or (not is_owner and int(role["position"]) >= p.highest_position(state.roles, actor)):
            raise ApiError(403, 50013, "Missing Permissions")
        roles = [r for r in target["roles"] if r != str(role_id)]
        if add:
            roles.append(str(role_id))
        if roles != target["roles"]:
            target["roles"] = roles
            await state.save_member(target)
            data = {**state.member_out(int(target["user"]["id"])), "guild_id": str(state.guild_id)}
            await self._gateway.to_bot("GUILD_MEMBER_UPDATE", data)
            await self._gateway.to_users("GUILD_MEMBER_UPDATE", data)
        return Reply(204)


def _now(state: State) -> str:
    return iso(state.clock())
