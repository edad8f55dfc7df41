"""One error tree. ``str(err)`` is always safe to show a member; details for operators go in attributes."""

from __future__ import annotations

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


class InvalidRequest(TunesmithError):
    """The member's input is out of range or incomplete; nothing was spent."""


class NotFound(TunesmithError):
    """A track, job or setting the member named does not exist in this server."""


class QuotaExceeded(TunesmithError):
    """The server's or the member's credits, or the in-flight job limits, do not allow this job."""


class Blocked(TunesmithError):
    """The request hit a blocked word or pattern. ``rule`` is for admins only, never shown to the member."""

    def __init__(self, message: str, *, rule: str, field: str) -> None:
        super().__init__(message)
        self.rule = rule
        self.field = field


class NotAllowed(TunesmithError):
    """The member may not do this here: wrong channel, missing role, banned, cooling down, not the author."""


class OperationUnavailable(TunesmithError):
    """The active provider lacks this operation, or has retired it (HTTP 410)."""


class ErrorKind(StrEnum):
    """Why a provider refused or failed, normalised across providers (providers.md §3)."""

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
