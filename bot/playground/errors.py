"""Discord's error answers: one exception carrying the HTTP status, the JSON error code and (for 50035) the tree.

Discord answers a bad body with ``{"code": 50035, "message": "Invalid Form Body", "errors": {...}}`` where the
tree mirrors the body: ``{"embeds": {"0": {"title": {"_errors": [{"code": ..., "message": ...}]}}}}``. discord.py
flattens that tree into ``In embeds.0.title: Must be 256 or fewer in length.``, so getting the shape right is
what makes a mistake here read exactly as it would on Discord.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TypeGuard

JSON = dict[str, Any]
Path = tuple[str | int, ...]


SNOWFLAKE_MAX = 2**63 - 1  # what SQLite (and every id Discord hands out) fits in


def is_snowflake(value: object) -> bool:
    """A snowflake as a client may send one: an int or a string of digits, within 64 signed bits."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        return False
    text = str(value)
    return text.isdigit() and len(text) <= 19 and int(text) <= SNOWFLAKE_MAX


class ApiError(Exception):
    """Raised anywhere in a handler to answer with Discord's error JSON."""

    def __init__(self, status: int, code: int, message: str, *, errors: JSON | None = None) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.errors = errors

    def body(self) -> JSON:
        body: JSON = {"message": self.message, "code": self.code}
        if self.errors:
            body["errors"] = self.errors
        return body


def unknown(what: str, code: int) -> ApiError:
    return ApiError(404, code, f"Unknown {what}")


MISSING_ACCESS = (403, 50001, "Missing Access")
MISSING_PERMISSIONS = (403, 50013, "Missing Permissions")


def forbidden(missing_access: bool = False) -> ApiError:
    status, code, message = MISSING_ACCESS if missing_access else MISSING_PERMISSIONS
    return ApiError(status, code, message)


class FormErrors:
    """Collects every problem of one body, then raises them together as Discord does (50035)."""

    def __init__(self) -> None:
        self.tree: JSON = {}
        self._prefix: Path = ()

    def add(self, path: Path, code: str, message: str) -> None:
        node = self.tree
        for part in (*self._prefix, *path):
            node = node.setdefault(str(part), {})
        node.setdefault("_errors", []).append({"code": code, "message": message})

    @contextmanager
    def under(self, *path: str | int) -> Iterator[None]:
        saved = self._prefix
        self._prefix = (*saved, *path)
        try:
            yield
        finally:
            self._prefix = saved

    def __bool__(self) -> bool:
        return bool(self.tree)

    def raise_if_any(self) -> None:
        if self.tree:
            raise ApiError(400, 50035, "Invalid Form Body", errors=self.tree)

    # The handful of checks every limit is made of, with Discord's own codes and wording.

    def max_length(self, path: Path, value: Any, limit: int) -> None:
        if isinstance(value, str | list) and len(value) > limit:
            self.add(path, "BASE_TYPE_MAX_LENGTH", f"Must be {limit} or fewer in length.")

    def length_between(self, path: Path, value: Any, low: int, high: int) -> None:
        if isinstance(value, str | list) and not low <= len(value) <= high:
            self.add(path, "BASE_TYPE_BAD_LENGTH", f"Must be between {low} and {high} in length.")

    def required(self, path: Path, value: Any) -> bool:
        if value is None:
            self.add(path, "BASE_TYPE_REQUIRED", "This field is required")
            return False
        return True

    def string(self, value: object, path: Path) -> TypeGuard[str]:
        if not isinstance(value, str):
            self.add(path, "BASE_TYPE_STRING", "Could not interpret value as string.")
            return False
        return True

    def integer_between(self, path: Path, value: Any, low: int, high: int) -> None:
        if isinstance(value, bool) or not isinstance(value, int):
            self.add(path, "NUMBER_TYPE_COERCE", f'Value "{value}" is not int.')
        elif not low <= value <= high:
            self.add(
                path,
                "NUMBER_TYPE_MAX" if value > high else "NUMBER_TYPE_MIN",
                f"int value should be {'less' if value > high else 'greater'} than or equal to "
                f"{high if value > high else low}.",
            )
