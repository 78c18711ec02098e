"""BEST-RQ's random-projection quantizer (Chiu et al., 2022): frozen, never trained.

A frame x (C,) is projected by a fixed random matrix P (C x d, Xavier-initialised), normalised,
and labelled with the nearest of V fixed random unit vectors by cosine; several codebooks give
several labels. P and the codebooks are buffers, saved in every checkpoint, so the targets
of a resumed or continued run are the same.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass(kw_only=True)
class RandomProjectionConfig:
    """Frozen random-projection quantizer."""

    codebooks: int = 1
    codebook_size: int = 8192
    dim: int = 16
    """Size of the projected space."""
    seed: int = 1234
    """Seed of the random projection and codebooks (independent of the training seed)."""


class RandomProjectionQuantizer(nn.Module):
    """frames (N, C) -> code ids (N, codebooks)."""

    def __init__(self, cfg: RandomProjectionConfig, in_dim: int):
        super().__init__()
        g = torch.Generator().manual_seed(cfg.seed)
        bound = (6.0 / (in_dim + cfg.dim)) ** 0.5  # Xavier uniform
        self.register_buffer("projection", (torch.rand(in_dim, cfg.dim, generator=g) * 2 - 1) * bound)
        book = torch.randn(cfg.codebooks, cfg.codebook_size, cfg.dim, generator=g)
        self.register_buffer("codebooks", F.normalize(book, dim=-1))

    @torch.no_grad()
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        with torch.autocast(x.device.type, enabled=False):  # fp32 labels under bf16 training too
            y = F.normalize(x.float() @ self.projection, dim=-1)  # (N, d)
            return torch.einsum("nd,kvd->nkv", y, self.codebooks).argmax(-1)  # (N, K)
