"""Dropout at less than half the cost of torch's on the CPU.

torch's dropout on the CPU draws one float per element from its Mersenne Twister in one thread, then divides
that noise and multiplies by it: about 6.5 ns an element on the 2-core build machine, and a sixth of the
demo's fine-tuning step (docs/benchmarks.md). Here torch's generator draws 64-bit integers, each read as four
16-bit ones; an element is dropped when its 16 bits fall below ``round(p * 65536)`` (p to within 1 / 131072)
and the kept ones are scaled by the exact share kept: about 2.8 ns an element, the mask itself a fifth of
torch's. The draws come from torch's generator, so ``torch.manual_seed``, a resumed run's restored state and
activation checkpointing's replay govern them as they govern torch's own. Elsewhere (a GPU, a graph being
compiled, p = 1) torch's dropout runs (so does p within 1 / 131072 of 1).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

LEVELS = 1 << 16
"""Values of one 16-bit draw."""


def keep_scale(shape: torch.Size, cut: int, dtype: torch.dtype) -> torch.Tensor:
    """A tensor of ``shape``: 0 where an element is dropped (probability ``cut / LEVELS``), 1 / (share kept)
    elsewhere; drawn from torch's CPU generator."""
    n = shape.numel()
    bits = torch.empty((n + 3) // 4, dtype=torch.int64).random_(-(1 << 63), None)  # all 64 bits random
    bits = bits.view(torch.int16)[:n].view(shape)  # uniform over [-32768, 32767]
    kept = (bits >= cut - LEVELS // 2).to(dtype)
    return kept.mul_(LEVELS / (LEVELS - cut))


def dropout(x: torch.Tensor, p: float, training: bool = True) -> torch.Tensor:
    """``F.dropout(x, p, training)``, its mask drawn fast on the CPU."""
    if not training or p == 0:
        return x
    cut = round(p * LEVELS)
    if x.device.type != "cpu" or cut == LEVELS or torch.compiler.is_compiling():
        return F.dropout(x, p, True)
    return x * keep_scale(x.shape, cut, x.dtype)


class Dropout(nn.Dropout):
    """``nn.Dropout`` (its checks and repr; ``inplace`` unused) through ``dropout``: what speechxl's layers use."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return dropout(x, self.p, self.training)
