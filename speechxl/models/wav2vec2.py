"""wav2vec 2.0 / XLSR pretraining, assembled from parts.

  frontend   ConvFrontend           waveform -> frames (B, T, C)
  masker     span_mask              frames -> masked positions (B, T)
  encoder    TransformerEncoder     projected frames with mask vectors -> context (B, T, D)
  target     GumbelQuantizer        normalised frames at masked positions -> codewords
  objective  ContrastiveLoss        context vs target among distractors, + diversity, penalty

Only the masked frames are quantized, projected and scored. The config's defaults are
wav2vec 2.0 BASE; the presets in recipes/pretrain/ derive tiny, LARGE and XLSR-53 from it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from speechxl.models.speech_encoder import SpeechEncoder, build_speech_encoder
from speechxl.models.speech_encoder import copy_architecture as copy_parts
from speechxl.nn.conformer import ConformerConfig
from speechxl.nn.conv_frontend import ConvFrontendConfig
from speechxl.nn.gumbel_quantizer import GumbelQuantizer, GumbelQuantizerConfig
from speechxl.nn.masking import MaskingConfig, span_mask
from speechxl.nn.transformer import TransformerConfig
from speechxl.objectives.contrastive import ContrastiveConfig, ContrastiveLoss


@dataclass(kw_only=True)
class Wav2Vec2Config:
    """wav2vec 2.0: the parts' configs (defaults: BASE) and the dropouts between them."""

    frontend: ConvFrontendConfig = field(default_factory=lambda: ConvFrontendConfig(grad_mult=0.1))
    encoder: TransformerConfig = field(default_factory=TransformerConfig)
    masking: MaskingConfig = field(default_factory=MaskingConfig)
    quantizer: GumbelQuantizerConfig = field(default_factory=GumbelQuantizerConfig)
    objective: ContrastiveConfig = field(default_factory=ContrastiveConfig)
    projection_dropout: float = 0.1
    """Dropout after the feature projection (fairseq dropout_input, HF feat_proj_dropout)."""
    quantizer_input_dropout: float = 0.1
    """Dropout on the frames the quantizer sees (fairseq dropout_features)."""


@dataclass(kw_only=True)
class Wav2Vec2ConformerConfig(Wav2Vec2Config):
    """wav2vec 2.0 with a Conformer encoder (transformers' Wav2Vec2Conformer)."""

    encoder: ConformerConfig = field(default_factory=lambda: ConformerConfig(
        hidden_size=768, num_layers=12, num_heads=12, intermediate_size=3072, position="relative"))


def copy_architecture(cfg: Wav2Vec2Config, source: Wav2Vec2Config) -> Wav2Vec2Config:  # and its subclasses
    """``cfg`` with the sizes and layer order of ``source``; training settings stay ``cfg``'s."""
    return copy_parts(cfg, source, ("frontend", "encoder", "quantizer"), {"objective": ("final_dim",)})


def build_encoder(cfg: Wav2Vec2Config) -> SpeechEncoder:
    return build_speech_encoder(cfg.frontend, cfg.encoder, cfg.projection_dropout)


class Wav2Vec2Pretrain(nn.Module):
    """batch {wav (B, S), lengths (B,)} -> (loss summed over masked frames, masked frames, logs)."""

    def __init__(self, cfg: Wav2Vec2Config):
        super().__init__()
        self.cfg = cfg
        self.backbone = build_encoder(cfg)
        self.quantizer_input_dropout = nn.Dropout(cfg.quantizer_input_dropout)
        self.target = GumbelQuantizer(cfg.quantizer, self.backbone.frontend.output_dim)
        self.objective = ContrastiveLoss(cfg.objective, cfg.encoder.hidden_size, cfg.quantizer.dim,
                                         cfg.quantizer.groups * cfg.quantizer.entries)

    def set_step(self, step: int) -> None:
        """Called by the trainer before each update: anneals the Gumbel temperature."""
        self.target.set_step(step)

    def forward(self, batch: dict) -> tuple[torch.Tensor, int, dict[str, float]]:
        wav, lengths = batch["wav"], batch["lengths"]
        features, valid = self.backbone.frontend(wav, lengths)  # (B, T, C), (B, T)
        penalty = features.float().pow(2).mean()
        frames = valid.sum(1) if valid is not None else torch.full_like(lengths, features.shape[1])
        mask = span_mask(frames, features.shape[1], self.cfg.masking)  # (B, T)
        out = self.backbone.encode(features, valid, mask)
        context = out.hidden[mask]  # (N, D), utterance by utterance
        quantized, codes, stats = self.target(self.quantizer_input_dropout(out.normed[mask]))
        loss, n, logs = self.objective(context, quantized, codes, mask.sum(1), stats, penalty)
        logs["temperature"] = self.target.temperature
        return loss, n, logs
