"""Joint speech-text pretraining (mSLAM, Bapna et al., 2022): one Conformer learns from untranscribed
speech, from text, and from transcribed speech.

  speech  a ``speech`` stream: w2v-BERT's losses, as ``models/w2v_bert.py`` computes them (this
          model is w2v-BERT with a text side: its speech parts and their names are w2v-BERT's)
  text    a ``text`` stream, in the run's units (characters as mSLAM, or phones from the units
          stage's G2P as Tang et al. 2022): units embedded (``nn.text_embedding.UnitEmbedding``),
          contiguous spans masked (SpanBERT's objective, which mSLAM uses on characters: spans of
          ``text_masking.length`` units covering about 15 % of them, replaced by a mask unit), through
          the shared Conformer blocks from ``text_layer`` on, the masked units predicted from the last
          block; cross-entropy
  paired  a ``paired`` stream (transcribed audio): the speech through every block, unmasked, and
          CTC over the same units from the last block (mSLAM-CTC); with a text encoder
          (``init.text=`` an XLM-R or InfoXLM dir, or ``pretrain-text``'s model), also SAMU-XLSR's
          distillation: the utterance's mean output frame, projected, pulled towards the text
          encoder's vector of its transcript (mean of its last layer) by cosine distance (SAMU-XLSR
          pools by attention; a mean here). The text encoder stays frozen and out of the checkpoints.
A batch is one stream's; its loss is the stream's, weighted: speech ``contrastive + mlm_weight x
mlm``, text ``text_weight x ce``, paired ``ctc_weight x ctc`` (+ ``distill_weight x`` the mean
distance per utterance); the streams' weights in the run set how often each comes.

Text is not upsampled to the speech frame rate: a batch holds one stream, so text never shares a
sequence with speech, and the Conformer's relative positions assume no rate. Text enters at block
``text_layer`` (default: where w2v-BERT's contrastive module ends): the lower blocks stay speech's,
turning acoustics into units, and the upper ones, which w2v-BERT already trains to predict discrete
units, are shared; ``text_layer=0`` shares every block, as mSLAM does.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from speechxl.config import ConfigError
from speechxl.models import w2v_bert, wav2vec2
from speechxl.models.ctc import ctc_loss
from speechxl.models.speech_encoder import SpeechEncoder, build_encoder
from speechxl.models.text_encoder import SentenceTeacher
from speechxl.nn.masking import MaskedFrames, MaskingConfig, SpanMasker, span_mask
from speechxl.nn.text_embedding import UnitEmbedding
from speechxl.objectives.masked_prediction import MaskedPrediction

PAD = 0  # a text batch's padding: <blank>, which no text holds


@dataclass(kw_only=True)
class MslamConfig(w2v_bert.W2vBertConfig):
    """w2v-BERT and its text side (see the module doc)."""

    vocabulary: int = 0
    """Units of the text and of the CTC head: set by pretraining from the run's ``units``."""
    text_layer: int = -1
    """The first Conformer block text goes through; -1: ``contrastive_layers`` (the shared blocks are
    w2v-BERT's masked-prediction module)."""
    text_masking: MaskingConfig = field(default_factory=lambda: MaskingConfig(prob=0.035, length=5, min_masks=1))
    """Spans of text units masked: 3.5 % of positions start a span of 5, about 15 % of the units masked."""
    text_dropout: float = 0.1
    """Dropout of the unit embedding."""
    text_weight: float = 1.0
    ctc_weight: float = 1.0
    distill_dim: int = 0
    """Width of the sentence vectors distilled from a text encoder (``init.text=``), which sets it; 0: none."""
    distill_weight: float = 1.0

    def validate(self) -> None:
        super().validate()
        if not -1 <= self.text_layer < self.encoder.num_layers:
            raise ConfigError(f"text_layer {self.text_layer} is not a block of the {self.encoder.num_layers}")

    def first_text_layer(self) -> int:
        return self.contrastive_layers if self.text_layer < 0 else self.text_layer


def copy_architecture(cfg: MslamConfig, source: MslamConfig) -> MslamConfig:
    """w2v-BERT's copy, the vocabulary and where text enters."""
    return dataclasses.replace(w2v_bert.copy_architecture(cfg, source), vocabulary=source.vocabulary,
                               text_layer=source.text_layer)


