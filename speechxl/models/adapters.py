"""What a fine-tuning trains of a pretrained model: all of it, or a small added part with the rest frozen.

  none   the whole encoder (less a frozen frontend, ``ctc.freeze_frontend``) and the task's head
  mms    MMS's language adapter at the end of every Transformer layer (nn/transformer.LanguageAdapter;
         Pratap et al. 2023: a bottleneck of 16, about 2M parameters with the output layer at 1B) and the
         task's head; every other weight frozen. Added where the initial model has none (XLS-R, any
         wav2vec 2.0), trained anew where it has them (an MMS model: its adapters are a start)

In a run's config: ``adapter=mms`` (its defaults) or ``adapter: {type: mms, dim: 8}``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from torch import nn

from speechxl.config import ConfigError, at_least
from speechxl.nn.transformer import TransformerConfig


@dataclass(kw_only=True)
class FullFinetuning:
    """Every weight the task trains."""

    type: str = "none"


@dataclass(kw_only=True)
class MMSAdapterConfig:
    """MMS's language adapters: the base frozen, a bottleneck per Transformer layer and the head trained."""

    type: str = "mms"
    dim: int = 16
    """The bottleneck's width (MMS: 16)."""

    def validate(self) -> None:
        at_least(self, 1, "dim")


AdapterConfig = FullFinetuning | MMSAdapterConfig


def adapted_architecture(model: Any, adapter: AdapterConfig) -> Any:
    """The model config with the adapter's parts (a family's config whose ``encoder`` is a Transformer)."""
    if isinstance(adapter, FullFinetuning):
        return model
    if not isinstance(model.encoder, TransformerConfig):
        raise ConfigError(f"adapter mms: MMS's adapters sit in Transformer layers; this model's encoder is a "
                          f"{model.encoder.type}")
    if model.encoder.adapter_dim not in (0, adapter.dim):
        raise ConfigError(f"adapter.dim {adapter.dim}: the initial model's adapters are {model.encoder.adapter_dim} "
                          "wide (set adapter.dim to that to train them)")
    return dataclasses.replace(model, encoder=dataclasses.replace(model.encoder, adapter_dim=adapter.dim))


def trained_only(model: nn.Module, adapter: AdapterConfig) -> None:
    """Freeze what ``adapter`` keeps fixed: with an adapter, all of the speech encoder (``backbone``) but its
    adapter layers; the task's heads (outside the backbone) train."""
    if isinstance(adapter, FullFinetuning):
        return
    for name, p in model.named_parameters():
        p.requires_grad_(not name.startswith("backbone.") or ".adapter_layer." in name)
