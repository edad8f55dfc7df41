"""Issue 9.13: render times are learned per provider, model and operation, and the poll schedule follows them.

The estimate and the schedule are pure (times are handed in); the engine tests run on the fake clock."""

from __future__ import annotations

import dataclasses
import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.core.jobs.estimate import Expected, RenderEstimates, RenderKey, Schedule, next_poll_in
from bot.domain.models import JobState, Operation
from bot.ui.render import status_text
from tests.core.rig import config, rig

CREATE = RenderKey("sandbox", "FUZZ-2.0", Operation.CREATE)
PRO = RenderKey("sandbox", "FUZZ-2.0 Pro", Operation.CREATE)
COVER = RenderKey("sandbox", "FUZZ-2.0", Operation.COVER)
OTHER = RenderKey("fuzz", "FUZZ-2.0", Operation.CREATE)


def test_the_seed_serves_until_something_is_observed() -> None:
    estimates = RenderEstimates(30.0, seeds={"fuzz-2.0 pro": 45.0})
    assert estimates.expected(CREATE) == Expected(30.0, learned=False)
    assert estimates.expected(PRO) == Expected(45.0, learned=False)  # the model's own seed, any case


def test_estimates_are_kept_per_provider_model_and_operation() -> None:
    estimates = RenderEstimates(30.0)
    for seconds in (3.0, 3.2, 2.9):
        estimates.observe(CREATE, seconds)
    assert estimates.expected(CREATE) == Expected(3.0, learned=True)
    # Another model of the same provider's operation starts from what that operation showed.
    assert estimates.expected(PRO) == Expected(3.0, learned=True)
    # Another operation, or another provider, learned nothing yet.
    assert estimates.expected(COVER) == Expected(30.0, learned=False)
    assert estimates.expected(OTHER) == Expected(30.0, learned=False)
    estimates.observe(PRO, 60.0)
    assert estimates.expected(PRO).seconds == 60.0 and estimates.expected(CREATE).seconds == 3.0


def test_one_slow_task_barely_moves_the_estimate() -> None:
    estimates = RenderEstimates(30.0)
    for seconds in (3.0, 3.1, 2.9, 3.0, 600.0):
        estimates.observe(CREATE, seconds)
    assert 2.9 <= estimates.expected(CREATE).seconds <= 3.1


def test_the_estimate_follows_a_provider_that_slows_down() -> None:
    estimates = RenderEstimates(30.0)
    for _ in range(15):
        estimates.observe(CREATE, 3.0)
    for _ in range(8):
        estimates.observe(CREATE, 40.0)
    assert estimates.expected(CREATE).seconds == 40.0


def test_observations_are_clamped() -> None:
    estimates = RenderEstimates(30.0, floor_s=0.5, ceiling_s=600.0)
    estimates.observe(CREATE, 0.0)
    assert estimates.expected(CREATE).seconds == 0.5
    estimates.observe(COVER, 1e9)
    assert estimates.expected(COVER).seconds == 600.0


def test_a_polled_render_time_is_the_middle_of_what_the_polls_bracket() -> None:
    estimates = RenderEstimates(30.0)
    estimates.observe_polled(CREATE, not_done_at=2.8, done_at=3.2)
    assert estimates.expected(CREATE).seconds == pytest.approx(3.0)


SCHEDULE = Schedule(min_gap=1.0, max_gap=30.0)


def polls_until(
    render: float, expected: Expected, schedule: Schedule = SCHEDULE, *, probe: bool = False
) -> list[float]:
    """The ages at which a task rendering in ``render`` seconds is polled, until a poll finds it done."""
    age, polls, ages = 0.0, 0, []
    while True:
        age += next_poll_in(age=age, polls=polls, expected=expected, schedule=schedule, probe=probe)
        polls += 1
        ages.append(age)
        if age >= render or polls > 1000:
            return ages


def test_a_learned_schedule_polls_first_near_the_end_then_more_often() -> None:
    ages = polls_until(30.0, Expected(30.0, learned=True))
    assert ages[0] == pytest.approx(25.5)  # near the expected end, not at 0.6 of it
    assert len(ages) <= 3 and ages[-1] - 30.0 <= 3.0  # found within a tenth of the render after it ends


def test_a_3_s_render_is_found_within_a_second() -> None:
    ages = polls_until(3.0, Expected(3.0, learned=True))
    assert ages[-1] - 3.0 <= 1.0 and len(ages) <= 2


