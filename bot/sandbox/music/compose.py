"""Composing: a prompt, lyrics and a seed become a plan (tempo, key, form, chords, melody, sung lines).

Every choice comes from one seeded random generator, so the same request always composes the same song, and the
prompt's words (through :func:`bot.sandbox.music.style.read`) bias the dice rather than replace them.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace

from bot.sandbox.music import theory, words
from bot.sandbox.music.plan import MAX_SONG_S, TAIL_S, Plan, Section, Tune
from bot.sandbox.music.score import BAR, TPB
from bot.sandbox.music.style import Reading, read

SONG_S = (20.0, 30.0)  # a new song's natural length
CHORD_S = 2.4  # the harmonic rhythm a form aims for, in seconds per chord
LINE_SLOTS = 16  # a melody line is 16 rhythmic slots: 2 bars of eighths, or 1 bar of sixteenths
BREATH_SLOTS = 2  # a sung line leaves its last slots for a breath
MAX_SUNG_NOTES = 13  # more syllables than this in a line are sung in groups, several to a note

# Progressions as scale degrees (0 = tonic), by harmony family and whether the mode is minor.
_PROGRESSIONS: dict[tuple[str, bool], tuple[tuple[int, ...], ...]] = {
    ("pop", False): ((0, 4, 5, 3), (0, 5, 3, 4), (5, 3, 0, 4), (0, 3, 5, 4), (3, 4, 0, 5), (0, 3, 0, 4)),
    ("pop", True): ((0, 5, 2, 6), (0, 3, 6, 2), (0, 6, 5, 6), (5, 6, 0, 0), (0, 3, 4, 0), (0, 5, 3, 4)),
    ("jazz", False): ((1, 4, 0, 0), (1, 4, 0, 5), (0, 5, 1, 4), (2, 5, 1, 4), (3, 2, 1, 0)),
    ("jazz", True): ((0, 3, 0, 3), (0, 3, 6, 2), (1, 4, 0, 0), (0, 5, 1, 4), (0, 6, 5, 3)),
    ("rock", False): ((0, 6, 3, 0), (0, 3, 4, 3), (0, 4, 5, 3), (0, 6, 3, 3)),
    ("rock", True): ((0, 5, 6, 0), (0, 2, 6, 3), (0, 6, 5, 6), (0, 3, 5, 4)),
    ("ambient", False): ((0, 3, 0, 3), (0, 5, 3, 0), (3, 0, 3, 4), (0, 2, 3, 0)),
    ("ambient", True): ((0, 5, 0, 5), (0, 3, 5, 2), (0, 6, 3, 0), (0, 5, 3, 6)),
}
_ENERGY = {"intro": 0.6, "verse": 0.75, "chorus": 1.0, "bridge": 0.65, "outro": 0.55}
# Melody registers (MIDI low, high): the singer's range, or the lead instrument's.
VOICE_RANGE = {"female": (57, 77), "male": (45, 65)}
LEAD_RANGE = {
    "lead_bell": (67, 88), "lead_flute": (64, 86), "lead_piano": (60, 82), "lead_square": (60, 82),
    "lead_saw": (60, 82), "lead_vibes": (60, 82),
}  # fmt: skip
# Rhythms for instrumental melody lines: 8 slots each, 'x' a note, '-' held, '.' a rest. A line is a call + an end.
_CALLS = {
    "flowing": ("x-x-x-x-", "x--x--x-", "x-x---x-", "x---x-x-", ".x-x-x-x", "x-xx-x--", "..x-x-x-", "x--x-x-x"),
    "sparse": ("x---x---", "x-----x-", "x--x----", "..x---x-", "x---x-x-", "x--x--x-"),
    "busy": ("x-xx-x-x", "xx-x-xx-", "x-x-xxx-", ".xx-x-x-", "x-xx-xx-", "xxx-x-x-"),
}
_ENDS = {
    "flowing": ("x-x-x---", "x--x----", "x-------", "x-x-----", "..x-x---", ".x-x----"),
    "sparse": ("x-------", "x---x---", "x--x----", "..x-----"),
    "busy": ("x-x-x---", "xx-x----", "x-xx----", ".x-x-x--"),
}


def rng_for(*parts: object) -> random.Random:
    key = "\x00".join(str(p) for p in parts)
    return random.Random(int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big"))


# --- the big decisions -------------------------------------------------------------------------------------------
def choose_tempo(reading: Reading, rng: random.Random) -> int:
    if reading.bpm is not None:
        return reading.bpm
    low, high = reading.style.bpm
    span = high - low
    if reading.tempo == "slow":
        high = low + span // 3
    elif reading.tempo == "fast":
        low = high - span // 3
    return rng.randint(low, max(low, high))


def choose_key(reading: Reading, prompt: str, rng: random.Random) -> tuple[int, str]:
    bright, dark = reading.style.modes
    named = theory.parse_key(prompt)
    tonic = rng.randrange(12)
    if named is not None:
        tonic = named[0]
        return tonic, (dark if dark in theory.MINOR_MODES else "minor") if named[1] == "minor" else "major"
    if reading.mood == "dark":
        return tonic, dark if theory.is_minor(dark) else "minor"
    if reading.mood == "bright":
        return tonic, bright if not theory.is_minor(bright) else "major"
    return tonic, dark if rng.random() < reading.style.minor_odds else bright


@dataclass(frozen=True, slots=True)
class Form:
    phrase: int  # bars in a verse or chorus
    sections: tuple[tuple[str, str, int], ...]  # (kind, label, bars)


def forms(phrase: int, pairs: int) -> list[tuple[tuple[str, str, int], ...]]:
    """Candidate song forms for a phrase length: intro, verse/chorus pairs, outro."""
    half = max(1, phrase // 2)
    candidates: list[tuple[tuple[str, str, int], ...]] = []
    if pairs == 1:
        candidates.append((("intro", "Intro", half), ("verse", "Verse", phrase), ("chorus", "Chorus", phrase)))
        candidates.append(candidates[0] + (("chorus", "Chorus 2", phrase),))
    body: tuple[tuple[str, str, int], ...] = (("intro", "Intro", half),)
    for n in range(1, max(2, pairs) + 1):
        suffix = f" {n}" if n > 1 else ""
        body += (("verse", f"Verse{suffix}", phrase), ("chorus", f"Chorus{suffix}", phrase))
    candidates.append(body)
    return [(*c, ("outro", "Outro", half)) for c in candidates]


def choose_form(bpm: int, rng: random.Random, target_s: float | None = None) -> Form:
    """The form whose length is nearest a target in 20-30 s, with chords changing about every 2.4 s.

    With ``target_s`` past 30 s (a forced clip length) the form repeats verse and chorus until it lasts that long.
    """
    bar_s = 240.0 / bpm
    long = target_s is not None and target_s > SONG_S[1]
    goal = target_s if long and target_s else rng.uniform(22.0, 28.0)
    best: tuple[float, Form] | None = None
    for phrase in (2, 4, 8):
        pairs = 1
        if long:
            pairs = max(1, int(goal / (2 * phrase * bar_s)) + 1)
        for sections in forms(phrase, pairs) if not long else forms(phrase, pairs)[-1:]:
            seconds = sum(bars for _, _, bars in sections) * bar_s + TAIL_S
            if long:
                if seconds < goal or seconds > MAX_SONG_S + 30:
                    continue
                cost = seconds - goal
            else:
                outside = max(0.0, SONG_S[0] - seconds, seconds - SONG_S[1])
                chord_s = phrase * bar_s / 4
                cost = 10 * outside + abs(seconds - goal) / goal + abs(chord_s - CHORD_S) / CHORD_S
            if best is None or cost < best[0]:
                best = (cost, Form(phrase, sections))
    if best is None:  # a very long forced length at a slow tempo: the longest form there is
        return Form(2, forms(2, max(1, int(goal / (4 * bar_s))))[-1])
    return best[1]


def progressions(harmony: str, mode: str, rng: random.Random) -> dict[str, tuple[int, ...]]:
    """The verse, chorus and bridge progressions: three different ones from the style's family."""
    family = harmony if harmony in ("jazz", "rock", "ambient") else "pop"
    options = list(_PROGRESSIONS[(family, theory.is_minor(mode))])
    rng.shuffle(options)
    verse, chorus = options[0], options[1 % len(options)]
    bridge = options[2 % len(options)]
    return {"verse": verse, "chorus": chorus, "bridge": bridge}


