"""The synthesiser: each part of a score rendered on its own, as float32 samples at :data:`SAMPLE_RATE`.

Pitched instruments read band-limited wavetables built from harmonic recipes (an inverse FFT per recipe and
pitch, cached), crossfading a bright table into a dark one where the real instrument's tone darkens as it
decays (piano, plucks); the electric piano and bells are two-operator FM; the singer is a formant-shaped
harmonic table per vowel with vibrato and consonant noise; drums are short synthesised one-shots. Everything is
deterministic: noise comes from fixed seeds.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from bot.sandbox.music import words
from bot.sandbox.music.score import (
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
    Note,
    Part,
    Score,
)

SAMPLE_RATE = 22050
NYQUIST = SAMPLE_RATE / 2
TABLE = 2048
F32 = np.float32


def hz(pitch: float) -> float:
    return 440.0 * 2.0 ** ((pitch - 69.0) / 12.0)


# --- wavetables ----------------------------------------------------------------------------------------------------
def _table_from(amps: np.ndarray) -> np.ndarray:
    """One period of sum(amps[k-1] * sin(2 pi k x)), peak-normalised, with a wrap sample for interpolation."""
    spectrum = np.zeros(TABLE // 2 + 1, dtype=np.complex128)
    count = min(len(amps), TABLE // 2 - 1)
    spectrum[1 : count + 1] = -1j * amps[:count] * (TABLE / 2)
    table = np.fft.irfft(spectrum, TABLE)
    peak = float(np.max(np.abs(table))) or 1.0
    return np.append(table / peak, table[0] / peak).astype(F32)


def _harmonics(f0: float, top: float = 0.45 * SAMPLE_RATE) -> np.ndarray:
    """Harmonic numbers 1..K below ``top``, so a table never aliases."""
    return np.arange(1, max(1, int(top / f0)) + 1, dtype=np.float64)


def _rolloff(freqs: np.ndarray, cutoff: float, order: int = 4) -> np.ndarray:
    return 1.0 / np.sqrt(1.0 + (freqs / cutoff) ** order)


@lru_cache(maxsize=4096)
def wavetable(recipe: str, pitch: int, cutoff: float) -> np.ndarray:
    """A band-limited table for ``recipe`` at ``pitch``, darkened above ``cutoff`` Hz."""
    f0 = hz(pitch)
    k = _harmonics(f0)
    if recipe == "saw":
        amps = 1.0 / k
    elif recipe == "square":
        amps = np.where(k % 2 == 1, 1.0 / k, 0.0)
    elif recipe == "triangle":
        amps = np.where(k % 2 == 1, (-1.0) ** ((k - 1) // 2) / k**2, 0.0)
    elif recipe == "piano":
        # Hammered strings: strong low partials, a gentle dip at the 7th-8th (where the hammer strikes).
        amps = k**-1.15 * (1.0 - 0.5 * np.exp(-(((k - 7.5) / 1.5) ** 2)))
    elif recipe == "organ":
        drawbars = {1: 1.0, 2: 0.7, 3: 0.5, 4: 0.35, 6: 0.2, 8: 0.15}
        amps = np.array([drawbars.get(int(n), 0.0) for n in k])
    elif recipe == "bass":
        amps = np.array([1.0, 0.55, 0.35, 0.18, 0.1, 0.05][: len(k)] + [0.0] * max(0, len(k) - 6))
    elif recipe == "flute":
        amps = np.array([1.0, 0.22, 0.08, 0.03][: len(k)] + [0.0] * max(0, len(k) - 4))
    elif recipe == "sine":
        amps = np.zeros(len(k))
        amps[0] = 1.0
    else:
        raise ValueError(f"unknown recipe {recipe}")
    return _table_from(amps * _rolloff(k * f0, cutoff))


# Vowel formants (F1, F2, F3 in Hz) of an adult male voice; a female voice is about 17% higher.
_FORMANTS = {
    "a": (730.0, 1090.0, 2440.0),
    "e": (530.0, 1840.0, 2480.0),
    "i": (300.0, 2250.0, 2950.0),
    "o": (570.0, 840.0, 2410.0),
    "u": (330.0, 870.0, 2250.0),
}
_FORMANT_GAIN = (1.0, 0.55, 0.3)
_FORMANT_WIDTH = (110.0, 130.0, 190.0)


@lru_cache(maxsize=2048)
def vowel_table(vowel: str, pitch: int, female: bool) -> np.ndarray:
    """A sung vowel at ``pitch``: the voice's harmonics shaped by the vowel's formant resonances."""
    f0 = hz(pitch)
    k = _harmonics(f0, min(0.45 * SAMPLE_RATE, 6000.0))
    freqs = k * f0
    scale = 1.17 if female else 1.0
    envelope = np.full(len(k), 0.015)
    for centre, gain, width in zip(_FORMANTS.get(vowel, _FORMANTS["a"]), _FORMANT_GAIN, _FORMANT_WIDTH, strict=True):
        envelope += gain / (1.0 + ((freqs - centre * scale) / (width * scale / 2)) ** 2)
    return _table_from(envelope / k**0.7)


# --- building blocks -----------------------------------------------------------------------------------------------
def _phase(freq: float, n: int, *, drift: np.ndarray | None = None, start: float = 0.0) -> np.ndarray:
    """Cycles elapsed at each sample (float64 so long notes keep their tuning)."""
    if drift is None:
        return start + (freq / SAMPLE_RATE) * np.arange(n, dtype=np.float64)
    return start + np.cumsum(freq * drift, dtype=np.float64) / SAMPLE_RATE


def _read(table: np.ndarray, phase: np.ndarray) -> np.ndarray:
    position = phase * TABLE  # phases are never negative: truncation is the floor
    index = position.astype(np.int64)
    frac = (position - index).astype(F32)
    index &= TABLE - 1  # the table's period (TABLE is a power of two)
    low = table[index]
    return low + (table[index + 1] - low) * frac


def _times(n: int) -> np.ndarray:
    return np.arange(n, dtype=F32) / F32(SAMPLE_RATE)


@lru_cache(maxsize=1024)
def _envelope(
    n_on: int, attack: float, decay: float, sustain: float, release: float, *, tau: float = 0.0
) -> np.ndarray:
    """Attack, decay to ``sustain`` (exponential, time constant ``decay``), optional slow fade ``tau`` while
    held, then an exponential release that reaches zero: n_on + release tail samples.

    Cached (a song repeats its note lengths), so the array is read-only: callers multiply, never write."""
    tail = int(release * 4.5 * SAMPLE_RATE) + 1
    t = _times(n_on + tail)
    a = max(attack, 1.0 / SAMPLE_RATE)
    rising = min(len(t), int(np.searchsorted(t, F32(a))))  # the samples with t < a
    env = np.empty(len(t), dtype=F32)
    env[:rising] = t[:rising] / F32(a)
    env[rising:] = sustain + (1.0 - sustain) * np.exp(-(t[rising:] - a) / max(decay, 1e-4))
    if tau > 0:
        env *= np.exp(-t / tau).astype(F32)
    level = env[n_on - 1] if n_on > 0 else F32(0.0)
    release_curve = level * np.exp(-(t[n_on:] - t[n_on]) / max(release, 1e-4))
    release_curve *= np.linspace(1.0, 0.0, len(release_curve), dtype=F32)  # lands exactly on zero
    env[n_on:] = release_curve
    env.flags.writeable = False
    return env


def _vibrato(n: int, rate: float, depth_semitones: float, delay: float, seed: int) -> np.ndarray:
    """A frequency multiplier: vibrato fading in after ``delay`` s, with a slow random drift like a player's."""
    t = _times(n)
    depth = depth_semitones * np.clip((t - delay) / 0.25, 0.0, 1.0)
    wobble = np.sin(2 * np.pi * rate * t + (seed % 628) / 100.0)
    return (2.0 ** (depth * wobble / 12.0)).astype(np.float64)


