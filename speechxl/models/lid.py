"""Spoken language identification: the mean of an utterance's encoder frames, then a linear
classifier over the training languages (XLS-R fine-tuned for language ID the same way, on
VoxLingua107). The languages travel with the model (its card), so a batch's ``langs`` are its
labels and no label files are needed: untranscribed speech with a language trains it.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from speechxl.config import ConfigError
from speechxl.models.ctc import CTCConfig, TunedEncoder
from speechxl.models.speech_encoder import SpeechEncoder
from speechxl.nn.dropout import Dropout


@dataclass(kw_only=True)
class LIDConfig:
    """The language head: its dropout, and its weight beside CTC in the CTC + LID multitask."""

    dropout: float = 0.1
    """Dropout of the pooled vector."""
    weight: float = 1.0
    """task ctc+lid: the language cross-entropy per utterance, beside CTC's loss per token."""


class LanguageHead(nn.Module):
    """Encoder output (B, T, D) + frames (B,) -> language logits (B, L): the mean of the real frames."""

    def __init__(self, hidden_size: int, languages: list[str], cfg: LIDConfig):
        super().__init__()
        self.languages = list(languages)
        self.index = {lang: i for i, lang in enumerate(self.languages)}
        self.dropout = Dropout(cfg.dropout)
        self.classifier = nn.Linear(hidden_size, len(self.languages))

    def forward(self, hidden: torch.Tensor, frames: torch.Tensor) -> torch.Tensor:
        valid = torch.arange(hidden.shape[1], device=hidden.device)[None] < frames[:, None]  # (B, T)
        pooled = (hidden * valid[..., None]).sum(1) / frames.clamp(min=1)[:, None].to(hidden.dtype)  # (B, D)
        return self.classifier(self.dropout(pooled)).float()

    def targets(self, langs: list[str], device: torch.device) -> torch.Tensor:
        unknown = sorted(set(langs) - set(self.index))
        if unknown:
            raise ConfigError(f"languages {unknown} are not among the model's {self.languages}")
        return torch.tensor([self.index[lang] for lang in langs], device=device)

    def loss(self, hidden: torch.Tensor, frames: torch.Tensor, langs: list[str]) -> tuple[torch.Tensor, dict]:
        """(cross-entropy summed over the utterances, logs: lid_ce, correct, count)."""
        logits = self(hidden, frames)
        target = self.targets(langs, logits.device)
        loss = F.cross_entropy(logits, target, reduction="sum")
        correct = (logits.detach().argmax(-1) == target).sum()
        return loss, {"lid_ce": loss.detach() / len(langs), "correct": correct, "count": len(langs)}


class LIDModel(TunedEncoder):
    """batch {wav (B, S), lengths (B,), langs} -> (cross-entropy summed, utterances, logs); the
    validation's error rate is the share of utterances given the wrong language."""

    def __init__(self, backbone: SpeechEncoder, cfg: CTCConfig, language_head: LanguageHead):
        super().__init__(backbone, cfg)
        self.language_head = language_head

    def posteriors(self, wav: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """(B, L): each utterance's probability of each of the model's languages."""
        hidden, frames = self.encoded(wav, lengths)
        return self.language_head(hidden, frames).softmax(-1)

    def forward(self, batch: dict) -> tuple[torch.Tensor, int, dict[str, float]]:
        hidden, frames = self.encoded(batch["wav"], batch["lengths"])
        loss, logs = self.language_head.loss(hidden, frames, batch["langs"])
        if not self.training:
            logs.update(errors=logs["count"] - logs["correct"], ref_tokens=logs["count"])
        return loss, len(batch["langs"]), logs
