"""One error tree. ``str(err)`` is always safe to show a member; details for operators go in attributes."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum


class TunesmithError(Exception):
    """Base of every error the bot raises on purpose; its text is written for members."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class ConfigError(TunesmithError):
    """A setting is missing or malformed; start-up stops with this one line."""


class AlreadyRunning(TunesmithError):
    """Another Tunesmith process holds the database; start-up stops with this one line."""


class DatabaseUnavailable(TunesmithError):
    """The database cannot be reached or used at start-up; start-up stops with this one line (never a password)."""


class InvalidRequest(TunesmithError):
    """The member's input is out of range or incomplete; nothing was spent."""


class NotFound(TunesmithError):
    """A track, job or setting the member named does not exist in this server."""


class QuotaExceeded(TunesmithError):
    """The server's or the member's credits, or the in-flight job limits, do not allow this job."""


class CreditsExhausted(QuotaExceeded):
    """Not enough credits left in the period. ``resets_at`` lets the ui show the reset in the member's time."""

    def __init__(
        self, *, remaining: int, cost: int, operation: str, resets_at: datetime, member_cap: int | None = None
    ) -> None:
        self.remaining = max(remaining, 0)
        self.cost = cost
        self.operation = operation
        self.resets_at = resets_at
        self.member_cap = member_cap  # set when the member's own cap, not the server's budget, is what ran out
        super().__init__(self.sentence(resets_at.strftime("on %Y-%m-%d at %H:%M UTC")))

    def sentence(self, when: str) -> str:
        """The refusal, with the reset moment written as ``when`` (the ui passes a Discord timestamp)."""
        if self.member_cap is not None:
            return (
                f"You have {self.remaining} of your {self.member_cap} credits left and {self.operation} costs "
                f"{self.cost}. Your credits reset {when}."
            )
        return (
            f"This server has {self.remaining} credits left and {self.operation} costs {self.cost}. "
            f"Credits reset {when}, or an admin can grant more."
        )


class ConfirmationNeeded(TunesmithError):
    """A job costs more than the server's confirmation threshold: the member confirms first. Every other rule
    passed, and nothing is reserved until they do."""

    def __init__(self, *, operation: str, cost: int, remaining: int) -> None:
        self.operation = operation
        self.cost = cost
        self.remaining = max(remaining, 0)
        super().__init__(f"This costs {cost} credits (you have {self.remaining} left).")


class Blocked(TunesmithError):
    """The request hit a blocked word or pattern. ``rule`` is for admins only, never shown to the member."""

    def __init__(self, message: str, *, rule: str, field: str) -> None:
        super().__init__(message)
        self.rule = rule
        self.field = field


class NotAllowed(TunesmithError):
    """The member may not do this here: wrong channel, missing role, banned, cooling down, not the author."""


class WrongChannel(NotAllowed):
    """Music is only made in some channels; ``allowed_channel_ids`` lets the ui name them."""

    def __init__(self, allowed_channel_ids: Sequence[int]) -> None:
        super().__init__("Music can't be made in this channel. Try one of the channels an admin allowed.")
        self.allowed_channel_ids = tuple(allowed_channel_ids)


class MissingRole(NotAllowed):
    """Making music needs a role the member lacks; ``role_id`` lets the ui name it."""

    def __init__(self, role_id: int) -> None:
        super().__init__("You need a particular role to make music here; an admin can tell you which.")
        self.role_id = role_id


class OperationUnavailable(TunesmithError):
    """The active provider lacks this operation, or has retired it (HTTP 410)."""


class ErrorKind(StrEnum):
    """Why a provider refused or failed, normalised across providers (docs/providers.md)."""

    REJECTED = "rejected"  # 400 / success:false: the request itself is wrong
    MODERATION = "moderation"  # the provider's content filter
    CREDITS = "credits"  # the operator's provider account is out of credits
    AUTH = "auth"  # the operator's key is missing or wrong
    RETIRED = "retired"  # 410: the operation no longer exists
    UNAVAILABLE = "unavailable"  # network, 429, 5xx: try again later
    TIMEOUT = "timeout"  # the task took too long


_DEFAULT_TEXT = {
    ErrorKind.REJECTED: "The provider rejected this request.",
    ErrorKind.MODERATION: "The provider's content filter refused this request.",
    ErrorKind.CREDITS: "The music provider account is out of credits; an admin has been told.",
    ErrorKind.AUTH: "The bot's music provider key is not accepted; an admin needs to fix the configuration.",
    ErrorKind.RETIRED: "This operation was retired by the provider.",
    ErrorKind.UNAVAILABLE: "The music provider is unavailable right now.",
    ErrorKind.TIMEOUT: "The music provider took too long to finish this song.",
}


class ProviderError(TunesmithError):
    """A provider call failed. ``kind`` says why; ``retryable`` whether the same call may succeed later."""

    def __init__(
        self,
        kind: ErrorKind,
        message: str | None = None,
        *,
        retryable: bool | None = None,
        retry_after: float | None = None,
        status: int | None = None,
    ) -> None:
        super().__init__(message or _DEFAULT_TEXT[kind])
        self.kind = kind
        self.retryable = kind is ErrorKind.UNAVAILABLE if retryable is None else retryable
        self.retry_after = retry_after
        self.status = status

    def __repr__(self) -> str:
        return f"ProviderError(kind={self.kind.value!r}, status={self.status!r}, message={self.message!r})"
