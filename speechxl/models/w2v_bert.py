"""w2v-BERT (Chung et al., 2021): a contrastive module and a masked-prediction module stacked.

  frontend   FbankFrontend (log-mel, stacked)      encoder  ConformerEncoder
  target     GumbelQuantizer on the normalised frontend output at masked positions
  objective  contrastive (wav2vec 2.0's, with diversity loss) on the output of the first
             ``contrastive_layers`` Conformer blocks, and cross-entropy predicting the quantizer's
             code ids from the last block (mSLAM's speech side); loss = contrastive + mlm_weight x mlm
Masked frames get the learned mask vector, as in wav2vec 2.0. Defaults follow w2v-BERT 2.0's
encoder (relative_key positions, causal LayerNorm convolution module, no final norm).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import torch

from speechxl.config import ConfigError
from speechxl.models import wav2vec2
from speechxl.models.wav2vec2 import Wav2Vec2Config, Wav2Vec2Pretrain
from speechxl.nn.conformer import ConformerConfig
from speechxl.nn.fbank_frontend import FbankFrontendConfig
from speechxl.nn.gumbel_quantizer import GumbelQuantizerConfig
from speechxl.nn.masking import MaskingConfig, span_mask
from speechxl.objectives.contrastive import ContrastiveConfig
from speechxl.objectives.masked_prediction import MaskedPrediction


@dataclass(kw_only=True)
class W2vBertConfig(Wav2Vec2Config):
    """w2v-BERT: wav2vec 2.0's parts on log-mel frames and a Conformer, plus the MLM module."""

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
    quantizer_input_dropout: float = 0.0

    def validate(self) -> None:
        if not 0 < self.contrastive_layers < self.encoder.num_layers:
            raise ConfigError("contrastive_layers must leave blocks for the masked-prediction module")


class W2vBertPretrain(Wav2Vec2Pretrain):
    """batch {wav (B, S), lengths (B,)} -> (loss summed over masked frames, masked frames, logs)."""

    def __init__(self, cfg: W2vBertConfig):
        super().__init__(cfg)
        self.mlm = MaskedPrediction(cfg.encoder.hidden_size, cfg.quantizer.groups, cfg.quantizer.entries)

    def forward(self, batch: dict) -> tuple[torch.Tensor, int, dict[str, float]]:
        wav, lengths = batch["wav"], batch["lengths"]
        features, valid = self.backbone.frontend(wav, lengths)  # (B, T, C)
        frames = valid.sum(1) if valid is not None else torch.full_like(lengths, features.shape[1])
        mask = span_mask(frames, features.shape[1], self.cfg.masking)
        out = self.backbone.encode(features, valid, mask, return_layers=True)
        quantized, codes, stats = self.target(self.quantizer_input_dropout(out.normed[mask]))
        contrastive_in = out.layers[self.cfg.contrastive_layers][mask]
        loss, n, logs = self.objective(contrastive_in, quantized, codes, mask.sum(1), stats,
                                       torch.zeros((), device=wav.device))
        mlm_loss, mlm_logs = self.mlm(out.hidden[mask], codes)
        logs.update(mlm_ce=mlm_logs["masked_ce"], mlm_accuracy=mlm_logs["correct"] / max(mlm_logs["count"], 1),
                    temperature=self.target.temperature)
        return loss + self.cfg.mlm_weight * mlm_loss / self.cfg.quantizer.groups, n, logs


def copy_architecture(cfg: W2vBertConfig, source: W2vBertConfig) -> W2vBertConfig:
    """wav2vec 2.0's copy, and where the contrastive module ends."""
    return dataclasses.replace(wav2vec2.copy_architecture(cfg, source), contrastive_layers=source.contrastive_layers)
