"""Masked prediction: cross-entropy of discrete targets at masked frames (BEST-RQ, HuBERT, and
the MLM half of w2v-BERT). One softmax head per codebook (a linear layer, or HuBERT's cosine
similarity to label embeddings: ``CosineHead``); loss summed over masked frames and codebooks,
sample size = masked frames; each utterance's share comes back too (``per_utterance``: figures by
language)."""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from speechxl.objectives.contrastive import per_utterance_sum


class CosineHead(nn.Module):
    """HuBERT's prediction of a label: (N, D) -> logits (N, C), the cosine similarity of the projected
    frame with each label's embedding, divided by ``temperature`` (fairseq's final_proj,
    label_embs_concat and logit_temp)."""

    def __init__(self, hidden_size: int, classes: int, final_dim: int = 256, temperature: float = 0.1):
        super().__init__()
        self.proj = nn.Linear(hidden_size, final_dim)
        self.label_embeddings = nn.Parameter(torch.empty(classes, final_dim).uniform_())
        self.temperature = temperature

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        x = F.normalize(self.proj(hidden).float(), dim=-1)  # (N, F)
        return x @ F.normalize(self.label_embeddings.float(), dim=-1).T / self.temperature  # (N, C)


class MaskedPrediction(nn.Module):
    def __init__(self, hidden_size: int, codebooks: int, codebook_size: int,
                 head: Callable[[int, int], nn.Module] = nn.Linear):
        """``head(hidden_size, codebook_size)`` builds each codebook's head: (N, D) -> logits (N, C)."""
        super().__init__()
        self.heads = nn.ModuleList(head(hidden_size, codebook_size) for _ in range(codebooks))

    def forward(self, hidden: torch.Tensor, targets: torch.Tensor,
                utt: torch.Tensor | None = None, batch_size: int = 0) -> tuple[torch.Tensor, dict]:
        """hidden (N, D) at masked frames, targets (N, K); utt (N,): the utterance of each frame, of
        ``batch_size``. -> (loss summed, logs)."""
        rows = hidden.new_zeros(targets.shape[0], dtype=torch.float32)  # (N,): summed over codebooks
        right = torch.zeros_like(rows)
        for k, head in enumerate(self.heads):
            logits = head(hidden).float()
            rows = rows + F.cross_entropy(logits, targets[:, k], reduction="none")
            right += (logits.detach().argmax(-1) == targets[:, k]).float()
        loss = rows.sum()
        n = targets.shape[0] * len(self.heads)
        logs = {"masked_ce": loss.detach() / max(n, 1), "correct": right.sum(), "count": n}
        if utt is not None:
            frames = per_utterance_sum(utt, torch.ones_like(rows), batch_size)
            logs["per_utterance"] = {"loss": per_utterance_sum(utt, rows, batch_size), "sample_size": frames,
                                     "correct": per_utterance_sum(utt, right, batch_size),
                                     "count": frames * len(self.heads)}
        return loss, logs
