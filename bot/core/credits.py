"""Credit rules: periods, costs, and what a server and a member have left. Pure functions, no I/O.

The ledger is append-only and a balance is a sum: ``remaining = budget + Σ ledger rows of the period``.
Each row carries the period key it belongs to, so a refund lands in the period its reservation was taken from,
and an admin's early reset simply bumps the server's epoch, which starts a fresh key.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from bot.domain.models import GuildSettings, Operation, Period
from bot.domain.ports import Balances


def period_start(now: float, period: Period) -> datetime:
    """The UTC start of the period containing ``now`` (days at 00:00, weeks on Monday, months on the 1st)."""
    moment = datetime.fromtimestamp(now, UTC)
    day = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    if period is Period.DAY:
        return day
    if period is Period.WEEK:
        return day - timedelta(days=day.weekday())
    return day.replace(day=1)


def period_end(now: float, period: Period) -> datetime:
    """When the period containing ``now`` resets."""
    start = period_start(now, period)
    if period is Period.DAY:
        return start + timedelta(days=1)
    if period is Period.WEEK:
        return start + timedelta(weeks=1)
    return (start + timedelta(days=32)).replace(day=1)


def period_key(now: float, period: Period, epoch: int = 0) -> str:
    return f"{period.value}:{period_start(now, period).date().isoformat()}#{epoch}"


@dataclass(frozen=True, slots=True)
class Quota:
    """What ``/quota`` shows: the server's and a member's credits left in the current period."""

    period: Period
    resets_at: datetime
    server_budget: int
    server_remaining: int
    member_cap: int | None
    member_remaining: int | None
    costs: dict[Operation, int] = field(default_factory=dict)
    member_active_jobs: int = 0
    max_jobs_member: int = 0

    @property
    def available_to_member(self) -> int:
        if self.member_remaining is None:
            return self.server_remaining
        return min(self.server_remaining, self.member_remaining)


def quota_of(settings: GuildSettings, balances: Balances, *, now: float, costs: dict[Operation, int]) -> Quota:
    """What a server and a member have left in the current period, from the ledger's sums."""
    cap = balances.member_cap if balances.member_cap is not None else settings.member_cap
    return Quota(
        period=settings.period,
        resets_at=period_end(now, settings.period),
        server_budget=settings.budget,
        server_remaining=settings.budget + balances.server_sum,
        member_cap=cap,
        member_remaining=None if cap is None else cap + balances.member_sum,
        costs=costs,
        member_active_jobs=balances.member_active,
        max_jobs_member=settings.max_jobs_member,
    )