class MslamPretrain(w2v_bert.W2vBertPretrain):
    """batch -> (loss summed, its count, logs), by the batch's stream: ``text`` (unit ids) text,
    ``labels`` paired, else speech (see the module doc)."""

    def __init__(self, speech_parts: tuple, text_embed: UnitEmbedding, text_head: nn.Linear, ctc_head: nn.Linear,
                 text_masking: MaskingConfig, text_layer: int, text_weight: float, ctc_weight: float,
                 distill: nn.Linear | None = None, distill_weight: float = 0.0):
        super().__init__(*speech_parts)
        self.text_embed, self.text_head, self.ctc_head, self.distill = text_embed, text_head, ctc_head, distill
        self.text_masking, self.text_layer = text_masking, text_layer
        self.text_weight, self.ctc_weight, self.distill_weight = text_weight, ctc_weight, distill_weight
        self.mask_unit = text_head.out_features  # the embedding's last row
        self.__dict__["teacher"] = None  # a SentenceTeacher (attach_teacher): not a submodule, never saved

    def attach_teacher(self, teacher: SentenceTeacher) -> None:
        """The frozen text encoder whose sentence vectors the speech side learns to give (distillation)."""
        if self.distill is None or self.distill.out_features != teacher.dim:
            raise ConfigError(f"model.distill_dim is not the text encoder's width {teacher.dim}")
        self.__dict__["teacher"] = teacher

    def draw(self, batch: dict) -> dict:
        """A text batch with its masked units (``masked``, MaskedFrames over (B, L)); a speech batch with
        w2v-BERT's masked frames; a paired one as it is (it masks nothing). Drawn where the batch is (the
        trainer: on the host)."""
        if "text" in batch:
            valid = batch["text"] != PAD  # (B, L)
            masked = span_mask(valid.sum(1), valid.shape[1], self.text_masking) & valid
            return {**batch, "masked": MaskedFrames.of(masked)}
        return batch if "labels" in batch else super().draw(batch)

    def forward(self, batch: dict) -> tuple[torch.Tensor, int, dict[str, float]]:
        if "text" in batch:
            return self._text(batch["text"], self.drawn(batch)["masked"])
        if "labels" in batch:
            return self._paired(batch)
        return super().forward(batch)

    def _text(self, ids: torch.Tensor, masked: MaskedFrames) -> tuple[torch.Tensor, int, dict[str, float]]:
        """ids (B, L) of units, padded with PAD; the masked units."""
        valid = ids != PAD
        x = self.text_embed(ids.masked_fill(masked.mask, self.mask_unit))
        hidden = self.backbone.encoder(x, valid, first=self.text_layer)  # (B, L, D)
        logits = self.text_head(masked.select(hidden)).float()  # (N, V)
        targets = masked.select(ids)
        loss = F.cross_entropy(logits, targets, reduction="sum")
        n = targets.numel()
        right = (logits.detach().argmax(-1) == targets).sum()
        return self.text_weight * loss, n, {"text_ce": loss.detach() / max(n, 1), "text_accuracy": right / max(n, 1)}

    def _paired(self, batch: dict) -> tuple[torch.Tensor, int, dict[str, float]]:
        out = self.backbone(batch["wav"], batch["lengths"])
        log_probs = self.ctc_head(out.hidden).float().log_softmax(-1)  # (B, T, V)
        loss, tokens, logs = ctc_loss(log_probs, out.frames(), batch["labels"])
        loss = self.ctc_weight * loss
        if self.teacher is not None:  # the utterance's mean frame, projected, towards its transcript's vector
            valid = (out.valid if out.valid is not None else torch.ones_like(out.hidden[..., 0], dtype=torch.bool))
            pooled = (out.hidden * valid[..., None]).sum(1) / valid.sum(1, keepdim=True)  # (B, D)
            target = self.teacher(batch["texts"], out.hidden.device)  # (B, D_text)
            distance = (1 - F.cosine_similarity(self.distill(pooled).float(), target.float(), dim=-1)).sum()
            b = len(batch["labels"])
            loss = loss + self.distill_weight * distance * tokens / b  # per utterance, after the division by tokens
            logs["distill"] = distance.detach() / b
        return loss, tokens, logs


def build(cfg: MslamConfig) -> MslamPretrain:
    """w2v-BERT's parts, and the text side over ``cfg.vocabulary`` units."""
    if cfg.vocabulary < 1:
        raise ConfigError("model.vocabulary: no units; pretraining sets it from units= (chars or phones)")
    backbone: SpeechEncoder = build_encoder(cfg)
    d = cfg.encoder.hidden_size
    speech = (backbone, SpanMasker(cfg.masking), *wav2vec2.contrastive_parts(cfg, backbone.frontend.output_dim),
              MaskedPrediction(d, cfg.quantizer.groups, cfg.quantizer.entries), cfg.contrastive_layers, cfg.mlm_weight)
    return MslamPretrain(speech, UnitEmbedding(cfg.vocabulary + 1, d, cfg.text_dropout, cfg.encoder.layer_norm_eps),
                         nn.Linear(d, cfg.vocabulary), nn.Linear(d, cfg.vocabulary), cfg.text_masking,
                         cfg.first_text_layer(), cfg.text_weight, cfg.ctc_weight,
                         nn.Linear(d, cfg.distill_dim) if cfg.distill_dim else None, cfg.distill_weight)