@lru_cache(maxsize=64)
def _noise(n: int, low: float, high: float, seed: int) -> np.ndarray:
    """Deterministic noise band-limited to [low, high] Hz (shaped in the frequency domain), unit peak."""
    rng = np.random.default_rng(seed)
    spectrum = np.fft.rfft(rng.standard_normal(n))
    freqs = np.fft.rfftfreq(n, 1.0 / SAMPLE_RATE)
    mask = _rolloff(freqs, high, 4) * (1.0 - _rolloff(freqs, max(low, 1.0), 4))
    shaped = np.fft.irfft(spectrum * mask, n)
    peak = float(np.max(np.abs(shaped))) or 1.0
    return (shaped / peak).astype(F32)


def _velocity(note: Note, curve: float = 1.6) -> float:
    return (note.velocity / 127.0) ** curve


# --- pitched instruments -------------------------------------------------------------------------------------------
Instrument = Callable[[int, float, int], np.ndarray]  # (pitch, velocity 0..1, held samples) -> samples


def _crossfade(bright: np.ndarray, dark: np.ndarray, phase: np.ndarray, n: int, tau: float) -> np.ndarray:
    """A tone that starts bright and mellows with time constant ``tau`` (a plucked or struck string)."""
    b, d = _read(bright, phase), _read(dark, phase)
    mix = np.exp(-_times(n) / tau).astype(F32)
    return d + (b - d) * mix


