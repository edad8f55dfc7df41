"""Failure injection: which failures are armed, how many requests they still hit, and their messages."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from bot.domain.models import Operation


class FaultKind(StrEnum):
    SERVER_ERROR = "server_error"  # the next API requests answer 500/503
    RATE_LIMIT = "rate_limit"  # the next API requests answer 429 with Retry-After
    MODERATION = "moderation"  # the next submits are refused (Producer 403) or fail as flagged (FUZZ)
    RETIRED = "retired"  # one operation answers 410 until cleared
    TASK_FAILURE = "task_failure"  # the next tasks render, then fail
    CREDITS = "credits"  # the next submits answer 402


@dataclass(slots=True)
class Armed:
    remaining: int
    message: str | None = None
    retry_after: float = 1.0


class Faults:
    def __init__(self) -> None:
        self._armed: dict[FaultKind, Armed] = {}
        self._retired: dict[Operation, str | None] = {}
        self.server_errors_sent = 0  # rotates the 5xx status and body shape

    def inject(
        self,
        kind: str,
        *,
        count: int = 1,
        operation: str | None = None,
        message: str | None = None,
        retry_after: float = 1.0,
    ) -> None:
        """Arm a failure; raises ValueError for an unknown kind or operation so a typo fails the test at once."""
        fault = FaultKind(kind)
        if fault is FaultKind.RETIRED:
            if operation is None:
                raise ValueError("a 'retired' failure needs operation=, e.g. 'cover'")
            self._retired[Operation(operation)] = message
            return
        if count < 1:
            raise ValueError("count must be at least 1")
        armed = self._armed.get(fault)
        if armed is None:
            self._armed[fault] = Armed(count, message, retry_after)
        else:
            # Arming the same kind again adds to what is left; the latest message and delay win.
            armed.remaining += count
            armed.message = message or armed.message
            armed.retry_after = retry_after

    def clear(self) -> None:
        self._armed.clear()
        self._retired.clear()

    def take(self, kind: FaultKind) -> Armed | None:
        """Consume one use of an armed failure, returning it, or None when it is not armed."""
        armed = self._armed.get(kind)
        if armed is None:
            return None
        armed.remaining -= 1
        if armed.remaining <= 0:
            del self._armed[kind]
        return armed

    def retired(self, operation: Operation) -> bool:
        return operation in self._retired

    def retired_message(self, operation: Operation) -> str:
        return self._retired.get(operation) or "This operation has been retired"

    def pending(self) -> dict[str, int]:
        """What is armed, for the stats endpoint."""
        summary = {kind.value: armed.remaining for kind, armed in self._armed.items()}
        summary.update({f"retired:{op.value}": 1 for op in self._retired})
        return summary
