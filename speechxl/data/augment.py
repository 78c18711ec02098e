"""Waveform augmentation of training utterances: what a practitioner reaches for first.

- Speed perturbation (Ko et al. 2015, Kaldi's ``perturb_data_dir_speed.sh``): the utterance played
  faster or slower by a factor drawn from ``speed``: tempo, pitch and formants move together.
- Frequency warping (VTLP, Jaitly and Hinton 2013, on the waveform): the short-time spectrum
  stretched by a factor drawn from [1 - warp, 1 + warp], the duration kept: pitch and formants move
  as for a speaker with a shorter or longer vocal tract.
- Reverberation: the utterance convolved with a synthetic room impulse response (a direct path and
  exponentially decaying noise, RT60 drawn from ``reverb_rt60``).
- Noise: white, pink or brown noise at an SNR drawn from ``noise_snr_db``.

Applied in that order, each utterance with its own draws from a generator the loader seeds with
the run's seed, the epoch and the batch's place in it, so that a resumed run augments as the
uninterrupted one did. None is on by default.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from speechxl.config import ConfigError


@dataclass(kw_only=True)
class AugmentConfig:
    """Waveform augmentation of the training batches (see speechxl/data/augment.py); all off by default."""

    speed: list[float] = field(default_factory=list)
    """Speed factors, one drawn per utterance, e.g. [0.9, 1.0, 1.1]; empty: none."""
    warp: float = 0.0
    """Frequency warping by a factor in [1 - warp, 1 + warp] (e.g. 0.1); 0: none."""
    reverb_prob: float = 0.0
    """The share of utterances reverberated."""
    reverb_rt60: list[float] = field(default_factory=lambda: [0.2, 0.7])
    """Range of the room's reverberation time, seconds."""
    noise_prob: float = 0.0
    """The share of utterances with noise added."""
    noise_snr_db: list[float] = field(default_factory=lambda: [5.0, 25.0])
    """Range of the signal-to-noise ratio, dB."""

    def validate(self) -> None:
        if any(not 0.5 <= f <= 2.0 for f in self.speed):
            raise ConfigError(f"speed: factors between 0.5 and 2, not {self.speed}")
        if not 0 <= self.warp < 0.5:
            raise ConfigError(f"warp: between 0 and 0.5, not {self.warp}")
        for name in ("reverb_prob", "noise_prob"):
            if not 0 <= getattr(self, name) <= 1:
                raise ConfigError(f"{name}: a probability, not {getattr(self, name)}")
        for name in ("reverb_rt60", "noise_snr_db"):
            lo_hi = getattr(self, name)
            if len(lo_hi) != 2 or lo_hi[0] > lo_hi[1]:
                raise ConfigError(f"{name}: [low, high], not {lo_hi}")
        if self.reverb_rt60[0] <= 0:
            raise ConfigError(f"reverb_rt60: positive times, not {self.reverb_rt60}")

    def active(self) -> bool:
        return bool(self.speed) or self.warp > 0 or self.reverb_prob > 0 or self.noise_prob > 0


def speed(x: np.ndarray, factor: float) -> np.ndarray:
    """``x`` (S,) played ``factor`` times faster: (about S / factor,)."""
    import soxr

    if factor == 1.0:
        return x
    return soxr.resample(x, factor, 1.0).astype(np.float32)


def warp(x: np.ndarray, factor: float, n_fft: int = 512) -> np.ndarray:
    """``x`` (S,) with its short-time spectrum stretched by ``factor`` along frequency, a phase vocoder's
    way: bin k of the result takes the magnitude of bin k / factor and ``factor`` times its phase
    advance per hop (so that its frequency moves too); (S,)."""
    from scipy.signal import istft, stft

    if factor == 1.0 or x.size < n_fft:
        return x
    hop = n_fft // 4
    _, _, z = stft(x, nperseg=n_fft, noverlap=n_fft - hop)  # (F, T)
    bins = np.arange(z.shape[0])
    expected = 2 * np.pi * hop * bins / n_fft  # (F,) a bin's phase advance per hop
    phase = np.angle(z)
    deviation = np.diff(phase, axis=1, prepend=phase[:, :1]) - expected[:, None]
    advance = expected[:, None] + (deviation + np.pi) % (2 * np.pi) - np.pi  # (F, T) each bin's true advance
    source = bins / factor  # (F,) where each bin of the result reads, between bins lo and lo + 1
    lo = np.minimum(source.astype(int), bins[-1])
    hi, frac = np.minimum(lo + 1, bins[-1]), (source - lo)[:, None]
    magnitude = np.abs(z)
    magnitude = np.where((source <= bins[-1])[:, None], (1 - frac) * magnitude[lo] + frac * magnitude[hi], 0.0)
    advance = factor * ((1 - frac) * advance[lo] + frac * advance[hi])
    warped = magnitude * np.exp(1j * np.cumsum(advance, axis=1))
    _, y = istft(warped, nperseg=n_fft, noverlap=n_fft - hop)
    return np.pad(y[: x.size], (0, max(0, x.size - y.size))).astype(np.float32)


def reverberate(x: np.ndarray, rt60: float, rng: np.random.Generator, rate: int) -> np.ndarray:
    """``x`` (S,) in a room of reverberation time ``rt60`` seconds, at its own RMS; (S,)."""
    from scipy.signal import fftconvolve

    t = np.arange(int(rt60 * rate)) / rate
    rir = rng.standard_normal(t.size) * np.exp(-6.9 * t / rt60)  # -60 dB at rt60
    rir[0] = 1.0 + abs(rir[0])  # the direct path
    rir /= np.sqrt(np.sum(rir ** 2))
    y = fftconvolve(x, rir)[: x.size]
    return (y * _rms(x) / max(_rms(y), 1e-9)).astype(np.float32)


def add_noise(x: np.ndarray, snr_db: float, rng: np.random.Generator) -> np.ndarray:
    """``x`` (S,) with white, pink or brown noise at ``snr_db``; (S,)."""
    colour = int(rng.integers(3))  # the noise's power falls as 1 / f^colour
    spectrum = np.fft.rfft(rng.standard_normal(x.size))
    f = np.maximum(np.arange(spectrum.size), 1)
    noise = np.fft.irfft(spectrum / f ** (colour / 2), n=x.size)
    noise *= _rms(x) * 10 ** (-snr_db / 20) / max(_rms(noise), 1e-12)
    return (x + noise).astype(np.float32)


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64)))) if x.size else 0.0


def augment(x: np.ndarray, cfg: AugmentConfig, rng: np.random.Generator, rate: int) -> np.ndarray:
    """``x`` (S,) augmented as ``cfg`` says, with draws from ``rng``; (S',): speed changes the length."""
    if cfg.speed:
        x = speed(x, float(rng.choice(cfg.speed)))
    if cfg.warp > 0:
        x = warp(x, float(rng.uniform(1 - cfg.warp, 1 + cfg.warp)))
    if rng.random() < cfg.reverb_prob:
        x = reverberate(x, float(rng.uniform(*cfg.reverb_rt60)), rng, rate)
    if rng.random() < cfg.noise_prob:
        x = add_noise(x, float(rng.uniform(*cfg.noise_snr_db)), rng)
    return x
