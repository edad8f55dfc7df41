"""Mixing: each part levelled, given a touch of room, then one master gain curve for all of them.

Everything after the synthesiser is linear per part (fader, reverb) and the master is a gain curve applied to
every stem alike (loudness, peak limiting, fades), so the stems add up to the mix: only the final rounding to
16-bit integers separates the two. Being linear, the room is one reverb bus for the mix (every part's send through
it once); a part's own share of it is worked out only when its stem is asked for.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property, lru_cache

import numpy as np

from bot.sandbox.music import synth
from bot.sandbox.music.score import Score

SAMPLE_RATE = synth.SAMPLE_RATE
F32 = np.float32
CEILING = 10 ** (-1.0 / 20)  # -1 dBFS: peaks never reach full scale
TARGET_RMS = 10 ** (-15.0 / 20)  # about where streaming services sit; loud enough for laptop speakers
PART_REFERENCE = 10 ** (-12.0 / 20)  # a part's playing loudness at 0 dB gain, before the master
_REVERB_DOWN = 4  # the room is computed at a quarter of the sample rate: a tail is dark anyway
_LIMITER_BLOCK = 128
_RELEASE_PER_BLOCK = 0.004  # the limiter lets go over ~0.4 s
FADE_IN_S = 0.005
FADE_OUT_S = 0.25  # the end of a song that ends by itself
FADE_CUT_S = 1.5  # a song cut short (a forced length) fades out over this
PRESENCE = 0.4


class Mix:
    """A rendered song: the mix (int16), and its stems (int16 per part, in the score's part order), which are made
    the first time they are asked for: most songs are only ever heard whole."""

    def __init__(self, sample_rate: int, mix: np.ndarray, stems: Callable[[], dict[str, np.ndarray]]) -> None:
        self.sample_rate = sample_rate
        self.mix = mix
        self._make_stems = stems

    @cached_property
    def stems(self) -> dict[str, np.ndarray]:
        return self._make_stems()

    @property
    def seconds(self) -> float:
        return len(self.mix) / self.sample_rate


@lru_cache(maxsize=8)
def _room(seconds: float) -> np.ndarray:
    """The impulse response of a small room at the reduced rate: decaying noise after a short pre-delay."""
    rate = SAMPLE_RATE // _REVERB_DOWN
    n = int(seconds * rate)
    rng = np.random.default_rng(97)
    t = np.arange(n) / rate
    response = rng.standard_normal(n) * np.exp(-t * 6.9 / seconds)
    response[: int(0.018 * rate)] = 0.0
    return (response / np.sqrt(np.sum(response**2))).astype(np.float64)


@lru_cache(maxsize=16)
def _room_spectrum(seconds: float, size: int) -> np.ndarray:
    """The room's response in the frequency domain, for convolutions of ``size`` points (every part of a song
    shares it)."""
    return np.fft.rfft(_room(seconds), size)


def _fft_size(n: int) -> int:
    """The smallest 2^a * 3^b * 5^c >= n: as fast for pocketfft as a power of two, and up to half the length."""
    best = 1 << max(0, (n - 1).bit_length())
    three = 1
    while three < best:
        five = three
        while five < best:
            size = five
            while size < n:
                size *= 2
            best = min(best, size)
            five *= 5
        three *= 3
    return best


def _upsample(low: np.ndarray, n: int) -> np.ndarray:
    """``low`` (one sample per _REVERB_DOWN) back at the full rate over ``n`` samples, by linear interpolation
    between the block centres (what np.interp would give, without its search)."""
    step = _REVERB_DOWN
    m = len(low)
    padded = np.empty(m + 2, dtype=low.dtype)  # the ends held, as np.interp holds them
    padded[0], padded[1:-1], padded[-1] = low[0], low, low[-1]
    out = np.empty(m * step, dtype=np.float64)
    centre = (step - 1) / 2
    for phase in range(step):
        offset = (phase - centre) / step  # where this phase's samples fall between the block centres
        if offset < 0:
            out[phase::step] = padded[:-2] * -offset + padded[1:-1] * (1.0 + offset)
        else:
            out[phase::step] = padded[1:-1] * (1.0 - offset) + padded[2:] * offset
    if n > len(out):
        out = np.concatenate([out, np.full(n - len(out), low[-1])])
    return out[:n]


def reverb(signal: np.ndarray, send: float, decay_s: float) -> np.ndarray:
    """The wet signal of ``signal`` through the room, at ``send`` level (same length)."""
    n = len(signal)
    usable = n - n % _REVERB_DOWN
    if send <= 0 or usable == 0:
        return np.zeros(n, dtype=F32)
    low = signal[:usable].reshape(-1, _REVERB_DOWN).mean(axis=1, dtype=np.float64)
    size = _fft_size(len(low) + len(_room(decay_s)))
    wet_low = np.fft.irfft(np.fft.rfft(low, size) * _room_spectrum(decay_s, size), size)[: len(low)]
    return (_upsample(wet_low, n) * send).astype(F32)


def playing_rms(signal: np.ndarray) -> float:
    """RMS over the stretches where the part plays (50 ms blocks within 30 dB of its loudest)."""
    block = SAMPLE_RATE // 20
    usable = len(signal) - len(signal) % block
    if usable == 0:
        return float(np.sqrt(np.mean(signal**2))) if len(signal) else 0.0
    energy = np.mean(signal[:usable].reshape(-1, block).astype(np.float64) ** 2, axis=1)
    loud = energy[energy >= energy.max() * 1e-3]
    return float(np.sqrt(np.mean(loud))) if len(loud) else 0.0


def _limiter(signal: np.ndarray) -> np.ndarray:
    """A gain curve (<= 1) that keeps ``signal * gain`` under the ceiling, with look-ahead and a slow release.

    Each block's gain is at most what its own peak and its neighbours' peaks allow, and samples interpolate
    between block gains, so no sample can exceed the ceiling.
    """
    n = len(signal)
    blocks = -(-n // _LIMITER_BLOCK)
    padded = np.zeros(blocks * _LIMITER_BLOCK, dtype=F32)
    padded[:n] = np.abs(signal)
    peaks = padded.reshape(blocks, _LIMITER_BLOCK).max(axis=1).astype(np.float64)
    allowed = np.minimum(1.0, CEILING / np.maximum(peaks, 1e-9))
    guard = allowed.copy()
    guard[1:] = np.minimum(guard[1:], allowed[:-1])
    guard[:-1] = np.minimum(guard[:-1], allowed[1:])
    gains = np.empty(blocks)
    level = 1.0
    for i, limit in enumerate(guard):  # one pass over ~4000 blocks: the release needs the previous value
        level = min(limit, level + _RELEASE_PER_BLOCK)
        gains[i] = level
    centres = (np.arange(blocks) + 0.5) * _LIMITER_BLOCK
    return np.interp(np.arange(n), centres, gains).astype(F32)


def presence(signal: np.ndarray, amount: float = PRESENCE) -> np.ndarray:
    """A broad lift around 5 kHz (about +3 dB at 3 kHz, +5 dB at 5.5 kHz, flat below 1 kHz): the bite that small
    speakers reproduce best. A 5-tap FIR, y = x + a * (x - (x[n-2] + x[n+2]) / 2), so it is linear and cheap."""
    out = signal * F32(1.0 + amount)
    out[2:] -= signal[:-2] * F32(amount / 2)
    out[:-2] -= signal[2:] * F32(amount / 2)
    return out


def _fades(n: int, cut: bool) -> np.ndarray:
    curve = np.ones(n, dtype=F32)
    fade_in = min(n, int(FADE_IN_S * SAMPLE_RATE))
    curve[:fade_in] = np.linspace(0.0, 1.0, fade_in, dtype=F32)
    out_s = FADE_CUT_S if cut else FADE_OUT_S
    fade_out = min(n // 3 if cut else n, int(out_s * SAMPLE_RATE))
    if fade_out:
        curve[n - fade_out :] *= np.linspace(1.0, 0.0, fade_out, dtype=F32) ** 2
    return curve


def _dry_parts(score: Score, total: int) -> list[tuple[str, np.ndarray, float]]:
    """Each part synthesised and levelled to its place in the mix: (name, signal, reverb send)."""
    parts = []
    for part in score.parts:
        dry = synth.render_part(score, part, total)
        level = playing_rms(dry)
        if level > 0:
            dry *= F32(PART_REFERENCE * 10 ** (part.gain_db / 20) / level)
        parts.append((part.name, dry, part.reverb))
    return parts


def render(score: Score, *, stems: bool = False) -> Mix:
    """The score as audio: a mix and its stems (one per part), 16-bit at :data:`SAMPLE_RATE`. The stems are made
    when first asked for, by synthesising the parts again; ``stems=True`` makes them now, from the same parts (for a
    caller that will need them)."""
    total = max(1, round(score.duration_s * SAMPLE_RATE))
    decay = 2.6 if score.style == "ambient" else 1.3
    parts = _dry_parts(score, total)
    summed = np.zeros(total, dtype=F32)
    sends = np.zeros(total, dtype=F32)
    for _, dry, send in parts:
        summed += dry
        if send > 0:
            sends += dry * F32(send)
    summed = presence(summed + reverb(sends, 1.0, decay))
    loudness = float(np.sqrt(np.mean(summed.astype(np.float64) ** 2)))
    gain = np.full(total, TARGET_RMS / loudness if loudness > 0 else 1.0, dtype=F32)
    gain *= _limiter(summed * gain)
    gain *= _fades(total, score.faded)

    def each_through_the_room(of: list[tuple[str, np.ndarray, float]]) -> dict[str, np.ndarray]:
        return {name: _pcm(presence(dry + reverb(dry, send, decay)) * gain) for name, dry, send in of}

    if stems:
        made = each_through_the_room(parts)
        return Mix(SAMPLE_RATE, _pcm(summed * gain), lambda: made)
    # The mix keeps none of the parts (~2 MB each): its stems synthesise them again.
    return Mix(SAMPLE_RATE, _pcm(summed * gain), lambda: each_through_the_room(_dry_parts(score, total)))


def _pcm(signal: np.ndarray) -> np.ndarray:
    return np.clip(np.round(signal * 32767.0), -32768, 32767).astype(np.int16)
