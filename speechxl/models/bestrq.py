"""BEST-RQ (Chiu et al., 2022): masked prediction of a frozen random-projection quantizer's labels.

  frontend   FbankFrontend          waveform -> normalised log-mel frames stacked to 40 ms (B, T, C)
  target     RandomProjectionQuantizer   unmasked frames at masked positions -> code ids
  masker     SpanMasker             masked frames are replaced by noise N(0, noise_std^2) before
                                    the projection (no learned mask vector)
  encoder    ConformerEncoder
  objective  MaskedPrediction       a softmax head per codebook at masked positions

The targets come from the frontend's output, which has no trained parameters, so they never
drift and the quantizer never collapses: nothing in it learns.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from speechxl.config import ConfigError
from speechxl.models.speech_encoder import MaskedPretraining, SpeechEncoder, build_encoder
from speechxl.models.speech_encoder import copy_architecture as copy_parts
from speechxl.nn.conformer import ConformerConfig
from speechxl.nn.fbank_frontend import FbankFrontendConfig
from speechxl.nn.masking import MaskingConfig, SpanMasker
from speechxl.nn.transformer import TransformerConfig
from speechxl.nn.random_projection_quantizer import RandomProjectionConfig, RandomProjectionQuantizer
from speechxl.objectives.masked_prediction import MaskedPrediction


@dataclass(kw_only=True)
class BestRQConfig:
    """BEST-RQ: log-mel frames, a Conformer and a frozen random-projection quantizer."""

    frontend: FbankFrontendConfig = field(default_factory=FbankFrontendConfig)
    encoder: ConformerConfig | TransformerConfig = field(default_factory=ConformerConfig)
    masking: MaskingConfig = field(default_factory=lambda: MaskingConfig(prob=0.4, length=10, min_masks=1))
    """On 40 ms frames: 400 ms spans."""
    quantizer: RandomProjectionConfig = field(default_factory=RandomProjectionConfig)
    noise_std: float = 0.1
    """Standard deviation of the noise that replaces masked input frames."""
    projection_dropout: float = 0.0

    def validate(self) -> None:
        if self.frontend.subsampling != "stack":  # conv2d has weights: the targets would drift as it trains
            raise ConfigError("BEST-RQ's targets are computed from the frontend's output, which must have no "
                              f"trained parameters: frontend.subsampling is 'stack', not {self.frontend.subsampling!r}")


def copy_architecture(cfg: BestRQConfig, source: BestRQConfig) -> BestRQConfig:
    """The quantizer is copied too: continued pretraining must predict the same labels."""
    return copy_parts(cfg, source, ("frontend", "encoder", "quantizer"))


class BestRQPretrain(MaskedPretraining):
    """batch {wav (B, S), lengths (B,)} -> (loss summed over masked frames, masked frames, logs)."""

    def __init__(self, backbone: SpeechEncoder, masker: SpanMasker, target: RandomProjectionQuantizer,
                 objective: MaskedPrediction):
        super().__init__()
        self.backbone, self.masker, self.target, self.objective = backbone, masker, target, objective

    def forward(self, batch: dict) -> tuple[torch.Tensor, int, dict[str, float]]:
        masked = self.drawn(batch)["masked"]
        out = self.backbone(batch["wav"], batch["lengths"], self.masker, masked)
        targets = self.target(masked.select(out.features))  # (N, K), from the frames before masking
        loss, logs = self.objective(masked.select(out.hidden), targets, masked.utterance, masked.mask.shape[0])
        return loss, masked.counts.sum(), logs

    def frame_codes(self, wav: torch.Tensor, lengths: torch.Tensor | None = None):
        """(codes (B, T, K), valid (B, T), codewords per codebook): the targets' codes of each frame."""
        features, valid = self.backbone.frontend(wav, lengths)  # (B, T, C)
        return (self.target(features.flatten(0, 1)).view(*features.shape[:2], -1), valid,
                self.target.codebooks.shape[1])


def build(cfg: BestRQConfig) -> BestRQPretrain:
    backbone = build_encoder(cfg)
    return BestRQPretrain(backbone, SpanMasker(cfg.masking, noise_std=cfg.noise_std),
                          RandomProjectionQuantizer(cfg.quantizer, backbone.frontend.output_dim),
                          MaskedPrediction(cfg.encoder.hidden_size, cfg.quantizer.codebooks, cfg.quantizer.codebook_size))
