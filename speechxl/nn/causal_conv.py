"""A causal convolutional encoder: wav2vec's context network (Schneider et al., 2019).

(B, T, D) + valid (B, T) -> (B, T, D). Each layer is a convolution over the current frame and the
``kernel - 1`` before it (padded on the left only), a normalisation, ReLU and a skip connection
scaled by sqrt(0.5) (wav2vec's ``residual_scale``). wav2vec normalises each layer with a GroupNorm over
channels and time, which lets an utterance's later frames into every earlier one; here a LayerNorm over
each frame's channels keeps every frame a function of the frames up to it, so padding after an
utterance changes nothing on its real frames and no mask is needed. Receptive field: 1 + the sum of
(kernel - 1) over the layers (wav2vec: 9 layers of 3 = 19 frames, 190 ms at 10 ms; wav2vec large: 12
layers of 2..13 = 91 frames).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from speechxl.config import ConfigError
from speechxl.nn.dropout import Dropout


@dataclass(kw_only=True)
class CausalConvConfig:
    """Causal convolution layers."""

    type: str = "causal_conv"
    """The part's tag in YAML (``encoder: {type: causal_conv}``)."""
    hidden_size: int = 512
    """Model width D (wav2vec: 512)."""
    kernel_sizes: list[int] = field(default_factory=lambda: [3] * 9)
    """One per layer: the frames it sees, this one and kernel - 1 before it (wav2vec: 9 layers of 3)."""
    dropout: float = 0.0
    """On each layer's output before the skip connection."""
    layer_norm_eps: float = 1e-5
    """Of each layer's normalisation and of the feature projection before the first layer."""

    @property
    def num_layers(self) -> int:
        return len(self.kernel_sizes)

    def validate(self) -> None:
        if not self.kernel_sizes or min(self.kernel_sizes) < 1:
            raise ConfigError("kernel_sizes: one kernel of at least 1 frame per layer")


class CausalConvLayer(nn.Module):
    def __init__(self, cfg: CausalConvConfig, kernel: int):
        super().__init__()
        self.conv = nn.Conv1d(cfg.hidden_size, cfg.hidden_size, kernel)
        self.norm = nn.LayerNorm(cfg.hidden_size, eps=cfg.layer_norm_eps)
        self.dropout = Dropout(cfg.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, D) -> (B, T, D)."""
        y = self.conv(F.pad(x.transpose(1, 2), (self.conv.kernel_size[0] - 1, 0))).transpose(1, 2)
        return (x + self.dropout(F.relu(self.norm(y)))) * math.sqrt(0.5)


class CausalConvEncoder(nn.Module):
    def __init__(self, cfg: CausalConvConfig):
        super().__init__()
        self.cfg = cfg
        self.layers = nn.ModuleList(CausalConvLayer(cfg, k) for k in cfg.kernel_sizes)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None, return_layers: bool = False
                ) -> torch.Tensor | tuple[torch.Tensor, list[torch.Tensor]]:
        """Contextual frames (B, T, D); with ``return_layers`` also [the input, then each layer's output]."""
        outputs = [x]
        for layer in self.layers:
            x = layer(x)
            outputs.append(x)
        return (x, outputs) if return_layers else x
