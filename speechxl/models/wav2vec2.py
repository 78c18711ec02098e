"""wav2vec 2.0 / XLSR pretraining, assembled from parts.

  frontend   ConvFrontend           waveform -> frames (B, T, C)       (or log-mel: frontend: {type: fbank})
  masker     SpanMasker             masked positions (B, T), filled with the encoder's learned vector
  encoder    TransformerEncoder     projected frames -> context (B, T, D)   (or encoder: {type: conformer})
  target     GumbelQuantizer        normalised frames at masked positions -> codewords
  objective  ContrastiveLoss        context vs target among distractors, + diversity, penalty

Only the masked frames are quantized, projected and scored. The config's defaults are
wav2vec 2.0 BASE; the presets in recipes/pretrain/ derive tiny, LARGE and XLSR-53 from it, and
wav2vec 2.0 with a Conformer (transformers' Wav2Vec2Conformer) is a preset that sets the
encoder's type.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from speechxl.models.speech_encoder import MaskedPretraining, SpeechEncoder, build_encoder
from speechxl.models.speech_encoder import copy_architecture as copy_parts
from speechxl.nn.conformer import ConformerConfig
from speechxl.nn.conv_frontend import ConvFrontendConfig
from speechxl.nn.dropout import Dropout
from speechxl.nn.fbank_frontend import FbankFrontendConfig
from speechxl.nn.gumbel_quantizer import GumbelQuantizer, GumbelQuantizerConfig
from speechxl.nn.masking import MaskingConfig, SpanMasker
from speechxl.nn.transformer import TransformerConfig
from speechxl.objectives.contrastive import ContrastiveConfig, ContrastiveLoss


@dataclass(kw_only=True)
class Wav2Vec2Config:
    """wav2vec 2.0: the parts' configs (defaults: BASE) and the dropouts between them."""

    frontend: ConvFrontendConfig | FbankFrontendConfig = field(default_factory=lambda: ConvFrontendConfig(grad_mult=0.1))
    encoder: TransformerConfig | ConformerConfig = field(default_factory=TransformerConfig)
    masking: MaskingConfig = field(default_factory=MaskingConfig)
    quantizer: GumbelQuantizerConfig = field(default_factory=GumbelQuantizerConfig)
    objective: ContrastiveConfig = field(default_factory=ContrastiveConfig)
    projection_dropout: float = 0.1
    """Dropout after the feature projection (fairseq dropout_input, HF feat_proj_dropout)."""
    quantizer_input_dropout: float = 0.1
    """Dropout on the frames the quantizer sees (fairseq dropout_features)."""


@dataclass(kw_only=True)
class Wav2Vec2ConformerConfig(Wav2Vec2Config):
    """The family name ``wav2vec2-conformer`` of runs before encoders had tags: wav2vec2 whose
    encoder is a Conformer by default (new runs: family wav2vec2, encoder: {type: conformer})."""

    encoder: ConformerConfig = field(default_factory=lambda: ConformerConfig(
        hidden_size=768, num_layers=12, num_heads=12, intermediate_size=3072, position="relative"))


def copy_architecture(cfg: Wav2Vec2Config, source: Wav2Vec2Config) -> Wav2Vec2Config:  # and its subclasses
    """``cfg`` with the sizes and layer order of ``source``; training settings stay ``cfg``'s."""
    return copy_parts(cfg, source, ("frontend", "encoder", "quantizer"), {"objective": ("final_dim",)})


def contrastive_parts(cfg: Wav2Vec2Config, frontend_dim: int) -> tuple[Dropout, GumbelQuantizer, ContrastiveLoss]:
    """wav2vec 2.0's task on masked frames (w2v-BERT reuses it): the dropout before the
    quantizer, the quantizer of normalised frames (the target), the contrastive objective."""
    return (Dropout(cfg.quantizer_input_dropout), GumbelQuantizer(cfg.quantizer, frontend_dim),
            ContrastiveLoss(cfg.objective, cfg.encoder.hidden_size, cfg.quantizer.dim,
                            cfg.quantizer.groups * cfg.quantizer.entries))


def contrastive_frame_codes(backbone: SpeechEncoder, target: GumbelQuantizer, wav: torch.Tensor,
                            lengths: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor | None, int]:
    """Each frame's codeword per group (B, T, G), picked by argmax (no masking, no Gumbel noise: call
    in eval mode), its valid mask (B, T), and the codewords per group."""
    features, valid = backbone.frontend(wav, lengths)
    _, normed = backbone.feature_projection(features)  # (B, T, C): the quantizer's input
    _, codes, _ = target(normed.flatten(0, 1))
    return codes.view(*normed.shape[:2], -1), valid, target.cfg.entries


class Wav2Vec2Pretrain(MaskedPretraining):
    """batch {wav (B, S), lengths (B,), [masked: drawn by ``draw``]} -> (loss summed over masked frames,
    masked frames, logs)."""

    def __init__(self, backbone: SpeechEncoder, masker: SpanMasker, quantizer_input_dropout: Dropout,
                 target: GumbelQuantizer, objective: ContrastiveLoss):
        super().__init__()
        self.backbone, self.masker = backbone, masker
        self.quantizer_input_dropout, self.target, self.objective = quantizer_input_dropout, target, objective

    def set_step(self, step: int) -> None:
        """Called by the trainer before each update: anneals the Gumbel temperature."""
        self.target.set_step(step)

    def forward(self, batch: dict) -> tuple[torch.Tensor, int, dict[str, float]]:
        masked = self.drawn(batch)["masked"]
        out = self.backbone(batch["wav"], batch["lengths"], self.masker, masked)
        penalty = out.features.float().pow(2).mean()
        context = masked.select(out.hidden)  # (N, D), utterance by utterance
        quantized, codes, stats = self.target(self.quantizer_input_dropout(masked.select(out.normed)))
        loss, n, logs = self.objective(context, quantized, codes, masked.counts, stats, penalty)
        logs["temperature"] = self.target.temperature
        return loss, n, logs

    def frame_codes(self, wav: torch.Tensor, lengths: torch.Tensor | None = None):
        """(codes (B, T, G), valid (B, T), codewords per group): the targets' codes of each frame."""
        return contrastive_frame_codes(self.backbone, self.target, wav, lengths)


def build(cfg: Wav2Vec2Config) -> Wav2Vec2Pretrain:
    """The pretraining model of a config: its parts, built and handed to the model."""
    backbone = build_encoder(cfg)
    return Wav2Vec2Pretrain(backbone, SpanMasker(cfg.masking), *contrastive_parts(cfg, backbone.frontend.output_dim))