def _decay_for(pitch: int, base: float) -> float:
    """Low strings ring longer than high ones."""
    return base * 2.0 ** (-(pitch - 60) / 24.0)


def piano(pitch: int, velocity: float, held: int) -> np.ndarray:
    # A fast strike, a quick drop, then a long ring that is shorter for high strings; the damper ends it.
    env = _envelope(held, 0.002, 0.2, 0.45, 0.09, tau=_decay_for(pitch, 2.6))
    n = len(env)
    phase = _phase(hz(pitch), n)
    bright = wavetable("piano", pitch, 2500.0 + 3500.0 * velocity)
    tone = _crossfade(bright, wavetable("piano", pitch, 900.0), phase, n, 0.12 + 0.2 * velocity)
    # A second string a hair sharp: the slow beating that makes a piano sound like a piano.
    tone = 0.8 * tone + 0.2 * _read(wavetable("piano", pitch, 1200.0), _phase(hz(pitch + 0.03), n))
    out = tone * env
    hammer = _noise(512, 800.0, 5000.0, 11)[: min(n, 512)]
    out[: len(hammer)] += hammer * np.linspace(0.08 * velocity, 0.0, len(hammer), dtype=F32)
    return out


def epiano(pitch: int, velocity: float, held: int) -> np.ndarray:
    env = _envelope(held, 0.003, _decay_for(pitch, 1.4), 0.15, 0.16)
    n = len(env)
    t = _times(n)
    w = 2 * np.pi * hz(pitch) * t
    room = max(0.0, (0.45 * SAMPLE_RATE - hz(pitch)) / hz(pitch) - 1.0)  # sidebands stay under Nyquist
    index = np.minimum(room, (0.3 + 1.5 * velocity) * np.exp(-t / 0.22) + 0.25)
    tone = np.sin(w + index * np.sin(w)).astype(F32)
    if hz(pitch) * 7 < 0.45 * SAMPLE_RATE:  # the tine's bell-like strike
        tone += (0.12 * velocity * np.exp(-t / 0.05) * np.sin(7 * w)).astype(F32)
    tremolo = (1.0 - 0.08 * (1 - np.cos(2 * np.pi * 4.2 * t))).astype(F32)
    return tone * env * tremolo


def organ(pitch: int, velocity: float, held: int) -> np.ndarray:
    env = _envelope(held, 0.01, 0.1, 1.0, 0.05)
    n = len(env)
    tremolo = (1.0 - 0.06 * (1 + np.sin(2 * np.pi * 6.3 * _times(n)))).astype(F32)
    return _read(wavetable("organ", pitch, 5000.0), _phase(hz(pitch), n)) * env * tremolo


