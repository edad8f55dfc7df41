"""Acting as the playground's members (and, for rule tests, as a bare bot) through the same API the page uses.

A ``Member`` has a gateway session (IDENTIFY with their user token, heartbeats, every dispatch recorded) and
REST calls with their token: it runs slash commands, clicks buttons and submits modals by posting
``/api/v10/interactions`` exactly as a Discord client does, and waits for what a person would see (a message, an
ephemeral reply, "The application did not respond"). ``RawBot`` is a bot without discord.py, for the tests of
Discord's rules that a well-behaved library would never break on purpose.

Every wait has a timeout (a test must fail, not hang); none asserts how fast anything happened.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import aiohttp

JSON = dict[str, Any]
WAIT = 15.0  # seconds before a wait gives up; generous, as the machine may be busy


class GatewayClient:
    """One gateway session: HELLO, IDENTIFY, heartbeats, and every dispatch kept in order."""

    def __init__(self, http: aiohttp.ClientSession, url: str, token: str, *, intents: int | None = None) -> None:
        self._http = http
        self._url = url
        self._token = token
        self._intents = intents
        self.events: list[tuple[str, JSON]] = []
        self.ready: JSON = {}
        self.close_code: int | None = None
        self._changed = asyncio.Condition()
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._reader: asyncio.Task[None] | None = None
        self._beater: asyncio.Task[None] | None = None
        self.heartbeat_acks = 0
        self.seq: int | None = None

    async def connect(self) -> JSON:
        self._ws = await self._http.ws_connect(f"{self._url}?v=10&encoding=json")
        hello = await self._ws.receive_json(timeout=WAIT)
        assert hello["op"] == 10, hello
        identify: JSON = {"token": self._token, "properties": {"os": "linux", "browser": "tests", "device": ""}}
        if self._intents is not None:
            identify["intents"] = self._intents
        await self._ws.send_json({"op": 2, "d": identify})
        self._reader = asyncio.create_task(self._read())
        self._beater = asyncio.create_task(self._beat(hello["d"]["heartbeat_interval"] / 1000))
        self.ready = await self.wait_for("READY")
        return self.ready

    async def _read(self) -> None:
        assert self._ws is not None
        async for msg in self._ws:
            if msg.type is not aiohttp.WSMsgType.TEXT:
                break
            payload = json.loads(msg.data)
            async with self._changed:
                if payload["op"] == 0:
                    self.seq = payload["s"]
                    self.events.append((payload["t"], payload["d"]))
                elif payload["op"] == 11:
                    self.heartbeat_acks += 1
                self._changed.notify_all()
        self.close_code = self._ws.close_code
        async with self._changed:
            self._changed.notify_all()

    async def _beat(self, interval: float) -> None:
        assert self._ws is not None
        with contextlib.suppress(ConnectionResetError, RuntimeError):
            while not self._ws.closed:
                await self._ws.send_json({"op": 1, "d": self.seq})
                await asyncio.sleep(interval)

    async def send(self, payload: JSON) -> None:
        assert self._ws is not None
        await self._ws.send_json(payload)

    def mark(self) -> int:
        """A cursor: ``wait_for(..., since=mark)`` ignores everything received before it."""
        return len(self.events)

    async def wait_for(
        self, event: str, predicate: Callable[[JSON], bool] | None = None, *, since: int = 0, timeout: float = WAIT
    ) -> JSON:
        """The first ``event`` (at or after ``since``) for which ``predicate`` holds, waiting up to ``timeout``."""
        return (await self.wait_any((event,), predicate, since=since, timeout=timeout))[1]

    async def wait_any(
        self,
        events: tuple[str, ...],
        predicate: Callable[[JSON], bool] | None = None,
        *,
        since: int = 0,
        timeout: float = WAIT,
    ) -> tuple[str, JSON]:
        def find() -> tuple[str, JSON] | None:
            for name, data in self.events[since:]:
                if name in events and (predicate is None or predicate(data)):
                    return name, data
            return None

        try:
            async with asyncio.timeout(timeout), self._changed:
                while (found := find()) is None:
                    if self._ws is not None and self._ws.closed and self.close_code is not None:
                        raise AssertionError(f"the gateway closed ({self.close_code}) while waiting for {events}")
                    await self._changed.wait()
                return found
        except TimeoutError:
            seen = [name for name, _ in self.events[since:]]
            raise AssertionError(f"none of {events} within {timeout}s (got {seen})") from None

    async def close(self) -> None:
        for task in (self._beater, self._reader):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        if self._ws is not None:
            await self._ws.close()


class ApiFailure(Exception):
    def __init__(self, status: int, body: Any, headers: Mapping[str, str]) -> None:
        super().__init__(f"HTTP {status}: {body}")
        self.status = status
        self.body = body
        self.headers = headers

    @property
    def code(self) -> int | None:
        return self.body.get("code") if isinstance(self.body, dict) else None


@dataclass
class Response:
    status: int
    body: Any
    headers: Mapping[str, str]


class Rest:
    """REST calls with one Authorization header; ``call`` raises ApiFailure on an error, ``raw`` does not."""

    def __init__(self, http: aiohttp.ClientSession, api_url: str, authorization: str) -> None:
        self._http = http
        self.api_url = api_url
        self.authorization = authorization

    async def raw(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        files: list[tuple[str, bytes, str]] | None = None,
        params: Mapping[str, str] | None = None,
    ) -> Response:
        headers = {"Authorization": self.authorization} if self.authorization else {}
        data: Any = None
        if files:
            form = aiohttp.FormData(quote_fields=False)
            form.add_field("payload_json", json.dumps(json_body or {}), content_type="application/json")
            for index, (filename, content, content_type) in enumerate(files):
                form.add_field(f"files[{index}]", content, filename=filename, content_type=content_type)
            data = form
        elif json_body is not None:
            data = json.dumps(json_body)
            headers["Content-Type"] = "application/json"
        async with self._http.request(method, self.api_url + path, data=data, headers=headers, params=params) as resp:
            text = await resp.text()
            body = json.loads(text) if text and resp.content_type == "application/json" else text or None
            return Response(resp.status, body, dict(resp.headers))

    async def call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = await self.raw(method, path, **kwargs)
        if response.status >= 300:
            raise ApiFailure(response.status, response.body, response.headers)
        return response.body


@dataclass
class Outcome:
    """How an interaction ended for the member: "success", "failure" (with ``reason``), "modal" (``modal``)."""

    kind: str
    data: JSON = field(default_factory=dict)


class Member:
    """One playground member, acting through the page's API."""

    def __init__(self, base_url: str, info: JSON) -> None:
        self.base_url = base_url
        self.info = info
        self.id = int(info["id"])
        self.name = str(info["username"])
        self.token = str(info["token"])
        self.http: aiohttp.ClientSession | None = None
        self.rest: Rest
        self.gateway: GatewayClient
        self.guild: JSON = {}
        self._index: JSON | None = None

    async def __aenter__(self) -> Member:
        self.http = aiohttp.ClientSession()
        self.rest = Rest(self.http, self.base_url + "/api/v10", self.token)
        self.gateway = GatewayClient(self.http, self.base_url.replace("http", "ws", 1) + "/gateway", self.token)
        ready = await self.gateway.connect()
        self.guild = ready["guilds"][0]
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.gateway.close()
        if self.http is not None:
            await self.http.close()

    @property
    def guild_id(self) -> str:
        return str(self.guild["id"])

    def channel_id(self, name: str) -> str:
        for channel in [*self.guild["channels"], *self.guild.get("threads", [])]:
            if channel["name"] == name:
                return str(channel["id"])
        raise LookupError(f"{self.name} sees no channel #{name}")

    @property
    def application_id(self) -> str:
        return str(self.gateway.ready["application"]["id"])

    # --- commands, components and modals ----------------------------------------------------------------------
    async def command_index(self, *, refresh: bool = False) -> JSON:
        if self._index is None or refresh:
            self._index = await self.rest.call("GET", f"/guilds/{self.guild_id}/application-command-index")
        return self._index

    async def command(
        self,
        path: str,
        channel_id: str,
        options: Mapping[str, Any] | None = None,
        *,
        files: list[tuple[str, bytes, str]] | None = None,
        focused: str | None = None,
        refresh: bool = False,
    ) -> str:
        """Run ``/music create`` with ``options`` (by name, values as typed); returns the interaction's nonce.

        A file option takes ``("file", 0)`` style values: the index into ``files``. With ``focused``, an
        autocomplete request for that option instead.
        """
        name, *subs = path.split()
        index = await self.command_index(refresh=refresh)
        command = next((c for c in index["application_commands"] if c["name"] == name), None)
        if command is None:
            raise LookupError(f"{self.name} has no /{name} (has {[c['name'] for c in index['application_commands']]})")
        schema = command.get("options") or []
        for sub in subs:
            schema = next(o for o in schema if o["name"] == sub and o["type"] in (1, 2)).get("options") or []
        by_name = {o["name"]: o for o in schema}
        leaf: list[JSON] = []
        attachments: list[JSON] = []
        for key, value in (options or {}).items():
            kind = by_name[key]["type"] if key in by_name else 3
            option: JSON = {"type": kind, "name": key, "value": value}
            if kind == 11:
                option["value"] = str(value)
                attachments.append({"id": str(value), "filename": (files or [])[int(value)][0]})
            if focused == key:
                option["focused"] = True
            leaf.append(option)
        nested = leaf
        for sub in reversed(subs):
            kind = 1 if nested is leaf else 2
            nested = [{"type": kind, "name": sub, "options": nested}]
        data: JSON = {"id": command["id"], "name": name, "type": 1, "version": command["version"], "options": nested}
        if attachments:
            data["attachments"] = attachments
        return await self.interact(4 if focused else 2, channel_id, data, files=files)

    async def click(self, message: JSON, custom_id: str, values: list[str] | None = None) -> str:
        component = _find(message.get("components") or [], custom_id)
        if component is None:
            raise LookupError(f"message {message['id']} has no component {custom_id!r}")
        data: JSON = {"custom_id": custom_id, "component_type": component["type"]}
        if values is not None:
            data["values"] = values
        return await self.interact(3, message["channel_id"], data, message_id=message["id"])

    async def submit(self, modal: JSON, values: Mapping[str, str]) -> str:
        """Submit a modal (the INTERACTION_MODAL_CREATE event) with ``values`` by input label or custom_id."""
        inputs = _inputs(modal["components"])
        filled: list[JSON] = []
        for label, component in inputs.items():
            value = values.get(label, values.get(component["custom_id"], component.get("value") or ""))
            filled.append({"type": 18, "component": {"type": 4, "custom_id": component["custom_id"], "value": value}})
        data = {"id": modal["id"], "custom_id": modal["custom_id"], "components": filled}
        return await self.interact(5, modal["channel_id"], data)

    async def interact(
        self,
        kind: int,
        channel_id: str,
        data: JSON,
        *,
        message_id: str | None = None,
        files: list[tuple[str, bytes, str]] | None = None,
    ) -> str:
        nonce = str(secrets.randbits(60))
        payload: JSON = {
            "type": kind,
            "application_id": self.application_id,
            "guild_id": self.guild_id,
            "channel_id": str(channel_id),
            "session_id": self.gateway.ready["session_id"],
            "nonce": nonce,
            "data": data,
        }
        if message_id is not None:
            payload["message_id"] = str(message_id)
        await self.rest.call("POST", "/interactions", json_body=payload, files=files)
        return nonce

    async def outcome(self, nonce: str, *, timeout: float = WAIT) -> Outcome:
        """How the interaction with this nonce ended for the member."""
        name, data = await self.gateway.wait_any(tuple(_OUTCOMES), lambda d: d.get("nonce") == nonce, timeout=timeout)
        return Outcome(_OUTCOMES[name], data)

    async def message(
        self,
        predicate: Callable[[JSON], bool],
        *,
        event: str = "MESSAGE_CREATE",
        since: int = 0,
        timeout: float = WAIT,
    ) -> JSON:
        return await self.gateway.wait_for(event, predicate, since=since, timeout=timeout)

    async def history(self, channel_id: str, **params: str) -> list[JSON]:
        return list(await self.rest.call("GET", f"/channels/{channel_id}/messages", params=params))

    async def say(self, channel_id: str, content: str, **extra: Any) -> JSON:
        return dict(
            await self.rest.call("POST", f"/channels/{channel_id}/messages", json_body={"content": content, **extra})
        )


