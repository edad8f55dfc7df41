"""Discord's edit budget, kept by the notifier: core reports every change, a status message is edited at most
once every 5 s (the latest state wins), a rendering job's elapsed time is refreshed every 15 s, and nothing is
edited once the result replaced the message. On a fake clock: no waiting in real time."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.domain.models import Job, JobState, Operation
from bot.domain.outcomes import Progress
from bot.ui import render
from bot.ui.status import StatusEdits
from tests.fakes import FakeClock


def job(clock: FakeClock, *, job_id: int = 1, message: int | None = 500) -> Job:
    return Job(
        id=job_id,
        guild_id=1,
        channel_id=2,
        user_id=3,
        operation=Operation.CREATE,
        request={"operation": "create", "sound": "lofi", "title": "Night"},
        provider="sandbox",
        state=JobState.QUEUED,
        cost=10,
        period_key="p",
        status_message_id=message,
        created_at=datetime.fromtimestamp(clock.now(), UTC),
    )


class Edits:
    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.made: list[tuple[float, int, Progress]] = []

    async def __call__(self, job: Job, progress: Progress) -> None:
        self.made.append((self.clock.now() - 1_800_000_000.0, job.id, progress))


async def test_at_most_one_edit_per_interval_and_the_latest_state_wins() -> None:
    clock = FakeClock()
    edits = Edits(clock)
    status = StatusEdits(edits, clock, interval=5.0, refresh=15.0)
    queued = job(clock)
    status.report(queued, Progress(JobState.QUEUED, position=3))
    await clock.advance(1.0)
    status.report(queued, Progress(JobState.QUEUED, position=2))
    started = clock.now()
    status.report(queued, Progress(JobState.SUBMITTED, started_at=started, expected_s=30.0))
    await clock.advance(3.0)
    assert edits.made == []  # the status message was posted at admission, 4 s ago
    await clock.advance(1.0)
    assert [(t, p.state) for t, _, p in edits.made] == [(5.0, JobState.SUBMITTED)]  # one edit, the latest state
    status.report(queued, Progress(JobState.RUNNING, started_at=started, expected_s=30.0))
    await clock.advance(4.9)
    assert len(edits.made) == 1
    await clock.advance(0.1)
    assert [p.state for _, _, p in edits.made] == [JobState.SUBMITTED, JobState.RUNNING]
    await status.close()


async def test_a_rendering_job_s_elapsed_time_is_refreshed_while_nothing_else_changes() -> None:
    clock = FakeClock()
    edits = Edits(clock)
    status = StatusEdits(edits, clock, interval=5.0, refresh=15.0)
    running = job(clock)
    await clock.advance(10.0)
    status.report(running, Progress(JobState.RUNNING, started_at=clock.now(), expected_s=60.0))
    await clock.advance(46.0)
    assert [t for t, _, _ in edits.made] == [10.0, 25.0, 40.0, 55.0]
    text = render.status_text(running, edits.made[-1][2], now=clock.now())
    assert "🎛️ Rendering · 0:46 elapsed · about 0:14 left · 10 credits" in text
    await status.close()


async def test_nothing_is_edited_once_the_result_replaced_the_message() -> None:
    clock = FakeClock()
    edits = Edits(clock)
    status = StatusEdits(edits, clock, interval=5.0, refresh=15.0)
    first, second = job(clock, job_id=1), job(clock, job_id=2)
    status.report(first, Progress(JobState.SUBMITTED, started_at=clock.now()))
    status.report(second, Progress(JobState.SUBMITTED, started_at=clock.now()))
    status.finished(1)  # its track post is on its way
    await clock.advance(60.0)
    assert [job_id for _, job_id, _ in edits.made] == [2]
    # A job without a status message (its reply failed) has nothing to edit.
    status.report(job(clock, job_id=3, message=None), Progress(JobState.SUBMITTED))
    await clock.advance(60.0)
    assert {job_id for _, job_id, _ in edits.made} == {2}
    status.finished(2)
    assert len(status) == 0
    await status.close()


async def test_a_failed_edit_is_logged_and_the_next_state_still_goes_out() -> None:
    clock = FakeClock()
    calls: list[JobState] = []

    async def flaky(job: Job, progress: Progress) -> None:
        calls.append(progress.state)
        if len(calls) == 1:
            raise ConnectionError("Discord hiccup")

    status = StatusEdits(flaky, clock, interval=5.0, refresh=15.0)
    queued = job(clock)
    status.report(queued, Progress(JobState.SUBMITTED, started_at=clock.now()))
    await clock.advance(6.0)
    status.report(queued, Progress(JobState.RUNNING, started_at=clock.now()))
    await clock.advance(6.0)
    assert calls == [JobState.SUBMITTED, JobState.RUNNING]
    await status.close()


async def test_a_channels_edits_wait_their_turn_across_processes() -> None:
    """With many processes, each edit first reserves the channel's next turn (a row in the database): two messages
    in one channel are edited a turn apart, and each shows its latest state."""
    clock = FakeClock()
    edits = Edits(clock)
    turns: list[float] = []

    async def budget(channel_id: int) -> float:
        assert channel_id == 2
        start = max([clock.now(), *(t + 1.0 for t in turns)])
        turns.append(start)
        return start - clock.now()

    status = StatusEdits(edits, clock, interval=5.0, refresh=15.0, channel_budget=budget)
    first, second = job(clock, job_id=1), job(clock, job_id=2, message=501)
    status.report(first, Progress(JobState.QUEUED, position=2))
    status.report(second, Progress(JobState.QUEUED, position=3))
    await clock.advance(5.0)
    assert [(t, j) for t, j, _ in edits.made] == [(5.0, 1)]
    status.report(second, Progress(JobState.QUEUED, position=1))
    await clock.advance(1.0)
    assert [(t, j, p.position) for t, j, p in edits.made] == [(5.0, 1, 2), (6.0, 2, 1)]


async def test_the_status_texts_a_member_reads_and_the_default_5_second_limit() -> None:
    clock = FakeClock()
    edits = Edits(clock)
    status = StatusEdits(edits, clock)  # the notifier's defaults: 5 s between edits, 15 s refreshes
    queued = job(clock)
    headline = "🎵 <@3> · **Create** · “Night” · job #1"
    assert render.status_text(queued, Progress(JobState.QUEUED, position=4)) == (
        f"{headline}\n⏳ Queued · #4 in line · 10 credits"
    )
    assert render.status_text(queued, Progress(JobState.QUEUED)) == f"{headline}\n⏳ Queued · 10 credits"
    assert render.status_text(queued, Progress(JobState.SUBMITTED, started_at=clock.now())) == (
        f"{headline}\n📨 Submitted to the provider · 10 credits"
    )
    started = clock.now()
    rendering = Progress(JobState.RUNNING, started_at=started, expected_s=90.0)
    assert render.status_text(queued, rendering, now=started + 75.0) == (
        f"{headline}\n🎛️ Rendering · 1:15 elapsed · about 0:15 left · 10 credits"
    )
    # Past the expected time, no "left" is promised.
    assert render.status_text(queued, rendering, now=started + 125.0) == (
        f"{headline}\n🎛️ Rendering · 2:05 elapsed · 10 credits"
    )
    status.report(queued, Progress(JobState.SUBMITTED, started_at=started))
    await clock.advance(4.9)
    assert edits.made == []
    await clock.advance(0.1)
    assert [p.state for _, _, p in edits.made] == [JobState.SUBMITTED]
    status.report(queued, rendering)
    await clock.advance(4.9)
    assert len(edits.made) == 1
    await clock.advance(0.1)
    assert [p.state for _, _, p in edits.made] == [JobState.SUBMITTED, JobState.RUNNING]
    await status.close()
