"""Arranging: a plan becomes a score, with the style's grooves for drums, bass and keys around the melody.

Patterns are written as 16-step strings per bar (readable, easy to tune by ear): for drums a velocity letter per
step ('X' accent, 'x' normal, 'o' soft, 'g' ghost, '.' rest); for bass and keys a role letter, '-' to hold.
Swing and a little humanisation are applied here, in ticks, so the MIDI file holds exactly what is heard.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace

from bot.sandbox.music import theory
from bot.sandbox.music.plan import Plan, Section, Tune
from bot.sandbox.music.score import (
    BAR,
    CLAP,
    CRASH,
    HAT,
    KICK,
    OPEN_HAT,
    PEDAL_HAT,
    RIDE,
    RIM,
    SHAKER,
    SNARE,
    TPB,
    Note,
    Part,
    Score,
    Span,
    SungLine,
    SungWord,
)

STEP = TPB // 4  # a sixteenth
_VELOCITY = {"X": 118, "x": 98, "o": 72, "g": 42}
_DRUM_LINES = {
    "kick": KICK, "snare": SNARE, "rim": RIM, "clap": CLAP, "hat": HAT, "open": OPEN_HAT,
    "pedal": PEDAL_HAT, "ride": RIDE, "shaker": SHAKER,
}  # fmt: skip

# Drum grooves: family -> feel -> line -> 16 steps. "alt" plays on every other bar.
_GROOVES: dict[str, dict[str, dict[str, str]]] = {
    "pop": {
        "main": {"kick": "x.....x.x.......", "snare": "....x.......x...", "hat": "x.x.x.x.x.x.x.x."},
        "alt": {"kick": "x.....x...x.x...", "snare": "....x.......x...", "hat": "x.x.x.x.x.x.x.o."},
        "chorus": {"kick": "x.....x.x.x.....", "snare": "....x.......x...", "hat": "x.xox.xox.xox.xo"},
        "intro": {"hat": "x.x.x.x.x.x.x.x."},
    },
    "lofi": {
        "main": {"kick": "x......x..x.....", "snare": "....x.......x...", "hat": "x.o.x.o.x.o.x.oo"},
        "alt": {"kick": "x.........x..x..", "snare": "....x.......x..g", "hat": "x.o.x.o.x.o.x.o."},
        "chorus": {"kick": "x......x..x.....", "snare": "....x.......x...", "hat": "x.oox.o.x.oox.o."},
        "intro": {"hat": "o...o...o...o..."},
    },
    "hiphop": {
        "main": {"kick": "x.....x...x.....", "snare": "....X.......X...", "hat": "x.x.x.x.x.x.x.x."},
        "alt": {"kick": "x.x...x.....x...", "snare": "....X.......X...", "hat": "x.x.x.x.x.x.x.xx"},
        "chorus": {"kick": "x.....x...x..x..", "snare": "....X.......X...", "hat": "x.xxx.x.x.xxx.x."},
        "intro": {"hat": "x.x.x.x.x.x.x.x."},
    },
    "dnb": {
        "main": {"kick": "x.........x.....", "snare": "....X..g.g..X...", "hat": "x.x.x.x.x.x.x.x."},
        "alt": {"kick": "x.x.......x.....", "snare": "....X..g....X.g.", "hat": "x.x.x.xxx.x.x.x."},
        "chorus": {"kick": "x.x.......xx....", "snare": "....X..g.g..X..g", "hat": "xxoxxxoxxxoxxxox"},
        "intro": {"hat": "x.x.x.x.x.x.x.x.", "shaker": "oooooooooooooooo"},
    },
    "house": {
        "main": {"kick": "x...x...x...x...", "clap": "....x.......x...", "hat": "..x...x...x...x."},
        "alt": {"kick": "x...x...x...x...", "clap": "....x.......x...", "hat": "..x...x...x...xx"},
        "chorus": {
            "kick": "x...x...x...x...",
            "clap": "....x.......x...",
            "open": "..x...x...x...x.",
            "hat": "xx.xxx.xxx.xxx.x",
        },
        "intro": {"kick": "x...x...x...x...", "hat": "..o...o...o...o."},
    },
    "rock": {
        "main": {"kick": "x.......x.x.....", "snare": "....x.......x...", "hat": "x.x.x.x.x.x.x.x."},
        "alt": {"kick": "x.x.....x.x.....", "snare": "....x.......x...", "hat": "x.x.x.x.x.x.x.x."},
        "chorus": {"kick": "x.x.....x.x..x..", "snare": "....X.......X...", "ride": "x.x.x.x.x.x.x.x."},
        "intro": {"kick": "x.......x.......", "hat": "x.x.x.x.x.x.x.x."},
    },
    "jazz": {
        "main": {"ride": "x...x.x.x...x.x.", "pedal": "....x.......x...", "kick": "g.......g......."},
        "alt": {"ride": "x...x.x.x...x.x.", "pedal": "....x.......x...", "snare": "......g.......g."},
        "chorus": {"ride": "X...x.x.X...x.x.", "pedal": "....x.......x...", "snare": "......g...g...g."},
        "intro": {"ride": "o...o.o.o...o.o."},
    },
    "ballad": {
        "main": {"kick": "x.......x.......", "rim": "....o.......o...", "hat": "o...o...o...o..."},
        "alt": {"kick": "x.......x.......", "rim": "....o.......o...", "hat": "o...o...o...o..."},
        "chorus": {"kick": "x.......x.x.....", "snare": "....x.......x...", "hat": "x.o.x.o.x.o.x.o."},
        "intro": {},
    },
    "folk": {
        "main": {"kick": "x.......x.......", "snare": "....o.......o...", "shaker": "o.o.o.o.o.o.o.o."},
        "alt": {"kick": "x.......x.......", "snare": "....o.......o...", "shaker": "o.o.o.o.o.o.o.oo"},
        "chorus": {"kick": "x.....x.x.......", "snare": "....x.......x...", "shaker": "xoxoxoxoxoxoxoxo"},
        "intro": {"shaker": "o.o.o.o.o.o.o.o."},
    },
}
# The last bar before a chorus (or a new section) ends with a fill on the snare: steps from the bar's end.
_FILLS = {
    "house": "xxxxxxxxxxxxxxxx",
    "dnb": "....x.xxx.xx.xxx",
    "jazz": "..........g.g.gx",
    "rock": "........x.x.xxxx",
}
_DEFAULT_FILL = "............x.xx"

# Bass lines per bar: 'r' root, '5' fifth, 'o' octave, 'w' a walking chord tone, 'a' the approach to the next
# chord, '-' hold, '.' rest; "hold" sustains the root through the whole chord.
_BASS = {
    "pop": "r-----r-r-----o-",
    "lofi": "r-------..5-....",
    "hiphop": "r-----..r-..5-..",
    "dnb": "r-----------..r-",
    "house": "..r-..r-..r-..o-",
    "rock": "r-r-r-r-r-r-r-r-",
    "walking": "r---w---w---a---",
    "ballad": "r-------5-------",
    "pedal": "hold",
    "folk": "r-------5-------",
}
# Keys: 'x' the chord, 'd'/'u' a strum down/up, 'a' the next note of a broken chord; "hold" sustains.
_COMP = {
    "pop": ("x-----x-----x---",),
    "lofi": ("x-----------..x-",),
    "long": ("x-----------..x-", "x---------x-----"),
    "arpeggio": ("a-a-a-a-a-a-a-a-",),
    "jazz": ("x-....x-........", "..x-....x-......", "x-.....x-.......", "...x-.....x-...."),
    "stabs": ("..x...x...x...x.", "..x...x...x..x.."),
    "power": ("x-x-x-x-x-x-x-x-",),
    "hold": ("hold",),
    "strum": ("d...d.u...u.d.u.",),
}
PROGRAMS = {
    "piano": 0, "lead_piano": 0, "bass_piano": 0, "epiano": 4, "organ": 16, "guitar_acoustic": 25, "guitar": 29,
    "bass_upright": 32, "bass_picked": 34, "bass_sub": 38, "bass_reese": 39, "strings": 48, "pad": 89,
    "stab": 81, "lead_square": 80, "lead_saw": 81, "lead_flute": 73, "lead_bell": 14, "lead_vibes": 11,
    "vocal_female": 54, "vocal_male": 54,
}  # fmt: skip
_GAIN = {"drums": 0.0, "bass": -2.0, "keys": -5.0, "pad": -10.0, "lead": -4.0, "vocal": -1.0}
_REVERB = {"drums": 0.06, "bass": 0.0, "keys": 0.22, "pad": 0.35, "lead": 0.28, "vocal": 0.3}
KEYS_RANGE = (52, 79)
PAD_RANGE = (48, 72)
BASS_LOW = 36  # the lowest root the bass plays (C2): higher would crowd the keys, lower vanishes on laptops


@dataclass(slots=True)
class _Chord:
    start: int
    end: int
    degree: int
    classes: tuple[int, ...]  # pitch classes, root first
    section: int


class _Builder:
    """Collects notes per part while walking the plan's sections."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.style = plan.style
        self.notes: dict[str, list[Note]] = {name: [] for name in ("drums", "bass", "keys", "pad", "lead", "vocal")}
        self.voicing: list[int] = []
        self.pad_voicing: list[int] = []
        self.sung: list[tuple[int, Tune, Note]] = []  # (section index, melody note, vocal note as played)

    # --- timing -----------------------------------------------------------------------------------------------
    def swing(self, tick: int) -> int:
        unit = TPB // 2 if self.style.swing_step == 8 else TPB // 4
        if tick % (2 * unit) == unit:
            return tick + round((self.style.swing - 0.5) * 2 * unit)
        return tick

    def add(self, part: str, start: int, end: int, pitch: int, velocity: float, lyric: str = "") -> Note:
        begin, finish = self.swing(start), self.swing(end)
        if finish <= begin:
            finish = begin + STEP // 2
        note = Note(begin, finish, pitch, max(1, min(127, round(velocity))), lyric)
        self.notes[part].append(note)
        return note

    def scale_velocity(self, velocity: float, energy: float) -> float:
        return velocity * (0.62 + 0.38 * energy) * (1.0 - 0.3 * self.style.softness)

    # --- sections ---------------------------------------------------------------------------------------------
    def section(self, index: int, section: Section, offset: int, chords: list[_Chord], last: bool) -> None:
        next_kind = self.plan.sections[index + 1].kind if index + 1 < len(self.plan.sections) else ""
        # Each section voices its chords afresh, so a section plays the same notes wherever it is placed (a
        # continuation rendered alone and the same part joined to its parent by concat).
        self.voicing, self.pad_voicing = [], []

        def dice(part: str) -> random.Random:
            # One stream per part, so a drum fill added before a new section leaves the other parts' dice alone.
            return random.Random(f"{section.seed}:{part}:{self.plan.remaster}")

        self.drums(section, offset, dice("drums"), next_kind, last)
        self.bass(section, chords, dice("bass"), last)
        self.keys(section, chords, dice("keys"), last)
        if self.style.pad_patch and (section.energy >= 0.9 or self.style.name == "ambient"):
            self.pad(chords)
        self.melody(index, section, offset, dice("melody"))

    def drums(self, section: Section, offset: int, rng: random.Random, next_kind: str, last: bool) -> None:
        family = _GROOVES.get(self.style.drums)
        if family is None:
            return
        bars = section.bars
        play_bars = bars
        if section.kind == "outro":
            play_bars = bars // 2 if bars > 1 else 0
        for bar in range(play_bars):
            steps = 0
            if section.kind == "intro":
                feel = "intro"
            elif section.kind == "chorus":
                feel = "chorus"
            else:
                feel = "alt" if bar % 2 else "main"
            groove = dict(family[feel])
            fill_bar = (
                bar == bars - 1
                and section.kind in ("verse", "intro", "chorus", "bridge")
                and next_kind in ("chorus", "verse", "bridge")
            )
            if fill_bar and section.energy >= 0.45:
                fill = _FILLS.get(self.style.drums, _DEFAULT_FILL)
                steps = 16 if self.style.drums == "house" and next_kind == "chorus" else 8
                groove["snare"] = groove.get("snare", "." * 16)[: 16 - steps] + fill[16 - steps :]
                if steps == 16:
                    groove.pop("clap", None)
            start = offset + bar * BAR
            for line, pattern in groove.items():
                key = _DRUM_LINES[line]
                for step, char in enumerate(pattern):
                    if char == ".":
                        continue
                    velocity: float = _VELOCITY[char]
                    if fill_bar and line == "snare" and self.style.drums == "house" and steps == 16:
                        velocity = 40 + 5 * step  # the build-up grows
                    jitter = 0 if step == 0 else rng.randint(-5, 5)
                    tick = start + step * STEP
                    length = STEP if key != OPEN_HAT else 2 * STEP
                    velocity = self.scale_velocity(velocity + rng.randint(-6, 6), section.energy)
                    self.add_drum(tick, length, key, velocity, jitter)
            crash = section.kind == "chorus" or (
                section.kind == "verse" and self.style.drums not in ("jazz", "ballad", "folk")
            )
            if bar == 0 and crash and section.energy >= 0.7:
                self.add_drum(start, 4 * TPB, CRASH, self.scale_velocity(96, section.energy), 0)
        if section.kind == "outro":
            # One last hit with the final chord.
            final = offset + sum(length for _, length in section.chords[:-1])
            self.add_drum(final, BAR, KICK, self.scale_velocity(100, 0.6), 0)
            self.add_drum(final, BAR, CRASH if self.style.drums != "jazz" else RIDE, self.scale_velocity(90, 0.6), 0)

    def add_drum(self, tick: int, length: int, key: int, velocity: float, jitter: int) -> None:
        start = self.swing(tick) + jitter
        self.notes["drums"].append(Note(max(0, start), max(0, start) + length, key, max(1, min(127, round(velocity)))))

    def bass(self, section: Section, chords: list[_Chord], rng: random.Random, last: bool) -> None:
        pattern = _BASS.get(self.style.bass, "r-------r-------")
        energy = section.energy
        for i, chord in enumerate(chords):
            root = _place(chord.classes[0], BASS_LOW)
            following = chords[i + 1] if i + 1 < len(chords) else None
            next_root = _place(following.classes[0], BASS_LOW) if following else root
            final = (last and i == len(chords) - 1) or section.kind == "outro"
            intro = section.kind == "intro"
            if intro and i == 0 and self.style.bass not in ("pedal", "house"):
                continue  # the intro's first chord belongs to the keys alone
            if pattern == "hold" or final or (intro and self.style.bass != "house"):
                self.add("bass", chord.start, chord.end - STEP, root, self.scale_velocity(92, energy))
                continue
            line = _BassLine(root, next_root, [_place(c, BASS_LOW) for c in chord.classes[:3]], rng)
            self.pattern_notes("bass", pattern, chord, line.pitch, 92, energy, detached=True)

    def pattern_notes(
        self,
        part: str,
        pattern: str,
        chord: _Chord,
        pitch_for: Callable[[str, int], int],
        velocity: float,
        energy: float,
        *,
        detached: bool = False,
    ) -> None:
        """Notes of a per-bar pattern laid over a chord's span (repeated for long chords, cut at its end)."""
        length = chord.end - chord.start
        steps = length // STEP
        hits: list[tuple[int, int, str]] = []
        for step in range(steps):
            char = pattern[step % len(pattern)]
            if char in ".-":
                if char == "-" and hits and hits[-1][0] + hits[-1][1] == step:
                    hits[-1] = (hits[-1][0], hits[-1][1] + 1, hits[-1][2])
                continue
            hits.append((step, 1, char))
        for step, span, char in hits:
            start = chord.start + step * STEP
            end = start + span * STEP - (STEP // 3 if detached else 0)
            pitch = pitch_for(char, start)
            self.add(part, start, min(end, chord.end), pitch, self.scale_velocity(velocity, energy))

    def keys(self, section: Section, chords: list[_Chord], rng: random.Random, last: bool) -> None:
        style = self.style
        patterns = _COMP.get(style.comp, ("x-------x-------",))
        energy = section.energy
        for i, chord in enumerate(chords):
            final = section.kind == "outro" or (last and i == len(chords) - 1)
            pattern = rng.choice(patterns)
            if style.comp == "power":
                voicing = self.power_voicing(chord)
                if section.kind == "chorus":
                    pattern = "x-------x-------"
            else:
                voicing = self.voice(chord)
            if section.kind in ("intro", "outro") and style.comp not in ("arpeggio", "strum"):
                pattern = "hold"
            if final and style.comp not in ("arpeggio",):
                pattern = "hold"
            velocity = 84.0
            if pattern == "hold":
                for pitch in voicing:
                    self.add("keys", chord.start, chord.end, pitch, self.scale_velocity(velocity, energy))
                continue
            if "a" in pattern:
                self.arpeggio(chord, pattern, voicing, energy)
                continue
            if "d" in pattern:
                self.strum(chord, pattern, voicing, energy)
                continue
            self.pattern_chords(chord, pattern, voicing, velocity, energy, short=style.comp in ("stabs", "power"))

    def pattern_chords(
        self, chord: _Chord, pattern: str, voicing: list[int], velocity: float, energy: float, *, short: bool
    ) -> None:
        length = chord.end - chord.start
        step = 0
        steps = length // STEP
        while step < steps:
            char = pattern[step % len(pattern)]
            if char != "x":
                step += 1
                continue
            span = 1
            while step + span < steps and pattern[(step + span) % len(pattern)] == "-":
                span += 1
            start = chord.start + step * STEP
            end = start + span * STEP - (STEP // 4 if short else 0)
            if short:
                end = min(end, start + STEP + STEP // 2)
            for pitch in voicing:
                self.add("keys", start, min(end, chord.end), pitch, self.scale_velocity(velocity, energy))
            step += span

    def arpeggio(self, chord: _Chord, pattern: str, voicing: list[int], energy: float) -> None:
        low = _place(chord.classes[0], 43)
        order = [low, *voicing, voicing[0] + 12]
        walk = order + order[-2:0:-1]
        length = chord.end - chord.start
        index = 0
        for step in range(length // STEP):
            if pattern[step % len(pattern)] != "a":
                continue
            start = chord.start + step * STEP
            # Each note rings on, as a pianist's sustain pedal lets it, until the chord changes.
            velocity = 78 if index % len(walk) == 0 else 64
            self.add("keys", start, chord.end, walk[index % len(walk)], self.scale_velocity(velocity, energy))
            index += 1

    def strum(self, chord: _Chord, pattern: str, voicing: list[int], energy: float) -> None:
        strings = [_place(chord.classes[0], 40), *voicing]
        length = chord.end - chord.start
        hits = [s for s in range(length // STEP) if pattern[s % len(pattern)] in "du"]
        for n, step in enumerate(hits):
            char = pattern[step % len(pattern)]
            start = chord.start + step * STEP
            end = chord.start + hits[n + 1] * STEP if n + 1 < len(hits) else chord.end
            order = strings if char == "d" else strings[::-1][:3]
            velocity = 86 if char == "d" else 66
            for k, pitch in enumerate(order):
                # A strum is a quick sweep across the strings: each a few ticks after the one before.
                self.add("keys", start + 10 * k, end, pitch, self.scale_velocity(velocity - 3 * k, energy))

    def voice(self, chord: _Chord) -> list[int]:
        self.voicing = _voice_lead(chord.classes, self.voicing, *KEYS_RANGE)
        return self.voicing

    def power_voicing(self, chord: _Chord) -> list[int]:
        root = _place(chord.classes[0], 40)
        return [root, root + 7, root + 12]

    def pad(self, chords: list[_Chord]) -> None:
        for chord in chords:
            self.pad_voicing = _voice_lead(chord.classes[:4], self.pad_voicing, *PAD_RANGE)
            for pitch in self.pad_voicing:
                self.add("pad", chord.start, chord.end, pitch, 70)

    def melody(self, index: int, section: Section, offset: int, rng: random.Random) -> None:
        part = "vocal" if self.plan.vocal else "lead"
        for tune in section.melody:
            velocity = tune.velocity * (0.75 + 0.25 * section.energy) + rng.randint(-3, 3)
            lyric = tune.syllable if part == "vocal" else ""
            note = self.add(part, offset + tune.start, offset + tune.end, tune.pitch, velocity, lyric)
            if lyric:
                self.sung.append((index, tune, note))


def _place(pitch_class: int, low: int) -> int:
    """The pitch of ``pitch_class`` at or just above ``low``."""
    return low + (pitch_class - low) % 12


def _voice_lead(classes: Iterable[int], previous: list[int], low: int, high: int) -> list[int]:
    """A close voicing of the chord that moves least from the previous one (or sits mid-range at the start)."""
    tones = list(classes)
    centre = (low + high) / 2 - 4
    best: tuple[float, list[int]] | None = None
    for rotation in range(len(tones)):
        order = tones[rotation:] + tones[:rotation]
        for base in range(low, low + 12):
            if base % 12 != order[0]:
                continue
            pitches = [base]
            for pc in order[1:]:
                nxt = pitches[-1] + 1
                pitches.append(nxt + (pc - nxt) % 12)
            if pitches[-1] > high:
                continue
            cost: float
            if previous:
                cost = sum(abs(a - b) for a, b in zip(sorted(pitches), sorted(previous), strict=False))
                cost += 3 * abs(len(pitches) - len(previous))
            else:
                cost = abs(sum(pitches) / len(pitches) - centre)
            if best is None or cost < best[0]:
                best = (cost, pitches)
    if best is None:
        root = _place(tones[0], low)
        return [root + (pc - tones[0]) % 12 for pc in tones]
    return best[1]


def _chords_of(plan: Plan, section: Section, offset: int, index: int) -> list[_Chord]:
    size = plan.style.extensions
    chords, at = [], offset
    for degree, length in section.chords:
        classes = theory.chord_classes(plan.tonic, plan.mode, degree, size)
        chords.append(_Chord(at, at + length, degree, classes, index))
        at += length
    return chords


def _lyrics(sections: tuple[Section, ...], sung: list[tuple[int, Tune, Note]]) -> tuple[SungLine, ...]:
    """When each sung line and word starts and ends, read from the vocal notes as played (swing included)."""
    spans: dict[tuple[int, int], dict[int, list[int]]] = {}
    for index, tune, note in sung:
        share = (note.end - note.start) / max(1, len(tune.words))
        for k, word in enumerate(tune.words):
            span = spans.setdefault((index, tune.line), {}).setdefault(word, [])
            span += [round(note.start + k * share), round(note.start + (k + 1) * share)]
    lines: list[SungLine] = []
    for (index, line_index), by_word in sorted(spans.items()):
        line_words = sections[index].lines[line_index] if 0 <= line_index < len(sections[index].lines) else ()
        sung_words = tuple(
            SungWord(line_words[w], min(by_word[w]), max(by_word[w])) for w in sorted(by_word) if w < len(line_words)
        )
        if sung_words:
            lines.append(SungLine(" ".join(line_words), sung_words))
    return tuple(sorted(lines, key=lambda line: line.start))


def _parts(plan: Plan, notes: dict[str, list[Note]]) -> tuple[Part, ...]:
    style = plan.style
    patches = {
        "drums": style.kit,
        "bass": style.bass_patch,
        "keys": style.keys_patch,
        "pad": style.pad_patch,
        "lead": style.lead_patch,
        "vocal": f"vocal_{plan.voice or 'female'}",
    }
    parts = []
    for name in ("drums", "bass", "keys", "pad", "lead", "vocal"):
        found = notes.get(name)
        if not found:
            continue
        gain = _GAIN[name] + (style.drum_gain if name == "drums" else 0.0)
        if name == "keys" and style.name == "ballad":
            gain += 3.0  # the piano is the ballad's main voice
        ordered = tuple(sorted(found, key=lambda n: (n.start, n.pitch, n.end)))
        parts.append(
            Part(name, patches[name], PROGRAMS.get(patches[name], 0), gain, _REVERB[name] * style.reverb, ordered)
        )
    return tuple(parts)


@dataclass(slots=True)
class _BassLine:
    """The bass's note for each pattern letter over one chord."""

    root: int
    next_root: int
    tones: list[int]
    rng: random.Random

    def pitch(self, char: str, at: int) -> int:
        if char == "5":
            return self.root + 7
        if char == "o":
            return self.root + 12
        if char == "w":  # walking: a chord tone or the octave
            return self.rng.choice([*self.tones[1:], self.root + 12])
        if char == "a":  # the approach: a step off the next chord's root
            return self.next_root + self.rng.choice((-1, 1, -2))
        return self.root


def _choke(notes: list[Note]) -> list[Note]:
    """An open hat stops when the next hat is struck, as a drummer's foot closes it."""
    hats = sorted((n for n in notes if n.pitch in (HAT, OPEN_HAT, PEDAL_HAT)), key=lambda n: n.start)
    cut: dict[int, int] = {}
    for a, b in itertools.pairwise(hats):
        if a.pitch == OPEN_HAT and b.start < a.end:
            cut[id(a)] = max(a.start + STEP // 2, b.start)
    return [replace(n, end=cut[id(n)]) if id(n) in cut else n for n in notes]


def arrange(plan: Plan, *, length_s: float | None = None) -> Score:
    """The full score of a plan; ``length_s`` forces the audio length (cut and faded, or padded with silence)."""
    score = _arrange_plain(plan)
    for patch in plan.patches:
        score = splice(score, _arrange_plain(patch.plan), patch.start, patch.end)
    if length_s is not None:
        score = trim(score, length_s)
    return score


def _arrange_plain(plan: Plan) -> Score:
    builder = _Builder(plan)
    offset = 0
    section_spans, chord_spans = [], []
    for index, section in enumerate(plan.sections):
        chords = _chords_of(plan, section, offset, index)
        builder.section(index, section, offset, chords, last=index == len(plan.sections) - 1)
        section_spans.append(Span(section.label, offset, offset + section.ticks, section.kind))
        for chord in chords:
            name = theory.chord_name(plan.tonic, plan.mode, chord.degree, min(plan.style.extensions, 4))
            chord_spans.append(Span(name, chord.start, chord.end))
        offset += section.ticks
    builder.notes["drums"] = _choke(builder.notes["drums"])
    lyrics = _lyrics(plan.sections, builder.sung)
    duration = plan.duration_s
    return Score(
        style=plan.style.name,
        bpm=float(plan.bpm),
        tonic=plan.tonic,
        mode=plan.mode,
        key=theory.key_name(plan.tonic, plan.mode),
        sections=tuple(section_spans),
        chords=tuple(chord_spans),
        parts=_parts(plan, builder.notes),
        lyrics=lyrics,
        end=offset,
        duration_s=duration,
    )


def splice(base: Score, insert: Score, start: int, end: int) -> Score:
    """``base`` with every note, chord and sung line starting in [start, end) taken from ``insert`` instead."""

    def inside(tick: int) -> bool:
        return start <= tick < end

    parts: list[Part] = []
    names = list(dict.fromkeys([*base.voices, *insert.voices]))
    for name in names:
        old, new = base.part(name), insert.part(name)
        kept = [n for n in old.notes if not inside(n.start)] if old else []
        added = [n for n in new.notes if inside(n.start)] if new else []
        template = old or new
        if template is None or not (kept or added):
            continue
        notes = tuple(sorted(kept + added, key=lambda n: (n.start, n.pitch, n.end)))
        parts.append(replace(template, notes=notes))
    chords = [c for c in base.chords if not inside(c.start)] + [c for c in insert.chords if inside(c.start)]
    lyrics = [line for line in base.lyrics if not inside(line.start)]
    lyrics += [line for line in insert.lyrics if inside(line.start)]
    return replace(
        base,
        parts=tuple(parts),
        chords=tuple(sorted(chords, key=lambda c: c.start)),
        lyrics=tuple(sorted(lyrics, key=lambda line: line.start)),
    )


def trim(score: Score, length_s: float) -> Score:
    """The score heard in the first ``length_s`` seconds (notes cut at the end; the master fades the cut)."""
    limit = score.tick_at(length_s)
    parts = []
    for part in score.parts:
        notes = tuple(replace(n, end=min(n.end, limit)) for n in part.notes if n.start < limit)
        if notes:
            parts.append(replace(part, notes=notes))
    return replace(
        score,
        parts=tuple(parts),
        sections=tuple(replace(s, end=min(s.end, limit)) for s in score.sections if s.start < limit),
        chords=tuple(replace(c, end=min(c.end, limit)) for c in score.chords if c.start < limit),
        lyrics=tuple(line for line in score.lyrics if line.end <= limit),
        end=min(score.end, limit),
        duration_s=float(length_s),
        faded=length_s < score.duration_s,
    )
