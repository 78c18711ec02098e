"""What a fine-tuning trains of a pretrained model: all of it, or a small added part with the rest frozen.

  none   the whole encoder (less a frozen frontend, ``ctc.freeze_frontend``) and the task's head
  mms    MMS's language adapter at the end of every Transformer layer (nn/transformer.LanguageAdapter;
         Pratap et al. 2023: a bottleneck of 16, about 2M parameters with the output layer at 1B) and the
         task's head; every other weight frozen. Added where the initial model has none (XLS-R, any
         wav2vec 2.0), trained anew where it has them (an MMS model: its adapters are a start)

  lora   LoRA (Hu et al. 2021; nn/lora.py) on the encoder's Linear layers named in ``targets`` (by default
         attention's query and value projections, in a Transformer or a Conformer) and the task's head;
         every other weight frozen; merged into the weights for inference and exports

In a run's config: ``adapter=mms`` (its defaults), ``adapter.type=lora adapter.rank=16`` or, in YAML,
``adapter: {type: lora, rank: 16, alpha: 32}``.
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass, field
from typing import Any

from torch import nn

from speechxl.config import ConfigError, at_least, from_dict
from speechxl.nn.lora import add_lora, merged
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


@dataclass(kw_only=True)
class LoraConfig:
    """LoRA: the base frozen, a low-rank update of the named Linear layers and the head trained."""

    type: str = "lora"
    rank: int = 8
    alpha: float = 16.0
    """The update is scaled by alpha / rank."""
    dropout: float = 0.0
    """Dropout on the update's input."""
    targets: list[str] = field(default_factory=lambda: ["q_proj", "v_proj", "linear_q", "linear_v"])
    """Names of the encoder's Linear layers to adapt (Transformer: q_proj k_proj v_proj out_proj
    intermediate_dense output_dense; Conformer: linear_q linear_k linear_v linear_out intermediate_dense
    output_dense); names a model has not are passed over."""

    def validate(self) -> None:
        at_least(self, 1, "rank")
        if not self.targets:
            raise ConfigError("adapter.targets: name at least one Linear layer, e.g. [q_proj, v_proj]")


AdapterConfig = FullFinetuning | MMSAdapterConfig | LoraConfig
ADAPTERS = {cls().type: cls for cls in typing.get_args(AdapterConfig)}


def adapter_config(d: dict | None) -> AdapterConfig:
    """An adapter config from its saved mapping (a model card's); none: full fine-tuning."""
    if not d:
        return FullFinetuning()
    if d.get("type") not in ADAPTERS:
        raise ConfigError(f"adapter.type {d.get('type')!r}: not one of {', '.join(ADAPTERS)}")
    return from_dict(ADAPTERS[d["type"]], d, "adapter")


def adapted_architecture(model: Any, adapter: AdapterConfig) -> Any:
    """The model config with the adapter's parts (MMS's: a family's config whose ``encoder`` is a Transformer)."""
    if not isinstance(adapter, MMSAdapterConfig):
        return model
    if not isinstance(model.encoder, TransformerConfig):
        raise ConfigError(f"adapter mms: MMS's adapters sit in Transformer layers; this model's encoder is a "
                          f"{model.encoder.type}")
    if model.encoder.adapter_dim not in (0, adapter.dim):
        raise ConfigError(f"adapter.dim {adapter.dim}: the initial model's adapters are {model.encoder.adapter_dim} "
                          "wide (set adapter.dim to that to train them)")
    return dataclasses.replace(model, encoder=dataclasses.replace(model.encoder, adapter_dim=adapter.dim))


def with_adapter(model: nn.Module, adapter: AdapterConfig) -> None:
    """Give the model (its weights loaded) the adapter's trained parts that are not in its architecture (LoRA's),
    and freeze what ``adapter`` keeps fixed: all of the speech encoder (``backbone``) but the adapter's parts;
    the task's heads (outside the backbone) train."""
    if isinstance(adapter, FullFinetuning):
        return
    if isinstance(adapter, LoraConfig):
        encoder = model.backbone.encoder
        if not add_lora(encoder, adapter.targets, adapter.rank, adapter.alpha, adapter.dropout):
            names = sorted({n.rsplit(".", 1)[-1] for n, m in encoder.named_modules() if type(m) is nn.Linear})
            raise ConfigError(f"adapter.targets {adapter.targets}: no Linear layer of this encoder has those names; "
                              f"its have: {' '.join(names)}")
    trains = ((lambda name: name.endswith((".lora_A", ".lora_B"))) if isinstance(adapter, LoraConfig)
              else (lambda name: ".adapter_layer." in name))
    for name, p in model.named_parameters():
        p.requires_grad_(not name.startswith("backbone.") or trains(name))


def merged_adapter(weights: dict, adapter: AdapterConfig | None) -> dict:
    """A state dict of a model with ``adapter`` as a plain model's: LoRA's updates merged into the weights."""
    return merged(weights, adapter.alpha / adapter.rank) if isinstance(adapter, LoraConfig) else weights
