"""Period arithmetic and the admission rules."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from bot.core.credits import period_end, period_key, period_start
from bot.domain.models import Period

NOV_21 = datetime(2026, 11, 21, 15, 30, tzinfo=UTC).timestamp()  # a Saturday


def test_period_boundaries() -> None:
    assert period_start(NOV_21, Period.DAY) == datetime(2026, 11, 21, tzinfo=UTC)
    assert period_start(NOV_21, Period.WEEK) == datetime(2026, 11, 16, tzinfo=UTC)  # Monday
    assert period_start(NOV_21, Period.MONTH) == datetime(2026, 11, 1, tzinfo=UTC)
    assert period_end(NOV_21, Period.MONTH) == datetime(2026, 12, 1, tzinfo=UTC)
    dec = datetime(2026, 12, 31, 23, 59, tzinfo=UTC).timestamp()
    assert period_end(dec, Period.MONTH) == datetime(2027, 1, 1, tzinfo=UTC)
    assert period_key(NOV_21, Period.MONTH, 2) == "month:2026-11-01#2"


@given(st.floats(min_value=0, max_value=4_000_000_000), st.sampled_from(list(Period)))
def test_now_is_inside_its_period(now: float, period: Period) -> None:
    assert period_start(now, period).timestamp() <= now < period_end(now, period).timestamp()
    # The key changes exactly at the reset.
    assert period_key(period_end(now, period).timestamp(), period) != period_key(now, period)
