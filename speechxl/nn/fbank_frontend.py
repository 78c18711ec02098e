"""Log-mel filterbank frontend, computed in torch on the model's device.

waveform (B, S) -> 80 Kaldi-compatible log-mel energies every 10 ms (frame t covers samples
[160 t, 160 t + 400); 16-bit scale, DC offset removed, pre-emphasis 0.97, Povey window,
512-point FFT, triangular filters in mel space from 20 Hz, floor 1.19e-7), the features of
Kaldi, ESPnet and transformers' SeamlessM4TFeatureExtractor (w2v-BERT 2.0's) -> normalised per
utterance and mel band (unbiased variance), or with global statistics estimated from training
audio before a run starts (buffers, so they travel with every checkpoint) -> subsampled, by
  stack    concatenating 4 consecutive frames (320 values; BEST-RQ, w2v-BERT 2.0 with stack 2)
  conv2d   two 3x3 convolutions of stride 2 with ReLU (Conformer's usual subsampling)
The frontend's output is what BEST-RQ's random-projection quantizer reads: it has no trained
parameters in "stack" mode, so the quantizer's targets never drift.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from speechxl.config import ConfigError


@dataclass(kw_only=True)
class FbankFrontendConfig:
    """Log-mel features and their subsampling."""

    type: str = "fbank"
    """The part's tag in YAML (``frontend: {type: fbank}``)."""
    n_mels: int = 80
    win_ms: float = 25.0
    hop_ms: float = 10.0
    n_fft: int = 512
    normalize: str = "utterance"
    """'utterance' (each utterance's mean and variance per mel band, as SeamlessM4T), 'global'
    (one mean and variance per band, from training audio) or 'none'."""
    subsampling: str = "stack"
    """'stack' (concatenate frames) or 'conv2d' (two strided 3x3 convolutions)."""
    stack: int = 4
    """Frames per output frame (4: 40 ms frames). conv2d always subsamples by 4."""
    conv_channels: int = 144
    """conv2d: channels of the subsampling convolutions."""

    def validate(self) -> None:
        if self.normalize not in ("utterance", "global", "none"):
            raise ConfigError(f"normalize is 'utterance', 'global' or 'none', not {self.normalize!r}")
        if self.subsampling not in ("stack", "conv2d"):
            raise ConfigError(f"subsampling is 'stack' or 'conv2d', not {self.subsampling!r}")


