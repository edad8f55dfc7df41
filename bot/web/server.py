"""The bot's own HTTP server: provider webhooks, ``/healthz`` and Prometheus ``/metrics``."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from typing import Any

from aiohttp import web

from bot.core.jobs.webdesk import WebDesk
from bot.core.metrics import HELP, Histogram, Metrics
from bot.domain.models import TaskStatus
from bot.web.signatures import SignatureError, verify

log = logging.getLogger(__name__)

MAX_BODY = 1024 * 1024  # 1 MiB: no honest webhook is bigger
PayloadParser = Callable[[str, dict[str, Any]], TaskStatus]


class WebServer:
    """Runs next to the bot on TUNESMITH_WEB_HOST:TUNESMITH_WEB_PORT."""

    def __init__(
        self, engine: WebDesk, parse_payload: PayloadParser, *, clock: Callable[[], float] = time.time
    ) -> None:
        self._engine = engine
        self._parse = parse_payload
        self._clock = clock
        self._runner: web.AppRunner | None = None
        self.port: int | None = None
        self.app = web.Application(client_max_size=MAX_BODY)
        self.app.add_routes(
            [
                web.post("/webhooks/{provider}/{job_id}", self.webhook),
                web.get("/healthz", self.healthz),
                web.get("/metrics", self.metrics),
            ]
        )

    async def start(self, host: str, port: int) -> None:
        self._runner = web.AppRunner(self.app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        addresses = self._runner.addresses  # learns the real port when 0 asked for any free one
        self.port = int(addresses[0][1]) if addresses else port
        log.info("web server listening on http://%s:%s", host, self.port)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def _reject(self, status: int, reason: str) -> web.Response:
        self._engine.metrics.inc("tunesmith_webhooks_total", result="rejected")
        return web.json_response({"error": reason}, status=status)

    async def webhook(self, request: web.Request) -> web.Response:
        if request.content_length is not None and request.content_length > MAX_BODY:
            return self._reject(413, "body too large")
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return self._reject(413, "body too large")
        provider = request.match_info["provider"]
        try:
            job_id = int(request.match_info["job_id"])
        except ValueError:
            return self._reject(404, "unknown task")
        if provider != self._engine.provider_name:
            return self._reject(404, "unknown task")
        known = await self._engine.webhook_secret(job_id)
        if known is None:
            return self._reject(404, "unknown task")
        task_id, secret = known
        try:
            verify(request.headers, body, secret, now=self._clock())
        except SignatureError as exc:
            log.warning("webhook for job %d rejected: %s", job_id, exc)
            return self._reject(401, "invalid signature")
        try:
            payload = json.loads(body)
            if not isinstance(payload, dict):
                raise ValueError("not an object")
        except ValueError:
            return self._reject(400, "invalid JSON")
        if payload.get("task_id") not in (None, task_id):
            return self._reject(404, "unknown task")
        event = str(request.headers.get("X-Webhook-Event") or payload.get("event") or "")
        if event.endswith("streaming"):
            self._engine.metrics.inc("tunesmith_webhooks_total", result="ignored")
            return web.json_response({"ok": True, "ignored": "intermediate event"})
        event_key = request.headers.get("X-Webhook-Id") or request.headers.get("Idempotency-Key")
        status = self._parse(task_id, payload)
        if not await self._engine.accept_webhook(event_key or f"{task_id}:{event or 'final'}", job_id, status):
            self._engine.metrics.inc("tunesmith_webhooks_total", result="duplicate")
            return web.json_response({"ok": True, "duplicate": True})
        self._engine.metrics.inc("tunesmith_webhooks_total", result="accepted")
        return web.json_response({"ok": True})

    async def healthz(self, request: web.Request) -> web.Response:
        return web.json_response(
            {"status": "ok", "queued": self._engine.queue_depth(), "in_flight": self._engine.in_flight()}
        )

    async def metrics(self, request: web.Request) -> web.Response:
        # From memory only (the registry keeps the jobs-in-flight gauge): a scrape never reads the database.
        return web.Response(text=_exposition(self._engine.metrics), content_type="text/plain", charset="utf-8")


def _exposition(metrics: Metrics) -> str:
    """Prometheus' text format, from the recorder's values (until prometheus-client renders it)."""
    lines: list[str] = []
    for name in metrics.names():
        kind = metrics.kind(name)
        lines.append(f"# HELP {name} {HELP.get(name, name)}")
        lines.append(f"# TYPE {name} {kind.value if kind else 'untyped'}")
        for labels, value in metrics.series(name):
            if isinstance(value, Histogram):
                lines.append(f"{name}_count{_labels(labels)} {value.count}")
                lines.append(f"{name}_sum{_labels(labels)} {value.total:g}")
            else:
                lines.append(f"{name}{_labels(labels)} {value:g}")
    return "\n".join(lines) + "\n"


def _labels(labels: tuple[tuple[str, str], ...]) -> str:
    if not labels:
        return ""
    escaped = (v.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"') for _, v in labels)
    return "{" + ",".join(f'{k}="{v}"' for (k, _), v in zip(labels, escaped, strict=True)) + "}"
