"""The sandbox music provider: one aiohttp app speaking both providers' wire formats, with failure injection.

Used in-process by the bot when no provider key is set, by the provider-client tests over loopback, and by the
benchmark. Task progress is derived from the injected clock on each request; the only background work is one
timer per task that asked for a webhook and one fetch per upload.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import mimetypes
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import asdict, dataclass, field
from types import TracebackType
from typing import Any

import aiohttp
from aiohttp import web

from bot.sandbox import fuzz_api, producer_api, sonic_api
from bot.sandbox.faults import Armed, FaultKind, Faults
from bot.sandbox.files import FileRoutes
from bot.sandbox.songs import Songs
from bot.sandbox.store import STARTING_CREDITS, Failure, Task, TaskStore
from bot.sandbox.uploads import FetchError, extension_for, fetch_audio
from bot.sandbox.validation import Rejected, json_object
from bot.sandbox.webhooks import Delivery, WebhookSender

log = logging.getLogger(__name__)

_REAL_CLOCKS = (time.monotonic, time.time, time.perf_counter)
# An injected clock may not follow real time (tests advance it by hand), so webhook timers re-check it this often.
_FAKE_CLOCK_RECHECK_S = 0.05
_AUTH_MESSAGE = "Missing or invalid API key"
# Injected 5xx answers rotate through the body shapes providers.md lists, so clients meet every one of them.
_SERVER_ERRORS: tuple[tuple[int, str], ...] = (
    (500, "error"),
    (503, "message"),
    (500, "code"),
    (503, "type"),
    (500, "detail"),
)


@dataclass(slots=True)
class SandboxStats:
    submits: int = 0  # tasks accepted (both APIs)
    polls: int = 0  # status requests answered (a FUZZ batch counts once)
    poll_ids: int = 0  # task ids asked for across those requests
    files: int = 0  # /files requests
    webhooks_sent: int = 0  # webhook POSTs attempted (a duplicate counts twice)
    webhooks_failed: int = 0  # of those, unreachable or not answered 2xx
    # By route template, e.g. "/api/v1/producer/task/{task_id}", so 500 tasks do not make 500 keys.
    requests_by_path: Counter[str] = field(default_factory=Counter)
    polls_by_task: Counter[str] = field(default_factory=Counter)

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["requests_by_path"] = dict(self.requests_by_path)
        data["polls_by_task"] = dict(self.polls_by_task)
        return data


class Sandbox:
    def __init__(
        self,
        *,
        render_seconds: float = 3.0,
        clip_seconds: float | None = None,
        api_key: str | None = None,
        webhook_base_rewrite: tuple[str, str] | None = None,
        clock: Callable[[], float] = time.monotonic,
        legacy_signatures: bool = False,
        duplicate_webhooks: bool = False,
        upload_resolver: Callable[[str], Awaitable[bytes | None]] | None = None,
        credits: int = STARTING_CREDITS,
    ) -> None:
        self.render_seconds = render_seconds
        # Stands in for fetching an upload's audio_url over the network, for sources that can't run here
        # (Discord's CDN in the SimCord tests). It returns the bytes, or None when there is nothing there.
        self.upload_resolver = upload_resolver
        self.api_key = api_key
        self.stats = SandboxStats()
        self.store = TaskStore(credits)
        # Each clip's song (20-30 s by default); ``clip_seconds`` forces every clip to that length instead.
        self.songs = Songs(lambda clip_id: self.store.clips.get(clip_id), clip_seconds)
        self.faults = Faults()
        self._clock = clock
        self._real_clock = clock in _REAL_CLOCKS
        self._session: aiohttp.ClientSession | None = None
        self._background: set[asyncio.Task[None]] = set()
        self._runner: web.AppRunner | None = None
        self._base_url: str | None = None
        self.webhooks = WebhookSender(
            self._client,
            rewrite=webhook_base_rewrite,
            legacy_signatures=legacy_signatures,
            duplicate=duplicate_webhooks,
        )

        @web.middleware
        async def gate(
            request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
        ) -> web.StreamResponse:
            return await self._gate(request, handler)

        self.app = web.Application(middlewares=[gate])
        producer_api.ProducerApi(self).register(self.app.router)
        self.sonic = sonic_api.SonicApi(self)
        self.sonic.register(self.app.router)
        fuzz_api.FuzzApi(self).register(self.app.router)
        FileRoutes(self).register(self.app.router)
        self.app.router.add_post("/_sandbox/inject", self._http_inject)
        self.app.router.add_post("/_sandbox/clear", self._http_clear)
        self.app.router.add_get("/_sandbox/stats", self._http_stats)
        self.app.on_cleanup.append(self._cleanup)

    # --- settings that live on the webhook sender -------------------------------------------------------------
    @property
    def duplicate_webhooks(self) -> bool:
        return self.webhooks.duplicate

    @duplicate_webhooks.setter
    def duplicate_webhooks(self, value: bool) -> None:
        self.webhooks.duplicate = value

    @property
    def legacy_signatures(self) -> bool:
        return self.webhooks.legacy_signatures

    @legacy_signatures.setter
    def legacy_signatures(self, value: bool) -> None:
        self.webhooks.legacy_signatures = value

    @property
    def webhook_base_rewrite(self) -> tuple[str, str] | None:
        return self.webhooks.rewrite

    @webhook_base_rewrite.setter
    def webhook_base_rewrite(self, value: tuple[str, str] | None) -> None:
        self.webhooks.rewrite = value

    @property
    def clip_seconds(self) -> float | None:
        return self.songs.clip_seconds

    # --- lifecycle ------------------------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        if self._base_url is None:
            raise RuntimeError("the sandbox is not started")
        return self._base_url

    @property
    def fuzz_base_url(self) -> str:
        return self.base_url + fuzz_api.PREFIX

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        if self._runner is not None:
            raise RuntimeError("the sandbox is already started")
        runner = web.AppRunner(self.app, access_log=None, handle_signals=False)
        await runner.setup()
        try:
            await web.TCPSite(runner, host, port).start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        bound_port = runner.addresses[0][1]
        self._base_url = f"http://{f'[{host}]' if ':' in host else host}:{bound_port}"
        log.info(
            "sandbox provider listening: Producer %s%s, FUZZ %s",
            self._base_url,
            producer_api.PREFIX,
            self.fuzz_base_url,
        )

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()  # runs _cleanup through app.on_cleanup
        self._base_url = None

    async def __aenter__(self) -> Sandbox:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    async def _cleanup(self, _app: web.Application) -> None:
        pending = list(self._background)
        for job in pending:
            job.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        if self._session is not None:
            await self._session.close()
            self._session = None

    # --- state --------------------------------------------------------------------------------------------------
    def now(self) -> float:
        return self._clock()

    @property
    def background_work(self) -> int:
        """Webhook timers and upload fetches still running (none once stopped)."""
        return len(self._background)

    @property
    def finished_at(self) -> dict[str, float]:
        """task_id -> clock() time at which each finished task (succeeded or failed) became complete."""
        return self.store.finished_at(self.now())

    def inject(
        self,
        kind: str,
        *,
        count: int = 1,
        operation: str | None = None,
        message: str | None = None,
        retry_after: float = 1.0,
    ) -> None:
        """Arm a failure (see :class:`~bot.sandbox.faults.FaultKind`); ValueError for an unknown kind/operation."""
        self.faults.inject(kind, count=count, operation=operation, message=message, retry_after=retry_after)
        log.info("sandbox failure armed: %s x%s operation=%s", kind, count, operation)

    def clear_failures(self) -> None:
        self.faults.clear()

    def count_poll(self, task_ids: list[str]) -> None:
        self.stats.polls += 1
        self.stats.poll_ids += len(task_ids)
        self.stats.polls_by_task.update(task_ids)

    def open_task(self, task: Task, *, upload_url: str | None = None) -> None:
        """Register an accepted task; arms its webhook timer or upload fetch."""
        if task.failure is None:
            armed = self.faults.take(FaultKind.TASK_FAILURE)
            if armed is not None:
                message = armed.message or producer_api.DEFAULT_FAILURE
                task.failure = Failure(message, reason=armed.message or "internal_error")
        if upload_url is not None:
            task.fetch_pending = True
        self.store.add_task(task)
        self.stats.submits += 1
        if upload_url is not None:
            self._spawn(self._run_upload(task, upload_url))
        elif task.webhook_url:
            self._spawn(self._deliver_when_done(task))

    # --- background work ----------------------------------------------------------------------------------------
    def _client(self) -> aiohttp.ClientSession:
        """The one outbound session (webhooks and upload fetches), opened on first use inside the running loop."""
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession()
        return self._session

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        job = asyncio.get_running_loop().create_task(work)
        self._background.add(job)
        job.add_done_callback(self._background.discard)

    async def fetch_upload(self, url: str) -> tuple[bytes, str, str]:
        """(bytes, content type, file extension) of an upload's source; FetchError when it cannot be had."""
        if self.upload_resolver is not None:
            resolved = await self.upload_resolver(url)
            if not resolved:
                raise FetchError("nothing at that URL")
            body, content_type = resolved, mimetypes.guess_type(url)[0] or "application/octet-stream"
        else:
            body, content_type = await fetch_audio(self._client(), url)
        return body, content_type, extension_for(url, content_type)

    async def _run_upload(self, task: Task, url: str) -> None:
        clip = self.store.clips[task.clip_ids[0]]
        try:
            body, content_type, extension = await self.fetch_upload(url)
        except FetchError as exc:
            log.info("sandbox upload %s could not fetch %s: %s", task.task_id, url, exc)
            if task.failure is None:
                task.failure = Failure(f"The audio could not be fetched from audio_url: {exc}", reason="fetch_failed")
        else:
            clip.audio, clip.content_type, clip.extension = body, content_type, extension
        finally:
            task.fetch_pending = False
            task.fetch_done_at = self.now()
        if task.webhook_url:
            await self._deliver_when_done(task)

    async def _deliver_when_done(self, task: Task) -> None:
        """The timer behind a webhook: sleep until the task's finish time, then send its final event."""
        url = task.webhook_url
        if not url:
            return
        while (end := task.done_at()) is None or (remaining := end - self.now()) > 0:
            if end is None:  # an upload still fetching; callers normally wait for that first
                remaining = _FAKE_CLOCK_RECHECK_S
            await asyncio.sleep(remaining if self._real_clock else min(remaining, _FAKE_CLOCK_RECHECK_S))
        origin = task.origin or self._base_url or ""
        if task.api == "sonic":
            payload = sonic_api.final_event(self, task, origin)
        else:
            payload = producer_api.final_event(self, task, origin)
        self._record(await self.webhooks.send(url, task.webhook_secret, payload))

    def _record(self, deliveries: list[Delivery]) -> None:
        for delivery in deliveries:
            self.stats.webhooks_sent += 1
            if delivery.status is None or not 200 <= delivery.status < 300:
                self.stats.webhooks_failed += 1

    # --- HTTP gate: stats, auth, transport failures ---------------------------------------------------------------
    async def _gate(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        resource = request.match_info.route.resource
        self.stats.requests_by_path[resource.canonical if resource is not None else request.path] += 1
        path = request.path
        is_fuzz = path.startswith(fuzz_api.PREFIX + "/") or path == fuzz_api.PREFIX
        if not (is_fuzz or path.startswith(producer_api.PREFIX + "/")):
            return await handler(request)
        render_error = fuzz_api.error if is_fuzz else producer_api.error
        if not self._authorised(request, is_fuzz):
            return web.json_response({"error": _AUTH_MESSAGE}, status=401)
        armed = self.faults.take(FaultKind.RATE_LIMIT)
        if armed is not None:
            return render_error(
                429,
                armed.message or "Too many requests, please slow down",
                headers={"Retry-After": f"{armed.retry_after:g}"},
            )
        armed = self.faults.take(FaultKind.SERVER_ERROR)
        if armed is not None:
            return self._server_error(armed, is_fuzz)
        return await handler(request)

    def _authorised(self, request: web.Request, is_fuzz: bool) -> bool:
        if is_fuzz:
            key = request.headers.get("api-key", "").strip()
        else:
            scheme, _, key = request.headers.get("Authorization", "").strip().partition(" ")
            if scheme.lower() != "bearer":
                return False
            key = key.strip()
        if not key:
            return False
        return self.api_key is None or hmac.compare_digest(key.encode(), self.api_key.encode())

    def _server_error(self, armed: Armed, is_fuzz: bool) -> web.Response:
        status, shape = _SERVER_ERRORS[self.faults.server_errors_sent % len(_SERVER_ERRORS)]
        self.faults.server_errors_sent += 1
        message = armed.message or ("Service temporarily unavailable" if status == 503 else "Internal server error")
        if is_fuzz:
            return fuzz_api.error(status, message)
        shapes: dict[str, dict[str, Any]] = {
            "error": {"error": message},
            "message": {"message": message},
            "code": {"code": status, "message": message},
            "type": {"type": "api_error", "error": message},
            "detail": {"detail": message},
        }
        return web.json_response(shapes[shape], status=status)

    # --- control endpoints (no auth: for tests and demos) -------------------------------------------------------
    async def _http_inject(self, request: web.Request) -> web.Response:
        try:
            body = await json_object(request)
            kind = body.get("kind")
            if not isinstance(kind, str):
                raise Rejected(400, "kind is required")
            self.inject(
                kind,
                count=int(body.get("count") or 1),
                operation=body.get("operation"),
                message=str(body["message"]) if body.get("message") else None,
                retry_after=float(body.get("retry_after") or 1.0),
            )
        except Rejected as exc:
            return web.json_response({"error": exc.message}, status=exc.status)
        except (TypeError, ValueError) as exc:
            return web.json_response({"error": str(exc)}, status=400)
        return web.json_response({"ok": True, "armed": self.faults.pending()})

    async def _http_clear(self, request: web.Request) -> web.Response:
        self.clear_failures()
        return web.json_response({"ok": True})

    async def _http_stats(self, request: web.Request) -> web.Response:
        body: dict[str, Any] = {
            **self.stats.as_dict(),
            "armed": self.faults.pending(),
            "render_seconds": self.render_seconds,
            "credits": self.store.credits(self.now()),
        }
        if request.query.get("finished"):
            # The benchmark measures delivery latency from these (clock() is CLOCK_MONOTONIC, shared by processes).
            body["finished_at"] = self.finished_at
        return web.json_response(body)