def test_a_task_long_past_its_end_is_polled_less_and_less_often() -> None:
    ages = polls_until(3600.0, Expected(30.0, learned=True))
    gaps = [b - a for a, b in itertools.pairwise(ages)]
    assert gaps == sorted(gaps) and gaps[-1] == SCHEDULE.max_gap


def test_a_probe_finds_a_render_far_shorter_than_assumed_quickly() -> None:
    # Assumed 30 s, really 3 s: the probe finds it within a second, not at 18 s.
    ages = polls_until(3.0, Expected(30.0, learned=False), probe=True)
    assert ages[-1] - 3.0 <= 1.0 and len(ages) <= 2
    # Assumed 30 s, really 10 s: found within a quarter of it.
    ages = polls_until(10.0, Expected(30.0, learned=False), probe=True)
    assert ages[-1] - 10.0 <= 2.5
    # Assumed 30 s and right: a probe costs ten polls more than a learned schedule, no more.
    assert (
        len(polls_until(30.0, Expected(30.0, False), probe=True)) <= len(polls_until(30.0, Expected(30.0, True))) + 10
    )


def test_tasks_other_than_probes_wait_for_the_seed_s_end() -> None:
    assert polls_until(3.0, Expected(30.0, learned=False)) == [25.5]


@given(
    age=st.floats(0, 10_000),
    polls=st.integers(0, 10_000),
    seconds=st.floats(0.1, 3600),
    learned=st.booleans(),
    probe=st.booleans(),
)
def test_the_next_poll_is_never_too_soon_or_too_late(
    age: float, polls: int, seconds: float, learned: bool, probe: bool
) -> None:
    delay = next_poll_in(age=age, polls=polls, expected=Expected(seconds, learned), schedule=SCHEDULE, probe=probe)
    if polls:
        assert SCHEDULE.min_gap <= delay
    assert 0 <= delay <= max(SCHEDULE.max_gap, seconds)


# --- the engine, on the fake clock ---------------------------------------------------------------------------------
async def test_the_engine_learns_render_times_and_polls_near_their_end() -> None:
    # The operator assumed 30 s; the provider renders in 3 s.
    async with rig(jobs=config(expected_render_s=30.0, min_poll_gap=0.5), render_s=3.0) as r:
        for n in range(1, 6):
            await r.admit({"sound": f"style {n}"})
            await r.until(lambda n=n: r.provider.submits == n)
            submitted = r.clock.now()
            polls = len(r.provider.fetches)
            await r.delivered(n)
            waited = r.clock.now() - submitted
        # The last job was found soon after its 3 s render ended, with a poll or two.
        assert waited <= 3.0 + 0.6 and len(r.provider.fetches) - polls <= 2
        # And its status line said how long it would take by what was learned.
        expected = [p.expected_s for job_id, p in r.notifier.progress if p.expected_s]
        assert expected[0] == 30.0 and expected[-1] == pytest.approx(3.0, abs=0.5)


async def test_the_status_line_s_time_left_uses_the_learned_estimate() -> None:
    async with rig(jobs=config(expected_render_s=30.0), render_s=3.0) as r:
        for n in range(1, 4):
            await r.admit({"sound": f"style {n}"})
            await r.delivered(n)
        job_id = await r.admit({"sound": "style 4"})
        await r.until(lambda: any(p.expected_s and jid == job_id for jid, p in r.notifier.progress))
        progress = next(p for jid, p in r.notifier.progress if jid == job_id and p.expected_s)
        job = await r.store.job(job_id)
        assert job is not None and progress.started_at is not None
        running = dataclasses.replace(progress, state=JobState.RUNNING)
        text = status_text(job, running, now=progress.started_at + 1)
        assert "about 0:02 left" in text, text  # not "about 0:29 left" from the assumed 30 s


async def test_a_burst_of_jobs_waits_for_what_the_probes_learn() -> None:
    # Twenty jobs at once, the operator assumed 30 s, renders take 3 s: a few probes find that out and every other
    # task is polled right after, instead of at 25 s.
    async with rig(jobs=config(expected_render_s=30.0, min_poll_gap=0.5), render_s=3.0, batch_size=25) as r:
        for n in range(20):
            await r.admit({"sound": f"style {n}"})
        await r.until(lambda: r.provider.submits == 20)
        start = r.clock.now()
        await r.delivered(20)
        assert r.clock.now() - start <= 3.0 * 1.25 + 1.0
        assert len(r.provider.fetches) <= 15  # the probes' few polls (one call each round), then one batch