def _ensemble(
    recipe: str, pitch: int, cutoff: float, n: int, cents: tuple[float, ...], drift: np.ndarray | None = None
) -> np.ndarray:
    """Several slightly detuned copies of one table: the width of a pad or a section of strings."""
    table = wavetable(recipe, pitch, cutoff)
    out = np.zeros(n, dtype=F32)
    for i, c in enumerate(cents):
        out += _read(table, _phase(hz(pitch + c / 100.0), n, drift=drift, start=0.31 * i))
    return out / len(cents)


def pad(pitch: int, velocity: float, held: int) -> np.ndarray:
    env = _envelope(held, 0.45, 0.6, 0.85, 0.9)
    return _ensemble("saw", pitch, 1300.0, len(env), (-8.0, 0.0, 8.0)) * env


def strings(pitch: int, velocity: float, held: int) -> np.ndarray:
    env = _envelope(held, 0.28, 0.5, 0.9, 0.5)
    n = len(env)
    drift = _vibrato(n, 5.1, 0.08, 0.2, pitch)
    return _ensemble("saw", pitch, 2400.0, n, (-5.0, 5.0), drift) * env


def guitar(pitch: int, velocity: float, held: int) -> np.ndarray:
    env = _envelope(held, 0.004, 0.4, 0.75, 0.06, tau=3.0)
    return _ensemble("saw", pitch, 2800.0, len(env), (-4.0, 4.0)) * env


def guitar_acoustic(pitch: int, velocity: float, held: int) -> np.ndarray:
    env = _envelope(held, 0.001, _decay_for(pitch, 0.9), 0.0, 0.08)
    n = len(env)
    phase = _phase(hz(pitch), n)
    return _crossfade(wavetable("saw", pitch, 5000.0), wavetable("triangle", pitch, 1800.0), phase, n, 0.05) * env


def stab(pitch: int, velocity: float, held: int) -> np.ndarray:
    env = _envelope(held, 0.002, 0.18, 0.45, 0.08)
    n = len(env)
    bright = _ensemble("saw", pitch, 4500.0, n, (-10.0, 10.0))
    dark = _ensemble("saw", pitch, 1100.0, n, (-10.0, 10.0))
    fade = np.exp(-_times(n) / 0.07).astype(F32)
    return (dark + (bright - dark) * fade) * env


def bass_sub(pitch: int, velocity: float, held: int) -> np.ndarray:
    env = _envelope(held, 0.006, 0.3, 0.9, 0.05)
    return _read(wavetable("bass", pitch, 1200.0), _phase(hz(pitch), len(env))) * env


def bass_picked(pitch: int, velocity: float, held: int) -> np.ndarray:
    env = _envelope(held, 0.003, 0.9, 0.35, 0.05)
    n = len(env)
    return (
        _crossfade(wavetable("saw", pitch, 2400.0), wavetable("saw", pitch, 500.0), _phase(hz(pitch), n), n, 0.12) * env
    )


def bass_reese(pitch: int, velocity: float, held: int) -> np.ndarray:
    env = _envelope(held, 0.01, 0.5, 0.9, 0.08)
    return _ensemble("saw", pitch, 800.0, len(env), (-14.0, 14.0)) * env


def bass_upright(pitch: int, velocity: float, held: int) -> np.ndarray:
    env = _envelope(held, 0.004, 0.45, 0.2, 0.07)
    n = len(env)
    return (
        _crossfade(wavetable("bass", pitch, 1800.0), wavetable("bass", pitch, 450.0), _phase(hz(pitch), n), n, 0.09)
        * env
    )


def bass_piano(pitch: int, velocity: float, held: int) -> np.ndarray:
    return piano(pitch, velocity, held)


def _lead(recipe: str, cutoff: float, cents: tuple[float, ...]) -> Instrument:
    def play(pitch: int, velocity: float, held: int) -> np.ndarray:
        env = _envelope(held, 0.012, 0.3, 0.85, 0.12)
        n = len(env)
        drift = _vibrato(n, 5.5, 0.22, 0.25, pitch)
        return _ensemble(recipe, pitch, cutoff, n, cents, drift) * env

    return play


