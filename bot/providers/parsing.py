"""Defensive readers for provider JSON: fields change type between answers, so nothing is trusted blindly."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.domain.errors import ErrorKind, ProviderError
from bot.domain.models import TaskFailure, TaskState, TaskStatus
from bot.providers.http import credits_exhausted, mentions_moderation, truncate


def records(value: Any) -> list[Mapping[str, Any]]:
    """The objects in a ``data`` field that may be one object, a list of objects, a list of ids, ``{}`` or null."""
    if isinstance(value, Mapping):
        return [value] if value else []
    if isinstance(value, list):
        return [item for item in value if isinstance(item, Mapping)]
    return []


def text(value: Any) -> str | None:
    """A non-empty string field, or None (numbers become strings: ids are sometimes numeric)."""
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return None


def number(value: Any) -> float | None:
    """A number that may arrive as a number or a string; None when it is neither."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def error_from_text(message: str | None, default: ErrorKind) -> ProviderError:
    """Classify a failure that came without a telling status code by what its (redacted) text says."""
    shown = truncate(message) if message else None
    if credits_exhausted(shown):
        return ProviderError(ErrorKind.CREDITS)
    if mentions_moderation(shown):
        return ProviderError(ErrorKind.MODERATION, shown)
    return ProviderError(default, shown)


def failed(task_id: str, error: ProviderError) -> TaskStatus:
    return TaskStatus(
        task_id=task_id,
        state=TaskState.FAILED,
        failure=TaskFailure(kind=error.kind.value, message=str(error)),
    )
