"""Properties: whatever JSON a provider answers, parsing ends in a TaskStatus or a ProviderError, never a crash."""

from __future__ import annotations

import string
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from bot.domain.errors import ErrorKind, ProviderError
from bot.domain.models import TaskState, TaskStatus
from bot.providers import fuzz, producer
from bot.providers.http import error_for_status, message_from_body, parse_retry_after, redact

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=20,
)
words = st.sampled_from(
    [
        "type",
        "status",
        "data",
        "state",
        "audio_url",
        "wav_url",
        "clip_id",
        "duration",
        "code",
        "error",
        "message",
        "reason",
        "is_flagged",
        "task_id",
        "id",
        "results",
        "lyrics",
        "text",
    ]
)
values = st.sampled_from(
    [
        "not_ready",
        "failed",
        "timeout",
        "forbidden",
        "api_error",
        "PENDING",
        "RUNNING",
        "SUCCESS",
        "FAILED",
        "pending",
        "processing",
        "queued",
        "completed",
        "streaming",
        "succeeded",
        "moderation",
        "https://cdn.example.com/a.m4a",
        "104.88",
        500,
        200,
        None,
        True,
        {},
        [],
    ]
)
# Answers built from the providers' own vocabulary reach far more branches than random keys would.
shaped = st.recursive(
    values,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(words, children, max_size=6),
    max_leaves=25,
)
answers = json_values | shaped


@given(http_status=st.sampled_from([200, 202]), body=answers)
def test_producer_poll_never_crashes(http_status: int, body: Any) -> None:
    try:
        status = producer.parse_task("t-1", http_status, body)
    except ProviderError as error:
        assert error.kind is ErrorKind.UNAVAILABLE
        return
    assert isinstance(status, TaskStatus) and status.task_id == "t-1"
    assert (status.failure is not None) == (status.state is TaskState.FAILED)
    if status.state is TaskState.SUCCEEDED:
        assert status.clips and all(c.audio_url for c in status.clips)


@given(item=st.dictionaries(words, answers, max_size=6))
def test_fuzz_poll_item_never_crashes(item: dict[str, Any]) -> None:
    status = fuzz.parse_task(item)
    if status is None:
        return
    assert (status.failure is not None) == (status.state is TaskState.FAILED)
    if status.state is TaskState.SUCCEEDED:
        assert status.clips and all(c.audio_url for c in status.clips)


@given(body=answers)
def test_lyrics_parsing_never_crashes(body: Any) -> None:
    for draft in producer.parse_lyrics(body):
        assert draft.lyrics


@given(status=st.integers(min_value=400, max_value=599), body=answers, raw=st.text(max_size=400))
def test_every_error_status_maps_and_only_429_and_5xx_retry(status: int, body: Any, raw: str) -> None:
    message = message_from_body(body, raw)
    error = error_for_status(status, message)
    if error.retryable:
        assert status == 429 or status >= 500
    else:
        assert status < 500 or error.kind is ErrorKind.TIMEOUT
    assert len(str(error)) <= 300


keys = st.text(alphabet=string.ascii_letters + string.digits + "-_.", min_size=8, max_size=40)


@given(key=keys, before=st.text(max_size=50), after=st.text(max_size=50), times=st.integers(1, 3))
def test_redact_leaves_no_trace_of_a_key(key: str, before: str, after: str, times: int) -> None:
    text = before + (key + after) * times
    assert key not in redact(text, [key])


@given(seconds=st.integers(min_value=0, max_value=10**6))
def test_retry_after_seconds(seconds: int) -> None:
    assert parse_retry_after(str(seconds), cap=10.0**6) == float(seconds)
    assert parse_retry_after(str(seconds)) == min(float(seconds), 60.0)  # the default cap


def test_retry_after_date_and_garbage() -> None:
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412480.0 - 10) == 10.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412480.0 + 10) == 0.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None