def lead_flute(pitch: int, velocity: float, held: int) -> np.ndarray:
    env = _envelope(held, 0.045, 0.2, 0.9, 0.1)
    n = len(env)
    drift = _vibrato(n, 5.0, 0.2, 0.2, pitch)
    tone = _read(wavetable("flute", pitch, 4000.0), _phase(hz(pitch), n, drift=drift))
    breath = _noise(4096, 1500.0, 6000.0, 23)
    chiff = np.resize(breath, n) * (0.05 + 0.25 * np.exp(-_times(n) / 0.04)).astype(F32)
    return (tone + chiff) * env


def lead_bell(pitch: int, velocity: float, held: int) -> np.ndarray:
    env = _envelope(held, 0.001, _decay_for(pitch, 1.6), 0.0, 0.35)
    n = len(env)
    t = _times(n)
    w = 2 * np.pi * hz(pitch) * t
    ratio = 3.5
    # FM makes sidebands at f + k * ratio * f, about index + 1 of them: keep them under Nyquist (no aliasing).
    room = (0.45 * SAMPLE_RATE - hz(pitch)) / (ratio * hz(pitch)) - 1.0
    peak = max(0.0, min(2.2, room))
    index = peak * np.exp(-t / 0.35) + min(0.2, peak)
    return (np.sin(w + index * np.sin(ratio * w)) * env).astype(F32)


def lead_vibes(pitch: int, velocity: float, held: int) -> np.ndarray:
    env = _envelope(held, 0.002, _decay_for(pitch, 1.3), 0.0, 0.3)
    n = len(env)
    t = _times(n)
    w = 2 * np.pi * hz(pitch) * t
    tone = np.sin(w) + (0.35 * np.exp(-t / 0.15) * np.sin(4 * w) if hz(pitch) * 4 < 0.45 * SAMPLE_RATE else 0.0)
    tremolo = 1.0 - 0.2 * (1 + np.sin(2 * np.pi * 5.0 * t)) / 2
    return (tone * tremolo * env).astype(F32)


INSTRUMENTS: dict[str, Instrument] = {
    "piano": piano,
    "lead_piano": piano,
    "bass_piano": bass_piano,
    "epiano": epiano,
    "organ": organ,
    "pad": pad,
    "strings": strings,
    "guitar": guitar,
    "guitar_acoustic": guitar_acoustic,
    "stab": stab,
    "bass_sub": bass_sub,
    "bass_picked": bass_picked,
    "bass_reese": bass_reese,
    "bass_upright": bass_upright,
    "lead_square": _lead("square", 3000.0, (0.0,)),
    "lead_saw": _lead("saw", 3200.0, (-6.0, 6.0)),
    "lead_flute": lead_flute,
    "lead_bell": lead_bell,
    "lead_vibes": lead_vibes,
}


# --- the singer ----------------------------------------------------------------------------------------------------
def _sing(note: Note, previous: Note | None, female: bool, seconds: Callable[[int], float], n_on: int) -> np.ndarray:
    """One sung note: a vowel on the note's pitch, gliding in from a legato predecessor, with vibrato."""
    syllable = note.lyric or "ah"
    vowel = words.vowel(syllable)
    onset = words.onset(syllable)
    attack = {"t": 0.012, "s": 0.05, "n": 0.06}.get(onset, 0.035)
    env = _envelope(n_on, attack, 0.4, 0.82, 0.08)
    n = len(env)
    t = _times(n)
    drift = _vibrato(n, 5.3, 0.35, 0.22, note.start)
    if previous is not None and seconds(note.start) - seconds(previous.end) < 0.06 and previous.pitch != note.pitch:
        # Legato: slide from the previous pitch over the first 60 ms, as a singer does.
        glide = (previous.pitch - note.pitch) * np.exp(-t / 0.03)
        drift = drift * 2.0 ** (glide / 12.0)
    table = vowel_table(vowel, note.pitch, female)
    voice = _read(table, _phase(hz(note.pitch), n, drift=drift)) * env
    breath = np.resize(_noise(8192, 1200.0, 7000.0, 31), n) * env * F32(0.035)
    voice += breath
    if onset in ("s", "t"):
        # A hiss for sibilants, a short burst for plosives, each opening over 2 ms (no digital click).
        noise, burst_s, level = (
            (_noise(2048, 4000.0, 10000.0, 37), 0.07, 0.22)
            if onset == "s"
            else (_noise(1024, 1500.0, 8000.0, 41), 0.015, 0.3)
        )
        burst = noise[: min(n, int(burst_s * SAMPLE_RATE))]
        shape = np.linspace(level, 0.0, len(burst), dtype=F32)
        shape[:44] *= np.linspace(0.0, 1.0, min(44, len(shape)), dtype=F32)[: len(shape[:44])]
        voice[: len(burst)] += burst * shape
    return voice * F32(_velocity(note, 1.2))


