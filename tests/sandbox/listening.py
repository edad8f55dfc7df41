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


def tempo_bpm(samples: np.ndarray, rate: int) -> float:
    """The beat by autocorrelation of the onset strength: the lag whose multiples line up best (a comb)."""
    flux, fps = _flux(samples, rate)
    flux = flux - flux.mean()
    size = 1 << int(np.ceil(np.log2(2 * len(flux))))
    spectrum = np.fft.rfft(flux, size)
    correlation = np.fft.irfft(spectrum * np.conj(spectrum), size)[: len(flux)]
    lags = np.arange(len(correlation))
    best, best_score = 0.0, -np.inf
    for bpm in np.arange(60.0, 200.5, 0.25):
        period = 60.0 * fps / bpm
        score = np.mean([np.interp(k * period, lags, correlation) for k in range(1, 5)])
        if score > best_score:
            best, best_score = float(bpm), float(score)
    return best


def same_tempo(measured: float, expected: float, tolerance: float = 0.04) -> bool:
    """True when ``measured`` is ``expected`` or its double or half (a beat counted in halves is the same beat)."""
    return any(abs(measured - expected * k) <= tolerance * expected * k for k in (0.5, 1.0, 2.0))
