"""Timed lyrics: sung words with their times, grouped into lines, written as a standard ``.lrc`` file.

Sonic's aligned-lyrics tool and FUZZ's ``lyrics_timestamped`` both end up as a :class:`LyricsAlignment`; media
players (and the playground's karaoke) read the ``.lrc`` text :func:`to_lrc` makes from it. Kept free of the rest
of the domain so :class:`~bot.domain.models.Clip` can carry an alignment without an import cycle.
"""

from __future__ import annotations

import math
import re

from pydantic import BaseModel, ConfigDict, Field

# Section markers ("[Verse 1]", "[Chorus]", "[Instrumental]") are written in lyrics but never sung.
_MARKER = re.compile(r"\[[^\]\n]*\]")
_SPACES = re.compile(r"\s+")
# One or more time tags at the start of a line: [mm:ss], [mm:ss.xx] or [mm:ss:xx] (all three occur in the wild).
_TIME_TAG = re.compile(r"\[(\d+):(\d{1,2})(?:[.:](\d{1,3}))?\]")


class AlignedWord(BaseModel):
    """One sung word and when it is sung; ``line`` numbers the lyric line it belongs to (0-based)."""

    model_config = ConfigDict(frozen=True, allow_inf_nan=False)

    word: str = Field(min_length=1)
    start_s: float = Field(ge=0.0)
    end_s: float = Field(ge=0.0)
    line: int = Field(default=0, ge=0)


class LyricLine(BaseModel):
    """A line of lyrics with the time its first word starts and its last word ends."""

    model_config = ConfigDict(frozen=True, allow_inf_nan=False)

    start_s: float
    end_s: float
    text: str


class LyricsAlignment(BaseModel):
    """Every sung word of a track with its time: the lyrics timeline."""

    model_config = ConfigDict(frozen=True, allow_inf_nan=False)

    words: tuple[AlignedWord, ...] = ()

    @property
    def empty(self) -> bool:
        return not self.words

    def lines(self) -> tuple[LyricLine, ...]:
        """The words grouped by line, in the order they are sung."""
        grouped: dict[int, list[AlignedWord]] = {}
        for word in self.words:
            grouped.setdefault(word.line, []).append(word)
        lines: list[LyricLine] = []
        for words in grouped.values():
            words.sort(key=lambda w: w.start_s)
            text = " ".join(w.word for w in words)
            lines.append(LyricLine(start_s=words[0].start_s, end_s=max(w.end_s for w in words), text=text))
        lines.sort(key=lambda line: line.start_s)
        return tuple(lines)


def sung_text(text: str) -> str:
    """``text`` without section markers and with its whitespace collapsed ('' when nothing is sung)."""
    return _SPACES.sub(" ", _MARKER.sub(" ", text)).strip()


def _stamp(seconds: float) -> str:
    centis = round(max(0.0, seconds) * 100)
    minutes, centis = divmod(centis, 6000)
    return f"{minutes:02d}:{centis // 100:02d}.{centis % 100:02d}"


def _tag_value(text: str) -> str:
    # A metadata tag ends at the first "]" and at the end of the line.
    return _SPACES.sub(" ", text.replace("]", ")").replace("[", "(")).strip()


def to_lrc(
    alignment: LyricsAlignment,
    *,
    title: str | None = None,
    artist: str | None = None,
    length_s: float | None = None,
) -> str:
    """The alignment as a standard ``.lrc`` text: optional ID tags, then one ``[mm:ss.xx]line`` per lyric line."""
    out: list[str] = []
    if title and _tag_value(title):
        out.append(f"[ti:{_tag_value(title)}]")
    if artist and _tag_value(artist):
        out.append(f"[ar:{_tag_value(artist)}]")
    if length_s is not None and math.isfinite(length_s) and length_s > 0:
        whole = int(length_s)
        out.append(f"[length:{whole // 60:02d}:{whole % 60:02d}]")
    out.append("[re:Tunesmith]")
    for line in alignment.lines():
        # A lyric line never spans lines of the file.
        out.append(f"[{_stamp(line.start_s)}]{_SPACES.sub(' ', line.text).strip()}")
    return "\n".join(out) + "\n"


def parse_lrc(text: str) -> list[tuple[float, str]]:
    """The timed lines of an ``.lrc`` text as ``(seconds, text)``, in time order; ID tags are skipped."""
    timed: list[tuple[float, str]] = []
    for raw in text.splitlines():
        line = raw.strip()
        stamps: list[float] = []
        while match := _TIME_TAG.match(line):
            minutes, seconds, fraction = match.groups()
            frac = int(fraction) / 10 ** len(fraction) if fraction else 0.0
            stamps.append(int(minutes) * 60 + int(seconds) + frac)
            line = line[match.end() :]
        timed.extend((stamp, line.strip()) for stamp in stamps)
    timed.sort(key=lambda item: item[0])
    return timed
