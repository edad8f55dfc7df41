"""Domain validation follows the seeds, and every rejection says what to fix."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.domain.errors import InvalidRequest
from bot.domain.models import (
    EXTEND_DURATION_MAX,
    LYRICS_MAX,
    PRODUCER_MODELS,
    SOUND_MAX,
    TITLE_MAX,
    CreateMusic,
    DownloadTrack,
    Operation,
    WebhookTarget,
    build_request,
    load_request,
)
from bot.domain.requests import build_job_request

finite = st.floats(allow_nan=False, allow_infinity=False, min_value=-10, max_value=10)


@given(finite)
def test_lyrics_strength_and_weirdness_are_0_to_1(value: float) -> None:
    for name in ("lyrics_strength", "weirdness"):
        if 0 <= value <= 1:
            assert getattr(build_request(Operation.CREATE, sound="jazz", **{name: value}), name) == value
        else:
            with pytest.raises(InvalidRequest, match=name.replace("_", " ").capitalize()):
                build_request(Operation.CREATE, sound="jazz", **{name: value})


@given(finite)
def test_sound_and_cover_strength_are_0_2_to_1(value: float) -> None:
    ok = 0.2 <= value <= 1
    for op, name in ((Operation.CREATE, "sound_strength"), (Operation.COVER, "cover_strength")):
        values = {"sound": "jazz", name: value}
        if op is Operation.COVER:
            values["clip_id"] = "c1"
        if ok:
            assert getattr(build_request(op, **values), name) == value
        else:
            with pytest.raises(InvalidRequest, match=r"at (least 0.2|most 1)"):
                build_request(op, **values)


@given(st.integers(0, 200))
def test_title_is_at_most_80_characters(length: int) -> None:
    title = "t" * length
    if 0 < length <= TITLE_MAX:
        assert build_request(Operation.CREATE, sound="jazz", title=title).title == title  # type: ignore[union-attr]
    elif length > TITLE_MAX:
        with pytest.raises(InvalidRequest, match="Title is too long \\(at most 80 characters\\)"):
            build_request(Operation.CREATE, sound="jazz", title=title)


@given(st.floats(0, 600, allow_nan=False), st.floats(0, 600, allow_nan=False))
def test_a_section_ends_after_it_starts(start: float, end: float) -> None:
    if end > start:
        request = build_request(Operation.REPLACE, clip_id="c", starts_at=start, ends_at=end)
        assert (request.starts_at, request.ends_at) == (start, end)  # type: ignore[union-attr]
    else:
        with pytest.raises(InvalidRequest, match="end after it starts"):
            build_request(Operation.REPLACE, clip_id="c", starts_at=start, ends_at=end)


@given(st.floats(-10, 400, allow_nan=False))
def test_extend_duration_is_at_most_180_seconds(duration: float) -> None:
    if 0 < duration <= EXTEND_DURATION_MAX:
        build_request(Operation.EXTEND, clip_id="c", duration_s=duration)
    else:
        with pytest.raises(InvalidRequest, match="Duration must be"):
            build_request(Operation.EXTEND, clip_id="c", duration_s=duration)


def test_negative_start_is_refused() -> None:
    with pytest.raises(InvalidRequest, match="Start must be at least 0"):
        build_request(Operation.REPLACE, clip_id="c", starts_at=-1)


@pytest.mark.parametrize(
    "op", [Operation.EXTEND, Operation.COVER, Operation.VARIATION, Operation.REPLACE, Operation.DOWNLOAD]
)
def test_derived_operations_need_a_clip(op: Operation) -> None:
    with pytest.raises(InvalidRequest, match="Track is required"):
        build_request(op, starts_at=1)


def test_lengths_of_style_and_lyrics() -> None:
    with pytest.raises(InvalidRequest, match=f"Style is too long \\(at most {SOUND_MAX}"):
        build_request(Operation.CREATE, sound="s" * (SOUND_MAX + 1))
    with pytest.raises(InvalidRequest, match=f"Lyrics is too long \\(at most {LYRICS_MAX}"):
        build_request(Operation.CREATE, lyrics="l" * (LYRICS_MAX + 1))
    with pytest.raises(InvalidRequest, match="Describe a style or give some lyrics"):
        build_request(Operation.CREATE)
    with pytest.raises(InvalidRequest, match="An instrumental song has no lyrics"):
        build_request(Operation.CREATE, lyrics="la la", instrumental=True)


def test_swaps_need_what_the_seed_requires() -> None:
    with pytest.raises(InvalidRequest, match="Style is required"):
        build_request(Operation.SWAP_VOCALS, clip_id="c", lyrics="x")
    with pytest.raises(InvalidRequest, match="Lyrics is required"):
        build_request(Operation.SWAP_VOCALS, clip_id="c", sound="opera")
    assert build_request(Operation.SWAP_SOUND, clip_id="c", sound="reggae").operation is Operation.SWAP_SOUND


@pytest.mark.parametrize("model", PRODUCER_MODELS)
def test_models_of_the_seed_table_any_case(model: str) -> None:
    request = build_request(Operation.CREATE, sound="jazz", model=model.upper())
    assert request.model == model  # type: ignore[union-attr]


def test_an_unknown_model_lists_the_choices() -> None:
    with pytest.raises(InvalidRequest, match=r"unknown model .FUZZ-9.; choose one of: FUZZ-2\.0, FUZZ-2\.0 Pro"):
        build_request(Operation.CREATE, sound="jazz", model="FUZZ-9")


def test_urls() -> None:
    with pytest.raises(InvalidRequest, match="cover image URL must be an http"):
        build_request(Operation.CREATE, sound="jazz", cover_url="ftp://x/y.png")
    with pytest.raises(InvalidRequest, match="audio URL must be an http"):
        build_request(Operation.UPLOAD, audio_url="file:///etc/passwd")
    assert build_request(Operation.UPLOAD, audio_url="https://cdn.example/a.mp3").operation is Operation.UPLOAD
    with pytest.raises(ValueError, match="HTTPS"):
        WebhookTarget(url="http://bot.example/hook", secret="s" * 32)
    with pytest.raises(ValueError, match="1024"):
        WebhookTarget(url="https://bot.example/" + "a" * 1024, secret="s" * 32)
    assert WebhookTarget(url="https://bot.example/hook", secret="s" * 32).url.startswith("https://")


def test_download_format_and_seed_as_number() -> None:
    assert build_request(Operation.DOWNLOAD, clip_id="c", format="wav") == DownloadTrack(clip_id="c", format="wav")
    with pytest.raises(InvalidRequest, match="Format"):
        build_request(Operation.DOWNLOAD, clip_id="c", format="flac")
    assert build_request(Operation.CREATE, sound="x", seed=12345).seed == "12345"  # type: ignore[union-attr]


@given(st.text(min_size=1, max_size=SOUND_MAX).filter(str.strip), st.booleans())
def test_requests_survive_storage(sound: str, instrumental: bool) -> None:
    request = CreateMusic(sound=sound, instrumental=instrumental)
    assert load_request(request.model_dump(mode="json", exclude_none=True)) == request


@pytest.mark.parametrize("value", [float("inf"), float("-inf"), float("nan"), 1e999])
def test_a_number_no_provider_can_take_is_refused_by_every_request(value: float) -> None:
    """JSON has no inf or nan: a request holding one could never be sent, so none can be built."""
    cases = [
        (Operation.REPLACE, {"clip_id": "c", "starts_at": value}),
        (Operation.REPLACE, {"clip_id": "c", "starts_at": 1.0, "ends_at": value}),
        (Operation.EXTEND, {"clip_id": "c", "starts_at": value}),
        (Operation.CREATE, {"sound": "jazz", "weirdness": value}),
        (Operation.COVER, {"clip_id": "c", "sound": "jazz", "cover_strength": value}),
    ]
    for operation, values in cases:
        with pytest.raises(InvalidRequest, match=r"must be|at (least|most)"):
            build_request(operation, **values)
        # Sonic has no cover strength: the field is left out of its request, not refused.
        for dialect in ("generic", "sonic") if "cover_strength" not in values else ("generic",):
            with pytest.raises(InvalidRequest):
                build_job_request(operation, values, dialect=dialect)  # type: ignore[arg-type]
    with pytest.raises(InvalidRequest, match="finite"):
        build_request(Operation.REPLACE, clip_id="c", starts_at=value)
    with pytest.raises(InvalidRequest):
        build_job_request(Operation.SAMPLE, {"clip_id": "c", "start_s": value, "end_s": 10.0}, dialect="sonic")
    with pytest.raises(InvalidRequest):
        build_job_request(Operation.VOX, {"clip_id": "c", "vocal_start_s": 1.0, "vocal_end_s": value}, dialect="sonic")


def test_a_time_within_a_track_is_at_most_an_hour() -> None:
    with pytest.raises(InvalidRequest, match="Start must be at most 3600"):
        build_request(Operation.EXTEND, clip_id="c", starts_at=1e300)
    with pytest.raises(InvalidRequest, match="End must be at most 3600"):
        build_request(Operation.REPLACE, clip_id="c", starts_at=1.0, ends_at=1e300)
    with pytest.raises(InvalidRequest, match="Start must be at most 3600"):
        build_job_request(Operation.REPLACE, {"clip_id": "c", "starts_at": 1e300}, dialect="sonic")
