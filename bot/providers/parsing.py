"""Defensive readers for provider JSON: fields change type between answers, so nothing is trusted blindly."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from bot.domain.errors import ErrorKind, ProviderError
from bot.domain.lyrics_timeline import AlignedWord, LyricsAlignment
from bot.domain.models import TaskFailure, TaskState, TaskStatus
from bot.providers.http import credits_exhausted, error_for_status, mentions_moderation, message_from_body, truncate


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


def finite_number(value: Any) -> float | None:
    """Like :func:`number`, but None for NaN and infinities (every number from outside must be finite)."""
    found = number(value)
    return found if found is not None and math.isfinite(found) else None


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


def body_error(body: Mapping[str, Any]) -> ProviderError | None:
    """A failure carried by a 2xx body: a failure ``type`` (failed, timeout, forbidden, ...) or a ``code`` >= 400."""
    message = message_from_body(body)
    failure_type = (text(body.get("type")) or "").casefold()
    if failure_type == "timeout":
        return ProviderError(ErrorKind.TIMEOUT)
    if failure_type == "api_error":
        # The provider's own upstream broke: its text is not for members.
        return ProviderError(ErrorKind.UNAVAILABLE)
    if failure_type == "forbidden":
        # The filter, naming what it flagged, unless the text says the account ran dry.
        return error_from_text(message, ErrorKind.MODERATION)
    if failure_type in ("failed", "error"):
        return error_from_text(message, ErrorKind.UNAVAILABLE)
    code = number(body.get("code"))
    if code is not None and 400 <= code < 600:
        return error_for_status(int(code), message)
    return None


def _unbracketed(text: str, inside: bool) -> tuple[str, bool]:
    """``text`` without the parts inside ``[...]`` (section markers), which may span words; and whether it ends
    inside one."""
    kept: list[str] = []
    for char in text:
        if char == "[":
            inside = True
        elif char == "]":
            inside = False
        elif not inside:
            kept.append(char)
    return "".join(kept), inside


def alignment_from(items: Any) -> LyricsAlignment:
    """Word timings from either provider's shape, as a :class:`LyricsAlignment` of sung words only.

    Sonic: ``[{word, start_s, end_s, p_align, success}]`` where a word may carry the line break ("Stars\\n");
    FUZZ: ``[{text, start, end, line_index}]``. Section markers ("[Verse 1]", "[Instrumental]") are dropped, and so
    are words with times that are not finite numbers or end before they start.
    """
    words: list[AlignedWord] = []
    line = 0
    inside = False
    for item in records(items) if isinstance(items, list) else []:
        raw = item.get("word") if "word" in item else item.get("text")
        if not isinstance(raw, str):
            continue
        start = finite_number(item.get("start_s") if "start_s" in item else item.get("start"))
        end = finite_number(item.get("end_s") if "end_s" in item else item.get("end"))
        explicit_line = number(item.get("line_index"))
        pieces = raw.split("\n")
        for index, piece in enumerate(pieces):
            if index > 0:
                line += 1
            sung, inside = _unbracketed(piece, inside)
            sung = " ".join(sung.split())
            if not sung or start is None or end is None or start < 0 or end < start:
                continue
            at = int(explicit_line) if explicit_line is not None and explicit_line >= 0 else line
            words.append(AlignedWord(word=sung, start_s=start, end_s=end, line=at))
    return LyricsAlignment(words=tuple(words))
