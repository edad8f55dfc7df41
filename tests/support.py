"""Test helpers shared by the core and engine tests."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from bot.domain.models import Job, Track
from bot.domain.ports import Delivery, Progress


@dataclass
class RecordingNotifier:
    """The Notifier port as the issue asks for it in engine tests: records every call, posts nothing."""

    progress: list[tuple[int, Progress]] = field(default_factory=list)
    succeeded: list[tuple[Job, list[Track]]] = field(default_factory=list)
    failed: list[tuple[Job, str, int]] = field(default_factory=list)
    delivered_at: dict[int, float] = field(default_factory=dict)
    fail_deliveries: int = 0
    _ids: itertools.count = field(default_factory=lambda: itertools.count(9000))
    _event: asyncio.Event = field(default_factory=asyncio.Event)

    async def job_progress(self, job: Job, progress: Progress) -> None:
        self.progress.append((job.id, progress))

    async def job_succeeded(self, job: Job, tracks: Sequence[Track]) -> list[Delivery]:
        if self.fail_deliveries:
            self.fail_deliveries -= 1
            raise ConnectionError("Discord is unreachable")
        fresh = [t for t in tracks if t.message_id is None]
        self.succeeded.append((job, fresh))
        self.delivered_at[job.id] = time.monotonic()
        self._event.set()
        return [Delivery(track_id=t.id, channel_id=t.channel_id, message_id=next(self._ids)) for t in fresh]

    async def job_failed(self, job: Job, reason: str, refunded: int) -> None:
        self.failed.append((job, reason, refunded))
        self.delivered_at[job.id] = time.monotonic()
        self._event.set()

    @property
    def finished_ids(self) -> list[int]:
        return [j.id for j, _ in self.succeeded] + [j.id for j, _, _ in self.failed]

    async def wait_for(self, count: int, timeout: float = 20.0) -> None:
        """Wait until ``count`` jobs have been delivered (succeeded or failed)."""
        async with asyncio.timeout(timeout):
            while len(self.finished_ids) < count:
                self._event.clear()
                await self._event.wait()
