"""A causal LSTM encoder: CPC's context network (Oord et al., 2018; Rivière et al., 2020).

(B, T, D) + valid (B, T) -> (B, T, D), each frame from the frames up to it alone, so padding after an
utterance changes nothing on its real frames and no mask is needed; optionally every layer's output.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from speechxl.nn.dropout import Dropout


@dataclass(kw_only=True)
class LSTMConfig:
    """Causal LSTM layers."""

    type: str = "lstm"
    """The part's tag in YAML (``encoder: {type: lstm}``)."""
    hidden_size: int = 256
    """Model width D (CPC: 256)."""
    num_layers: int = 2
    """Rivière et al.'s CPC: 2 layers."""
    dropout: float = 0.0
    """Between layers."""
    layer_norm_eps: float = 1e-5
    """Of the feature projection before the first layer."""


class LSTMEncoder(nn.Module):
    def __init__(self, cfg: LSTMConfig):
        super().__init__()
        self.cfg = cfg
        self.layers = nn.ModuleList(nn.LSTM(cfg.hidden_size, cfg.hidden_size, batch_first=True)
                                    for _ in range(cfg.num_layers))
        self.dropout = Dropout(cfg.dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None, return_layers: bool = False
                ) -> torch.Tensor | tuple[torch.Tensor, list[torch.Tensor]]:
        """Contextual frames (B, T, D); with ``return_layers`` also [the input, then each layer's output]."""
        outputs = [x]
        for i, layer in enumerate(self.layers):
            x = layer(self.dropout(x) if i else x)[0]
            outputs.append(x)
        return (x, outputs) if return_layers else x
