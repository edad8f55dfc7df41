"""Requests in the active provider's vocabulary: one entry point for admission, one for reading a job back.

Two vocabularies exist (docs/providers.md): the generic requests of :mod:`bot.domain.models` (the Producer's and
FUZZ's fields) and Sonic's own (:mod:`bot.domain.sonic`: ``sonic-*`` models, limits per model, custom and
description mode). The commands and buttons speak the generic one; a provider that speaks Sonic has its requests
for the shared operations validated as Sonic's, so its models and limits are checked before anything is spent.
Operations only Sonic has are always Sonic requests, and the studio tools are :class:`~bot.domain.sonic.ToolCall`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from bot.domain.models import REQUEST_TYPES, MusicRequest, Operation, build_request, load_request
from bot.domain.sonic import (
    SonicRequest,
    ToolCall,
    build_sonic_request,
    build_tool_call,
    is_sonic_request,
    is_tool_call,
    load_sonic_request,
)

Dialect = Literal["generic", "sonic"]
JobRequest = MusicRequest | SonicRequest | ToolCall

# Generic field → Sonic field, per operation both vocabularies have. ``None``: the field has no Sonic
# counterpart (the Producer's seed, lyrics strength, cover image and cover strength) and is left out.
_RENAMES: dict[Operation, dict[str, str | None]] = {
    Operation.CREATE: {"sound_strength": "style_weight", "seed": None, "lyrics_strength": None, "cover_url": None},
    Operation.EXTEND: {
        "starts_at": "continue_at",
        "sound": "tags",
        "sound_strength": "style_weight",
        "duration_s": None,
        "seed": None,
        "lyrics_strength": None,
    },
    Operation.COVER: {
        "sound": "tags",
        "sound_strength": "style_weight",
        "cover_strength": None,
        "cover_url": None,
        "seed": None,
        "lyrics_strength": None,
    },
    Operation.REPLACE: {
        "starts_at": "start_s",
        "ends_at": "end_s",
        "sound": "tags",
        "sound_strength": None,
        "weirdness": None,
        "seed": None,
        "lyrics_strength": None,
    },
}
# Operations that stay generic requests with any provider (the Sonic client takes them as they are).
_ALWAYS_GENERIC = frozenset({Operation.UPLOAD, Operation.DOWNLOAD, Operation.LYRICS})


def sonic_values(operation: Operation, values: Mapping[str, Any]) -> dict[str, Any]:
    """The generic values of a command or form, renamed into Sonic's request fields."""
    renames = _RENAMES.get(operation, {})
    out: dict[str, Any] = {}
    for key, value in values.items():
        if key in renames:
            target = renames[key]
            if target is not None:
                out[target] = value
        else:
            out[key] = value
    if operation is Operation.CREATE and "sound" in out:
        # With lyrics the style is the song's tags (custom mode); alone, it describes the song (description mode).
        sound = out.pop("sound")
        out.setdefault("tags" if out.get("lyrics") else "description", sound)
    return out


def build_job_request(operation: Operation, values: Mapping[str, Any], *, dialect: Dialect) -> JobRequest:
    """Validate a member's values into the request the active provider takes; raises InvalidRequest."""
    clean = {k: v for k, v in values.items() if v is not None and v != ""}
    if operation.is_tool:
        return build_tool_call(operation, **clean)
    if operation not in REQUEST_TYPES:
        return build_sonic_request(operation, **clean)
    # A persona song is Sonic's (persona_music) whatever the provider's own dialect (the sandbox offers both).
    if (dialect == "sonic" or "persona_id" in clean) and operation not in _ALWAYS_GENERIC:
        return build_sonic_request(operation, **sonic_values(operation, clean))
    return build_request(operation, **clean)


def load_job_request(data: Mapping[str, Any]) -> JobRequest:
    """Rebuild a job's stored request, whichever vocabulary it was made in (after a restart too)."""
    if is_tool_call(data):
        return ToolCall.model_validate(dict(data))
    if is_sonic_request(data):
        return load_sonic_request(data)
    return load_request(dict(data))


def request_dump(request: JobRequest) -> dict[str, Any]:
    """What a job stores of its request (loadable by :func:`load_job_request`)."""
    if isinstance(request, ToolCall):
        return request.model_dump(mode="json")
    return request.model_dump(mode="json", exclude_none=True)


def request_operation(request: JobRequest) -> Operation:
    return Operation(request.operation)
