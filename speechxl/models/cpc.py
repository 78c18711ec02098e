"""CPC (Oord et al., 2018; Rivière et al., 2020, whose features transfer across languages) and wav2vec
(Schneider et al., 2019): a causal context network over the frontend's frames predicts the frames
1..K steps ahead among distractors. The two are presets of this family (recipes/pretrain/cpc_tiny.yaml,
wav2vec_tiny.yaml):

  frontend   ConvFrontend           waveform -> frames (B, T, C)  (both papers: 10 ms; here any frontend)
  encoder    LSTMEncoder            projected frames -> causal context (B, T, D)  (CPC)
             CausalConvEncoder      (wav2vec; or any encoder type: only a causal one keeps the task honest)
  target     the normalised frontend frames themselves (no quantizer, no masking)
  objective  FuturePrediction       k = 1..K steps ahead: InfoNCE (CPC) or binary (wav2vec)

The speech encoder (frontend, projection, LSTM) is what fine-tuning and the frozen-encoder probe
(``recipes/finetune/ctc_probe_tiny.yaml``) use.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from speechxl.models.speech_encoder import SpeechEncoder, build_encoder
from speechxl.models.speech_encoder import copy_architecture as copy_parts
from speechxl.nn.causal_conv import CausalConvConfig
from speechxl.nn.conformer import ConformerConfig
from speechxl.nn.conv_frontend import ConvFrontendConfig
from speechxl.nn.fbank_frontend import FbankFrontendConfig
from speechxl.nn.lstm import LSTMConfig
from speechxl.nn.transformer import TransformerConfig
from speechxl.objectives.future_prediction import FuturePrediction, FuturePredictionConfig


@dataclass(kw_only=True)
class CPCConfig:
    """CPC / wav2vec: a frontend, a causal context network and the future-prediction objective."""

    frontend: ConvFrontendConfig | FbankFrontendConfig = field(default_factory=ConvFrontendConfig)
    encoder: LSTMConfig | CausalConvConfig | TransformerConfig | ConformerConfig = field(default_factory=LSTMConfig)
    objective: FuturePredictionConfig = field(default_factory=FuturePredictionConfig)
    projection_dropout: float = 0.0


def copy_architecture(cfg: CPCConfig, source: CPCConfig) -> CPCConfig:
    return copy_parts(cfg, source, ("frontend", "encoder"))


class CPCPretrain(nn.Module):
    """batch {wav (B, S), lengths (B,)} -> (loss summed over predictions, predictions, logs)."""

    def __init__(self, backbone: SpeechEncoder, objective: FuturePrediction):
        super().__init__()
        self.backbone, self.objective = backbone, objective

    def forward(self, batch: dict) -> tuple[torch.Tensor, int, dict[str, float]]:
        out = self.backbone(batch["wav"], batch["lengths"])
        return self.objective(out.hidden, out.normed, out.frames())


def build(cfg: CPCConfig) -> CPCPretrain:
    backbone = build_encoder(cfg)
    return CPCPretrain(backbone, FuturePrediction(cfg.objective, cfg.encoder.hidden_size, backbone.frontend.output_dim))
