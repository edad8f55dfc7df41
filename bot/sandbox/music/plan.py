"""A song's plan: the musical decisions (style, tempo, key, form, chords, melody, lyrics) before any arranging.

A plan is small, immutable and fully determines the song: :func:`bot.sandbox.music.arrange.arrange` turns it into a
score, the synthesiser turns the score into sound. Derived operations (extend, cover, variation, ...) are
functions from a parent's plan to a new one (:mod:`bot.sandbox.music.derive`), which is what makes them sound
related to their parent.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.sandbox.music.score import BAR, TPB
from bot.sandbox.music.style import Style

TAIL_S = 1.6  # the last chord's ring-out after the music ends
MAX_SONG_S = 180.0  # 180 s of 22.05 kHz mono WAV is 7.9 MB: still under Discord's default 10 MiB upload limit


@dataclass(frozen=True, slots=True)
class Tune:
    """One melody note, in ticks from its section's start."""

    start: int
    end: int
    pitch: int
    velocity: int
    syllable: str = ""  # sung text on this note ('' for an instrumental lead)
    line: int = -1  # index into the section's lines
    words: tuple[int, ...] = ()  # the line's words this note carries (merged syllables may span two words)


@dataclass(frozen=True, slots=True)
class Section:
    kind: str  # intro, verse, chorus, bridge, outro
    label: str  # "Verse 2"
    bars: int
    chords: tuple[tuple[int, int], ...]  # (scale degree, length in ticks), in order, filling the section
    melody: tuple[Tune, ...]
    lines: tuple[tuple[str, ...], ...]  # the lyric lines sung here, as words
    energy: float  # 0..1: how full the arrangement is
    seed: int  # groove and voicing dice for this section; copied with it, so a copy plays the same

    @property
    def ticks(self) -> int:
        return self.bars * BAR


@dataclass(frozen=True, slots=True)
class Patch:
    """Replace-section: between ``start`` and ``end`` (ticks) the notes come from ``plan`` instead."""

    start: int
    end: int
    plan: Plan


@dataclass(frozen=True, slots=True)
class Plan:
    style: Style
    bpm: int
    tonic: int  # pitch class of the key
    mode: str
    voice: str  # "female" / "male" when sung; "" for an instrumental
    sections: tuple[Section, ...]
    seed: int
    patches: tuple[Patch, ...] = ()
    remaster: int = 0  # remaster generation: a different master and humanisation, same music
    # An extension that holds only its new part (Sonic) remembers what it continues, so concat can join them.
    head: Plan | None = None
    cut: int = 0  # ticks of ``head`` kept before this plan's sections

    @property
    def vocal(self) -> bool:
        return bool(self.voice)

    @property
    def ticks(self) -> int:
        return sum(s.ticks for s in self.sections)

    def seconds(self, ticks: float) -> float:
        return ticks * 60.0 / (self.bpm * TPB)

    def tick_at(self, seconds: float) -> int:
        return round(seconds * self.bpm * TPB / 60.0)

    @property
    def duration_s(self) -> float:
        """The natural length of the song: its music plus the ring-out of its last chord."""
        return round(min(MAX_SONG_S, self.seconds(self.ticks) + TAIL_S), 3)

    def section_starts(self) -> list[int]:
        starts, at = [], 0
        for section in self.sections:
            starts.append(at)
            at += section.ticks
        return starts