_OUTCOMES = {
    "INTERACTION_SUCCESS": "success",
    "INTERACTION_FAILURE": "failure",
    "INTERACTION_MODAL_CREATE": "modal",
    "APPLICATION_COMMAND_AUTOCOMPLETE_RESPONSE": "choices",
}


class RawBot:
    """A bot with nothing but HTTP and a websocket: for breaking Discord's rules on purpose."""

    def __init__(self, api_url: str, gateway_url: str, token: str, *, intents: int = 1 | 1 << 9) -> None:
        self.api_url = api_url
        self.gateway_url = gateway_url
        self.token = token
        self.intents = intents
        self.http: aiohttp.ClientSession | None = None
        self.rest: Rest
        self.gateway: GatewayClient

    async def __aenter__(self) -> RawBot:
        self.http = aiohttp.ClientSession()
        self.rest = Rest(self.http, self.api_url, f"Bot {self.token}")
        self.gateway = GatewayClient(self.http, self.gateway_url, self.token, intents=self.intents)
        await self.gateway.connect()
        await self.gateway.wait_for("GUILD_CREATE")
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.gateway.close()
        if self.http is not None:
            await self.http.close()

    @property
    def application_id(self) -> str:
        return str(self.gateway.ready["application"]["id"])

    async def sync(self, commands: list[JSON]) -> list[JSON]:
        return list(await self.rest.call("PUT", f"/applications/{self.application_id}/commands", json_body=commands))

    async def next_interaction(self, *, since: int = 0) -> JSON:
        return await self.gateway.wait_for("INTERACTION_CREATE", since=since)

    async def respond(self, interaction: JSON, body: JSON, **kwargs: Any) -> Response:
        path = f"/interactions/{interaction['id']}/{interaction['token']}/callback"
        return await self.rest.raw("POST", path, json_body=body, **kwargs)


def _children(component: JSON) -> list[JSON]:
    found = list(component.get("components") or [])
    for key in ("accessory", "component"):
        if isinstance(component.get(key), dict):
            found.append(component[key])
    return found


def _find(components: list[JSON], custom_id: str) -> JSON | None:
    for component in components:
        if component.get("custom_id") == custom_id and component.get("type") != 1:
            return component
        inner = _find(_children(component), custom_id)
        if inner is not None:
            return inner
    return None


def _inputs(components: list[JSON]) -> dict[str, JSON]:
    """A modal's text inputs by label (labels or action rows, as discord.py builds either)."""
    found: dict[str, JSON] = {}
    for component in components:
        if component["type"] == 18:
            found[component["label"]] = component["component"]
        elif component["type"] == 4:
            found[component.get("label") or component["custom_id"]] = component
        else:
            found.update(_inputs(_children(component)))
    return found


async def members(base_url: str) -> dict[str, JSON]:
    """``GET /app/members`` by username."""
    async with aiohttp.ClientSession() as http, http.get(base_url + "/app/members") as response:
        response.raise_for_status()
        return {m["username"]: m for m in await response.json()}
