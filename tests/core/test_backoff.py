"""Issue 9.4: a provider's Retry-After, however long, is honoured only up to a cap; a submit's back-off and a status
poll's back-off hold only their own calls; and no back-off turns a finished song into a timeout refund.

On the fake clock: the provider's errors are scripted, time moves only when the rig advances it."""

from __future__ import annotations

import math

import pytest

from bot.domain.errors import ErrorKind, ProviderError
from bot.domain.outcomes import FailureKind
from tests.core.rig import config, rig

HUGE = 1_000_000.0  # the Retry-After: about 11 days


def rate_limited(retry_after: float | None = HUGE) -> ProviderError:
    return ProviderError(ErrorKind.UNAVAILABLE, "slow down", retryable=True, retry_after=retry_after, status=429)


async def test_a_huge_retry_after_on_a_status_poll_holds_polls_only_up_to_the_cap() -> None:
    async with rig(jobs=config(max_retry_after=60.0)) as r:
        job_id = await r.admit()
        await r.until(lambda: r.provider.submits == 1)
        start = r.clock.now()
        r.provider.fetch_errors.append(rate_limited())
        await r.delivered(1)
        assert [res.job.id for res in r.notifier.succeeded] == [job_id] and not r.notifier.failed
        # Held for the cap (a minute), not eleven days, and well before the deadline's last look.
        assert 60.0 <= r.clock.now() - start < 120.0


async def test_a_huge_retry_after_on_a_submit_holds_the_queue_only_up_to_the_cap() -> None:
    async with rig(jobs=config(max_retry_after=30.0)) as r:
        r.provider.submit_errors.append(rate_limited())
        start = r.clock.now()
        job_id = await r.admit()
        await r.delivered(1)
        assert [res.job.id for res in r.notifier.succeeded] == [job_id] and not r.notifier.failed
        assert r.clock.now() - start < 60.0


async def test_a_submit_s_back_off_does_not_stop_status_polls() -> None:
    async with rig() as r:
        first = await r.admit()
        await r.until(lambda: r.provider.submits == 1)
        r.provider.submit_errors.append(rate_limited(50.0))
        start = r.clock.now()
        second = await r.admit()
        await r.delivered(1)
        # The first job was polled and delivered while the second one's submit waited out its Retry-After.
        assert [res.job.id for res in r.notifier.succeeded] == [first]
        assert r.clock.now() - start < 20.0
        await r.delivered(2)
        assert [res.job.id for res in r.notifier.succeeded] == [first, second]
        assert r.clock.now() - start >= 50.0


async def test_a_poll_s_back_off_does_not_stop_submits() -> None:
    async with rig() as r:
        await r.admit()
        await r.until(lambda: r.provider.submits == 1)
        r.provider.fetch_errors.extend([rate_limited(50.0)] * 2)
        await r.until(lambda: len(r.provider.fetches) == 1)
        start = r.clock.now()
        await r.admit()
        await r.until(lambda: r.provider.submits == 2)
        assert r.clock.now() - start < 5.0  # submitted at once although polls are held for 50 s


async def test_a_back_off_past_the_deadline_never_refunds_a_finished_song() -> None:
    # The song is ready after 3 s, but the provider answers every status call with 429 for 40 s of a 20 s deadline.
    async with rig(jobs=config(deadline=20.0, max_retry_after=10.0)) as r:
        job_id = await r.admit()
        await r.until(lambda: r.provider.submits == 1)
        r.provider.fetch_errors.extend([rate_limited(10.0)] * 4)
        await r.delivered(1)
        assert not r.notifier.failed, r.notifier.failed
        assert [res.job.id for res in r.notifier.succeeded] == [job_id]
        assert await r.remaining() == 990  # charged, not refunded


async def test_a_last_look_is_retried_when_the_provider_cannot_answer() -> None:
    # 5xx without Retry-After right at the deadline: the last look is made again, and the finished song delivered.
    async with rig(jobs=config(deadline=10.0, poll_interval=1.0, max_poll_interval=60.0), render_s=9.0) as r:
        job_id = await r.admit()
        await r.until(lambda: r.provider.submits == 1)
        down = ProviderError(ErrorKind.UNAVAILABLE, "bad gateway", retryable=True, status=502)
        r.provider.fetch_errors.extend([down] * 12)
        await r.delivered(1)
        assert not r.notifier.failed and [res.job.id for res in r.notifier.succeeded] == [job_id]


async def test_a_provider_that_never_answers_again_still_times_out_after_the_grace() -> None:
    async with rig(jobs=config(deadline=20.0, last_look_grace=30.0, max_retry_after=10.0), render_s=10_000) as r:
        job_id = await r.admit()
        await r.until(lambda: r.provider.submits == 1)
        r.provider.fetch_errors.extend([rate_limited(10.0)] * 10_000)
        start = r.clock.now()
        await r.delivered(1)
        [(job, failure, refunded)] = r.notifier.failed
        assert job.id == job_id and failure.kind is FailureKind.TIMEOUT and refunded == 10
        assert 20.0 <= r.clock.now() - start <= 20.0 + 30.0 + 15.0


@pytest.mark.parametrize(
    ("retry_after", "honoured"),
    [(None, None), (0.0, None), (-5.0, None), (math.nan, None), (2.5, 2.5), (1e6, 60.0), (math.inf, 60.0)],
)
def test_what_the_engine_honours_of_a_retry_after(retry_after: float | None, honoured: float | None) -> None:
    assert config(max_retry_after=60.0).honoured_wait(retry_after) == honoured
