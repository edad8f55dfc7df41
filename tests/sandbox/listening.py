"""Numbers a listener's ear would notice, measured on int16 samples: loudness, brightness, busyness, tempo."""

from __future__ import annotations

import numpy as np

FULL_SCALE = 32767.0


def rms_db(samples: np.ndarray) -> float:
    x = samples.astype(np.float64) / FULL_SCALE
    return float(20 * np.log10(np.sqrt(np.mean(x**2)) + 1e-12))


def peak(samples: np.ndarray) -> int:
    return int(np.max(np.abs(samples.astype(np.int32))))


def centroid_hz(samples: np.ndarray, rate: int) -> float:
    """Spectral centroid: where the sound's energy sits, low (dark, soft) to high (bright, hard)."""
    spectrum = np.abs(np.fft.rfft(samples.astype(np.float64)))
    freqs = np.fft.rfftfreq(len(samples), 1.0 / rate)
    return float(np.sum(spectrum * freqs) / max(np.sum(spectrum), 1e-12))


def _flux(samples: np.ndarray, rate: int, hop: int = 128) -> tuple[np.ndarray, float]:
    frames = len(samples) // hop
    x = samples[: frames * hop].astype(np.float64).reshape(frames, hop) / FULL_SCALE
    envelope = np.sqrt(np.mean(x**2, axis=1))
    flux = np.maximum(0.0, np.diff(np.log(envelope + 1e-3)))
    return flux, rate / hop


def onsets_per_second(samples: np.ndarray, rate: int) -> float:
    """How often the sound jumps up in level: a busy drum break scores high, a sparse beat low."""
    flux, _ = _flux(samples, rate)
    threshold = flux.mean() + flux.std()
    middle = flux[1:-1]
    peaks = (middle > threshold) & (middle >= flux[:-2]) & (middle > flux[2:])
    return float(np.sum(peaks) / (len(samples) / rate))


def tempo_bpm(samples: np.ndarray, rate: int, *, near: float) -> float:
    """The tempo within 15% of ``near`` whose beats line up best: the autocorrelation of the onset strength, read
    through a comb of 16 beats. A tempo played 10% off ``near`` is found as it is; so is one played at ``near``.

    (A search over every tempo is fooled by grooves such as the tresillo, 3+3+2 sixteenths: its dotted eighths line
    up like a beat 4/3 as fast, and over a few beats they line up better than the beat itself.)"""
    flux, fps = _flux(samples, rate)
    flux = flux - flux.mean()
    size = 1 << int(np.ceil(np.log2(2 * len(flux))))
    spectrum = np.fft.rfft(flux, size)
    correlation = np.fft.irfft(spectrum * np.conj(spectrum), size)[: len(flux)]
    lags = np.arange(len(correlation))
    candidates = np.arange(0.85 * near, 1.15 * near, 0.25)
    periods = 60.0 * fps / candidates
    scores = np.mean([np.interp(k * periods, lags, correlation) for k in range(1, 17)], axis=0)
    return float(candidates[int(np.argmax(scores))])


def same_tempo(measured: float, expected: float, tolerance: float = 0.02) -> bool:
    return abs(measured - expected) <= tolerance * expected
