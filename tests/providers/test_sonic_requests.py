"""Sonic's requests are checked before anything is spent, per model, with a message the member can act on."""

from __future__ import annotations

from typing import Any

import pytest

from bot.domain.errors import InvalidRequest
from bot.domain.models import Operation
from bot.domain.sonic import (
    SONIC_MODELS,
    SonicCreate,
    Tool,
    build_sonic_request,
    is_sonic_request,
    load_sonic_request,
    normalise_sonic_model,
    sonic_model_name,
)

A, B = "clip-a", "clip-b"


@pytest.mark.parametrize(
    ("operation", "values", "message"),
    [
        (
            Operation.CREATE,
            {"lyrics": "x" * 3001, "model": "sonic-v4"},
            "The lyrics must be at most 3000 characters with sonic-v4 (sonic-v4-5 and later take more).",
        ),
        (
            Operation.CREATE,
            {"lyrics": "x" * 5001, "model": "sonic-v4-5"},
            "The lyrics must be at most 5000 characters with sonic-v4-5.",
        ),
        (
            Operation.CREATE,
            {"tags": "x" * 201, "model": "chirp-v3-5"},
            "The style must be at most 200 characters with sonic-v3-5 (sonic-v4-5 and later take more).",
        ),
        (Operation.CREATE, {"tags": "x" * 1001}, "The style must be at most 1000 characters with sonic-v5."),
        (Operation.CREATE, {"description": "x" * 401}, "The description must be at most 400 characters with sonic-v5."),
        (Operation.CREATE, {"tags": "pop", "title": "t" * 81}, "The title is too long: at most 80 characters."),
        (
            Operation.EXTEND,
            {"clip_id": A, "tags": "pop", "title": "t" * 121},
            "The title is too long: at most 120 characters.",
        ),
        (Operation.PERSONA, {"clip_id": A, "name": "n" * 80}, "Name is too long (at most 79 characters)."),
        (Operation.CREATE, {}, "Describe the song, give a style or give some lyrics."),
        (
            Operation.CREATE,
            {"lyrics": "la", "description": "a song"},
            "Give either lyrics or a description of the song, not both.",
        ),
        (
            Operation.CREATE,
            {"lyrics": "[Verse]\nla la", "instrumental": True},
            "An instrumental song has no lyrics: leave lyrics empty or turn instrumental off.",
        ),
        (
            Operation.CREATE,
            {"tags": "pop", "model": "sonic-v9"},
            "Model: unknown model 'sonic-v9'; choose one of: " + ", ".join(SONIC_MODELS) + ".",
        ),
        (Operation.CREATE, {"tags": "pop", "duration_s": 5}, "Duration must be at least 10."),
        (
            Operation.CREATE,
            {"tags": "pop", "style_weight": float("inf")},
            "Style weight must be a finite number.",
        ),
        (Operation.EXTEND, {"clip_id": A, "continue_at": float("nan")}, "Start must be a finite number."),
        (Operation.EXTEND, {"tags": "pop"}, "Start from either a track or an audio link (one of the two)."),
        (Operation.COVER, {"audio_url": "file:///etc/passwd"}, "Audio URL: must be an http(s) link."),
        (Operation.MASHUP, {"clip_ids": [A, A], "tags": "pop"}, "A mashup needs two different tracks."),
        (Operation.MASHUP, {"clip_ids": [A], "tags": "pop"}, "Tracks: a mashup takes exactly two tracks."),
        (
            Operation.SAMPLE,
            {"clip_id": A, "start_s": 30, "end_s": 30, "tags": "pop"},
            "The sample must end after it starts (end > start).",
        ),
        (
            Operation.REPLACE,
            {"clip_id": A, "start_s": 5, "end_s": 9, "model": "sonic-v3-5"},
            "Replacing a section needs sonic-v4 or later.",
        ),
        (
            Operation.REMASTER,
            {"clip_id": A, "strength": "extreme"},
            "Strength: Input should be 'subtle', 'normal' or 'high'.",
        ),
        (
            Operation.ADD_VOCALS,
            {"clip_id": A, "lyrics": "la", "start_s": 9, "end_s": 3},
            "The vocals must end after they start (end > start).",
        ),
        (Operation.WAV, {"clip_id": A}, "WAV is not a Sonic request."),
        (Operation.CREATE, {"tags": "pop", "seed": 3}, "Seed is not an option of this command."),
    ],
)
def test_refused_before_anything_is_spent(operation: Operation, values: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        build_sonic_request(operation, **values)
    assert str(caught.value) == message


@pytest.mark.parametrize(
    ("operation", "values"),
    [
        (Operation.CREATE, {"lyrics": "x" * 5000, "model": "sonic-v4-5"}),
        (Operation.CREATE, {"lyrics": "x" * 3000, "tags": "y" * 200, "model": "sonic-v4"}),
        (Operation.CREATE, {"persona_id": "p", "tags": "pop", "title": "t" * 120}),
        (Operation.COVER, {"clip_id": A, "tags": "pop", "title": "t" * 120}),
        (Operation.PERSONA, {"clip_id": A, "name": "n" * 79}),
        (Operation.MASHUP, {"clip_ids": [A, B], "description": "both as one"}),
        (Operation.CREATE, {"lyrics": "[Instrumental]", "instrumental": True}),
    ],
)
def test_accepted_at_the_limits(operation: Operation, values: dict[str, Any]) -> None:
    request = build_sonic_request(operation, **values)
    assert is_sonic_request(request.model_dump(mode="json"))
    assert load_sonic_request(request.model_dump_json()) == request


def test_models_in_both_spellings() -> None:
    assert normalise_sonic_model("CHIRP-BLUEJAY") == "sonic-v4-5-plus"
    assert normalise_sonic_model("sonic-v3-5") == "sonic-v3-5"
    assert normalise_sonic_model(" ") is None
    assert sonic_model_name("chirp-fenix") == "sonic-v5-5"
    assert sonic_model_name("sonic-v6") == "sonic-v6"  # a newer name is reported as it came
    assert SonicCreate(tags="pop", model="chirp-v4").model == "sonic-v4"


def test_tools_are_priced_as_operations() -> None:
    assert {tool.operation for tool in Tool} == {
        Operation.STEMS_BASIC,
        Operation.STEMS_FULL,
        Operation.WAV,
        Operation.MIDI,
        Operation.BPM,
        Operation.VOX,
        Operation.LYRICS_TIMELINE,
        Operation.UPSAMPLE_TAGS,
    }
    assert [t for t in Tool if t.asynchronous] == [Tool.STEMS_BASIC, Tool.STEMS_FULL]
    assert [t for t in Tool if not t.needs_clip] == [Tool.UPSAMPLE_TAGS]
    assert not any(tool.operation.derived for tool in Tool)
