"""The bot's own HTTP server: provider webhooks, ``/healthz`` and Prometheus ``/metrics``.

Every request is hostile until checked. The webhook handler answers anything a client can send with a 2xx or a 4xx
(never a 500): header values in any encoding, timestamps of any length, ids past SQLite's range, bodies that are
empty, not UTF-8, not JSON, nested thousands deep or not an object. Slow clients are cut off: the headers must
arrive within ``read_timeout`` of connecting (or of the previous answer on a kept-alive connection), the body within
``read_timeout`` of the headers.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import math
import re
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from aiohttp import web

from bot.core.metrics import Metrics
from bot.domain.models import TaskStatus
from bot.web.metrics import CONTENT_TYPE_LATEST, exposition, registry_for
from bot.web.signatures import SignatureError, delivery_key, verify

if TYPE_CHECKING:
    from bot.config import Settings

log = logging.getLogger(__name__)

MAX_BODY = 1024 * 1024  # 1 MiB: no honest webhook is bigger
MAX_JSON_DEPTH = 64  # the provider's payloads nest 4 deep; deeper is an attack on the parser
MAX_JOB_ID = 2**63 - 1  # SQLite's INTEGER: a bigger id would overflow in the lookup
DEFAULT_READ_TIMEOUT = 10.0
PayloadParser = Callable[[str, dict[str, Any]], TaskStatus]
GaugeSource = Callable[[], Mapping[str, float]]

_JOB_ID = re.compile(r"[0-9]{1,19}")


class WebhookTarget(Protocol):
    """What the web server needs from the job runtime (core implements it).

    The provider's name (the ``{provider}`` of the webhook path) is read from ``provider_name`` or ``provider.name``,
    or given to :class:`WebServer` directly; jobs in flight per state from ``in_flight_by_state()`` when there is one.
    """

    @property
    def metrics(self) -> Metrics: ...

    async def webhook_secret(self, job_id: int) -> tuple[str, str] | None: ...

    async def accept_webhook(self, event_key: str, job_id: int, status: TaskStatus) -> bool: ...

    def queue_depth(self) -> int: ...

    def in_flight(self) -> int: ...


@dataclass(frozen=True, slots=True)
class WebOptions:
    """Where the server listens and who may read ``/metrics`` (TUNESMITH_WEB_* and TUNESMITH_METRICS_*)."""

    host: str = "127.0.0.1"
    port: int = 8080
    metrics_token: str | None = None  # set: /metrics wants "Authorization: Bearer <token>"
    metrics_host: str | None = None  # metrics_host or metrics_port set: /metrics only on a listener of its own
    metrics_port: int | None = None
    read_timeout: float = DEFAULT_READ_TIMEOUT

    @property
    def metrics_separate(self) -> bool:
        return self.metrics_host is not None or self.metrics_port is not None

    @classmethod
    def from_settings(cls, settings: Settings) -> WebOptions:
        """From TUNESMITH_WEB_HOST, _WEB_PORT and the TUNESMITH_METRICS_* settings."""
        token = settings.metrics_token.get_secret_value() if settings.metrics_token is not None else None
        return cls(
            host=settings.web_host,
            port=settings.web_port,
            metrics_token=token,
            metrics_host=settings.metrics_host,
            metrics_port=settings.metrics_port,
        )


class _Refused(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


class WebServer:
    """Runs next to the bot on TUNESMITH_WEB_HOST:TUNESMITH_WEB_PORT (and /metrics where the options say)."""

    def __init__(
        self,
        engine: WebhookTarget,
        parse_payload: PayloadParser,
        *,
        clock: Callable[[], float] = time.time,
        options: WebOptions | None = None,
        job_gauges: GaugeSource | None = None,
        provider_name: str | None = None,
    ) -> None:
        self._engine = engine
        self._parse = parse_payload
        self._clock = clock
        self.options = options or WebOptions()
        named = getattr(engine, "provider_name", None) or getattr(getattr(engine, "provider", None), "name", None)
        self._provider_name = provider_name or str(named or "")
        # Jobs in flight per state, from memory: the runtime's own counts when it has them, else its in-memory queue
        # and tracked sets (never a query).
        by_state = getattr(engine, "in_flight_by_state", None)
        self._job_gauges: GaugeSource = job_gauges or (
            by_state
            if callable(by_state)
            else lambda: {"queued": float(engine.queue_depth()), "running": float(engine.in_flight())}
        )
        self._registry = registry_for(engine.metrics)
        self._runners: list[web.AppRunner] = []
        self.port: int | None = None
        self.metrics_port: int | None = None
        self.app = web.Application(client_max_size=MAX_BODY)
        self.app.add_routes(
            [
                web.post("/webhooks/{provider}/{job_id}", self.webhook),
                web.get("/healthz", self.healthz),
            ]
        )
        self.metrics_app: web.Application | None = None
        if self.options.metrics_separate:
            self.metrics_app = web.Application(client_max_size=1024)
            self.metrics_app.add_routes([web.get("/metrics", self.metrics)])
        else:
            self.app.add_routes([web.get("/metrics", self.metrics)])

    async def _serve(self, app: web.Application, host: str, port: int) -> int:
        # keepalive_timeout also bounds how long a new connection may take to send its headers: aiohttp closes a
        # connection that has not completed a request by then (slow-header clients). lingering_time: after a
        # refusal that left a body unread (408, 413), aiohttp reads and drops what still comes for up to 10 s by
        # default, which lets a dribbling client hold the connection, and a shutdown, that long.
        runner = web.AppRunner(
            app,
            access_log=None,
            keepalive_timeout=self.options.read_timeout,
            lingering_time=self.options.read_timeout,
        )
        await runner.setup()
        self._runners.append(runner)
        site = web.TCPSite(runner, host, port)
        await site.start()
        addresses = runner.addresses  # learns the real port when 0 asked for any free one
        bound = int(addresses[-1][1]) if addresses else port
        log.info("web server listening on http://%s:%s", host, bound)
        return bound

    async def start(self, host: str | None = None, port: int | None = None) -> None:
        host = self.options.host if host is None else host
        port = self.options.port if port is None else port
        try:
            self.port = await self._serve(self.app, host, port)
            if self.metrics_app is not None:
                metrics_host = self.options.metrics_host or host
                metrics_port = self.options.metrics_port if self.options.metrics_port is not None else 0
                self.metrics_port = await self._serve(self.metrics_app, metrics_host, metrics_port)
        except BaseException:
            await self.stop()
            raise

    async def stop(self) -> None:
        runners, self._runners = self._runners, []
        for runner in runners:
            await runner.cleanup()

    def _count(self, result: str) -> None:
        self._engine.metrics.inc("tunesmith_webhooks_total", result=result)

    # --- webhooks --------------------------------------------------------------------------------------------
    async def webhook(self, request: web.Request) -> web.Response:
        try:
            return await self._webhook(request)
        except _Refused as refused:
            self._count("rejected")
            return web.json_response({"error": refused.reason}, status=refused.status)
        except asyncio.CancelledError:
            raise
        except Exception:
            # Nothing a client sends may become a 500: an unforeseen failure is logged with a reference and answered
            # as a request we could not process. The provider keeps polling as the fallback.
            reference = secrets.token_hex(4)
            log.exception("webhook request could not be processed (reference %s)", reference)
            self._count("rejected")
            return web.json_response({"error": f"could not process this request (reference {reference})"}, status=400)

    async def _webhook(self, request: web.Request) -> web.Response:
        job_id = _job_id(request.match_info["job_id"])
        if not self._provider_name or request.match_info["provider"] != self._provider_name:
            raise _Refused(404, "unknown task")
        body = await self._read_body(request)
        known = await self._engine.webhook_secret(job_id)
        if known is None:
            raise _Refused(404, "unknown task")
        task_id, secret = known
        try:
            verify(request.headers, body, secret, now=self._clock())
        except SignatureError as exc:
            log.warning("webhook for job %d rejected: %s", job_id, exc)
            raise _Refused(401, "invalid signature") from None
        payload = _json_object(body)
        if payload.get("task_id") not in (None, task_id):
            raise _Refused(404, "unknown task")
        body_event = payload.get("event")
        body_event = body_event if isinstance(body_event, str) else ""
        header_event = request.headers.get("X-Webhook-Event", "")
        if body_event.endswith("streaming") or (header_event.isascii() and header_event.endswith("streaming")):
            self._count("ignored")
            return web.json_response({"ok": True, "ignored": "intermediate event"})
        try:
            status = self._parse(task_id, payload)
        except (ValueError, TypeError, KeyError, AttributeError, RecursionError, OverflowError) as exc:
            log.warning("webhook for job %d: payload not understood (%s)", job_id, type(exc).__name__)
            raise _Refused(422, "payload not understood") from None
        # The key is what the signature covers (task, event, body), never the unsigned X-Webhook-Id: a replay with
        # a fresh id is the same delivery.
        key = delivery_key(task_id, body_event, body)
        if not await self._engine.accept_webhook(key, job_id, status):
            self._count("duplicate")
            return web.json_response({"ok": True, "duplicate": True})
        self._count("accepted")
        return web.json_response({"ok": True})

    async def _read_body(self, request: web.Request) -> bytes:
        if request.content_length is not None and request.content_length > MAX_BODY:
            raise _Refused(413, "body too large")
        try:
            async with asyncio.timeout(self.options.read_timeout):
                return await request.read()
        except web.HTTPRequestEntityTooLarge:
            raise _Refused(413, "body too large") from None
        except TimeoutError:
            raise _Refused(408, "request body too slow") from None

    # --- health and metrics ----------------------------------------------------------------------------------
    async def healthz(self, request: web.Request) -> web.Response:
        return web.json_response(
            {"status": "ok", "queued": self._engine.queue_depth(), "in_flight": self._engine.in_flight()}
        )

    async def metrics(self, request: web.Request) -> web.Response:
        token = self.options.metrics_token
        if token is not None and not _bearer_matches(request.headers.get("Authorization", ""), token):
            return web.Response(
                status=401, text="a bearer token is required\n", headers={"WWW-Authenticate": 'Bearer realm="metrics"'}
            )
        for state, count in self._job_gauges().items():
            if isinstance(count, int | float) and math.isfinite(count):
                self._engine.metrics.set("tunesmith_jobs_in_flight", count, state=state)
        return web.Response(body=exposition(self._registry), headers={"Content-Type": CONTENT_TYPE_LATEST})


def _job_id(raw: str) -> int:
    """The path's job id, checked before any lookup: ASCII digits, 1 .. 2^63-1 (SQLite's INTEGER)."""
    if not _JOB_ID.fullmatch(raw):
        raise _Refused(404, "unknown task")
    value = int(raw)
    if not 1 <= value <= MAX_JOB_ID:
        raise _Refused(404, "unknown task")
    return value


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not a number JSON allows")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError("a number too large for a float")
    return value


def _depth_ok(body: bytes) -> bool:
    """Whether the JSON text nests at most MAX_JSON_DEPTH deep (brackets outside strings), before parsing it."""
    depth = 0
    in_string = escaped = False
    for byte in body:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):  # [ {
            depth += 1
            if depth > MAX_JSON_DEPTH:
                return False
        elif byte in (0x5D, 0x7D):
            depth -= 1
    return True


def _json_object(body: bytes) -> dict[str, Any]:
    if not body.strip():
        raise _Refused(400, "empty body")
    if not _depth_ok(body):
        raise _Refused(400, "JSON nested too deeply")
    try:
        text = body.decode("utf-8")
        payload = json.loads(text, parse_constant=_reject_constant, parse_float=_finite_float)
    except (ValueError, RecursionError):  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise _Refused(400, "invalid JSON") from None
    if not isinstance(payload, dict):
        raise _Refused(400, "JSON body is not an object")
    return payload


def _bearer_matches(header: str, token: str) -> bool:
    """``Authorization: Bearer <token>``, compared in constant time as bytes (non-ASCII never matches)."""
    scheme, _, given = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not given.isascii():
        return False
    return hmac.compare_digest(given.strip().encode("ascii"), token.encode("utf-8"))
