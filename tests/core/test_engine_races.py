"""Races and crash windows found in review: each test pins one (real SQLite, the sandbox over loopback)."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

import pytest

from bot.core.engine import EngineConfig
from bot.domain.errors import ErrorKind, InvalidRequest, ProviderError
from bot.domain.models import CreateMusic, JobState, LedgerKind, Operation
from bot.sandbox import Sandbox
from tests.core.test_engine import FAST, WHO, rig, wait_until
from tests.support import RecordingNotifier


async def test_a_task_that_finished_while_the_bot_was_down_past_its_deadline_is_posted(db_path: Path) -> None:
    """Restarting after the deadline must not throw away a finished song as a timeout: one last look first."""
    async with Sandbox(render_seconds=0.2, clip_seconds=0.5) as sandbox:
        async with rig(db_path, sandbox=sandbox, config=EngineConfig(poll_interval=60, expected_render_s=60)) as r:
            job_id = await r.admit()
            await wait_until(lambda: sandbox.stats.submits == 1 and bool(r.engine._tracked))
        await asyncio.sleep(0.4)  # the task finishes upstream while no engine runs
        deadline_passed = EngineConfig(poll_interval=60, expected_render_s=60, deadline=0.1)
        async with rig(db_path, sandbox=sandbox, config=deadline_passed) as again:
            await again.notifier.wait_for(1)
            assert [j.id for j, _ in again.notifier.succeeded] == [job_id]
            assert again.notifier.failed == []
            assert await again.ledger(job_id) == [(LedgerKind.RESERVE, -10), (LedgerKind.COMMIT, 0)]


async def test_a_task_still_rendering_at_its_deadline_times_out(db_path: Path) -> None:
    config = EngineConfig(poll_interval=0.05, expected_render_s=0.1, deadline=0.3)
    async with rig(db_path, render=30, config=config) as r:
        job_id = await r.admit()
        await r.notifier.wait_for(1)
        assert (await r.job(job_id)).failure_kind == "timeout"


async def test_the_running_mark_never_revives_an_ended_job(db_path: Path) -> None:
    async with rig(db_path, start=False) as r:
        job_id = await r.admit()
        await r.engine.cancel(job_id, user_id=WHO.user_id, guild_id=WHO.guild_id)
        async with r.db.unit_of_work(write=False) as uow:
            assert not await uow.jobs.mark_running(job_id, 3)  # a poll answer that arrives after the cancel
        job = await r.job(job_id)
        assert job.state is JobState.CANCELLED
        assert (await r.engine.quota(1, WHO.user_id)).member_active_jobs == 0


async def test_a_job_cancelled_while_its_submission_fails_is_not_sent_again(db_path: Path) -> None:
    async with rig(db_path, start=False) as r:
        job_id = await r.admit()
        job = await r.job(job_id)
        await r.engine.cancel(job_id, user_id=WHO.user_id, guild_id=WHO.guild_id)
        # The submission that was in flight comes back with a retryable error after the cancel.
        await r.engine._submit_failed(job, ProviderError(ErrorKind.UNAVAILABLE))
        assert r.engine.queue_depth() == 0 and job_id not in r.engine._queued_jobs
        await r.engine.start()
        await asyncio.sleep(0.2)
        assert r.sandbox.stats.submits == 0
        assert await r.ledger(job_id) == [(LedgerKind.RESERVE, -10), (LedgerKind.REFUND, 10)]


async def test_lyrics_cannot_be_cancelled_and_an_interrupted_draft_is_refunded_quietly(db_path: Path) -> None:
    from bot.domain.models import build_request

    async with rig(db_path, start=False) as r:
        # A draft was being written when the bot stopped: the job row is still active.
        admission = await r.engine.admit(WHO, build_request(Operation.LYRICS, idea="rain"))
        with pytest.raises(InvalidRequest, match="nothing to cancel"):
            await r.engine.cancel(admission.job.id, user_id=WHO.user_id, guild_id=WHO.guild_id)
    notes = RecordingNotifier()
    async with rig(db_path, notifier=notes) as again:
        await asyncio.sleep(0.2)
        job = await again.job(admission.job.id)
        assert job.state is JobState.FAILED and job.delivered_at is not None
        assert notes.failed == []  # the member already saw the command fail; nothing is posted
        assert await again.ledger(job.id) == [(LedgerKind.RESERVE, -1), (LedgerKind.REFUND, 1)]


class FlakyRecords:
    """Makes the first write of delivery records fail, as a disk error would."""

    def __init__(self, tracks: object) -> None:
        self._tracks = tracks
        self.failures = 1

    def __getattr__(self, name: str) -> object:
        return getattr(self._tracks, name)

    async def set_messages(self, deliveries: object) -> None:
        if self.failures:
            self.failures -= 1
            raise OSError("disk I/O error")
        await self._tracks.set_messages(deliveries)  # type: ignore[attr-defined]


async def test_a_delivery_whose_record_failed_is_not_posted_again(db_path: Path) -> None:
    config = dataclasses.replace(FAST, delivery_attempts=5, delivery_retry_base=0.05)
    async with rig(db_path, provider="fuzz", config=config, start=False) as r:
        repositories = r.db._repositories
        flaky = FlakyRecords(repositories.tracks)
        repositories.tracks = flaky  # type: ignore[assignment]
        await r.engine.start()
        job_id = await r.admit(CreateMusic(sound="city pop"))
        await r.notifier.wait_for(1)
        await wait_until(lambda: r.engine._undelivered == set(), timeout=20)
        # FUZZ makes two songs; each was posted exactly once although the first record failed.
        assert flaky.failures == 0
        assert [len(tracks) for _, tracks in r.notifier.succeeded] == [2]
        job = await r.job(job_id)
        assert job.delivered_at is not None
        async with r.db.unit_of_work(write=False) as uow:
            assert all(t.message_id for t in await uow.tracks.for_job(job_id))