# --- drums ---------------------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Kit:
    kick_from: float  # Hz at the start of the kick's pitch sweep
    kick_to: float
    kick_decay: float
    kick_click: float
    kick_drive: float
    snare_tone: float
    snare_decay: float
    snare_brightness: float  # top of the snare noise band, Hz
    hat_top: float
    hat_decay: float
    brush: bool = False


KITS = {
    "acoustic": Kit(170, 62, 0.24, 0.4, 1.8, 190, 0.14, 9000, 10500, 0.035),
    "soft": Kit(130, 60, 0.26, 0.15, 1.2, 175, 0.17, 5500, 7500, 0.03),
    "breaks": Kit(190, 66, 0.16, 0.5, 2.2, 230, 0.1, 10000, 10800, 0.025),
    "electronic": Kit(160, 55, 0.38, 0.35, 2.8, 200, 0.12, 8000, 10800, 0.03),
    "jazz": Kit(120, 62, 0.22, 0.12, 1.2, 180, 0.2, 7000, 9500, 0.03, brush=True),
}


@lru_cache(maxsize=64)
def drum_sound(kit_name: str, key: int) -> np.ndarray:
    """A one-shot drum sound of a kit, synthesised once and reused."""
    kit = KITS.get(kit_name, KITS["acoustic"])

    def length(seconds: float) -> int:
        return int(seconds * SAMPLE_RATE)

    if key == KICK:
        n = length(kit.kick_decay * 4)
        t = _times(n)
        sweep = kit.kick_to + (kit.kick_from - kit.kick_to) * np.exp(-t / 0.035)
        phase = np.cumsum(sweep) / SAMPLE_RATE
        body = np.sin(2 * np.pi * phase) * np.exp(-t / kit.kick_decay)
        body = np.tanh(kit.kick_drive * body) / math.tanh(kit.kick_drive)
        click = _noise(n, 1000.0, 6000.0, 3) * np.exp(-t / 0.004) * kit.kick_click
        return (body + click).astype(F32)
    if key in (SNARE, CLAP, RIM):
        if key == RIM:
            n = length(0.08)
            t = _times(n)
            return (
                np.sin(2 * np.pi * 1700 * t) * np.exp(-t / 0.012) + _noise(n, 2000, 8000, 5) * np.exp(-t / 0.006) * 0.5
            ).astype(F32)
        n = length(0.45)
        t = _times(n)
        if key == CLAP:
            noise = _noise(n, 900.0, 5000.0, 7)
            bursts = sum(np.where(t >= d, np.exp(-(t - d) / 0.008), 0.0) for d in (0.0, 0.011, 0.022))
            tail = np.where(t >= 0.03, np.exp(-(t - 0.03) / 0.09), 0.0)
            return (noise * (0.55 * bursts + tail)).astype(F32)
        decay = kit.snare_decay * (1.6 if kit.brush else 1.0)
        tone = (np.sin(2 * np.pi * kit.snare_tone * t) + 0.5 * np.sin(2 * np.pi * kit.snare_tone * 1.75 * t)) * np.exp(
            -t / 0.045
        )
        noise = _noise(n, 1200.0 if not kit.brush else 2500.0, kit.snare_brightness, 9) * np.exp(-t / decay)
        attack = np.clip(t / (0.012 if kit.brush else 0.001), 0.0, 1.0)
        return ((0.0 if kit.brush else 0.55) * tone + noise) * attack
    if key in (HAT, PEDAL_HAT, OPEN_HAT, SHAKER):
        decay = {HAT: kit.hat_decay, PEDAL_HAT: 0.02, OPEN_HAT: 0.3, SHAKER: 0.045}[key]
        n = length(min(1.2, decay * 5 + 0.01))
        t = _times(n)
        low = {SHAKER: 4500.0, PEDAL_HAT: 3500.0}.get(key, 6000.0)
        attack = np.clip(t / (0.01 if key == SHAKER else 0.0005), 0.0, 1.0)
        return (
            _noise(n, low, kit.hat_top, 13 + key) * np.exp(-t / decay) * attack * (0.6 if key == PEDAL_HAT else 1.0)
        ).astype(F32)
    if key == RIDE:
        n = length(1.4)
        t = _times(n)
        ping = sum(np.sin(2 * np.pi * f * t) for f in (3150.0, 4270.0, 5010.0)) / 3
        wash = _noise(n, 3500.0, kit.hat_top, 17)
        return ((0.2 * ping + 0.28 * wash) * np.exp(-t / 0.45)).astype(F32)  # under the kit, not over it
    if key == CRASH:
        n = length(2.0)
        t = _times(n)
        return (_noise(n, 2500.0, kit.hat_top, 19) * np.exp(-t / 0.7) * 0.8).astype(F32)
    # Any other key (a tom a MIDI file might hold): a short pitched thump.
    n = length(0.4)
    t = _times(n)
    return (np.sin(2 * np.pi * hz(key) * t) * np.exp(-t / 0.12)).astype(F32)


