"""The symbolic score: what every voice plays, when, and what is sung when.

Times are MIDI ticks at :data:`TPB` ticks per beat and one tempo per song, so the MIDI file, the BPM, the stems and
the lyrics timeline all read the same numbers the synthesiser played.
"""

from __future__ import annotations

from dataclasses import dataclass

TPB = 480  # ticks per beat (a quarter note)
BEATS_PER_BAR = 4
BAR = TPB * BEATS_PER_BAR

# General MIDI drum keys the arranger writes and the drum kit plays.
KICK, RIM, SNARE, CLAP, HAT, PEDAL_HAT, OPEN_HAT, CRASH, RIDE, SHAKER = 36, 37, 38, 39, 42, 44, 46, 49, 51, 70
DRUM_NAMES = {
    KICK: "kick", RIM: "rim", SNARE: "snare", CLAP: "clap", HAT: "hat", PEDAL_HAT: "pedal hat",
    OPEN_HAT: "open hat", CRASH: "crash", RIDE: "ride", SHAKER: "shaker",
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Note:
    start: int  # ticks from the song's start
    end: int
    pitch: int  # MIDI note; a drum key on the drum part
    velocity: int  # 1..127
    lyric: str = ""  # the syllable(s) sung on this note (vocal part only)


@dataclass(frozen=True, slots=True)
class Part:
    """One voice of the song: rendered on its own, it is one stem."""

    name: str  # drums, bass, keys, pad, lead, vocal
    patch: str  # the synthesiser's instrument
    program: int  # General MIDI program for the .mid file (ignored for drums)
    gain_db: float
    reverb: float  # send level, 0..1
    notes: tuple[Note, ...]

    @property
    def is_drums(self) -> bool:
        return self.name == "drums"


@dataclass(frozen=True, slots=True)
class Span:
    """A named stretch of the song: a section ("Verse 2") or a chord ("Am7")."""

    name: str
    start: int
    end: int
    kind: str = ""  # sections: intro, verse, chorus, bridge, outro


@dataclass(frozen=True, slots=True)
class SungWord:
    text: str
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class SungLine:
    text: str
    words: tuple[SungWord, ...]

    @property
    def start(self) -> int:
        return self.words[0].start

    @property
    def end(self) -> int:
        return self.words[-1].end


@dataclass(frozen=True, slots=True)
class Score:
    style: str
    bpm: float
    tonic: int  # pitch class
    mode: str
    key: str  # "A minor"
    sections: tuple[Span, ...]
    chords: tuple[Span, ...]
    parts: tuple[Part, ...]
    lyrics: tuple[SungLine, ...]
    end: int  # tick where the music ends (notes may ring past it)
    duration_s: float  # the audio's length: the music, its last chord's tail, or a forced length
    faded: bool = False  # cut short of its natural end, so the master fades it out

    def seconds(self, tick: float) -> float:
        return tick * 60.0 / (self.bpm * TPB)

    def tick_at(self, seconds: float) -> int:
        return round(seconds * self.bpm * TPB / 60.0)

    def part(self, name: str) -> Part | None:
        return next((p for p in self.parts if p.name == name), None)

    @property
    def voices(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.parts)
