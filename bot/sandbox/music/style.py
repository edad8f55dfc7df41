"""From a prompt's words to a style: tempo range, groove, instruments, harmony and mood.

The first style keyword found (in the priority order of :data:`_KEYWORDS`) picks a preset; other words then adjust
it: mood words pick the mode, tempo words move the tempo within the preset's range, instrument words swap a
voice's patch, loudness words scale the drums. docs/sandbox-music.md has the table.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace


@dataclass(frozen=True, slots=True)
class Style:
    name: str
    bpm: tuple[int, int]  # the range a tempo is drawn from
    swing: float  # 0.5 = straight; the late offbeat's position within its pair of steps
    swing_step: int  # 8 or 16: which offbeats swing
    drums: str  # drum pattern family ("none": no drums at all)
    kit: str  # drum sounds
    bass: str  # bass pattern
    bass_patch: str
    comp: str  # how the keys play the chords
    keys_patch: str
    lead_patch: str  # the instrumental melody's sound
    pad_patch: str  # "" when the style has no pad
    harmony: str  # progression family: pop, minor, jazz, ambient, rock, blues
    extensions: int  # notes per chord: 3 triads, 4 sevenths, 5 ninths
    modes: tuple[str, str]  # (bright, dark) mode for this style
    minor_odds: float  # chance of the dark mode when the prompt does not say
    drum_gain: float  # dB
    softness: float  # 0..1: lowers velocities across the board (lofi, ballads)
    reverb: float  # send scale
    brightness: float  # 0..1: timbre brightness of keys and leads
    phrase_feel: str  # melody rhythm family: "flowing", "sparse", "busy"


PRESETS: dict[str, Style] = {
    "pop": Style(
        "pop", (96, 118), 0.5, 16, "pop", "acoustic", "pop", "bass_picked", "pop", "piano", "lead_square",
        "", "pop", 3, ("major", "minor"), 0.35, 0.0, 0.15, 1.0, 0.7, "flowing",
    ),
    "lofi": Style(
        "lofi", (72, 86), 0.6, 16, "lofi", "soft", "lofi", "bass_sub", "lofi", "epiano", "lead_flute",
        "", "jazz", 5, ("major", "dorian"), 0.5, -4.0, 0.45, 1.2, 0.35, "sparse",
    ),
    "dnb": Style(
        "dnb", (170, 176), 0.5, 16, "dnb", "breaks", "dnb", "bass_reese", "long", "epiano", "lead_bell",
        "pad", "minor", 4, ("major", "minor"), 0.7, 1.0, 0.0, 1.0, 0.6, "busy",
    ),
    "ballad": Style(
        "ballad", (64, 76), 0.5, 16, "ballad", "soft", "ballad", "bass_piano", "arpeggio", "piano", "lead_piano",
        "strings", "pop", 3, ("major", "minor"), 0.4, -6.0, 0.35, 1.4, 0.55, "sparse",
    ),
    "rock": Style(
        "rock", (112, 148), 0.5, 16, "rock", "acoustic", "rock", "bass_picked", "power", "guitar", "lead_saw",
        "", "rock", 3, ("mixolydian", "minor"), 0.55, 1.0, 0.0, 0.8, 0.8, "flowing",
    ),
    "jazz": Style(
        "jazz", (92, 136), 0.64, 8, "jazz", "jazz", "walking", "bass_upright", "jazz", "epiano", "lead_vibes",
        "", "jazz", 4, ("major", "dorian"), 0.4, -6.0, 0.25, 1.2, 0.55, "flowing",
    ),
    "ambient": Style(
        "ambient", (60, 76), 0.5, 16, "none", "soft", "pedal", "bass_sub", "hold", "pad", "lead_bell",
        "strings", "ambient", 4, ("major", "minor"), 0.5, -8.0, 0.4, 2.0, 0.4, "sparse",
    ),
    "house": Style(
        "house", (120, 128), 0.5, 16, "house", "electronic", "house", "bass_sub", "stabs", "stab", "lead_saw",
        "pad", "minor", 4, ("major", "minor"), 0.55, 1.0, 0.0, 1.0, 0.8, "busy",
    ),
    "hiphop": Style(
        "hiphop", (84, 96), 0.56, 16, "hiphop", "electronic", "hiphop", "bass_sub", "lofi", "epiano", "lead_flute",
        "", "minor", 4, ("dorian", "minor"), 0.65, 1.0, 0.1, 0.9, 0.5, "busy",
    ),
    "folk": Style(
        "folk", (92, 116), 0.54, 8, "folk", "soft", "folk", "bass_upright", "strum", "guitar_acoustic", "lead_flute",
        "", "pop", 3, ("major", "dorian"), 0.3, -3.0, 0.2, 1.0, 0.6, "flowing",
    ),
}  # fmt: skip

# Style keywords, most specific first: "drum and bass" must win over "bass", "piano ballad" is a ballad.
_KEYWORDS: tuple[tuple[str, str], ...] = (
    (r"drum\s*(?:and|&|'?n'?)\s*bass|\bd\s*&\s*b\b|\bdnb\b|\bjungle\b|\bliquid\b|\bneurofunk\b", "dnb"),
    (r"\blo[\s\-]?fi\b|\bchillhop\b|\bstudy beats?\b|\bchill\s*hop\b", "lofi"),
    (r"\bambient\b|\bdrone\b|\batmospheric\b|\bmeditat\w*|\bspace music\b|\bsoundscape\b", "ambient"),
    (r"\bballad\b|\bsolo piano\b", "ballad"),
    (r"\bedm\b|\bhouse\b|\btechno\b|\btrance\b|\bdisco\b|\bclub\b|\bdance\b|\brave\b|\bsynthwave\b", "house"),
    (r"\bjazz\w*|\bswing\b|\bbebop\b|\blounge\b|\bbossa\b|\bblues\b|\bsoul\b|\bfunk\w*", "jazz"),
    (r"\bhip[\s\-]?hop\b|\brap\b|\btrap\b|\bboom[\s\-]?bap\b|\bgrime\b", "hiphop"),
    (r"\brock\b|\bmetal\b|\bpunk\b|\bgrunge\b|\bindie\b|\bemo\b", "rock"),
    (r"\bfolk\b|\bcountry\b|\bceltic\b|\bbluegrass\b|\bsinger[\s\-]songwriter\b", "folk"),
    (r"\bpop\b", "pop"),
    # An instrument alone names a style too; "jazz piano" or "pop guitar" found their genre above.
    (r"\bpiano\b", "ballad"),
    (r"\bacoustic\b|\bukulele\b", "folk"),
    (r"\bguitar\b", "rock"),
)
_COMPILED = tuple((re.compile(pattern, re.IGNORECASE), name) for pattern, name in _KEYWORDS)
_DARK = re.compile(
    r"\b(sad|minor|dark|melanchol\w*|moody|gloomy|somber|sombre|lonely|haunting|tragic|blue|grief|heartbreak\w*|"
    r"tears?|eerie|brooding|night)\b",
    re.IGNORECASE,
)
_BRIGHT = re.compile(
    r"\b(happy|major|bright|uplifting|joyful|joy|sunny|cheerful|upbeat|summer|hopeful|euphoric|fun|party)\b",
    re.IGNORECASE,
)
_SLOW = re.compile(r"\b(slow|slower|chill|relax\w*|calm|gentle|lazy|sleepy|downtempo|soothing|ballad)\b", re.I)
_FAST = re.compile(r"\b(fast|faster|energetic|upbeat|hyper|frantic|driving|high[\s\-]energy|speed|thrash)\b", re.I)
_SOFT = re.compile(r"\b(soft|quiet|gentle|mellow|warm|intimate|delicate|dreamy)\b", re.IGNORECASE)
_HARD = re.compile(r"\b(hard|heavy|loud|aggressive|punchy|distorted|angry|metal|banger)\b", re.IGNORECASE)
_BPM = re.compile(r"\b(\d{2,3})\s*bpm\b", re.IGNORECASE)
# Instrument words swap one voice's patch: (pattern, voice, patch).
_INSTRUMENTS: tuple[tuple[re.Pattern[str], str, str], ...] = (
    (re.compile(r"\b(rhodes|electric piano|e-piano|wurlitzer)\b", re.I), "keys", "epiano"),
    (re.compile(r"\bpiano\b", re.I), "keys", "piano"),
    (re.compile(r"\borgan\b", re.I), "keys", "organ"),
    (re.compile(r"\b(acoustic guitar|strum\w*|ukulele)\b", re.I), "keys", "guitar_acoustic"),
    (re.compile(r"\b(electric guitar|distorted guitar|power chords?)\b", re.I), "keys", "guitar"),
    (re.compile(r"\b(strings|orchestra\w*|cinematic|violins?|cello)\b", re.I), "pad", "strings"),
    (re.compile(r"\b(synth\w*|analog|80s|retro)\b", re.I), "lead", "lead_saw"),
    (re.compile(r"\b(flute|pan ?pipes?|whistle)\b", re.I), "lead", "lead_flute"),
    (re.compile(r"\b(bells?|chimes?|music box|glockenspiel|celesta)\b", re.I), "lead", "lead_bell"),
    (re.compile(r"\b(vibraphone|vibes|marimba)\b", re.I), "lead", "lead_vibes"),
    (re.compile(r"\b(808|sub ?bass)\b", re.I), "bass", "bass_sub"),
    (re.compile(r"\b(upright bass|double bass|contrabass)\b", re.I), "bass", "bass_upright"),
)
_FEMALE = re.compile(r"\b(female|woman|women|girl|soprano|alto|her|she|diva)\b", re.IGNORECASE)
_MALE = re.compile(r"\b(male|man|men|boy|baritone|tenor|bass vocals?|his|he)\b", re.IGNORECASE)
_INSTRUMENTAL = re.compile(r"\b(instrumental|no vocals|without vocals|no singing)\b", re.IGNORECASE)
_NO_DRUMS = re.compile(r"\b(no drums|drumless|without drums|no beat)\b", re.IGNORECASE)
BPM_LIMITS = (50, 200)


@dataclass(frozen=True, slots=True)
class Reading:
    """What a prompt asks for, before any random choice: the dice fill in what it leaves open."""

    style: Style
    mood: str  # "dark", "bright" or "" (unsaid)
    tempo: str  # "slow", "fast" or ""
    bpm: int | None  # an explicit "128 bpm"
    voice: str  # "female", "male" or ""
    instrumental: bool


def style_names() -> tuple[str, ...]:
    return tuple(PRESETS)


def read(prompt: str) -> Reading:
    """The style and the modifiers a prompt's words ask for."""
    text = prompt or ""
    name = next((style for pattern, style in _COMPILED if pattern.search(text)), "pop")
    style = PRESETS[name]
    for pattern, voice, patch in _INSTRUMENTS:
        if pattern.search(text):
            if voice == "keys" and style.keys_patch != patch:
                # A guitar or piano named in the prompt plays the chords (and the melody when there are no words).
                style = replace(style, keys_patch=patch, comp=_comp_for(patch, style.comp))
                if patch == "piano":
                    style = replace(style, lead_patch="lead_piano")
            elif voice == "lead":
                style = replace(style, lead_patch=patch)
            elif voice == "pad":
                style = replace(style, pad_patch=patch)
            elif voice == "bass":
                style = replace(style, bass_patch=patch)
    if _SOFT.search(text):
        style = replace(style, drum_gain=style.drum_gain - 3.0, softness=min(1.0, style.softness + 0.2))
    if _HARD.search(text):
        style = replace(style, drum_gain=style.drum_gain + 2.0, softness=max(0.0, style.softness - 0.2))
    if _NO_DRUMS.search(text):
        style = replace(style, drums="none")
    dark, bright = _DARK.search(text), _BRIGHT.search(text)
    mood = "dark" if dark and not (bright and bright.start() < dark.start()) else "bright" if bright else ""
    slow, fast = bool(_SLOW.search(text)), bool(_FAST.search(text))
    tempo = "slow" if slow and not fast else "fast" if fast and not slow else ""
    explicit = _BPM.search(text)
    bpm = None
    if explicit:
        bpm = max(BPM_LIMITS[0], min(BPM_LIMITS[1], int(explicit.group(1))))
    voice = "female" if _FEMALE.search(text) else "male" if _MALE.search(text) else ""
    return Reading(style, mood, tempo, bpm, voice, bool(_INSTRUMENTAL.search(text)))


def _comp_for(patch: str, comp: str) -> str:
    """The comping pattern once ``patch`` plays the chords: guitars strum or chug, the others keep the style's."""
    if patch == "guitar":
        return "power"
    if patch == "guitar_acoustic":
        return "strum"
    return "pop" if comp in ("power", "strum") else comp
