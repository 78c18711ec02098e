"""MFCCs with deltas, the features HuBERT's first iteration clusters.

waveform (S,) -> Kaldi-style MFCCs (23 mel bands of the log-mel frontend's filters, DCT-II,
13 cepstra, cepstral lifter 22; c0 kept) every 10 ms, with deltas and delta-deltas (window 2,
Kaldi's add-deltas): (T, 39), T = 1 + (S - 400) // 160. ``pooled`` averages groups of k frames to a
model's frame rate (k = 2 for 20 ms frames, 4 for 40 ms), so that label frame t covers the audio of
the model's frame t.
"""

from __future__ import annotations

import math

import torch

from speechxl.nn.fbank_frontend import FbankFrontend, FbankFrontendConfig

HOP_MS = 10.0


class Mfcc:
    """Callable: waveform (S,) in [-1, 1] -> (T, 39) float32."""

    def __init__(self, n_mels: int = 23, n_ceps: int = 13, lifter: float = 22.0):
        self.log_mel = FbankFrontend(FbankFrontendConfig(n_mels=n_mels, normalize="none", stack=1)).log_mel
        k = torch.arange(n_ceps, dtype=torch.float64)[:, None]
        n = torch.arange(n_mels, dtype=torch.float64)[None]
        dct = torch.cos(math.pi / n_mels * (n + 0.5) * k) * math.sqrt(2.0 / n_mels)  # orthonormal DCT-II
        dct[0] /= math.sqrt(2.0)
        lift = 1.0 + 0.5 * lifter * torch.sin(math.pi * torch.arange(n_ceps, dtype=torch.float64) / lifter)
        self.basis = (dct * lift[:, None]).T.float()  # (n_mels, n_ceps)

    @torch.no_grad()
    def __call__(self, wav: torch.Tensor) -> torch.Tensor:
        ceps = self.log_mel(wav[None])[0] @ self.basis  # (T, 13)
        d1 = deltas(ceps)
        return torch.cat([ceps, d1, deltas(d1)], dim=-1)


def deltas(x: torch.Tensor, window: int = 2) -> torch.Tensor:
    """Kaldi's deltas of (T, C) frames: sum_n n (x[t+n] - x[t-n]) / (2 sum_n n^2), edges repeated."""
    padded = torch.cat([x[:1].expand(window, -1), x, x[-1:].expand(window, -1)])
    t = x.shape[0]
    num = sum(n * (padded[window + n: window + n + t] - padded[window - n: window - n + t]) for n in range(1, window + 1))
    return num / (2 * sum(n * n for n in range(1, window + 1)))


def pooled(frames: torch.Tensor, k: int) -> torch.Tensor:
    """(T, C) -> (ceil(T / k), C): the mean of each group of ``k`` frames, the last group what remains
    (with the conv frontend's 20 ms frames, k = 2, exactly its frame count)."""
    groups = torch.arange(frames.shape[0]) // k
    out = frames.new_zeros(int(groups[-1]) + 1 if len(groups) else 0, frames.shape[1])
    out.index_add_(0, groups, frames)
    return out / torch.bincount(groups, minlength=len(out)).clamp(min=1)[:, None].to(frames.dtype)