def mel_filterbank(n_mels: int, n_fft: int, sample_rate: int, f_min: float = 20.0,
                   f_max: float | None = None) -> torch.Tensor:
    """Kaldi's filters: triangles in mel space (mel = 1127 ln(1 + f / 700)), (n_fft // 2 + 1, n_mels)."""
    f_max = f_max or sample_rate / 2
    mel = lambda f: 1127.0 * torch.log1p(torch.as_tensor(f, dtype=torch.float64) / 700.0)  # noqa: E731
    with torch.device("cpu"):  # a constant, computed where its values exist (also when a model is built on "meta")
        edges = torch.linspace(float(mel(f_min)), float(mel(f_max)), n_mels + 2, dtype=torch.float64)
        bins = mel(torch.linspace(0, sample_rate / 2, n_fft // 2 + 1, dtype=torch.float64))[:, None]  # (F, 1)
        lower, centre, upper = edges[:-2], edges[1:-1], edges[2:]
        up = (bins - lower) / (centre - lower)
        down = (upper - bins) / (upper - centre)
        return torch.clamp(torch.minimum(up, down), min=0.0).float()


def povey_window(n: int) -> torch.Tensor:
    """Kaldi's default window: a Hann window to the power 0.85."""
    with torch.device("cpu"):  # a constant, computed where its values exist (also when a model is built on "meta")
        return (0.5 - 0.5 * torch.cos(2 * math.pi * torch.arange(n, dtype=torch.float64) / (n - 1))).pow(0.85).float()


class FbankFrontend(nn.Module):
    """waveform (B, S) + lengths (B,) -> frames (B, T, C) + frame mask (B, T), True = valid."""

    def __init__(self, cfg: FbankFrontendConfig, sample_rate: int = 16000):
        super().__init__()
        self.cfg = cfg
        self.win = int(cfg.win_ms * sample_rate / 1000)
        self.hop = int(cfg.hop_ms * sample_rate / 1000)
        self.register_buffer("window", povey_window(self.win), persistent=False)
        self.register_buffer("mel", mel_filterbank(cfg.n_mels, cfg.n_fft, sample_rate), persistent=False)
        if cfg.normalize == "global":
            self.register_buffer("global_mean", torch.zeros(cfg.n_mels))
            self.register_buffer("global_std", torch.ones(cfg.n_mels))
        if cfg.subsampling == "conv2d":
            c = cfg.conv_channels
            self.conv = nn.Sequential(nn.Conv2d(1, c, 3, stride=2), nn.ReLU(), nn.Conv2d(c, c, 3, stride=2), nn.ReLU())
            self.output_dim = c * (((cfg.n_mels - 1) // 2 - 1) // 2)
        else:
            self.output_dim = cfg.n_mels * cfg.stack
        self.padding_exact = True  # an utterance's frames do not depend on the padding beside it

    def fbank_lengths(self, lengths: torch.Tensor) -> torch.Tensor:
        return (torch.div(lengths - self.win, self.hop, rounding_mode="floor") + 1).clamp(min=0)

    def output_lengths(self, lengths: torch.Tensor) -> torch.Tensor:
        """Output frames from ``lengths`` samples (B,)."""
        n = self.fbank_lengths(lengths)
        if self.cfg.subsampling == "conv2d":
            return ((n - 1) // 2 - 1) // 2
        return torch.div(n, self.cfg.stack, rounding_mode="floor")

    def log_mel(self, wav: torch.Tensor) -> torch.Tensor:
        """(B, S) -> (B, T, n_mels), fp32 also under autocast (BEST-RQ's targets are made from it)."""
        with torch.autocast(wav.device.type, enabled=False):
            frames = (wav.float() * 32768.0).unfold(1, self.win, self.hop)  # (B, T, win), 16-bit scale
            frames = frames - frames.mean(-1, keepdim=True)  # DC offset
            frames = torch.cat([frames[..., :1] * (1 - 0.97), frames[..., 1:] - 0.97 * frames[..., :-1]], dim=-1)
            spec = torch.fft.rfft(frames * self.window, n=self.cfg.n_fft).abs().square()  # (B, T, F)
            return torch.log(torch.clamp(spec @ self.mel, min=1.192092955078125e-07))

    def forward(self, wav: torch.Tensor, lengths: torch.Tensor | None = None):
        padded = lengths is not None  # else no valid mask: no padding for the encoder to mask
        if not padded:
            lengths = torch.full((wav.shape[0],), wav.shape[1], device=wav.device)
        x = self.log_mel(wav)  # (B, T, M)
        n = self.fbank_lengths(lengths)
        valid = torch.arange(x.shape[1], device=x.device)[None] < n[:, None]  # (B, T)
        if self.cfg.normalize == "utterance":
            w = valid[..., None].float()
            count = w.sum(1, keepdim=True)
            mean = (x * w).sum(1, keepdim=True) / count.clamp(min=1)
            var = ((x - mean).square() * w).sum(1, keepdim=True) / (count - 1).clamp(min=1)  # unbiased
            x = (x - mean) / torch.sqrt(var + 1e-7) * w
        elif self.cfg.normalize == "global":
            x = (x - self.global_mean) / self.global_std * valid[..., None]
        if self.cfg.subsampling == "conv2d":
            x = self.conv(x[:, None])  # (B, C, T', M')
            x = x.permute(0, 2, 1, 3).flatten(2)  # (B, T', C M')
        else:
            # each group of `stack` frames concatenated, the remainder dropped; built from strided
            # slices, as a reshape would make an exported graph hold only for lengths of one remainder
            t, k = x.shape[1] // self.cfg.stack, self.cfg.stack
            x = torch.cat([x[:, i::k][:, :t] for i in range(k)], dim=-1)  # (B, T', stack M)
        if not padded:
            return x, None
        out = self.output_lengths(lengths)
        return x, torch.arange(x.shape[1], device=x.device)[None] < out[:, None]


@torch.no_grad()
def fit_global_stats(frontend: FbankFrontend, waveforms) -> int:
    """Set a 'global' frontend's per-band mean and standard deviation from an iterable of 1-D
    waveforms; returns the frames seen."""
    total, sq, n = 0.0, 0.0, 0
    for wav in waveforms:
        x = frontend.log_mel(torch.as_tensor(wav)[None])[0].double()  # (T, M)
        total, sq, n = total + x.sum(0), sq + (x * x).sum(0), n + x.shape[0]
    if n < 2:
        raise ValueError("global feature statistics need audio; none was given")
    mean = total / n
    frontend.global_mean.copy_(mean.float())
    frontend.global_std.copy_(((sq / n - mean * mean).clamp(min=1e-10) ** 0.5).float())
    return n
