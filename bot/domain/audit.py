"""Audit entries: what happened in a server, as structured values. Core records them; the ui words them.

One entry per job (its outcome), per refusal, per admin change and per moderation note.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bot.domain.errors import TunesmithError
from bot.domain.models import MusicRequest, Operation, Period
from bot.domain.outcomes import JobOutcome


@dataclass(frozen=True, slots=True)
class JobFinished:
    """A job's one entry: its outcome, the credits it moved, and where its tracks were posted."""

    actor_id: int
    outcome: JobOutcome


@dataclass(frozen=True, slots=True)
class LyricsDrafted:
    actor_id: int
    idea: str
    job_id: int | None = None
    drafts: int = 0
    cost: int = 0
    error: str | None = None  # the provider's refusal (credits were returned)


@dataclass(frozen=True, slots=True)
class Refused:
    """A request refused before anything was spent; a Blocked error's ``rule`` is shown to admins only."""

    actor_id: int
    operation: Operation
    request: MusicRequest
    error: TunesmithError


@dataclass(frozen=True, slots=True)
class SettingsChanged:
    """Studio settings an admin changed, in the order given (keys are GuildSettings fields)."""

    actor_id: int
    changes: tuple[tuple[str, Any], ...]

    @classmethod
    def of(cls, actor_id: int, changes: Mapping[str, Any]) -> SettingsChanged:
        return cls(actor_id, tuple(changes.items()))


@dataclass(frozen=True, slots=True)
class BudgetChanged:
    actor_id: int
    budget: int
    period: Period | None = None


@dataclass(frozen=True, slots=True)
class CostChanged:
    actor_id: int
    operation: Operation
    cost: int


@dataclass(frozen=True, slots=True)
class DefaultCapChanged:
    actor_id: int
    cap: int | None


@dataclass(frozen=True, slots=True)
class MemberCapChanged:
    actor_id: int
    member_id: int
    cap: int | None


@dataclass(frozen=True, slots=True)
class Granted:
    actor_id: int
    amount: int
    member_id: int | None = None  # None: the server's budget


@dataclass(frozen=True, slots=True)
class PeriodReset:
    actor_id: int


@dataclass(frozen=True, slots=True)
class BlockRuleChanged:
    actor_id: int
    pattern: str
    is_regex: bool
    added: bool


@dataclass(frozen=True, slots=True)
class BanChanged:
    actor_id: int
    member_id: int
    banned: bool
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class JobCancelledByModerator:
    actor_id: int
    job_id: int
    owner_id: int


@dataclass(frozen=True, slots=True)
class TrackDeleted:
    actor_id: int
    track_id: int
    title: str


@dataclass(frozen=True, slots=True)
class ModerationNote:
    """A member's requests were refused by the provider's content filter several times in a short while."""

    actor_id: int
    strikes: int
    window_s: float


@dataclass(frozen=True, slots=True)
class OperationReinstated:
    actor_id: int
    provider: str
    operation: Operation


AuditEntry = (
    JobFinished
    | LyricsDrafted
    | Refused
    | SettingsChanged
    | BudgetChanged
    | CostChanged
    | DefaultCapChanged
    | MemberCapChanged
    | Granted
    | PeriodReset
    | BlockRuleChanged
    | BanChanged
    | JobCancelledByModerator
    | TrackDeleted
    | ModerationNote
    | OperationReinstated
)
