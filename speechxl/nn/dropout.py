"""Dropout whose random mask is cheap on the CPU.

torch's dropout draws one random float per element (``bernoulli_``): 12 % of a tiny wav2vec 2.0
pretraining step and 8.5 % of a BASE one on a 2-core CPU. Here each 64-bit draw gives four 16-bit
integers, each compared with the keep probability (exact to 1 / 65536): the mask costs a fifth.
"""

from __future__ import annotations

import torch
from torch import nn


def keep_mask(shape: torch.Size, p: float) -> torch.Tensor:
    """A CPU mask of ``shape``, True with probability 1 - p (rounded to 1 / 65536)."""
    n = shape.numel()
    words = torch.empty((n + 3) // 4, dtype=torch.int64).random_(-2**63, None)  # every bit uniform
    return (words.view(torch.int16)[:n] < round((1 - p) * 65536) - 32768).view(shape)


class Dropout(nn.Dropout):
    """nn.Dropout, with keep_mask's mask while training on the CPU (eager); elsewhere torch's."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0 or self.inplace or x.device.type != "cpu" \
                or torch.compiler.is_compiling():
            return super().forward(x)
        if self.p == 1:
            return x * 0
        return x * (keep_mask(x.shape, self.p).to(x.dtype) * (1 / (1 - self.p)))
