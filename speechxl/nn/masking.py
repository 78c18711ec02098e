"""Span masking, vectorised in torch (wav2vec 2.0 / SpecAugment style), and the masker part.

Each row of length L gets ``int(prob * L / length + u)`` spans (u ~ U(0, 1): probabilistic
rounding), at least ``min_masks``, whose starts are drawn without replacement; spans may
overlap, so ``prob`` is an upper bound on the masked share (0.65 x span 10 masks about 49 %).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from speechxl.config import ConfigError


@dataclass(kw_only=True)
class MaskingConfig:
    """Span masking over time (or over channels)."""

    prob: float = 0.65
    """Share of positions that start a span (before overlaps)."""
    length: int = 10
    """Span length in frames."""
    min_masks: int = 2
    """Spans per row at least (where the row is long enough)."""

    def validate(self) -> None:
        if not 0 <= self.prob <= 1 or self.length < 1 or self.min_masks < 0:
            raise ConfigError("masking needs 0 <= prob <= 1, length >= 1, min_masks >= 0")


def span_mask(lengths: torch.Tensor, size: int, cfg: MaskingConfig) -> torch.Tensor:
    """Boolean mask (B, size), True = masked, for rows of valid ``lengths`` (B,)."""
    b = lengths.shape[0]
    device = lengths.device
    if cfg.prob <= 0 or size < cfg.length:
        return torch.zeros(b, size, dtype=torch.bool, device=device)
    starts_avail = (lengths - cfg.length + 1).clamp(min=0)  # (B,)
    u = torch.rand(b, device=device)
    n = (cfg.prob * lengths / cfg.length + u).long().clamp(min=cfg.min_masks)
    n = torch.minimum(n, starts_avail)  # (B,)
    # spans per row at most, from the sizes alone (lengths <= size, u < 1; one more for the device's float32
    # rounding): reading n's maximum would wait for the device
    most = min(size - cfg.length + 1, max(cfg.min_masks, int(cfg.prob * size / cfg.length) + 2))
    scores = torch.rand(b, size, device=device)  # random order of starts
    scores = scores.masked_fill(torch.arange(size, device=device)[None] >= starts_avail[:, None], -1.0)
    starts = scores.topk(most, dim=1).indices  # (B, most), the row's own starts first
    chosen = torch.arange(most, device=device)[None] < n[:, None]
    onehot = torch.zeros(b, size, device=device).scatter_(1, starts, chosen.float())
    # a position is masked when a span started within the last `length` positions
    c = onehot.cumsum(1)
    return (c - F.pad(c, (cfg.length, 0))[:, :size]) > 0


class SpanMasker(nn.Module):
    """The masker part: frames (B, T, C) + valid (B, T) or None -> (frames, mask (B, T), True = masked).

    With ``noise_std`` the masked frames are replaced here by noise N(0, noise_std^2) (BEST-RQ);
    without it they come back as they were and ``fills_vector`` tells the speech encoder to put
    its learned mask vector at the masked positions after the projection (wav2vec 2.0, w2v-BERT,
    CTC's SpecAugment)."""

    def __init__(self, cfg: MaskingConfig, noise_std: float | None = None):
        super().__init__()
        self.cfg, self.noise_std = cfg, noise_std
        self.fills_vector = noise_std is None

    def forward(self, features: torch.Tensor, valid: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        b, t = features.shape[:2]
        frames = valid.sum(1) if valid is not None else torch.full((b,), t, device=features.device)  # (B,)
        mask = span_mask(frames, t, self.cfg)  # (B, T)
        if self.noise_std is not None:
            features = torch.where(mask[..., None], torch.randn_like(features) * self.noise_std, features)
        return features, mask
