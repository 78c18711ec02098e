"""Utterance mixing (WavLM, Chen et al. 2022, Algorithm 1; WavLabLM's denoising): part of an
utterance is overlaid with a stretch of another utterance of the same batch, so the model learns
to predict the primary speaker's targets through an interfering one.

wav (B, S) + lengths (B,) -> mixed wav (B, S). Each utterance is mixed with probability ``prob``:
a stretch of a random length up to ``max_share`` of it (at a random place) gets a random stretch of
another utterance of the batch added, scaled so that their energy ratio is a random value in
``energy_ratio_db``. The targets stay those of the clean utterance (the caller computes them from
it). The draws come from torch's CPU generator, so a resumed run mixes as an uninterrupted one.
Noise recordings (WavLM's DNS noise) are not mixed in: only other utterances.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from speechxl.config import ConfigError


@dataclass(kw_only=True)
class MixingConfig:
    """How often and how much of an utterance another one overlays (WavLM: 0.2, up to half, +-5 dB)."""

    prob: float = 0.0
    """Share of the utterances mixed; 0 turns mixing off."""
    max_share: float = 0.5
    """The overlaid stretch is at most this share of the primary utterance."""
    energy_ratio_db: tuple[float, float] = (-5.0, 5.0)
    """Range of the primary stretch's energy over the added one's, in dB."""

    def validate(self) -> None:
        if not 0 <= self.prob <= 1 or not 0 < self.max_share <= 1:
            raise ConfigError("mixing needs 0 <= prob <= 1 and 0 < max_share <= 1")
        if self.energy_ratio_db[0] > self.energy_ratio_db[1]:
            raise ConfigError("mixing.energy_ratio_db is [low, high]")


class UtteranceMixer(nn.Module):
    def __init__(self, cfg: MixingConfig):
        super().__init__()
        self.cfg = cfg

    def forward(self, wav: torch.Tensor, lengths: torch.Tensor | None) -> torch.Tensor:
        b = wav.shape[0]
        if not self.training or self.cfg.prob <= 0 or b < 2:
            return wav
        lengths = lengths.cpu() if lengths is not None else torch.full((b,), wav.shape[1])
        chosen = (torch.rand(b) < self.cfg.prob).nonzero()[:, 0].tolist()
        if not chosen:
            return wav
        out = wav.clone()
        low, high = self.cfg.energy_ratio_db
        for i in chosen:
            j = int(torch.randint(0, b - 1, ()))
            j += j >= i  # another utterance
            n_i, n_j = int(lengths[i]), int(lengths[j])
            size = min(n_j, max(1, int(float(torch.rand(())) * self.cfg.max_share * n_i)))
            at = int(torch.randint(0, n_i - size + 1, ()))
            src = int(torch.randint(0, n_j - size + 1, ()))
            ratio_db = low + (high - low) * float(torch.rand(()))
            primary, other = wav[i, at: at + size], wav[j, src: src + size]
            energy_p, energy_o = primary.float().square().sum(), other.float().square().sum()
            scale = torch.sqrt(energy_p / (energy_o * 10 ** (ratio_db / 10)).clamp(min=1e-8))  # silence x any = 0
            out[i, at: at + size] = primary + scale * other
        return out
