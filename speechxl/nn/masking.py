"""Span masking, vectorised in torch (wav2vec 2.0 / SpecAugment style), the masked frames of a batch, and
the masker part.

Each row of length L gets ``int(prob * L / length + u)`` spans (u ~ U(0, 1): probabilistic
rounding), at least ``min_masks``, whose starts are drawn without replacement; spans may
overlap, so ``prob`` is an upper bound on the masked share (0.65 x span 10 masks about 49 %).

A pretraining model draws its masks where the batch's lengths are: the trainer asks for them on the host,
before the batch goes to the device (``draw(batch)``), so that the device picks the masked frames by
index, in a count known in advance; picking them with a boolean mask (``hidden[mask]``) would make the
host wait for the device once per micro-batch.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

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


@dataclass
class MaskedFrames:
    """Chosen positions of a batch (B, T), with their indices: a device picks them by index."""

    mask: torch.Tensor
    """(B, T) True = chosen."""
    index: torch.Tensor
    """(N,) positions b * T + t of the chosen, utterance by utterance."""
    utterance: torch.Tensor
    """(N,) the utterance of each."""
    counts: torch.Tensor
    """(B,) chosen per utterance."""

    @classmethod
    def of(cls, mask: torch.Tensor) -> MaskedFrames:
        """The positions of ``mask`` (B, T): call it where the mask's values can be read without waiting (the
        host)."""
        index = mask.flatten().nonzero()[:, 0]
        return cls(mask, index, torch.div(index, mask.shape[1], rounding_mode="floor"), mask.sum(1))

    def to(self, device: torch.device, non_blocking: bool = False) -> MaskedFrames:
        """On ``device``; from the host to a GPU through pinned memory, so that the copy need not wait."""
        def moved(t: torch.Tensor) -> torch.Tensor:
            if non_blocking and device.type == "cuda" and t.device.type == "cpu":
                return t.pin_memory().to(device, non_blocking=True)
            return t.to(device)
        return MaskedFrames(*(moved(getattr(self, f.name)) for f in fields(self)))

    def select(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, ...) -> (N, ...): the chosen positions of x."""
        return x.flatten(0, 1)[self.index]

    def place(self, values: torch.Tensor) -> torch.Tensor:
        """(N, ...) -> (B, T, ...): ``values`` at the chosen positions, zeros elsewhere."""
        out = values.new_zeros(self.mask.numel(), *values.shape[1:])
        return out.index_copy(0, self.index, values).view(*self.mask.shape, *values.shape[1:])


class SpanMasker(nn.Module):
    """The masker part: ``draw`` masks a batch's frames (B,) out of T (a MaskedFrames, on the frames'
    device), ``forward`` takes the frames (B, T, C) and the drawn MaskedFrames to the encoder's input.

    With ``noise_std`` the masked frames are replaced here by noise N(0, noise_std^2) (BEST-RQ);
    without it they come back as they were and ``fills_vector`` tells the speech encoder to put
    its learned mask vector at the masked positions after the projection (wav2vec 2.0, w2v-BERT)."""

    def __init__(self, cfg: MaskingConfig, noise_std: float | None = None):
        super().__init__()
        self.cfg, self.noise_std = cfg, noise_std
        self.fills_vector = noise_std is None

    def draw(self, frames: torch.Tensor, size: int) -> MaskedFrames:
        """Spans over the ``frames`` (B,) real frames of each utterance, of ``size`` frames in all."""
        return MaskedFrames.of(span_mask(frames, size, self.cfg))

    def forward(self, features: torch.Tensor, masked: MaskedFrames) -> torch.Tensor:
        if self.noise_std is None:
            return features
        return torch.where(masked.mask[..., None], torch.randn_like(features) * self.noise_std, features)
