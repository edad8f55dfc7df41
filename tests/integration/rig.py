"""The real thing end to end, without Discord: core on the SQLite store, the real provider clients talking to
the sandbox over loopback, in real time. Only Discord is replaced, by a notifier that records its calls."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bot.core.assembly import Core
from bot.core.jobs.config import JobsConfig
from bot.core.settings import Defaults
from bot.domain.models import Job, LedgerKind, Operation, Period
from bot.domain.ports import MusicProvider
from bot.domain.requester import Requester
from bot.providers import FuzzClient, ProducerClient, SonicClient
from bot.sandbox import Sandbox
from bot.storage.store import SqliteStore
from tests.clients import http_client
from tests.fakes import RecordingNotifier
from tests.waiting import until

WHO = Requester(guild_id=1, channel_id=10, user_id=100)
FAST = JobsConfig(poll_interval=0.05, max_poll_interval=0.2, expected_render_s=0.1)


@dataclass
class Live:
    store: SqliteStore
    sandbox: Sandbox
    core: Core
    notifier: RecordingNotifier
    http: httpx.AsyncClient

    async def admit(self, values: dict[str, Any] | None = None, who: Requester = WHO) -> int:
        values = {"sound": "lofi beats", "title": "Night"} if values is None else values
        return (await self.core.admission.admit(who, Operation.CREATE, values)).job.id

    async def job(self, job_id: int) -> Job:
        job = await self.store.job(job_id)
        assert job is not None
        return job

    async def ledger(self, job_id: int) -> list[tuple[LedgerKind, int]]:
        return [(e.kind, e.amount) for e in await self.store.ledger_of_job(job_id)]


def client(kind: str, http: httpx.AsyncClient, sandbox: Sandbox, concurrency: int) -> MusicProvider:
    async def no_sleep(_: float) -> None:
        await asyncio.sleep(0)

    if kind == "fuzz":
        return FuzzClient(
            http, base_url=sandbox.fuzz_base_url, api_key="k", max_concurrency=concurrency, sleep=no_sleep
        )
    if kind == "sonic":
        return SonicClient(http, base_url=sandbox.base_url, api_key="k", max_concurrency=concurrency)
    return ProducerClient(
        http, base_url=sandbox.base_url, api_key="k", max_concurrency=concurrency, name="sandbox", sleep=no_sleep
    )


@asynccontextmanager
async def live(
    path: Path,
    *,
    render: float = 0.2,
    provider: str = "producer",
    concurrency: int = 10,
    config: JobsConfig = FAST,
    sandbox: Sandbox | None = None,
    notifier: RecordingNotifier | None = None,
    start: bool = True,
) -> AsyncIterator[Live]:
    own_sandbox = sandbox is None
    sb = sandbox or Sandbox(render_seconds=render, clip_seconds=0.5)
    if own_sandbox:
        await sb.start()
    store = await SqliteStore.open(path)
    http = http_client(timeout=10)
    notes = notifier or RecordingNotifier()
    core = Core(
        store=store,
        provider=client(provider, http, sb, concurrency),
        config=config,
        defaults=Defaults(budget=1000, period=Period.MONTH, max_jobs_member=50, max_jobs_server=500),
    )
    if start:
        await core.runtime.start(notes)
    try:
        yield Live(store, sb, core, notes, http)
    finally:
        await core.runtime.stop()
        await http.aclose()
        await store.close()
        if own_sandbox:
            await sb.stop()


async def wait_until(predicate: Callable[[], bool | Awaitable[bool]], timeout: float = 30.0) -> None:
    """Real time: poll a condition the sandbox or the web server changes (they have no event to await)."""
    await until(predicate, timeout=timeout)
