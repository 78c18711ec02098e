"""w2v-BERT (Chung et al., 2021): a contrastive module and a masked-prediction module stacked.

  frontend   FbankFrontend (log-mel, stacked)      encoder  ConformerEncoder
  masker     SpanMasker, masked frames get the encoder's learned vector (as in wav2vec 2.0)
  target     GumbelQuantizer on the normalised frontend output at masked positions
  objective  contrastive (wav2vec 2.0's, with diversity loss) on the output of the first
             ``contrastive_layers`` Conformer blocks, and cross-entropy predicting the quantizer's
             code ids from the last block (mSLAM's speech side); loss = contrastive + mlm_weight x mlm
Defaults follow w2v-BERT 2.0's encoder (relative_key positions, causal LayerNorm convolution
module, no final norm).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import torch
from torch import nn

from speechxl.config import ConfigError
from speechxl.models import wav2vec2
from speechxl.models.speech_encoder import MaskedPretraining, SpeechEncoder, build_encoder
from speechxl.nn.conformer import ConformerConfig
from speechxl.nn.dropout import Dropout
from speechxl.nn.fbank_frontend import FbankFrontendConfig
from speechxl.nn.gumbel_quantizer import GumbelQuantizer, GumbelQuantizerConfig
from speechxl.nn.masking import MaskingConfig, SpanMasker
from speechxl.objectives.contrastive import ContrastiveConfig, ContrastiveLoss
from speechxl.objectives.masked_prediction import MaskedPrediction


@dataclass(kw_only=True)
class W2vBertConfig:
    """w2v-BERT: wav2vec 2.0's contrastive parts on log-mel frames and a Conformer, plus the MLM module."""

    frontend: FbankFrontendConfig = field(default_factory=lambda: FbankFrontendConfig(stack=2))
    encoder: ConformerConfig = field(default_factory=lambda: ConformerConfig(
        position="relative_key", conv_norm="layer", final_norm=False))
    masking: MaskingConfig = field(default_factory=lambda: MaskingConfig(prob=0.65, length=10, min_masks=2))
    quantizer: GumbelQuantizerConfig = field(default_factory=lambda: GumbelQuantizerConfig(groups=1, entries=1024))
    objective: ContrastiveConfig = field(default_factory=lambda: ContrastiveConfig(feature_penalty_weight=0.0))
    contrastive_layers: int = 6
    """Conformer blocks in the contrastive module; the rest form the masked-prediction module."""
    mlm_weight: float = 1.0
    projection_dropout: float = 0.0
    """Dropout after the feature projection."""
    quantizer_input_dropout: float = 0.0
    """Dropout on the frames the quantizer sees."""

    def validate(self) -> None:
        if not 0 < self.contrastive_layers < self.encoder.num_layers:
            raise ConfigError("contrastive_layers must leave blocks for the masked-prediction module")


def copy_architecture(cfg: W2vBertConfig, source: W2vBertConfig) -> W2vBertConfig:
    """wav2vec 2.0's copy, and where the contrastive module ends."""
    return dataclasses.replace(wav2vec2.copy_architecture(cfg, source), contrastive_layers=source.contrastive_layers)


class W2vBertPretrain(MaskedPretraining):
    """batch {wav (B, S), lengths (B,)} -> (loss summed over masked frames, masked frames, logs)."""

    def __init__(self, backbone: SpeechEncoder, masker: SpanMasker, quantizer_input_dropout: Dropout,
                 target: GumbelQuantizer, objective: ContrastiveLoss, mlm: MaskedPrediction,
                 contrastive_layers: int, mlm_weight: float):
        super().__init__()
        self.backbone, self.masker = backbone, masker
        self.quantizer_input_dropout, self.target, self.objective = quantizer_input_dropout, target, objective
        self.mlm, self.contrastive_layers, self.mlm_weight = mlm, contrastive_layers, mlm_weight

    def set_step(self, step: int) -> None:
        """Called by the trainer before each update: anneals the Gumbel temperature."""
        self.target.set_step(step)

    def forward(self, batch: dict) -> tuple[torch.Tensor, int, dict[str, float]]:
        masked = self.drawn(batch)["masked"]
        out = self.backbone(batch["wav"], batch["lengths"], self.masker, masked, return_layers=True)
        quantized, codes, stats = self.target(self.quantizer_input_dropout(masked.select(out.normed)))
        contrastive_in = masked.select(out.layers[self.contrastive_layers])
        loss, n, logs = self.objective(contrastive_in, quantized, codes, masked.counts, stats,
                                       torch.zeros((), device=out.hidden.device))
        mlm_loss, mlm_logs = self.mlm(masked.select(out.hidden), codes, masked.utterance, masked.mask.shape[0])
        weight = self.mlm_weight / len(self.mlm.heads)  # the MLM loss is summed over the code groups
        logs.update(mlm_ce=mlm_logs["masked_ce"], mlm_accuracy=mlm_logs["correct"] / max(mlm_logs["count"], 1),
                    temperature=self.target.temperature)
        logs["per_utterance"]["loss"] += weight * mlm_logs["per_utterance"]["loss"]
        return loss + weight * mlm_loss, n, logs

    def frame_codes(self, wav: torch.Tensor, lengths: torch.Tensor | None = None):
        """(codes (B, T, G), valid (B, T), codewords per group): the targets' codes of each frame."""
        return wav2vec2.contrastive_frame_codes(self.backbone, self.target, wav, lengths)


def build(cfg: W2vBertConfig) -> W2vBertPretrain:
    """wav2vec 2.0's parts with the MLM module on top."""
    backbone = build_encoder(cfg)
    return W2vBertPretrain(backbone, SpanMasker(cfg.masking),
                           *wav2vec2.contrastive_parts(cfg, backbone.frontend.output_dim),
                           MaskedPrediction(cfg.encoder.hidden_size, cfg.quantizer.groups, cfg.quantizer.entries),
                           cfg.contrastive_layers, cfg.mlm_weight)
