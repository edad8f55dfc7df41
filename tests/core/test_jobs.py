"""A job's life through core: admission, queue, submit, track, finish, deliver, and restarts.

Core on fakes (tests/fakes.py): an in-memory store, a provider whose tasks render on a fake clock, a notifier that
records what members would be told. Hours of fake time pass in milliseconds; nothing depends on the machine's speed.
"""

from __future__ import annotations

import pytest

from bot.domain.errors import ErrorKind, OperationUnavailable, ProviderError
from bot.domain.models import JobState, LedgerKind, Operation, TaskFailure
from bot.domain.outcomes import FailureKind
from bot.domain.requester import Requester
from tests.core.rig import ADMIN, WHO, config, rig
from tests.fakes import FakeClock, FakeProvider, MemoryStore, RecordingNotifier


async def test_a_job_runs_from_admission_to_delivery() -> None:
    async with rig() as r:
        admitted = await r.admitted({"sound": "lofi beats", "title": "Night"})
        job_id = admitted.job.id
        assert admitted.remaining == 990 and admitted.position == 1
        await r.delivered(1)
        [result] = r.notifier.succeeded
        assert result.job.id == job_id and len(result.cards) == 1
        track = result.cards[0].track
        assert track.title == "Night" and track.audio_url and track.image_url and track.tags == "lofi beats"
        assert result.first_replaces_status and Operation.COVER in result.actions
        stored = await r.store.job(job_id)
        assert stored is not None and stored.state is JobState.SUCCEEDED and stored.delivered_at is not None
        assert (await r.store.track(track.id)).message_id is not None  # type: ignore[union-attr]
        assert await r.ledger(job_id) == [(LedgerKind.RESERVE, -10), (LedgerKind.COMMIT, 0)]
        assert await r.remaining() == 990
        states = [p.state for jid, p in r.notifier.progress if jid == job_id]
        assert JobState.SUBMITTED in states and JobState.RUNNING in states
        # The provider was asked once to submit, and polled only from near the expected end of the render.
        assert r.provider.submits == 1 and 1 <= r.provider.polls <= 3


async def test_every_derived_operation_builds_lineage() -> None:
    async with rig() as r:
        await r.admit({"sound": "folk", "title": "Root"})
        await r.delivered(1)
        root = r.notifier.tracks(1)[0]
        await r.admit({"starts_at": 1}, operation=Operation.EXTEND, track_id=root.id)
        await r.admit({"sound": "jazz"}, operation=Operation.COVER, track_id=root.id)
        await r.delivered(3)
        results = r.notifier.succeeded[1:]
        children = [c.track for result in results for c in result.cards]
        assert {t.operation for t in children} == {Operation.EXTEND, Operation.COVER}
        assert all(t.parent_track_id == root.id for t in children)
        # The post knows what it came from, for its lineage line.
        assert all(c.parent is not None and c.parent.id == root.id for result in results for c in result.cards)


async def test_provider_moderation_is_reported_and_refunded() -> None:
    async with rig() as r:
        reason = "The lyrics contain copyrighted content: 'yesterday'"
        r.provider.task_failures.append(TaskFailure(kind="moderation", message=reason))
        job_id = await r.admit({"sound": "pop", "lyrics": "Yesterday all my troubles"})
        await r.delivered(1)
        [(job, failure, refunded)] = r.notifier.failed
        assert job.id == job_id and refunded == 10
        assert failure.kind is FailureKind.MODERATION and failure.detail == reason
        assert (await r.store.job(job_id)).failure_kind == "moderation"  # type: ignore[union-attr]
        assert await r.ledger(job_id) == [(LedgerKind.RESERVE, -10), (LedgerKind.REFUND, 10)]
        assert await r.remaining() == 1000


async def test_a_retired_operation_is_refunded_switched_off_and_can_come_back() -> None:
    store = MemoryStore()
    async with rig(store=store) as r:
        await r.admit({"sound": "folk"})
        await r.delivered(1)
        root = r.notifier.tracks(1)[0]
        r.provider.submit_errors.append(ProviderError(ErrorKind.RETIRED, "Gone."))
        job_id = await r.admit({}, operation=Operation.COVER, track_id=root.id)
        await r.delivered(2)
        [(_, failure, refunded)] = r.notifier.failed
        assert failure.kind is FailureKind.RETIRED and refunded == 10
        assert Operation.COVER not in r.core.catalog.available()
        with pytest.raises(OperationUnavailable, match="retired"):
            await r.admit({}, operation=Operation.COVER, track_id=root.id)
        assert (await store.job(job_id)).state is JobState.FAILED  # type: ignore[union-attr]
        assert await r.remaining() == 990  # only the first song was paid for
    # Persisted: a new core on the same store still refuses it, until an admin switches it back on.
    async with rig(store=store) as again:
        info = again.core.studio.provider(ADMIN)
        cover = next(op for op in info.operations if op.operation is Operation.COVER)
        assert cover.retired and cover.message == "Gone."
        assert Operation.COVER not in again.core.catalog.available()
        assert await again.core.studio.reinstate(ADMIN, Operation.COVER)
        assert Operation.COVER in again.core.catalog.available()
        assert not await again.core.studio.reinstate(ADMIN, Operation.COVER)  # nothing left to switch on
        await again.admit({}, operation=Operation.COVER, track_id=root.id)
        await again.delivered(1)
        assert [r.job.operation for r in again.notifier.succeeded] == [Operation.COVER]


