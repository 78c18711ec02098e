"""Model families a pretraining config can name (``family: wav2vec2``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from torch import nn

from speechxl.models import bestrq, w2v_bert, wav2vec2


@dataclass(frozen=True)
class Family:
    config: type
    """The family's model config dataclass."""
    build: Callable[[Any], nn.Module]
    """Pretraining model from a config."""
    copy_architecture: Callable[[Any, Any], Any]
    """(config, initial model's config) -> config with the initial model's architecture."""
    encoder: Callable[[Any], Any]
    """The speech encoder alone (for CTC), from a config."""
    parts: tuple[str, ...] = ("speech",)
    """What ``init.<part>=`` can name: the parts a checkpoint or Hugging Face dir can give weights to."""


FAMILIES = {
    "wav2vec2": Family(wav2vec2.Wav2Vec2Config, wav2vec2.Wav2Vec2Pretrain, wav2vec2.copy_architecture,
                       wav2vec2.build_encoder),
    "wav2vec2-conformer": Family(wav2vec2.Wav2Vec2ConformerConfig, wav2vec2.Wav2Vec2Pretrain,
                                 wav2vec2.copy_architecture, wav2vec2.build_encoder),
    "bestrq": Family(bestrq.BestRQConfig, bestrq.BestRQPretrain, bestrq.copy_architecture, bestrq.build_encoder),
    "w2v-bert": Family(w2v_bert.W2vBertConfig, w2v_bert.W2vBertPretrain, w2v_bert.copy_architecture,
                       wav2vec2.build_encoder),
}
