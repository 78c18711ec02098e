"""LoRA (Hu et al. 2021): a frozen Linear's output plus a trained low-rank update, (alpha / rank) * B A x,
B zero at first so that training starts at the frozen model.

The wrapped layer keeps the Linear's names (``weight``, ``bias``) beside ``lora_A`` (rank, in) and
``lora_B`` (out, rank): a base checkpoint loads into a model with LoRA as into one without, and merged
(W + (alpha / rank) B A, ``merged``) the weights are a plain model's again, which is what inference and
exports get. peft was not used: it needs transformers and accelerate at install, and it renames each
wrapped layer's weights (``base_layer.weight``), which would break the one-to-one names that speechxl's
checkpoints, frozen-base loading and transformers exports rely on. ``tests/nn/test_lora.py`` holds this
to peft's output where peft is installed.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from speechxl.nn.dropout import Dropout


class LoRALinear(nn.Linear):
    """(..., in) -> (..., out): the frozen Linear's output plus the scaled low-rank update."""

    def __init__(self, base: nn.Linear, rank: int, alpha: float, dropout: float):
        nn.Module.__init__(self)
        self.in_features, self.out_features = base.in_features, base.out_features
        self.weight, self.bias = base.weight, base.bias
        like = {"device": base.weight.device, "dtype": base.weight.dtype}
        self.lora_A = nn.Parameter(torch.empty(rank, base.in_features, **like))
        self.lora_B = nn.Parameter(torch.zeros(base.out_features, rank, **like))
        if not self.lora_A.is_meta:
            nn.init.kaiming_uniform_(self.lora_A, a=math.sqrt(5))  # as nn.Linear and peft draw it
        self.scale = alpha / rank
        self.dropout = Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x) + F.linear(F.linear(self.dropout(x), self.lora_A), self.lora_B) * self.scale


def add_lora(module: nn.Module, targets: list[str], rank: int, alpha: float, dropout: float) -> int:
    """Wrap every Linear inside ``module`` whose own name is one of ``targets``; the number wrapped."""
    wrapped = 0
    for parent in list(module.modules()):
        for name, child in list(parent.named_children()):
            if name in targets and type(child) is nn.Linear:
                setattr(parent, name, LoRALinear(child, rank, alpha, dropout))
                wrapped += 1
    return wrapped


def merged(weights: dict[str, torch.Tensor], scale: float) -> dict[str, torch.Tensor]:
    """A state dict with each ``X.lora_A``/``X.lora_B`` pair merged into ``X.weight`` (and dropped)."""
    lora = [k for k in weights if k.rsplit(".", 1)[-1] in ("lora_A", "lora_B")]
    out = {k: v for k, v in weights.items() if k not in lora}
    for name in lora:
        if name.endswith("lora_A"):
            layer = name[: -len("lora_A")]  # "encoder.layers.0.attention.q_proj." (or "" for a bare layer)
            update = weights[layer + "lora_B"].float() @ weights[name].float() * scale  # (out, in)
            out[layer + "weight"] = (weights[layer + "weight"].float() + update).to(weights[layer + "weight"].dtype)
    return out