# --- rendering a part ----------------------------------------------------------------------------------------------
def render_part(score: Score, part: Part, total: int) -> np.ndarray:
    """The dry signal of one part over ``total`` samples (notes past the end are cut)."""
    out = np.zeros(total, dtype=F32)

    def place(start_s: float, sound: np.ndarray) -> None:
        at = round(start_s * SAMPLE_RATE)
        if at >= total or len(sound) == 0:
            return
        end = min(total, at + len(sound))
        out[at:end] += sound[: end - at]

    if part.is_drums:
        for note in part.notes:
            sound = drum_sound(part.patch, note.pitch)
            if note.pitch == OPEN_HAT:  # choked by the next hat: the note's end is where the foot closes it
                keep = max(1, int((score.seconds(note.end) - score.seconds(note.start)) * SAMPLE_RATE))
                if keep < len(sound):
                    sound = sound[:keep] * np.linspace(1.0, 0.0, keep, dtype=F32)
            place(score.seconds(note.start), sound * F32(_velocity(note, 1.4)))
        return out
    if part.patch.startswith("vocal"):
        female = part.patch.endswith("female")
        previous: Note | None = None
        for note in part.notes:
            held = max(1, round((score.seconds(note.end) - score.seconds(note.start)) * SAMPLE_RATE))
            place(score.seconds(note.start), _sing(note, previous, female, score.seconds, held))
            previous = note
        return out
    instrument = INSTRUMENTS.get(part.patch, piano)
    cache: dict[tuple[int, int, int], np.ndarray] = {}
    for note in part.notes:
        held = max(1, round((score.seconds(note.end) - score.seconds(note.start)) * SAMPLE_RATE))
        key = (note.pitch, note.velocity, held)
        rendered = cache.get(key)
        if rendered is None:
            velocity = _velocity(note)
            rendered = instrument(note.pitch, velocity, held) * F32(velocity)
            cache[key] = rendered
        place(score.seconds(note.start), rendered)
    if part.patch == "guitar":
        # The amp: a soft clip of the whole guitar part, so chords distort together as they do through one amp.
        peak = float(np.max(np.abs(out))) or 1.0
        out = (np.tanh(3.0 * out / peak) * peak / math.tanh(3.0)).astype(F32)
    return out
