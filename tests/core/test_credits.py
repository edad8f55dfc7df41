"""Period arithmetic and the admission rules."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from bot.core.credits import period_end, period_key, period_start, quota_of
from bot.domain.models import GuildSettings, Operation, Period
from bot.domain.ports import Balances

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


def test_a_day_ends_at_the_next_midnight_and_a_week_on_the_next_monday() -> None:
    # Saturday 21 November: a daily server resets on Sunday, a weekly one on Monday the 23rd, never a month later.
    assert period_end(NOV_21, Period.DAY) == datetime(2026, 11, 22, tzinfo=UTC)
    assert period_end(NOV_21, Period.WEEK) == datetime(2026, 11, 23, tzinfo=UTC)
    monday = datetime(2026, 11, 23, 0, 0, tzinfo=UTC).timestamp()
    assert period_start(monday, Period.WEEK) == datetime(2026, 11, 23, tzinfo=UTC)
    assert period_end(monday, Period.WEEK) == datetime(2026, 11, 30, tzinfo=UTC)
    # The last second of a day is still that day; the reset is at its end.
    last = datetime(2026, 11, 21, 23, 59, 59, tzinfo=UTC).timestamp()
    assert period_end(last, Period.DAY) == datetime(2026, 11, 22, tzinfo=UTC)
    # A month of 30 days and February.
    april_30 = datetime(2026, 4, 30, 12, tzinfo=UTC).timestamp()
    assert period_end(april_30, Period.MONTH) == datetime(2026, 5, 1, tzinfo=UTC)
    assert period_end(datetime(2027, 2, 1, tzinfo=UTC).timestamp(), Period.MONTH) == datetime(2027, 3, 1, tzinfo=UTC)


def test_period_keys_name_the_period_its_start_and_the_epoch() -> None:
    assert period_key(NOV_21, Period.DAY) == "day:2026-11-21#0"
    assert period_key(NOV_21, Period.WEEK) == "week:2026-11-16#0"
    assert period_key(NOV_21, Period.MONTH) == "month:2026-11-01#0"
    # An admin's early reset (a new epoch) starts a fresh key within the same period.
    assert period_key(NOV_21, Period.DAY, 1) == "day:2026-11-21#1"


def _settings(**changes: object) -> GuildSettings:
    values: dict[str, object] = {"guild_id": 1, "budget": 500, "period": Period.WEEK, **changes}
    return GuildSettings.model_validate(values)


def test_quota_shows_what_the_server_and_the_member_have_left_and_when_it_resets() -> None:
    costs = {Operation.CREATE: 10}
    settings = _settings(member_cap=50, max_jobs_member=3)
    quota = quota_of(
        settings, Balances(server_sum=-120, member_sum=-30, member_active=2, server_active=5), now=NOV_21, costs=costs
    )
    assert quota.period is Period.WEEK
    assert quota.resets_at == datetime(2026, 11, 23, tzinfo=UTC)
    assert (quota.server_budget, quota.server_remaining) == (500, 380)
    assert (quota.member_cap, quota.member_remaining) == (50, 20)
    assert quota.available_to_member == 20
    assert quota.costs == costs
    assert (quota.member_active_jobs, quota.max_jobs_member) == (2, 3)


def test_a_member_s_own_cap_wins_over_the_server_s_and_no_cap_means_the_server_s_credits() -> None:
    own = quota_of(_settings(member_cap=50), Balances(member_sum=-10, member_cap=200), now=NOV_21, costs={})
    assert (own.member_cap, own.member_remaining) == (200, 190)
    uncapped = quota_of(_settings(), Balances(server_sum=-100, member_sum=-60), now=NOV_21, costs={})
    assert uncapped.member_cap is None and uncapped.member_remaining is None
    assert uncapped.available_to_member == 400
    # The server's credits bound a member with a larger cap.
    low = quota_of(_settings(member_cap=100), Balances(server_sum=-470), now=NOV_21, costs={})
    assert low.available_to_member == 30


def test_a_daily_server_is_shown_tomorrow_s_reset_not_the_month_s() -> None:
    daily = quota_of(_settings(period=Period.DAY), Balances(), now=NOV_21, costs={})
    assert daily.period is Period.DAY and daily.resets_at == datetime(2026, 11, 22, tzinfo=UTC)
    monthly = quota_of(_settings(period=Period.MONTH), Balances(), now=NOV_21, costs={})
    assert monthly.resets_at == datetime(2026, 12, 1, tzinfo=UTC)


def test_a_period_starts_and_ends_on_the_exact_second_whatever_the_fraction_of_now() -> None:
    fraction = NOV_21 + 0.25  # clocks give fractions of a second
    assert period_start(fraction, Period.DAY) == datetime(2026, 11, 21, tzinfo=UTC)
    assert period_end(fraction, Period.DAY) == datetime(2026, 11, 22, tzinfo=UTC)
    assert period_end(fraction, Period.WEEK) == datetime(2026, 11, 23, tzinfo=UTC)
