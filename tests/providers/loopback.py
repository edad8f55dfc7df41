"""A scripted provider on a real HTTP server (aiohttp on 127.0.0.1): the client under test goes through its real
transport, sockets and all; only the answers are recorded ones."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

RECORDED = Path(__file__).parent / "recorded"


@dataclass(frozen=True)
class Answer:
    """One HTTP answer: a status and a JSON body, or a raw text."""

    status: int
    body: Any = None
    text: str | None = None
    headers: dict[str, str] = field(default_factory=dict)

    def response(self) -> web.Response:
        if self.text is not None:
            return web.Response(status=self.status, text=self.text, headers=self.headers)
        return web.json_response(self.body, status=self.status, headers=self.headers)


def answer(name: str, **overrides: Any) -> Answer:
    """A recorded answer (``sonic/task_pending``); ``overrides`` replace its status, body, text or headers."""
    data = json.loads((RECORDED / f"{name}.json").read_text())
    data.update(overrides)
    return Answer(data["status"], data.get("body"), data.get("text"), dict(data.get("headers") or {}))


@dataclass(frozen=True)
class Seen:
    """A request as the server received it."""

    method: str
    path: str
    headers: dict[str, str]
    raw: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.raw) if self.raw else None


Scripted = Answer | Callable[[Seen], Answer]


class LoopbackProvider:
    """Answers per (method, path) in order, the last one repeating; records every request it receives."""

    def __init__(self) -> None:
        self.requests: list[Seen] = []
        self._routes: dict[tuple[str, str], list[Scripted]] = {}
        self._default: Scripted | None = None
        self._runner: web.AppRunner | None = None
        self.url = ""

    def on(self, method: str, path: str, *answers: Scripted) -> LoopbackProvider:
        self._routes[(method, path)] = list(answers)
        return self

    def otherwise(self, scripted: Scripted) -> LoopbackProvider:
        """The answer to every request no route names."""
        self._default = scripted
        return self

    def to(self, path: str) -> list[Seen]:
        """The requests received for ``path``."""
        return [r for r in self.requests if r.path == path]

    async def _handle(self, request: web.Request) -> web.Response:
        seen = Seen(request.method, request.path, dict(request.headers), await request.read())
        self.requests.append(seen)
        queue = self._routes.get((request.method, request.path)) or ([self._default] if self._default else [])
        if not queue:
            return web.Response(status=599, text=f"no scripted answer for {request.method} {request.path}")
        scripted = queue.pop(0) if len(queue) > 1 else queue[0]
        return (scripted(seen) if callable(scripted) else scripted).response()

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.url = f"http://{host}:{port}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
