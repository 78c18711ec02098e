"""Future prediction: from each context frame c_t, predict the encoded frames k = 1..K steps ahead,
each among distractors drawn from the same utterance. CPC (Oord et al., 2018) and wav2vec (Schneider
et al., 2019) differ in the loss.

For each k a linear predictor W_k maps c_t (D) into the targets' space (F), where z_{t+k} (the
frontend's frames, projected) is scored by dot product against ``num_negatives`` frames of the same
utterance drawn uniformly (a draw may hit the true frame). Loss ``infonce`` (CPC): cross-entropy of
the true frame among them; ``binary`` (wav2vec): -log sigmoid(true score) - sum over distractors of
log sigmoid(-score). Loss summed over predictions (every real t with t + k real, every k), sample
size = their count; accuracy = the share where the true frame scores highest.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from speechxl.config import ConfigError


@dataclass(kw_only=True)
class FuturePredictionConfig:
    """How far ahead, among how many distractors."""

    steps: int = 12
    """K: predictions 1..K frames ahead (CPC: 12)."""
    num_negatives: int = 128
    """Distractors per prediction, from the same utterance (Rivière et al.: 128)."""
    final_dim: int = 256
    """Width F of the space where predictions meet targets."""
    loss: str = "infonce"
    """infonce (CPC: the true frame among the distractors) or binary (wav2vec: true vs each distractor)."""

    def validate(self) -> None:
        if self.steps < 1 or self.num_negatives < 1:
            raise ConfigError("steps and num_negatives are at least 1")
        if self.loss not in ("infonce", "binary"):
            raise ConfigError(f"loss is infonce or binary, not {self.loss!r}")


class FuturePrediction(nn.Module):
    def __init__(self, cfg: FuturePredictionConfig, context_dim: int, target_dim: int):
        super().__init__()
        self.cfg = cfg
        self.target_proj = nn.Linear(target_dim, cfg.final_dim)
        self.predictors = nn.ModuleList(nn.Linear(context_dim, cfg.final_dim) for _ in range(cfg.steps))

    def forward(self, context: torch.Tensor, targets: torch.Tensor, lengths: torch.Tensor
                ) -> tuple[torch.Tensor, int, dict]:
        """context (B, T, D), targets (B, T, C) frame by frame, lengths (B,) real frames -> (loss
        summed, predictions, logs)."""
        b, t = context.shape[:2]
        z = self.target_proj(targets)  # (B, T, F)
        # distractor frames, the same draws for every k: (B, T, N) indices into each utterance's real frames
        draws = (torch.rand(b, t, self.cfg.num_negatives, device=z.device) * lengths[:, None, None]).long()
        negatives = z[torch.arange(b, device=z.device)[:, None, None], draws]  # (B, T, N, F)
        total, right, count = z.new_zeros((), dtype=torch.float32), z.new_zeros((), dtype=torch.long), 0
        for k, predictor in enumerate(self.predictors, start=1):
            if k >= t:
                break
            pred = predictor(context[:, : t - k])  # (B, T-k, F)
            positive = (pred * z[:, k:]).sum(-1, keepdim=True)  # (B, T-k, 1)
            negative = torch.einsum("btf,btnf->btn", pred, negatives[:, : t - k])  # (B, T-k, N)
            logits = torch.cat([positive, negative], dim=-1).float()
            real = torch.arange(t - k, device=z.device)[None] + k < lengths[:, None]  # (B, T-k): t + k is real
            logits = logits[real]  # (predictions, 1 + N): the true frame first
            total = total + self._loss(logits)
            right += (logits.detach().argmax(-1) == 0).sum()
            count += len(logits)
        return total, count, {self.cfg.loss: total.detach() / max(count, 1), "correct": right, "count": count}

    def _loss(self, logits: torch.Tensor) -> torch.Tensor:
        """(predictions, 1 + N) scores, the true frame first -> the loss summed over predictions."""
        if self.cfg.loss == "infonce":
            return F.cross_entropy(logits, logits.new_zeros(len(logits), dtype=torch.long), reduction="sum")
        return -(F.logsigmoid(logits[:, 0]).sum() + F.logsigmoid(-logits[:, 1:]).sum())
