"""Field checks shared by both sandbox APIs; each failure names the field and its limit, like the live services."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web


class Rejected(Exception):
    """A request the service refuses; each API renders it in its own error shape."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


async def json_object(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise Rejected(400, "Request body must be valid JSON") from exc
    if not isinstance(body, dict):
        raise Rejected(400, "Request body must be a JSON object")
    return body


def text(
    body: dict[str, Any],
    *names: str,
    below: int | None = None,
    at_most: int | None = None,
    required: bool = False,
    numbers: bool = False,
) -> str:
    """The first present field of ``names`` as a string ('' when absent).

    ``below`` is a strict limit (the Producer documents "prompt < 3000", "tags < 200"), ``at_most`` an inclusive
    one ("title max 80 characters"). ``numbers`` accepts a JSON number too (a seed typed as 12345).
    """
    name, value = _first(body, names)
    if value is None:
        if required:
            raise Rejected(400, f"{name} is required")
        return ""
    if not isinstance(value, str) and not (numbers and isinstance(value, int | float) and not isinstance(value, bool)):
        raise Rejected(400, f"{name} must be a string")
    value = str(value)
    if below is not None and len(value) >= below:
        raise Rejected(400, f"{name} must be less than {below} characters (got {len(value)})")
    if at_most is not None and len(value) > at_most:
        raise Rejected(400, f"{name} must be at most {at_most} characters (got {len(value)})")
    if required and not value.strip():
        raise Rejected(400, f"{name} is required")
    return value


def _first(body: dict[str, Any], names: tuple[str, ...]) -> tuple[str, object]:
    """The first of ``names`` present in ``body`` (aliases, e.g. strength/cover_strength), with its value."""
    for candidate in names:
        if body.get(candidate) is not None:
            return candidate, body[candidate]
    return names[0], None


def number(
    body: dict[str, Any],
    *names: str,
    low: float | None = None,
    high: float | None = None,
    above: float | None = None,
    required: bool = False,
) -> float | None:
    """The first present field of ``names`` as a number within [low, high] (and > ``above``), or None."""
    name, value = _first(body, names)
    if value is None:
        if required:
            raise Rejected(400, f"{name} is required")
        return None
    if isinstance(value, bool):
        raise Rejected(400, f"{name} must be a number")
    try:
        result = float(value)  # type: ignore[arg-type]  # strings like "30" are accepted, as the services do
    except (TypeError, ValueError) as exc:
        raise Rejected(400, f"{name} must be a number") from exc
    if (low is not None and result < low) or (high is not None and result > high):
        raise Rejected(400, f"{name} {_range_text(low, high)}")
    if above is not None and result <= above:
        raise Rejected(400, f"{name} must be greater than {above:g}")
    return result


def _range_text(low: float | None, high: float | None) -> str:
    if low is not None and high is not None:
        return f"must be between {low:g} and {high:g}"
    if low is not None:
        return f"must be at least {low:g}"
    return f"must be at most {high:g}"


def flag(body: dict[str, Any], name: str) -> bool:
    value = body.get(name)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise Rejected(400, f"{name} must be true or false")
    return value


def http_url(value: str, name: str, *, https: bool = False, at_most: int | None = None) -> str:
    parts = urlsplit(value.strip())
    allowed = {"https"} if https else {"http", "https"}
    if parts.scheme not in allowed or not parts.netloc:
        raise Rejected(400, f"{name} must be an {'HTTPS' if https else 'http(s)'} URL")
    if at_most is not None and len(value) > at_most:
        raise Rejected(400, f"{name} must be at most {at_most} characters")
    return value.strip()
