"""CTC recogniser: a speech encoder with a linear head over a unit inventory.

While training, SpecAugment-style masks hide spans of time (replaced by the encoder's learned
mask vector) and of channels (zeroed); the frontend can be frozen (no gradient, no stored
activations), and the whole encoder for a first number of updates. CTC runs with
``zero_infinity``: an utterance whose labels cannot fit its frames adds nothing, and is counted.
The head is named as transformers' ``Wav2Vec2ForCTC.lm_head`` through the interop table.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from rapidfuzz.distance import Levenshtein
from torch import nn

from speechxl.data.validate import ctc_min_frames
from speechxl.models.speech_encoder import SpeechEncoder
from speechxl.nn.dropout import Dropout
from speechxl.nn.masking import MaskingConfig, span_mask


@dataclass(kw_only=True)
class CTCConfig:
    """What CTC fine-tuning does besides the encoder's own dropouts."""

    final_dropout: float = 0.0
    """Dropout before the CTC head."""
    mask_time: MaskingConfig = field(default_factory=lambda: MaskingConfig(prob=0.05, length=10, min_masks=2))
    """Time masking while training."""
    mask_channel: MaskingConfig = field(default_factory=lambda: MaskingConfig(prob=0.0, length=64, min_masks=0))
    """Channel masking while training."""
    freeze_frontend: bool = True
    """Keep the feature encoder (frontend) fixed."""
    freeze_encoder_steps: int = 0
    """Train only the head for this many first updates."""


def greedy_ids(log_probs: torch.Tensor, lengths: torch.Tensor, blank: int = 0) -> list[list[int]]:
    """Best path: argmax per frame, repeats merged, blanks dropped. log_probs (B, T, V)."""
    best = log_probs.argmax(-1)  # (B, T)
    keep = torch.ones_like(best, dtype=torch.bool)
    keep[:, 1:] = best[:, 1:] != best[:, :-1]
    keep &= best != blank
    keep &= torch.arange(best.shape[1], device=best.device)[None] < lengths[:, None]
    return [row[k].tolist() for row, k in zip(best, keep)]


def ctc_loss(log_probs: torch.Tensor, frames: torch.Tensor, labels: list[list[int]]) -> tuple[torch.Tensor, int, dict]:
    """CTC loss summed over utterances (blank 0; one whose labels cannot fit its frames adds nothing
    and is counted as ``zeroed``), the number of label tokens, logs. log_probs (B, T, V), frames (B,)."""
    target_lengths = torch.tensor([len(lab) for lab in labels], device=log_probs.device)
    targets = torch.tensor([i for lab in labels for i in lab], dtype=torch.long, device=log_probs.device)
    loss = F.ctc_loss(log_probs.transpose(0, 1), targets, frames, target_lengths, blank=0,
                      reduction="sum", zero_infinity=True)
    tokens = sum(len(lab) for lab in labels)
    least = torch.tensor([ctc_min_frames(lab) for lab in labels], device=frames.device)
    return loss, tokens, {"ctc": loss.detach() / max(tokens, 1), "zeroed": (frames < least).sum()}


class TunedEncoder(nn.Module):
    """A speech encoder as fine-tuning trains it (the base of every task's model): the frontend
    frozen or not, the whole encoder frozen for the first updates, SpecAugment while training."""

    def __init__(self, backbone: SpeechEncoder, cfg: CTCConfig):
        super().__init__()
        self.cfg = cfg
        self.backbone = backbone
        self.encoder_frozen = cfg.freeze_encoder_steps > 0
        if cfg.freeze_frontend:
            self.backbone.frontend.requires_grad_(False)

    def set_step(self, step: int) -> None:
        """Called by the trainer before each update: thaws the encoder after its frozen steps."""
        self.encoder_frozen = step < self.cfg.freeze_encoder_steps

    def encoded(self, wav: torch.Tensor, lengths: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        """(encoder output (B, T, D), frames per utterance (B,)); no lengths: no padding."""
        frozen = not self.training or self.cfg.freeze_frontend or self.encoder_frozen
        with torch.no_grad() if frozen and self.training else contextlib.nullcontext():
            features, valid = self.backbone.frontend(wav, lengths)  # (B, T, C)
        frames = valid.sum(1) if valid is not None else torch.full(features.shape[:1], features.shape[1],
                                                                   device=wav.device)
        time_mask = span_mask(frames, features.shape[1], self.cfg.mask_time) if self.training else None  # (B, T)
        with torch.no_grad() if self.encoder_frozen and self.training else contextlib.nullcontext():
            out = self.backbone.encode(features, valid, time_mask, self._channel_mask(features))
        return out.hidden, frames

    def _channel_mask(self, features: torch.Tensor) -> torch.Tensor | None:
        if not self.training or self.cfg.mask_channel.prob <= 0:
            return None
        b, d = features.shape[0], self.backbone.feature_projection.projection.out_features
        return span_mask(torch.full((b,), d, device=features.device), d, self.cfg.mask_channel)  # (B, D)


class CTCModel(TunedEncoder):
    """The recogniser; with a ``language_head`` (CTC + LID multitask) it also learns each utterance's
    language, its cross-entropy weighted per utterance beside CTC's per token."""

    def __init__(self, backbone: SpeechEncoder, vocab_size: int, cfg: CTCConfig, language_head: nn.Module | None = None,
                 language_weight: float = 0.0):
        super().__init__(backbone, cfg)
        self.dropout = Dropout(cfg.final_dropout)
        self.head = nn.Linear(backbone.feature_projection.projection.out_features, vocab_size)
        self.language_head, self.language_weight = language_head, language_weight

    def log_probs(self, wav: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(log-probabilities (B, T, V) in fp32, frames per utterance (B,))."""
        hidden, frames = self.encoded(wav, lengths)
        return self.unit_log_probs(hidden), frames

    def unit_log_probs(self, hidden: torch.Tensor) -> torch.Tensor:
        """Encoder output (B, T, D) -> the head's log-probabilities (B, T, V) in fp32."""
        return self.head(self.dropout(hidden)).float().log_softmax(-1)

    def forward(self, batch: dict) -> tuple[torch.Tensor, int, dict[str, float]]:
        """batch: wav (B, S), lengths (B,), labels (B lists of unit ids), langs -> (CTC loss summed over
        utterances, the number of label tokens, logs)."""
        labels = batch["labels"]
        hidden, frames = self.encoded(batch["wav"], batch["lengths"])
        log_probs = self.unit_log_probs(hidden)
        loss, tokens, logs = ctc_loss(log_probs, frames, labels)
        if self.language_head is not None:  # its mean cross-entropy per utterance, after the division by tokens
            lid_loss, lid_logs = self.language_head.loss(hidden, frames, batch["langs"])
            loss = loss + self.language_weight * lid_loss * tokens / len(labels)
            logs.update(lid_logs)
        if not self.training:
            hyps = greedy_ids(log_probs, frames)
            logs["errors"] = sum(Levenshtein.distance(h, r) for h, r in zip(hyps, labels))
            logs["ref_tokens"] = tokens
        return loss, tokens, logs
