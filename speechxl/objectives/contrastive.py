"""wav2vec 2.0 contrastive loss with distractors, diversity loss and feature penalty.

For each masked frame, the context vector must pick its own quantized target among K
distractors: quantized vectors of other masked frames of the same utterance. Similarity is
cosine over ``final_dim`` projections, divided by a temperature. A distractor with the same
codes as the target is excluded. Only masked frames are projected and scored.

Losses are sums over masked frames (``sample_size``): the trainer divides the gradient by the
total over micro-batches and workers, as fairseq does. The diversity loss
(GV - perplexity) / GV and the feature penalty (mean squared frontend output) are weighted
per masked frame. Each utterance's share of the loss, of its sample size and of the correct
picks comes back too (``per_utterance``), so that figures can be told by language.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass(kw_only=True)
class ContrastiveConfig:
    """Contrastive objective: distractors, temperature, projection size, extra loss weights."""

    num_negatives: int = 100
    """Distractors per masked frame (K)."""
    temperature: float = 0.1
    """Logit temperature (kappa)."""
    final_dim: int = 256
    """Size of the space where context and targets are compared."""
    diversity_weight: float = 0.1
    feature_penalty_weight: float = 10.0


def sample_negatives(counts: torch.Tensor, n: int, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Distractor indices into the n = sum(counts) masked frames, grouped by utterance.

    counts (B,): masked frames per utterance; n their total, which the caller knows from the frames'
    shape (counting it here would wait for the device). Returns indices (n, K), each from the same
    utterance as its row and never the row itself, and valid (n,): rows whose utterance has
    at least two masked frames.
    """
    device = counts.device
    utt = torch.repeat_interleave(torch.arange(counts.shape[0], device=device), counts, output_size=n)  # (n,)
    offset = (counts.cumsum(0) - counts)[utt]  # (N,)
    size = counts[utt]  # (N,)
    pos = torch.arange(n, device=device) - offset
    r = (torch.rand(n, k, device=device) * (size - 1).clamp(min=1)[:, None]).long()  # [0, size-1)
    r = r + (r >= pos[:, None]).long()  # skip the row itself, uniform over the others
    return offset[:, None] + r.clamp(max=(size - 1)[:, None]), size > 1


class ContrastiveLoss(nn.Module):
    def __init__(self, cfg: ContrastiveConfig, hidden_size: int, quantized_dim: int, num_codes: int):
        super().__init__()
        self.cfg = cfg
        self.num_codes = num_codes  # G * V
        self.project_hid = nn.Linear(hidden_size, cfg.final_dim)
        self.project_q = nn.Linear(quantized_dim, cfg.final_dim)

    def forward(self, context: torch.Tensor, quantized: torch.Tensor, codes: torch.Tensor,
                counts: torch.Tensor, quantizer_stats: dict[str, torch.Tensor],
                feature_penalty: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, dict]:
        """context (N, D), quantized (N, dq), codes (N, G) of the masked frames in utterance order;
        counts (B,) masked frames per utterance. Returns (loss sum, sample size, logs), the sample size and
        figures as tensors (nothing waits for the device)."""
        c = F.normalize(self.project_hid(context).float(), dim=-1)  # (N, F)
        y = F.normalize(self.project_q(quantized).float(), dim=-1)  # (N, F)
        neg, valid = sample_negatives(counts, context.shape[0], self.cfg.num_negatives)  # (N, K), (N,)
        # index_select, not y[neg]: its backward (index_add) is deterministic on CPU, and faster
        distractors = y.index_select(0, neg.flatten()).view(*neg.shape, -1)  # (N, K, F)
        cand = torch.cat([y[:, None], distractors], dim=1)  # (N, 1 + K, F)
        logits = torch.einsum("nf,nkf->nk", c, cand) / self.cfg.temperature  # (N, 1 + K)
        same = (codes[neg] == codes[:, None]).all(-1)  # (N, K): distractor = target
        logits[:, 1:] = logits[:, 1:].masked_fill(same, float("-inf"))
        target = torch.zeros(logits.shape[0], dtype=torch.long, device=logits.device)
        rows = F.cross_entropy(logits, target, reduction="none") * valid  # (N,): rows without distractors count 0
        n = valid.sum()  # a tensor: no wait for the device
        contrastive = rows.sum()
        diversity = (self.num_codes - quantizer_stats["prob_perplexity"]) / self.num_codes
        per_frame = self.cfg.diversity_weight * diversity + self.cfg.feature_penalty_weight * feature_penalty.float()
        loss = contrastive + per_frame * n
        with torch.no_grad():
            best, worst = logits.argmax(-1) == 0, logits.argmin(-1) == 0
            right = best & ~worst & valid
            logs = {
                "contrastive": contrastive.detach() / n.clamp(min=1), "diversity": diversity.detach(),
                "feature_penalty": feature_penalty.detach(), "correct": right.sum(),
                "count": n, "code_perplexity": quantizer_stats["code_perplexity"].detach(),
                "prob_perplexity": quantizer_stats["prob_perplexity"].detach(),
            }
            utt = torch.repeat_interleave(torch.arange(counts.shape[0], device=counts.device), counts)  # (N,)
            frames = per_utterance_sum(utt, valid, counts.shape[0])
            logs["per_utterance"] = {"loss": per_utterance_sum(utt, rows, counts.shape[0]) + per_frame * frames,
                                     "sample_size": frames, "correct": per_utterance_sum(utt, right, counts.shape[0]),
                                     "count": frames}
        return loss, n, logs


def per_utterance_sum(utt: torch.Tensor, values: torch.Tensor, batch_size: int) -> torch.Tensor:
    """values (N,) of rows that belong to utterances utt (N,) -> their sums per utterance (batch_size,), float."""
    return torch.zeros(batch_size, device=values.device).index_add_(0, utt, values.detach().float())
