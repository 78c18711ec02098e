"""UniSpeech (Wang et al., 2021): wav2vec 2.0's contrastive task on all speech, and phone CTC on
transcribed speech, in the same updates.

  speech  a ``speech`` stream: wav2vec 2.0's loss (``models/wav2vec2.py``: masked frames against
          their quantized targets among distractors)
  paired  a ``paired`` stream (transcribed audio, its transcripts in the run's units: phones, as
          the paper, or characters): the same masked forward gives ``contrastive_weight x`` the
          contrastive loss and CTC over the units, where each output frame is replaced with
          probability ``replace_prob`` by its own quantized target (projected by the contrastive
          objective's ``project_q``, then to the encoder's width): the quantizer's codes are pulled
          towards the phones, which makes them phone-aware for the contrastive task on every stream
A batch is one stream's; the streams' weights in the run set how often each comes. The speech
encoder is wav2vec 2.0's (transformers' ``UniSpeechModel`` is its counterpart), and what CTC
fine-tunes.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch
from torch import nn

from speechxl.config import ConfigError
from speechxl.models import wav2vec2
from speechxl.models.ctc import ctc_loss
from speechxl.models.speech_encoder import build_encoder
from speechxl.nn.masking import MaskedFrames, SpanMasker


@dataclass(kw_only=True)
class UniSpeechConfig(wav2vec2.Wav2Vec2Config):
    """wav2vec 2.0's parts and the CTC task on transcribed batches."""

    vocabulary: int = 0
    """Units of the CTC head: set by pretraining from the run's ``units``."""
    replace_prob: float = 0.5
    """Share of output frames CTC sees as their quantized targets instead (UniSpeech's r)."""
    ctc_weight: float = 1.0
    contrastive_weight: float = 1.0
    """Weight of the contrastive loss on transcribed batches (on untranscribed ones it is 1)."""

    def validate(self) -> None:
        if not 0 <= self.replace_prob <= 1:
            raise ConfigError("replace_prob is in [0, 1]")


def copy_architecture(cfg: UniSpeechConfig, source: UniSpeechConfig) -> UniSpeechConfig:
    """wav2vec 2.0's copy and the vocabulary."""
    return dataclasses.replace(wav2vec2.copy_architecture(cfg, source), vocabulary=source.vocabulary)


class UniSpeechPretrain(wav2vec2.Wav2Vec2Pretrain):
    """batch -> (loss summed, its count, logs): ``labels`` in the batch make it a paired one."""

    def __init__(self, speech_parts: tuple, quantized_to_hidden: nn.Linear, ctc_head: nn.Linear,
                 replace_prob: float, ctc_weight: float, contrastive_weight: float):
        super().__init__(*speech_parts)
        self.quantized_to_hidden, self.ctc_head = quantized_to_hidden, ctc_head
        self.replace_prob, self.ctc_weight, self.contrastive_weight = replace_prob, ctc_weight, contrastive_weight

    def draw(self, batch: dict) -> dict:
        """wav2vec 2.0's masked frames, and for a paired batch its ``real`` frames (MaskedFrames), which the
        quantizer reads."""
        if "labels" not in batch:
            return super().draw(batch)
        frames, size = self.backbone.frame_lengths(batch["wav"], batch.get("lengths"))
        real = MaskedFrames.of(torch.arange(size, device=frames.device)[None] < frames[:, None])  # (B, T)
        return {**batch, "masked": self.masker.draw(frames, size), "real": real}

    def forward(self, batch: dict) -> tuple[torch.Tensor, int, dict[str, float]]:
        if "labels" not in batch:
            return super().forward(batch)
        batch = self.drawn(batch)
        masked, real = batch["masked"], batch["real"]
        out = self.backbone(batch["wav"], batch["lengths"], self.masker, masked)
        penalty = out.features.float().pow(2).mean()
        # every real frame quantized: (V, Q), (V, G)
        q, c, stats = self.target(self.quantizer_input_dropout(real.select(out.normed)))
        quantized, codes = real.place(q), real.place(c)  # (B, T, Q), (B, T, G)
        contrastive, n, _ = self.objective(masked.select(out.hidden), masked.select(quantized), masked.select(codes),
                                           masked.counts, stats, penalty)
        as_hidden = self.quantized_to_hidden(self.objective.project_q(quantized))  # (B, T, D)
        replace = torch.rand(out.hidden.shape[:2], device=out.hidden.device) < self.replace_prob  # (B, T)
        mixed = torch.where(replace[..., None], as_hidden.to(out.hidden.dtype), out.hidden)
        ctc, tokens, ctc_logs = ctc_loss(self.ctc_head(mixed).float().log_softmax(-1), real.counts, batch["labels"])
        # each loss as a mean over its own count, then weighted; the trainer divides by the tokens
        contrastive = contrastive / n.clamp(min=1)
        loss = (self.ctc_weight * ctc / max(tokens, 1) + self.contrastive_weight * contrastive) * tokens
        return loss, tokens, {**ctc_logs, "paired_contrastive": contrastive.detach()}


def build(cfg: UniSpeechConfig) -> UniSpeechPretrain:
    if cfg.vocabulary < 1:
        raise ConfigError("model.vocabulary: no units; pretraining sets it from units= (phones or chars)")
    backbone = build_encoder(cfg)
    speech = (backbone, SpanMasker(cfg.masking), *wav2vec2.contrastive_parts(cfg, backbone.frontend.output_dim))
    d = cfg.encoder.hidden_size
    return UniSpeechPretrain(speech, nn.Linear(cfg.objective.final_dim, d), nn.Linear(d, cfg.vocabulary),
                             cfg.replace_prob, cfg.ctc_weight, cfg.contrastive_weight)
