"""The lyrics timeline: FUZZ's free ``lyrics_timestamped`` and Sonic's alignment become one model and a ``.lrc``
that media players read back (checked with the product's reader and with an independent one)."""

from __future__ import annotations

import re

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.domain.lyrics_timeline import AlignedWord, LyricsAlignment, parse_lrc, to_lrc
from bot.providers.fuzz import FuzzClient, lyrics_timeline
from bot.providers.parsing import alignment_from
from tests.clients import http_client
from tests.providers.conftest import FUZZ_KEY, FUZZ_URL, Wire, recorded

# FUZZ's documented word shape, for a clip with sung lyrics (line_index groups the words into lines).
FUZZ_WORDS = [
    {"end": 12.1, "text": "In", "start": 11.8, "line_index": 0, "index_range": None, "wav2vec2_format": None},
    {"end": 12.5, "text": "waves", "start": 12.1, "line_index": 0, "index_range": None, "wav2vec2_format": None},
    {"end": 12.9, "text": "of", "start": 12.5, "line_index": 0, "index_range": None, "wav2vec2_format": None},
    {"end": 14.0, "text": "starlit", "start": 12.9, "line_index": 0, "index_range": None, "wav2vec2_format": None},
    {"end": 15.2, "text": "magic", "start": 14.0, "line_index": 0, "index_range": None, "wav2vec2_format": None},
    {"end": 17.0, "text": "My", "start": 16.4, "line_index": 1, "index_range": None, "wav2vec2_format": None},
    {"end": 17.5, "text": "heart", "start": 17.0, "line_index": 1, "index_range": None, "wav2vec2_format": None},
    {"end": 18.9, "text": "turns", "start": 17.5, "line_index": 1, "index_range": None, "wav2vec2_format": None},
    {"end": 95.0, "text": "tragic", "start": 94.2, "line_index": 1, "index_range": None, "wav2vec2_format": None},
]
# An independent reading of the format: "[mm:ss.xx]text" lines.
LRC_LINE = re.compile(r"^\[(\d{2,}):([0-5]\d)\.(\d{2})\](.*)$")


def _independent_read(lrc: str) -> list[tuple[float, str]]:
    timed = []
    for line in lrc.splitlines():
        if match := LRC_LINE.match(line):
            minutes, seconds, centis, text = match.groups()
            timed.append((int(minutes) * 60 + int(seconds) + int(centis) / 100, text))
    return timed


def test_fuzz_words_make_lines() -> None:
    alignment = alignment_from(FUZZ_WORDS)
    assert [(line.start_s, line.text) for line in alignment.lines()] == [
        (11.8, "In waves of starlit magic"),
        (16.4, "My heart turns tragic"),
    ]
    lrc = to_lrc(alignment, title="Waves", artist="ana")
    assert lrc.splitlines() == [
        "[ti:Waves]",
        "[ar:ana]",
        "[re:Tunesmith]",
        "[00:11.80]In waves of starlit magic",
        "[00:16.40]My heart turns tragic",
    ]
    assert (
        parse_lrc(lrc)
        == _independent_read(lrc)
        == [(11.8, "In waves of starlit magic"), (16.4, "My heart turns tragic")]
    )


async def test_fuzz_clips_carry_their_timeline_with_no_extra_call() -> None:
    wire = Wire()
    body = recorded("fuzz/task_completed").json()
    body[0]["data"][0]["lyrics_timestamped"] = {"words": FUZZ_WORDS}
    wire.on("GET", "/api/v2/fuzz/task", httpx.Response(200, json=body))
    async with http_client(transport=httpx.MockTransport(wire.handler)) as http:
        [status] = await FuzzClient(http, base_url=FUZZ_URL, api_key=FUZZ_KEY).fetch([body[0]["task_id"]])
    sung, instrumental = status.clips
    assert sung.alignment is not None
    assert [line.text for line in sung.alignment.lines()] == ["In waves of starlit magic", "My heart turns tragic"]
    # The documented instrumental clip times only "[Instrumental]": no timeline.
    assert instrumental.alignment is None
    assert len(wire.requests) == 1


@pytest.mark.parametrize(
    "record",
    [
        {"lyrics_timestamped": None},
        {"lyrics_timestamped": {"words": "nope"}},
        {"lyrics_timestamped": {"words": [{"text": "[Instrumental]", "start": 0.64, "end": 87.04, "line_index": 0}]}},
        {"lyrics_timestamped": {"words": [{"text": "la", "start": "NaN", "end": 1, "line_index": 0}]}},
        {"lyrics_timestamped": {"words": [{"text": "la", "start": 5, "end": 1, "line_index": 0}]}},
        {},
    ],
)
def test_fuzz_clips_without_a_usable_timeline(record: dict[str, object]) -> None:
    assert lyrics_timeline(record) is None


def test_sonic_words_carry_line_breaks_and_markers_that_span_words() -> None:
    words = [
        {"word": "[Verse ", "start_s": 0, "end_s": 0},
        {"word": "1]\nHello ", "start_s": 5.0, "end_s": 5.5},
        {"word": "there\n\n", "start_s": 5.5, "end_s": 6.0},
        {"word": "[Chorus]\nOh ", "start_s": 20.0, "end_s": 20.4},
        {"word": "oh", "start_s": 20.4, "end_s": 21.0},
        {"word": 42, "start_s": 22.0, "end_s": 23.0},
    ]
    alignment = alignment_from(words)
    assert [(line.start_s, line.text) for line in alignment.lines()] == [(5.0, "Hello there"), (20.0, "Oh oh")]


def test_lrc_tags_and_times_are_safe() -> None:
    alignment = LyricsAlignment(words=(AlignedWord(word="late", start_s=3725.456, end_s=3726.0),))
    lrc = to_lrc(alignment, title="A [bad]\ntitle", length_s=float("nan"))
    assert lrc.splitlines() == ["[ti:A (bad) title]", "[re:Tunesmith]", "[62:05.46]late"]
    assert parse_lrc(lrc) == [(3725.46, "late")]


def test_parse_lrc_reads_what_other_tools_write() -> None:
    text = "[ar:someone]\n[00:01]one\n[00:02.5][00:04.25]two\n[00:03:10]three\nno time\n"
    assert parse_lrc(text) == [(1.0, "one"), (2.5, "two"), (3.1, "three"), (4.25, "two")]


words = st.lists(
    st.tuples(
        st.text(alphabet=st.characters(categories=("L", "N")), min_size=1, max_size=8),
        st.floats(min_value=0, max_value=3600, allow_nan=False, allow_infinity=False),
        st.integers(min_value=0, max_value=30),
    ),
    max_size=40,
)


@settings(deadline=None)  # a busy machine must not fail a test on time
@given(words)
def test_any_alignment_round_trips_through_lrc(items: list[tuple[str, float, int]]) -> None:
    alignment = LyricsAlignment(
        words=tuple(AlignedWord(word=w, start_s=s, end_s=s + 0.5, line=line) for w, s, line in items)
    )
    lrc = to_lrc(alignment, title="t")
    expected = [(round(line.start_s * 100) / 100, line.text) for line in alignment.lines()]
    assert [(round(t, 2), text) for t, text in _independent_read(lrc)] == expected
    assert [(round(t, 2), text) for t, text in parse_lrc(lrc)] == sorted(expected, key=lambda x: x[0])
