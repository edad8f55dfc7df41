"""Scales, keys and chords: the little music theory the arranger needs, all in MIDI note numbers."""

from __future__ import annotations

import re

SCALES: dict[str, tuple[int, ...]] = {
    "major": (0, 2, 4, 5, 7, 9, 11),
    "minor": (0, 2, 3, 5, 7, 8, 10),
    "dorian": (0, 2, 3, 5, 7, 9, 10),
    "mixolydian": (0, 2, 4, 5, 7, 9, 10),
}
MINOR_MODES = frozenset({"minor", "dorian"})
NOTE_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
_PITCH_CLASSES = {
    "c": 0, "c#": 1, "db": 1, "d": 2, "d#": 3, "eb": 3, "e": 4, "f": 5, "f#": 6, "gb": 6,
    "g": 7, "g#": 8, "ab": 8, "a": 9, "a#": 10, "bb": 10, "b": 11,
}  # fmt: skip
# "in A minor", "C# major", "key of Eb", "F#m": the prompt may name its key.
_KEY = re.compile(
    r"(?<![\w#])(key of\s+|in\s+)?([a-g])([#♯♭b]?)(?:\s*(major|minor|maj|min)\b|(m)\b|(?![\w#♯♭]))", re.IGNORECASE
)


def is_minor(mode: str) -> bool:
    return mode in MINOR_MODES


def key_name(tonic: int, mode: str) -> str:
    return f"{NOTE_NAMES[tonic % 12]} {'minor' if is_minor(mode) else 'major'}"


def scale_pitch(tonic: int, mode: str, degree: int, base: int) -> int:
    """The MIDI pitch of scale ``degree`` (0 = tonic, may be negative or past 6) above the tonic nearest ``base``."""
    scale = SCALES[mode]
    octave, step = divmod(degree, len(scale))
    root = base - ((base - tonic) % 12)  # the tonic at or below ``base``
    return root + 12 * octave + scale[step]


def scale_pitches(tonic: int, mode: str, low: int, high: int) -> list[int]:
    """Every pitch of the key between ``low`` and ``high`` inclusive, ascending."""
    members = {(tonic + step) % 12 for step in SCALES[mode]}
    return [p for p in range(low, high + 1) if p % 12 in members]


def chord_classes(tonic: int, mode: str, degree: int, size: int = 3) -> tuple[int, ...]:
    """Pitch classes of the diatonic chord on ``degree``, stacked in thirds (root first): triad, 7th, 9th."""
    scale = SCALES[mode]
    return tuple((tonic + scale[(degree + 2 * i) % 7]) % 12 for i in range(size))


def chord_name(tonic: int, mode: str, degree: int, size: int = 3) -> str:
    classes = chord_classes(tonic, mode, degree, 4)
    third = (classes[1] - classes[0]) % 12
    fifth = (classes[2] - classes[0]) % 12
    quality = "m" if third == 3 else ""
    if fifth == 6:
        quality = "dim"
    if size >= 4:
        seventh = (classes[3] - classes[0]) % 12
        if quality == "" and seventh == 11:
            quality = "maj7"
        elif quality == "dim":
            quality = "m7b5"
        else:
            quality += "7"
    return NOTE_NAMES[classes[0]] + quality


def parse_key(text: str) -> tuple[int, str] | None:
    """(tonic, 'major'|'minor') when the text names a key ("in A minor", "C# major", "key of Eb", "F#m"), else None.

    A bare letter is not a key ("a song", "I am"): it needs a mode word, "key of"/"in" before it, or a capital
    letter with an ``m`` suffix.
    """
    for match in _KEY.finditer(text):
        prefix, letter, accidental, quality, suffix = match.groups()
        if suffix and not letter.isupper():
            continue
        if not quality and not suffix and not prefix:
            continue
        if not quality and not suffix and not accidental and letter.lower() == "a":
            continue  # "in a ..." is English, not A major
        accidental = {"♯": "#", "♭": "b"}.get(accidental, accidental).lower()
        tonic = _PITCH_CLASSES.get(letter.lower() + accidental)
        if tonic is None:
            continue
        minor = (quality or "").lower() in ("minor", "min") or bool(suffix)
        return tonic, "minor" if minor else "major"
    return None


def nearest(candidates: list[int], target: float) -> int:
    """The candidate closest to ``target`` (the lower one on a tie, so results are stable)."""
    return min(candidates, key=lambda p: (abs(p - target), p))
