"""Masked prediction: cross-entropy of discrete targets at masked frames (BEST-RQ, HuBERT-style,
and the MLM half of w2v-BERT). One linear softmax head per codebook; loss summed over masked
frames and codebooks, sample size = masked frames."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class MaskedPrediction(nn.Module):
    def __init__(self, hidden_size: int, codebooks: int, codebook_size: int):
        super().__init__()
        self.heads = nn.ModuleList(nn.Linear(hidden_size, codebook_size) for _ in range(codebooks))

    def forward(self, hidden: torch.Tensor, targets: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        """hidden (N, D) at masked frames, targets (N, K) -> (loss summed, logs)."""
        loss = hidden.new_zeros((), dtype=torch.float32)
        correct = 0
        for k, head in enumerate(self.heads):
            logits = head(hidden).float()
            loss = loss + F.cross_entropy(logits, targets[:, k], reduction="sum")
            correct += int((logits.argmax(-1) == targets[:, k]).sum())
        n = targets.shape[0] * len(self.heads)
        return loss, {"masked_ce": loss.item() / max(n, 1), "correct": correct, "count": n}
