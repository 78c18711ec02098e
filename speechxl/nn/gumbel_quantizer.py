"""Gumbel-softmax product quantizer (wav2vec 2.0, shared across languages in XLSR).

G groups of V codewords each; a frame picks one codeword per group (hard Gumbel-softmax with
a straight-through gradient while training, argmax otherwise) and the G picks are
concatenated. The temperature decays per update from ``start`` to ``end``. Names follow
transformers' ``Wav2Vec2GumbelVectorQuantizer`` (``codevectors``, ``weight_proj``).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from speechxl.config import ConfigError


@dataclass(kw_only=True)
class GumbelQuantizerConfig:
    """Product quantizer: G groups x V entries, codevector size, temperature schedule."""

    groups: int = 2
    entries: int = 320
    """Codewords per group (V)."""
    dim: int = 256
    """Size of a quantized vector (all groups concatenated)."""
    temperature: tuple[float, float, float] = (2.0, 0.5, 0.999995)
    """(start, end, decay per update): temperature = max(start * decay ** step, end)."""

    def validate(self) -> None:
        if self.dim % self.groups:
            raise ConfigError(f"dim {self.dim} is not divisible by groups {self.groups}")


class GumbelQuantizer(nn.Module):
    """features (N, C) -> quantized (N, dim), code ids (N, G), perplexities."""

    def __init__(self, cfg: GumbelQuantizerConfig, in_dim: int):
        super().__init__()
        self.cfg = cfg
        self.codevectors = nn.Parameter(torch.empty(1, cfg.groups * cfg.entries, cfg.dim // cfg.groups))
        self.weight_proj = nn.Linear(in_dim, cfg.groups * cfg.entries)
        nn.init.uniform_(self.codevectors)
        nn.init.normal_(self.weight_proj.weight, 0, 1)
        nn.init.zeros_(self.weight_proj.bias)
        self.temperature = cfg.temperature[0]

    def set_step(self, step: int) -> None:
        start, end, decay = self.cfg.temperature
        self.temperature = max(start * decay ** step, end)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]:
        g, v = self.cfg.groups, self.cfg.entries
        n = x.shape[0]
        logits = self.weight_proj(x).float().view(n, g, v)  # fp32: softmax numerics
        soft = logits.softmax(-1)
        if self.training:
            probs = F.gumbel_softmax(logits, tau=self.temperature, hard=True, dim=-1)
            codes, hard = probs.argmax(-1), probs.detach()  # (N, G), (N, G, V)
        else:  # one-hot by scatter: F.one_hot reads the codes' range back from the device
            codes = logits.argmax(-1)
            probs = hard = torch.zeros_like(logits).scatter_(-1, codes[..., None], 1.0)
        book = self.codevectors.view(g, v, -1).to(probs.dtype)  # (G, V, dim/G)
        q = torch.einsum("ngv,gvd->ngd", probs, book).reshape(n, -1).to(x.dtype)  # (N, dim)
        stats = {
            "prob_perplexity": _perplexity(soft.mean(0)),
            "code_perplexity": _perplexity(hard.mean(0)),
        }
        return q, codes, stats


def _perplexity(p: torch.Tensor) -> torch.Tensor:
    """Sum over groups of exp(entropy) of the mean distribution p (G, V)."""
    return torch.exp(-torch.xlogy(p, p).sum(-1)).sum()