async def test_server_errors_on_submit_are_retried_until_they_pass() -> None:
    async with rig() as r:
        r.provider.submit_errors.extend([ProviderError(ErrorKind.UNAVAILABLE)] * 2)
        await r.admit()
        await r.delivered(1)
        # Both errors were met (two attempts failed, a third went through), and the member got one song, no failure.
        assert r.provider.submit_errors == []
        assert len(r.notifier.succeeded) == 1 and r.provider.submits == 1 and r.notifier.failed == []


async def test_a_provider_that_stays_down_fails_the_job_with_credits_back() -> None:
    async with rig(jobs=config(deadline=60.0, submit_retry_base=1.0)) as r:
        r.provider.submit_errors.extend([ProviderError(ErrorKind.UNAVAILABLE)] * 1000)
        job_id = await r.admit()
        await r.delivered(1)
        [(_, failure, refunded)] = r.notifier.failed
        assert failure.kind is FailureKind.UNAVAILABLE and refunded == 10
        assert (await r.store.job(job_id)).state is JobState.FAILED  # type: ignore[union-attr]
        assert await r.remaining() == 1000


async def test_the_deadline_gives_up_and_refunds() -> None:
    async with rig(jobs=config(deadline=30.0), render_s=10_000) as r:
        job_id = await r.admit()
        await r.delivered(1)
        [(_, failure, refunded)] = r.notifier.failed
        assert failure.kind is FailureKind.TIMEOUT and failure.deadline_s == 30.0 and refunded == 10
        assert (await r.store.job(job_id)).failure_kind == "timeout"  # type: ignore[union-attr]
        assert 30.0 <= r.clock.now() - (await r.store.job(job_id)).created_at.timestamp() < 40.0  # type: ignore[union-attr]


async def test_cancel_a_queued_job() -> None:
    async with rig(max_concurrency=1, render_s=5.0) as r:
        first = await r.admit()
        second = await r.admit()
        cancelled = await r.core.jobs.cancel(WHO, second)
        assert cancelled.state is JobState.CANCELLED
        await r.delivered(2)
        assert [(j.id, f.kind) for j, f, _ in r.notifier.failed] == [(second, FailureKind.CANCELLED)]
        assert [res.job.id for res in r.notifier.succeeded] == [first]
        assert await r.ledger(second) == [(LedgerKind.RESERVE, -10), (LedgerKind.REFUND, 10)]
        assert r.provider.submits == 1


async def test_cancel_is_for_the_owner_or_a_moderator_of_the_job_s_channel() -> None:
    async with rig(render_s=600) as r:
        job_id = await r.admit()
        other = Requester(guild_id=1, channel_id=10, user_id=200)
        with pytest.raises(Exception, match="only cancel your own"):
            await r.core.jobs.cancel(other, job_id)
        moderator = Requester(guild_id=1, channel_id=55, user_id=300, is_moderator=True)
        cancelled = await r.core.jobs.cancel(moderator, job_id)
        assert cancelled.state is JobState.CANCELLED
        with pytest.raises(Exception, match="already ended"):
            await r.core.jobs.cancel(WHO, job_id)
        with pytest.raises(Exception, match="no job #"):
            await r.core.jobs.cancel(Requester(guild_id=2, channel_id=1, user_id=100), job_id)


async def test_the_queue_is_fair_across_servers() -> None:
    async with rig(max_concurrency=1, render_s=1.0) as r:
        busy = [await r.admit(who=Requester(guild_id=1, channel_id=10, user_id=100 + i % 3)) for i in range(6)]
        quiet = await r.admit(who=Requester(guild_id=2, channel_id=20, user_id=200))
        await r.delivered(7)
        order = [res.job.id for res in r.notifier.succeeded]
        # The quiet server waited for the busy server's job in flight and at most one turn of it, not for all six.
        assert order.index(quiet) <= 2, order
        assert sorted(order) == sorted([*busy, quiet])


async def test_two_song_tasks_post_both_and_polls_go_in_batches() -> None:
    async with rig(batch_size=25, clips_per_task=2, max_concurrency=60, budget=10_000) as r:
        ids = [await r.admit({"sound": f"style {i}"}) for i in range(30)]
        await r.delivered(30)
        assert all(len(res.cards) == 2 for res in r.notifier.succeeded)
        assert sorted(res.job.id for res in r.notifier.succeeded) == ids
        # 30 tasks need 2 ids-lists per round at most; polling each on its own would be 30 a round.
        ids_polled = sum(len(f) for f in r.provider.fetches)
        assert ids_polled / r.provider.polls > 5, r.provider.fetches
        assert r.provider.polls < 30
        assert await r.remaining() == 10_000 - 300  # one task, one charge, however many songs


