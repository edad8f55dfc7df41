"""Races and crash windows found in review: each test pins one (core on fakes, on a fake clock)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from bot.domain.errors import ErrorKind, InvalidRequest, ProviderError
from bot.domain.models import JobState, LedgerKind, Operation
from bot.domain.outcomes import Delivery
from tests.core.rig import WHO, config, rig
from tests.fakes import FakeClock, FakeProvider, MemoryStore, RecordingNotifier


async def test_a_task_that_finished_while_the_bot_was_down_past_its_deadline_is_posted() -> None:
    """Restarting after the deadline must not throw away a finished song as a timeout: one last look first."""
    clock, store = FakeClock(), MemoryStore()
    provider = FakeProvider(clock, render_s=2.0)
    slow_polls = config(poll_interval=60.0, expected_render_s=600.0)
    async with rig(store=store, provider=provider, clock=clock, jobs=slow_polls) as r:
        job_id = await r.admit()
        await r.until(lambda: provider.submits == 1)
    await clock.advance(5.0)  # the task finishes upstream while no core runs
    async with rig(store=store, provider=provider, clock=clock, jobs=config(deadline=1.0)) as again:
        await again.delivered(1)
        assert [res.job.id for res in again.notifier.succeeded] == [job_id]
        assert again.notifier.failed == []
        assert await again.ledger(job_id) == [(LedgerKind.RESERVE, -10), (LedgerKind.COMMIT, 0)]


async def test_a_task_still_rendering_at_its_deadline_times_out() -> None:
    async with rig(jobs=config(deadline=10.0), render_s=3600.0) as r:
        job_id = await r.admit()
        await r.delivered(1)
        assert (await r.store.job(job_id)).failure_kind == "timeout"  # type: ignore[union-attr]


async def test_a_job_cancelled_while_its_submission_fails_is_not_sent_again() -> None:
    async with rig() as r:
        r.provider.submit_gate = asyncio.Event()
        job_id = await r.admit()
        await r.clock.advance(0.1)  # the submission is on its way, held at the provider
        await r.core.jobs.cancel(WHO, job_id)
        # The submission that was in flight comes back with a retryable error after the cancel.
        r.provider.submit_errors.append(ProviderError(ErrorKind.UNAVAILABLE))
        r.provider.submit_gate.set()
        await r.clock.advance(600.0)
        assert r.provider.submits == 0
        assert r.core.web.queue_depth() == 0 and r.core.web.in_flight() == 0
        assert await r.ledger(job_id) == [(LedgerKind.RESERVE, -10), (LedgerKind.REFUND, 10)]


async def test_a_job_cancelled_while_it_is_being_submitted_ignores_the_task() -> None:
    async with rig() as r:
        r.provider.submit_gate = asyncio.Event()
        job_id = await r.admit()
        await r.clock.advance(0.1)
        await r.core.jobs.cancel(WHO, job_id)
        r.provider.submit_gate.set()  # the provider accepts it after all
        await r.clock.advance(600.0)
        assert r.provider.submits == 1 and r.provider.polls == 0  # its task is never followed
        assert (await r.store.job(job_id)).state is JobState.CANCELLED  # type: ignore[union-attr]
        assert [j.id for j, _, _ in r.notifier.failed] == [job_id]
        assert r.notifier.succeeded == []


async def test_lyrics_cannot_be_cancelled_and_an_interrupted_draft_is_refunded_quietly() -> None:
    store = MemoryStore()
    async with rig(store=store, start=False) as r:
        # A draft was being written when the bot stopped: the job row is still active.
        admitted = await r.admitted({"idea": "rain"}, operation=Operation.LYRICS)
        with pytest.raises(InvalidRequest, match="nothing to cancel"):
            await r.core.jobs.cancel(WHO, admitted.job.id)
    async with rig(store=store) as again:
        await again.clock.advance(1.0)
        job = await store.job(admitted.job.id)
        assert job is not None and job.state is JobState.FAILED and job.delivered_at is not None
        assert again.notifier.failed == []  # the member already saw the command fail; nothing is posted
        assert await again.ledger(job.id) == [(LedgerKind.RESERVE, -1), (LedgerKind.REFUND, 1)]


class FlakyRecords(MemoryStore):
    """A store whose first write of delivery records fails, as a disk error would."""

    def __init__(self) -> None:
        super().__init__()
        self.failures = 1

    async def record_deliveries(self, deliveries: Sequence[Delivery], delivered: Sequence[int], now: float) -> None:
        if self.failures:
            self.failures -= 1
            raise OSError("disk I/O error")
        await super().record_deliveries(deliveries, delivered, now)


async def test_a_delivery_whose_record_failed_is_not_posted_again() -> None:
    store = FlakyRecords()
    async with rig(store=store, clips_per_task=2, jobs=config(delivery_retry_base=1.0)) as r:
        job_id = await r.admit({"sound": "city pop"})
        await r.delivered(1)
        await r.until(lambda: store.jobs[job_id].delivered_at is not None)
        # Two songs; each was posted exactly once although the first record failed.
        assert store.failures == 0
        assert r.notifier.posts == 2 and [len(res.cards) for res in r.notifier.succeeded] == [2]
        assert all(t.message_id for t in await store.tracks_of_job(job_id))


async def test_a_delivery_cut_off_midway_posts_only_the_rest_on_retry() -> None:
    notifier = RecordingNotifier(fail_after_first=1)
    async with rig(notifier=notifier, clips_per_task=2, jobs=config(delivery_retry_base=1.0)) as r:
        job_id = await r.admit({"sound": "city pop"})
        await r.until(lambda: r.store.jobs[job_id].delivered_at is not None)
        # The first song went out, then Discord failed: the retry posts only the second, not the status message.
        [retry] = notifier.succeeded
        assert [c.track.id for c in retry.cards] == [2] and not retry.first_replaces_status
        assert notifier.posts == 2
        assert all(t.message_id for t in await r.store.tracks_of_job(job_id))
        # Still one audit outcome for the job, naming both songs.
        outcome = r.core.metrics.get("tunesmith_deliveries_total", outcome="ok")
        assert outcome == 1


async def test_a_delivery_discord_keeps_refusing_is_given_up_after_its_attempts() -> None:
    notifier = RecordingNotifier(fail_deliveries=100)
    async with rig(notifier=notifier, jobs=config(delivery_attempts=3, delivery_retry_base=1.0)) as r:
        job_id = await r.admit()
        await r.until(lambda: r.store.jobs[job_id].delivered_at is not None)
        assert notifier.fail_deliveries == 97  # three tries, then it stops
        assert r.core.metrics.get("tunesmith_deliveries_total", outcome="abandoned") == 1
        await r.clock.advance(600.0)
        assert notifier.fail_deliveries == 97


async def test_results_wait_for_a_notifier_and_go_out_once_one_is_attached() -> None:
    clock, store = FakeClock(), MemoryStore()
    provider = FakeProvider(clock, render_s=1.0)
    async with rig(store=store, provider=provider, clock=clock, start=False) as r:
        await r.core.runtime.start()  # no notifier yet (the bot has not logged in)
        job_id = await r.admit()
        await r.until(lambda: store.jobs[job_id].state is JobState.SUCCEEDED)
        await clock.advance(60.0)
        assert store.jobs[job_id].delivered_at is None
        await r.core.runtime.stop()
        await r.core.runtime.start(r.notifier)
        await r.delivered(1)
        assert [res.job.id for res in r.notifier.succeeded] == [job_id]