def section_chords(kind: str, bars: int, phrase: int, progs: dict[str, tuple[int, ...]]) -> tuple[tuple[int, int], ...]:
    """(degree, ticks) chords filling a section: four per phrase; the intro borrows the verse's opening two."""
    total = bars * BAR
    if kind == "outro":
        return ((3, total // 2), (0, total - total // 2))  # IV -> I: the "amen" close
    if kind == "intro":
        first = progs["verse"]
        return ((first[0], total // 2), (first[1], total - total // 2))
    progression = progs.get(kind, progs["verse"])
    length = max(BAR // 2, phrase * BAR // 4)
    chords: list[tuple[int, int]] = []
    at = 0
    while at < total:
        span = min(length, total - at)
        chords.append((progression[len(chords) % len(progression)], span))
        at += span
    return tuple(chords)


# --- lyrics --------------------------------------------------------------------------------------------------------
class LyricQueue:
    """Hands out lyric lines to the sections that sing: verses read on, choruses repeat their block."""

    def __init__(self, lyrics: str, position: int = 0) -> None:
        found = words.blocks(lyrics)
        self.verses = [line for block in found if block.kind != "chorus" for line in block.lines]
        self.chorus = next((block.lines for block in found if block.kind == "chorus"), ())
        self.position = position  # verse lines already sung

    def take(self, kind: str, count: int) -> list[str]:
        if kind == "chorus" and self.chorus:
            return [self.chorus[i % len(self.chorus)] for i in range(count)]
        pool = self.verses or list(self.chorus)
        if not pool:
            return []
        lines = [pool[(self.position + i) % len(pool)] for i in range(count)]
        self.position += count
        return lines


# --- melody --------------------------------------------------------------------------------------------------------
def line_layout(bars: int) -> tuple[int, int]:
    """(lines per section, ticks per line): a sung line lasts one bar in short phrases, else two."""
    line_bars = 1 if bars <= 2 else 2
    return max(1, bars // line_bars), line_bars * BAR


def sung_rhythm(line: str, rng: random.Random) -> list[tuple[int, int, str, tuple[int, ...]]]:
    """(start slot, slots, syllables, word indices) for each note of a sung line: a syllable or a syllable group."""
    line_words = words.words(line)
    groups: list[tuple[str, tuple[int, ...]]] = [
        (syllable, (index,)) for index, word in enumerate(line_words) for syllable in words.syllables(word)
    ]
    while len(groups) > MAX_SUNG_NOTES:
        # Merge the adjacent pair with the least text, preferring syllables of one word.
        def cost(i: int) -> tuple[int, int]:
            same_word = groups[i][1][-1] == groups[i + 1][1][0]
            return (0 if same_word else 1, len(groups[i][0]) + len(groups[i + 1][0]))

        i = min(range(len(groups) - 1), key=cost)
        (a, wa), (b, wb) = groups[i], groups[i + 1]
        joined = a + b if wa[-1] == wb[0] else f"{a} {b}"
        groups[i : i + 2] = [(joined, tuple(dict.fromkeys(wa + wb)))]
    if not groups:
        return []
    usable = LINE_SLOTS - BREATH_SLOTS
    lengths = [1] * len(groups)
    spare = usable - len(groups)
    start = 1 if spare > 3 and rng.random() < 0.35 else 0  # a pickup: the line starts on the offbeat
    spare -= start
    # Word-final syllables and the line's last note are held longer, as a singer would.
    finals = [i for i in range(len(groups) - 1) if groups[i][1][-1] != groups[i + 1][1][0]]
    rng.shuffle(finals)
    if spare > 0:
        extra = min(spare, 3 if len(groups) > 2 else spare)
        lengths[-1] += extra
        spare -= extra
    for i in finals:
        if spare <= 0:
            break
        lengths[i] += 1
        spare -= 1
    out, at = [], start
    for (text, word_ids), length in zip(groups, lengths, strict=True):
        out.append((at, length, text, word_ids))
        at += length
    return out


def played_rhythm(feel: str, rng: random.Random) -> list[tuple[int, int]]:
    """(start slot, slots) notes of an instrumental line: a call then an ending."""
    pattern = rng.choice(_CALLS[feel]) + rng.choice(_ENDS[feel])
    notes: list[tuple[int, int]] = []
    for slot, char in enumerate(pattern):
        if char == "x":
            notes.append((slot, 1))
        elif char == "-" and notes and notes[-1][0] + notes[-1][1] == slot:
            notes[-1] = (notes[-1][0], notes[-1][1] + 1)
    return notes


class Melodist:
    """Writes melody lines over chords: chord tones on strong beats, steps between, motifs repeated."""

    def __init__(self, tonic: int, mode: str, low: int, high: int, rng: random.Random) -> None:
        self.tonic = tonic
        self.pool = theory.scale_pitches(tonic, mode, low, high)
        self.rng = rng

    def anchor(self, height: float) -> int:
        """A pool index ``height`` of the way up the register."""
        return max(0, min(len(self.pool) - 1, round(height * (len(self.pool) - 1))))

    def line(
        self,
        starts: Sequence[int],
        lengths: Sequence[int],
        chord_at: Callable[[int], frozenset[int]],
        anchor: int,
        shape: str,
        deltas: Sequence[int] | None = None,
        cadence: bool = False,
    ) -> tuple[list[int], list[int]]:
        """Pitches for notes at ``starts`` (ticks in the section) lasting ``lengths``; also the steps taken."""
        pool, rng = self.pool, self.rng
        top = len(pool) - 1
        index = anchor
        pitches: list[int] = []
        taken: list[int] = []
        count = len(starts)
        for i, (start, length) in enumerate(zip(starts, lengths, strict=True)):
            if i == 0:
                candidate = anchor
            elif deltas:
                candidate = index + deltas[(i - 1) % len(deltas)]
            else:
                rising = shape == "up" or (shape == "arch" and i < count / 2)
                step = rng.choice((1, 1, 1, 2, 0, -1))
                candidate = index + (step if rising else -step)
            candidate = max(0, min(top, candidate))
            last = i == count - 1
            strong = start % (2 * TPB) == 0 or length >= TPB or last
            if strong:
                chord = chord_at(start)
                tones = [j for j, p in enumerate(pool) if p % 12 in chord]
                if last and cadence and any(pool[j] % 12 == self.tonic for j in tones):
                    tones = [j for j in tones if pool[j] % 12 == self.tonic]
                if tones:
                    candidate = min(tones, key=lambda j: (abs(j - candidate), j))
            taken.append(candidate - index if i else 0)
            index = candidate
            pitches.append(pool[index])
        return pitches, taken[1:]


@dataclass(slots=True)
class _Motif:
    """What a section kind remembers so its next appearance sounds like the same tune."""

    rhythms: list[list[tuple[int, int]]]
    deltas: list[list[int]]


def write_melody(
    section_kind: str,
    bars: int,
    chords: tuple[tuple[int, int], ...],
    lines: list[str],
    melodist: Melodist,
    chord_classes: Callable[[int], frozenset[int]],
    feel: str,
    motif: _Motif | None,
) -> tuple[tuple[Tune, ...], _Motif]:
    """The melody of one verse, chorus or bridge: sung lines when ``lines`` has words, played lines otherwise."""
    rng = melodist.rng
    count, line_ticks = line_layout(bars)
    slot = line_ticks // LINE_SLOTS
    boundaries, at = [], 0
    for degree, length in chords:
        boundaries.append((at, at + length, degree))
        at += length

    def chord_at(tick: int) -> frozenset[int]:
        for start, end, degree in boundaries:
            if start <= tick < end:
                return chord_classes(degree)
        return chord_classes(boundaries[-1][2])

    height = {"chorus": 0.62, "bridge": 0.5}.get(section_kind, 0.38)
    tunes: list[Tune] = []
    rhythms: list[list[tuple[int, int]]] = []
    all_deltas: list[list[int]] = []
    for i in range(count):
        base = i * line_ticks
        sung = sung_rhythm(lines[i], rng) if i < len(lines) else []
        if sung:
            notes = [(s, n) for s, n, _, _ in sung]
        elif motif and i < len(motif.rhythms):
            notes = motif.rhythms[i]
        elif i >= 2 and rhythms:
            notes = rhythms[i - 2]  # the answer repeats the call's rhythm: the motif
        else:
            notes = played_rhythm(feel, rng)
        rhythms.append(notes)
        starts = [base + s * slot for s, _ in notes]
        lengths = [n * slot for _, n in notes]
        if motif and i < len(motif.deltas):
            deltas: list[int] | None = motif.deltas[i]
        elif i >= 2:
            deltas = all_deltas[i - 2]
        else:
            deltas = None
        shape = ("arch", "down", "arch", "down")[i % 4]
        anchor = melodist.anchor(height + (0.08 if i % 2 else 0.0))
        pitches, taken = melodist.line(starts, lengths, chord_at, anchor, shape, deltas or None, cadence=i == count - 1)
        all_deltas.append(taken)
        for j, (start, length, pitch) in enumerate(zip(starts, lengths, pitches, strict=True)):
            accent = start % (2 * TPB) == 0
            velocity = max(40, min(120, (100 if accent else 88) + rng.randint(-6, 6)))
            if sung:
                _, _, text, word_ids = sung[j]
                tunes.append(Tune(start, start + length, pitch, velocity, text, i, word_ids))
            else:
                tunes.append(Tune(start, start + length, pitch, velocity))
    return tuple(tunes), _Motif(rhythms, all_deltas)


# --- the whole song ----------------------------------------------------------------------------------------------
@dataclass(slots=True)
class Composer:
    """Shared state while writing a song's sections: key, register, motifs per section kind, lyrics."""

    tonic: int
    mode: str
    extensions: int
    feel: str
    low: int
    high: int
    rng: random.Random
    lyrics: LyricQueue | None
    motifs: dict[str, _Motif]
    written: dict[tuple[str, tuple[str, ...]], tuple[Tune, ...]] = field(default_factory=dict)

    def chord_classes(self, degree: int) -> frozenset[int]:
        return frozenset(theory.chord_classes(self.tonic, self.mode, degree, min(self.extensions, 4)))

    def section(
        self,
        kind: str,
        label: str,
        bars: int,
        chords: tuple[tuple[int, int], ...],
        *,
        fresh_motif: bool = False,
        lines: list[str] | None = None,
    ) -> Section:
        """A section with a melody written now; ``lines`` overrides the lyrics it would take from the queue."""
        rng = self.rng
        seed = rng.getrandbits(32)
        melodist = Melodist(self.tonic, self.mode, self.low, self.high, rng)
        melody: tuple[Tune, ...] = ()
        if kind in ("verse", "chorus", "bridge"):
            count, _ = line_layout(bars)
            if lines is None:
                lines = self.lyrics.take(kind, count) if self.lyrics else []
            motif = None if fresh_motif else self.motifs.get(kind)
            again = self.written.get((kind, _key(lines))) if lines and not fresh_motif else None
            if again is not None and kind == "chorus":
                melody = again  # a chorus with the same words is sung the same way
            else:
                melody, written = write_melody(
                    kind, bars, chords, lines, melodist, self.chord_classes, self.feel, motif
                )
                self.motifs.setdefault(kind, written)
                if lines:
                    self.written.setdefault((kind, _key(lines)), melody)
        elif kind == "outro" and chords:
            # The melody comes home: one long tonic over the final chord.
            tonic = theory.nearest(
                [p for p in melodist.pool if p % 12 == self.tonic] or melodist.pool, (self.low + self.high) / 2
            )
            start = chords[0][1]
            end = start + chords[-1][1] - TPB
            if end > start and not self.lyrics:
                melody = (Tune(start, end, tonic, 84),)
        sung = tuple(tuple(words.words(line)) for line in lines or ())
        return Section(kind, label, bars, chords, melody, sung, _ENERGY.get(kind, 0.7), seed)

    def learn(self, section: Section) -> None:
        """Remember an existing section's tune, so the next section of its kind continues the same motif."""
        if section.kind not in ("verse", "chorus", "bridge") or section.kind in self.motifs or not section.melody:
            return
        count, line_ticks = line_layout(section.bars)
        slot = line_ticks // LINE_SLOTS
        pool = theory.scale_pitches(self.tonic, self.mode, self.low, self.high)
        index = {p: i for i, p in enumerate(pool)}
        rhythms: list[list[tuple[int, int]]] = [[] for _ in range(count)]
        steps: list[list[int]] = [[] for _ in range(count)]
        last: list[int | None] = [None] * count
        for tune in section.melody:
            line = min(count - 1, tune.start // line_ticks)
            rhythms[line].append(((tune.start - line * line_ticks) // slot, max(1, (tune.end - tune.start) // slot)))
            here = index.get(tune.pitch)
            if here is None:
                here = min(range(len(pool)), key=lambda i: abs(pool[i] - tune.pitch)) if pool else 0
            previous = last[line]
            if previous is not None:
                steps[line].append(here - previous)
            last[line] = here
        self.motifs[section.kind] = _Motif(
            [r for r in rhythms if r], [d for d, r in zip(steps, rhythms, strict=True) if r]
        )
        if section.lines:
            self.written.setdefault((section.kind, _key(" ".join(w) for w in section.lines)), section.melody)


def _key(lines: Iterable[str]) -> tuple[str, ...]:
    return tuple(" ".join(words.words(line)) for line in lines)


def register(reading_voice: str, lead_patch: str) -> tuple[int, int]:
    if reading_voice:
        return VOICE_RANGE[reading_voice]
    return LEAD_RANGE.get(lead_patch, (60, 82))


def compose(
    prompt: str,
    lyrics: str,
    seed: str,
    *,
    instrumental: bool = False,
    target_s: float | None = None,
    voice: str = "",
) -> Plan:
    """A new song for a prompt (its style), lyrics (sung when given) and a seed (the dice); ``voice`` picks the
    singer (a persona's)."""
    reading = read(prompt)
    rng = rng_for("compose", prompt, lyrics, seed, instrumental)
    style = reading.style
    bpm = choose_tempo(reading, rng)
    tonic, mode = choose_key(reading, prompt, rng)
    sung = not (instrumental or reading.instrumental or words.is_instrumental(lyrics))
    voice = (voice or reading.voice or rng.choice(("female", "male"))) if sung else ""
    form = choose_form(bpm, rng, target_s)
    progs = progressions(style.harmony, mode, rng)
    low, high = register(voice, style.lead_patch)
    composer = Composer(
        tonic, mode, style.extensions, style.phrase_feel, low, high, rng, LyricQueue(lyrics) if sung else None, {}
    )
    sections = []
    for kind, label, bars in form.sections:
        chords = section_chords(kind, bars, form.phrase, progs)
        sections.append(composer.section(kind, label, bars, chords))
    return Plan(style, bpm, tonic, mode, voice, tuple(sections), rng.getrandbits(32))


def with_style(plan: Plan, prompt: str) -> Plan:
    """The plan's music read in another style: what a cover keeps (key, form, chords, melody) and changes."""
    reading = read(prompt)
    return replace(plan, style=reading.style)
