"""Core on fakes: the real core, wired as the composition root wires it, on an in-memory store, a fake provider,
a recording notifier and a fake clock. Nothing waits in real time."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from bot.core.admission import Admitted
from bot.core.assembly import Core
from bot.core.jobs.config import JobsConfig
from bot.core.settings import Defaults
from bot.domain.models import LedgerKind, Operation, Period
from bot.domain.requester import Requester
from tests.fakes import FakeClock, FakeProvider, MemoryStore, RecordingNotifier

WHO = Requester(guild_id=1, channel_id=10, user_id=100)
ADMIN = Requester(guild_id=1, channel_id=10, user_id=900, is_admin=True, is_moderator=True)
# Quick numbers on the fake clock: renders take 3 s, the first poll comes near the expected end, then every 1 to 6 s.
CONFIG = JobsConfig(tick=0.0, expected_render_s=3.0, poll_interval=1.0, max_poll_interval=6.0)


@dataclass
class Rig:
    core: Core
    store: MemoryStore
    provider: FakeProvider
    notifier: RecordingNotifier
    clock: FakeClock

    async def admit(
        self,
        values: dict[str, Any] | None = None,
        *,
        who: Requester = WHO,
        operation: Operation = Operation.CREATE,
        track_id: int | None = None,
    ) -> int:
        return (await self.admitted(values, who=who, operation=operation, track_id=track_id)).job.id

    async def admitted(
        self,
        values: dict[str, Any] | None = None,
        *,
        who: Requester = WHO,
        operation: Operation = Operation.CREATE,
        track_id: int | None = None,
        filename: str | None = None,
    ) -> Admitted:
        values = {"sound": "lofi beats", "title": "Night"} if values is None else values
        return await self.core.admission.admit(who, operation, values, track_id=track_id, filename=filename)

    async def until(self, predicate: Callable[[], bool], limit: float = 3600.0) -> None:
        await self.clock.run_until(predicate, limit=limit)

    async def delivered(self, count: int, limit: float = 3600.0) -> None:
        await self.until(lambda: len(self.notifier.finished_ids) >= count, limit)

    async def ledger(self, job_id: int) -> list[tuple[LedgerKind, int]]:
        return [(e.kind, e.amount) for e in await self.store.ledger_of_job(job_id)]

    async def remaining(self, guild_id: int = 1, user_id: int = 100) -> int:
        return (await self.core.credits.quota(guild_id, user_id)).server_remaining


def config(**changes: Any) -> JobsConfig:
    return dataclasses.replace(CONFIG, **changes)


@asynccontextmanager
async def rig(
    *,
    store: MemoryStore | None = None,
    provider: FakeProvider | None = None,
    clock: FakeClock | None = None,
    notifier: RecordingNotifier | None = None,
    jobs: JobsConfig = CONFIG,
    budget: int = 1000,
    member_cap: int | None = None,
    max_jobs_member: int = 50,
    max_jobs_server: int = 500,
    start: bool = True,
    **provider_options: Any,
) -> AsyncIterator[Rig]:
    clock = clock or FakeClock()
    store = store or MemoryStore()
    provider = provider or FakeProvider(clock, **provider_options)
    notifier = notifier or RecordingNotifier()
    defaults = Defaults(
        budget=budget,
        period=Period.MONTH,
        member_cap=member_cap,
        max_jobs_member=max_jobs_member,
        max_jobs_server=max_jobs_server,
    )
    core = Core(store=store, provider=provider, clock=clock, config=jobs, defaults=defaults)
    if start:
        await core.runtime.start(notifier)
    try:
        yield Rig(core, store, provider, notifier, clock)
    finally:
        await core.runtime.stop()
