"""The safety net: an unexpected error while a job is submitted, tracked or finished ends that job (failed, its
credits returned, its member told with a reference that is in the log), never leaves it in flight for ever."""

from __future__ import annotations

import logging
import math

import pytest

from bot.core.jobs.safety import SafetyNet
from bot.domain.models import JobState, LedgerKind, Operation
from bot.domain.outcomes import Failure, FailureKind
from tests.core.rig import Rig, rig
from tests.fakes import MemoryStore


async def assert_ended_with_a_reference(r: Rig, job_id: int, caplog: pytest.LogCaptureFixture) -> None:
    await r.until(lambda: job_id in r.notifier.finished_ids)
    [(job, failure, refunded)] = r.notifier.failed
    assert job.id == job_id and job.state is JobState.FAILED and refunded == 10
    assert failure.kind is FailureKind.INTERNAL and failure.detail and len(failure.detail) == 6
    assert failure.detail in caplog.text  # the reference the member reads is logged with the traceback
    assert await r.ledger(job_id) == [(LedgerKind.RESERVE, -10), (LedgerKind.REFUND, 10)]
    assert await r.remaining() == 1000
    assert job_id not in r.core.registry  # nothing holds a provider slot for it
    assert await r.core.jobs.active_jobs(1, 100) == []  # nor a place in the member's in-flight cap


async def test_a_submit_that_raises_unexpectedly_ends_the_job(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR)
    async with rig() as r:
        # What httpx raises for a number JSON cannot carry: before the net, the job stayed queued for ever.
        r.provider.submit_errors.append(ValueError("Out of range float values are not JSON compliant"))  # type: ignore[arg-type]
        job_id = await r.admit()
        await assert_ended_with_a_reference(r, job_id, caplog)
        # The queue still works.
        await r.admit()
        await r.delivered(2)
        assert len(r.notifier.succeeded) == 1


async def test_a_poll_that_raises_unexpectedly_ends_its_jobs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR)
    async with rig() as r:
        r.provider.fetch_errors.append(KeyError("clips"))  # type: ignore[arg-type]
        job_id = await r.admit()
        await assert_ended_with_a_reference(r, job_id, caplog)


async def test_results_that_cannot_be_stored_end_the_job(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR)
    store = MemoryStore()

    async def broken(*args: object, **kwargs: object) -> object:
        raise TypeError("a bug in storing the clips")

    store.finish_jobs = broken  # type: ignore[method-assign]
    async with rig(store=store) as r:
        job_id = await r.admit()
        await assert_ended_with_a_reference(r, job_id, caplog)


async def test_a_stored_request_no_provider_can_take_ends_at_the_next_start(caplog: pytest.LogCaptureFixture) -> None:
    """A job admitted before numbers were checked (``starts_at: inf``) was stuck across restarts: now it ends."""
    caplog.set_level(logging.ERROR)
    store = MemoryStore()
    async with rig(store=store) as r:
        await r.admit({"sound": "folk"})
        await r.delivered(1)
        root = r.notifier.tracks(1)[0]
    async with rig(store=store, start=False) as r:  # admitted, then the bot stopped before submitting it
        job_id = await r.admit({"starts_at": 30.0}, operation=Operation.REPLACE, track_id=root.id)
    job = store.jobs[job_id]
    store.jobs[job_id] = job.model_copy(update={"request": {**job.request, "starts_at": math.inf}})
    async with rig(store=store) as r:
        await r.until(lambda: job_id in r.notifier.finished_ids)
        [(ended, failure, refunded)] = r.notifier.failed
        assert ended.id == job_id and failure.kind is FailureKind.INTERNAL and refunded == 10
        assert failure.detail in caplog.text
        assert await r.core.jobs.active_jobs(1, 100) == []


async def test_the_net_leaves_alone_a_job_whose_results_are_being_stored() -> None:
    """A poll batch that raises after handing one job's songs to the finisher: that job is not thrown away."""

    class Finisher:
        failed: list[int] = []

        def settling(self, job_id: int) -> bool:
            return job_id == 1

        async def fail(self, job_id: int, failure: Failure) -> None:
            assert failure.kind is FailureKind.INTERNAL
            self.failed.append(job_id)

    finisher = Finisher()
    net = SafetyNet(finisher)  # type: ignore[arg-type]

    async def broken() -> None:
        raise RuntimeError("a bug in the second job's status")

    await net.guard(broken(), [1, 2], "poll")
    assert finisher.failed == [2]