async def test_a_variation_resubmits_the_parent_s_style_and_lyrics() -> None:
    async with rig() as r:
        await r.admit({"sound": "celtic folk", "lyrics": "[Verse]\nover the hills"})
        await r.delivered(1)
        parent = r.notifier.tracks(1)[0]
        await r.admit({}, operation=Operation.VARIATION, track_id=parent.id)
        await r.delivered(2)
        task = list(r.provider.tasks.values())[-1]
        assert task.request.operation is Operation.VARIATION
        assert task.request.sound == parent.tags and task.request.lyrics == parent.lyrics  # type: ignore[union-attr]
        assert task.request.clip_id == parent.clip_id  # type: ignore[union-attr]


async def test_webhooks_complete_jobs_without_polling() -> None:
    # Polls would only come after a minute: a completion before that came from the webhook.
    jobs = config(webhook_url_base="https://tunesmith.example", safety_poll_interval=60.0, expected_render_s=60.0)
    async with rig(jobs=jobs) as r:
        ids = [await r.admit() for _ in range(3)]
        await r.until(lambda: r.provider.submits == 3)
        for job_id, (task_id, task) in zip(ids, r.provider.tasks.items(), strict=True):
            assert task.webhook is not None and task.webhook.url.endswith(f"/webhooks/fake/{job_id}")
            known = await r.core.web.webhook_secret(job_id)
            assert known == (task_id, task.webhook.secret)
            assert await r.core.web.accept_webhook(f"evt-{job_id}", job_id, r.provider.finished(task_id))
            # The same delivery again (a provider retry) is recognised and ignored.
            assert not await r.core.web.accept_webhook(f"evt-{job_id}", job_id, r.provider.finished(task_id))
        await r.clock.advance(1.0)
        assert sorted(res.job.id for res in r.notifier.succeeded) == ids
        assert r.provider.polls == 0
        # Each job's secret is its own, and an unknown job has none.
        assert len({t.webhook.secret for t in r.provider.tasks.values() if t.webhook}) == 3
        assert await r.core.web.webhook_secret(999) is None


async def test_restart_recovers_every_job_exactly_once() -> None:
    """Stop core mid-flight: tasks still rendering, one finished but not delivered (Discord down). A new core on
    the same store finishes every job exactly once, with the right credits."""
    clock = FakeClock()
    store = MemoryStore()
    provider = FakeProvider(clock, render_s=1.0)
    down = RecordingNotifier(fail_deliveries=100)  # Discord is down: the finished job stays undelivered
    async with rig(store=store, provider=provider, clock=clock, notifier=down) as first:
        quick = await first.admit({"sound": "quick"})
        await first.until(lambda: store.jobs[quick].state is JobState.SUCCEEDED)
        provider.render_s = 60.0
        slow = [await first.admit({"sound": f"slow {i}"}) for i in range(3)]
        await first.until(lambda: provider.submits == 4)
        assert store.jobs[quick].delivered_at is None
    # That core is gone; the slow tasks are still rendering at the provider.
    notes = RecordingNotifier()
    async with rig(store=store, provider=provider, clock=clock, notifier=notes) as second:
        await second.delivered(4)
        await clock.advance(600.0)  # nothing more arrives
        assert sorted(notes.finished_ids) == sorted([quick, *slow])
        assert provider.submits == 4  # nothing was submitted twice
        for job_id in [quick, *slow]:
            assert await second.ledger(job_id) == [(LedgerKind.RESERVE, -10), (LedgerKind.COMMIT, 0)]
        assert await second.remaining() == 960


async def test_rate_limits_on_status_polls_are_honoured() -> None:
    async with rig(render_s=3.0) as r:
        job_id = await r.admit()
        await r.until(lambda: r.provider.submits == 1)
        # More 429s than one poll: the tracker holds every poll for Retry-After, then the job still finishes.
        r.provider.fetch_errors.extend([ProviderError(ErrorKind.UNAVAILABLE, retry_after=20.0)] * 2)
        polls_at: list[float] = []
        real_fetch = r.provider.fetch

        async def timed_fetch(task_ids):  # type: ignore[no-untyped-def]
            polls_at.append(r.clock.now())
            return await real_fetch(task_ids)

        r.provider.fetch = timed_fetch  # type: ignore[method-assign]
        await r.delivered(1)
        assert [res.job.id for res in r.notifier.succeeded] == [job_id]
        assert r.core.metrics.get("tunesmith_provider_errors_total", kind="unavailable") == 2
        assert len(polls_at) == 3 and polls_at[1] - polls_at[0] >= 20.0 and polls_at[2] - polls_at[1] >= 20.0


async def test_a_finished_job_is_not_revived_by_a_late_running_mark() -> None:
    async with rig(start=False) as r:
        job_id = await r.admit()
        await r.core.jobs.cancel(WHO, job_id)
        assert not await r.store.mark_running(job_id, 3)  # a poll answer that arrives after the cancel
        assert (await r.store.job(job_id)).state is JobState.CANCELLED  # type: ignore[union-attr]
        assert (await r.core.credits.quota(1, WHO.user_id)).member_active_jobs == 0
