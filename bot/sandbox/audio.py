"""Deterministic WAV synthesis for sandbox clips: a short hash-seeded melody over a bass line and a click.

Everything is derived from one key string (style, lyrics, seed, operation, take), so the same clip always sounds
the same and different prompts pick a different scale, root, tempo and timbre. Only the standard library is used,
and the inner loop works on precomputed wavetables with fixed-point phase so ~4 s renders in a few milliseconds.
"""

from __future__ import annotations

import hashlib
import io
import math
import random
import sys
import wave
from array import array
from dataclasses import dataclass

SAMPLE_RATE = 22050
_TABLE_BITS = 11
_TABLE_SIZE = 1 << _TABLE_BITS
_TABLE_MASK = _TABLE_SIZE - 1
_FRAC_BITS = 16  # fixed-point fraction of the wavetable phase

# Scale intervals in semitones; the key hash picks one, which is the most audible difference between prompts.
_SCALES: tuple[tuple[int, ...], ...] = (
    (0, 2, 4, 5, 7, 9, 11),  # major
    (0, 2, 3, 5, 7, 8, 10),  # natural minor
    (0, 2, 4, 7, 9),  # major pentatonic
    (0, 3, 5, 7, 10),  # minor pentatonic
    (0, 2, 3, 5, 7, 9, 10),  # dorian
    (0, 1, 3, 5, 7, 8, 10),  # phrygian
    (0, 3, 5, 6, 7, 10),  # blues
)
# Harmonic weights per timbre: sine, triangle-like, soft square, saw-like, organ.
_TIMBRES: tuple[tuple[float, ...], ...] = (
    (1.0,),
    (1.0, 0.0, -1 / 9, 0.0, 1 / 25, 0.0, -1 / 49),
    (1.0, 0.0, 1 / 3, 0.0, 1 / 5, 0.0, 1 / 7),
    (1.0, 1 / 2, 1 / 3, 1 / 4, 1 / 5, 1 / 6),
    (1.0, 0.5, 0.0, 0.25, 0.0, 0.0, 0.0, 0.125),
)
_MELODY_PEAK = 12000.0
_BASS_PEAK = 7000.0
_CLICK_PEAK = 6000.0


@dataclass(frozen=True, slots=True)
class Voice:
    """The musical choices a key hashes to; exposed so tests can check that prompts map to different music."""

    scale: tuple[int, ...]
    root: int  # MIDI note of the bass root
    bpm: int
    timbre: int


def _rng(key: str) -> random.Random:
    return random.Random(int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big"))


def voice_for(key: str) -> Voice:
    rng = _rng(key)
    return Voice(
        scale=rng.choice(_SCALES),
        root=rng.randint(40, 52),
        bpm=rng.randint(84, 156),
        timbre=rng.randrange(len(_TIMBRES)),
    )


def _wavetable(weights: tuple[float, ...], peak: float) -> list[float]:
    raw = [
        sum(w * math.sin(2 * math.pi * (h + 1) * i / _TABLE_SIZE) for h, w in enumerate(weights) if w)
        for i in range(_TABLE_SIZE)
    ]
    top = max(abs(v) for v in raw) or 1.0
    return [v * peak / top for v in raw]


def _step(freq: float) -> int:
    """Fixed-point wavetable increment per sample for a frequency."""
    return int(freq * _TABLE_SIZE / SAMPLE_RATE * (1 << _FRAC_BITS))


def _hz(midi: int) -> float:
    return 440.0 * 2 ** ((midi - 69) / 12)


def _envelope(length: int) -> list[float]:
    """Fast attack, exponential-ish decay, short release: notes start and end at zero, so no clicks between them."""
    attack = max(1, min(length // 8, int(0.006 * SAMPLE_RATE)))
    release = max(1, min(length // 4, int(0.02 * SAMPLE_RATE)))
    body = length - attack - release
    env = [i / attack for i in range(attack)]
    env += [0.35 + 0.65 * math.exp(-4.0 * i / max(body, 1)) for i in range(body)]
    tail = env[-1] if env else 1.0
    env += [tail * (1 - i / release) for i in range(release)]
    return env


def _click(rng: random.Random) -> list[float]:
    length = int(0.03 * SAMPLE_RATE)
    return [rng.uniform(-1.0, 1.0) * _CLICK_PEAK * (1 - i / length) ** 3 for i in range(length)]


def synthesise(key: str, seconds: float) -> array:
    """Mono 16-bit samples at :data:`SAMPLE_RATE`, exactly ``seconds`` long."""
    total = max(1, int(seconds * SAMPLE_RATE))
    voice = voice_for(key)
    rng = _rng(key + "\x00notes")
    lead = _wavetable(_TIMBRES[voice.timbre], _MELODY_PEAK)
    bass = _wavetable((1.0, 0.3), _BASS_PEAK)
    step_len = max(64, int(SAMPLE_RATE * 30 / voice.bpm))  # eighth notes
    env = _envelope(step_len)
    click = _click(rng)
    silent = [0.0] * _TABLE_SIZE
    scale = voice.scale
    out = array("h")
    degree = rng.randrange(len(scale))
    bass_note = voice.root
    frac, mask = _FRAC_BITS, _TABLE_MASK
    index = 0
    while len(out) < total:
        length = min(step_len, total - len(out))
        if index % 4 == 0:
            # A new bass note each half bar, from the root, fourth or fifth, so the harmony moves.
            bass_note = voice.root + rng.choice((0, 0, 5, 7))
        # A random walk over the scale keeps the melody tuneful; an occasional rest keeps it from droning.
        degree = max(0, min(2 * len(scale) - 1, degree + rng.choice((-2, -1, -1, 0, 1, 1, 2))))
        rest = rng.random() < 0.12
        octave, pos = divmod(degree, len(scale))
        table = silent if rest else lead
        inc_lead = _step(_hz(voice.root + 12 + 12 * octave + scale[pos]))
        inc_bass = _step(_hz(bass_note))
        samples = [
            (table[((i * inc_lead) >> frac) & mask] + bass[((i * inc_bass) >> frac) & mask]) * env[i]
            for i in range(length)
        ]
        if index % 2 == 0:
            for i, value in enumerate(click[:length]):
                samples[i] += value
        out.extend(map(int, samples))
        index += 1
    return out


def wav_bytes(samples: array) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(SAMPLE_RATE)
        if sys.byteorder == "big":
            # WAV is little-endian; array("h") uses the host's byte order.
            samples = array("h", samples)
            samples.byteswap()
        writer.writeframes(samples.tobytes())
    return buffer.getvalue()


def render_wav(key: str, seconds: float) -> bytes:
    """A complete WAV file for a clip key."""
    return wav_bytes(synthesise(key, seconds))
