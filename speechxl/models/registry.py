"""Model families a pretraining config can name (``family: wav2vec2``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from torch import nn

from speechxl.config import ConfigError, from_dict, read_yaml
from speechxl.models import bestrq, cpc, hubert, mslam, unispeech, w2v_bert, wav2vec2


@dataclass(frozen=True)
class Family:
    config: type
    """The family's model config dataclass."""
    build: Callable[[Any], nn.Module]
    """Pretraining model from a config: builds the parts and hands them to the model."""
    copy_architecture: Callable[[Any, Any], Any]
    """(config, initial model's config) -> config with the initial model's architecture."""
    parts: tuple[str, ...] = ("speech",)
    """What ``init.<part>=`` can name: the parts a checkpoint or Hugging Face dir can give weights to."""
    streams: tuple[str, ...] = ("speech",)
    """The kinds of data stream its pretraining reads (``streams.<name>.kind``): speech, paired, text.
    A family that reads paired or text streams reads them in the run's ``units``, and its config has
    a ``vocabulary`` the pretraining sets from them."""
    frame_labels: bool = False
    """Its targets are frame labels that arrive with the batch (``labels=``: speechxl kmeans's output);
    its config has ``clusters``, which the pretraining sets from them."""


# every family's speech encoder (what CTC fine-tunes) is models.speech_encoder.build_encoder(config)
FAMILIES = {
    "wav2vec2": Family(wav2vec2.Wav2Vec2Config, wav2vec2.build, wav2vec2.copy_architecture),
    "bestrq": Family(bestrq.BestRQConfig, bestrq.build, bestrq.copy_architecture),
    "w2v-bert": Family(w2v_bert.W2vBertConfig, w2v_bert.build, w2v_bert.copy_architecture),
    "hubert": Family(hubert.HubertConfig, hubert.build, hubert.copy_architecture, frame_labels=True),
    "cpc": Family(cpc.CPCConfig, cpc.build, cpc.copy_architecture),
    "unispeech": Family(unispeech.UniSpeechConfig, unispeech.build, unispeech.copy_architecture,
                        streams=("speech", "paired")),
    "mslam": Family(mslam.MslamConfig, mslam.build, mslam.copy_architecture, parts=("speech", "text"),
                    streams=("speech", "paired", "text")),
    # runs from before encoder tags: wav2vec2 with a Conformer by default
    "wav2vec2-conformer": Family(wav2vec2.Wav2Vec2ConformerConfig, wav2vec2.build, wav2vec2.copy_architecture),
}


def model_config(family: str, d: dict) -> Any:
    """A family's model config from its saved mapping (a checkpoint's config.yaml, a model card)."""
    if family not in FAMILIES:
        raise ConfigError(f"family {family!r} is not one this speechxl knows: {sorted(FAMILIES)}")
    return from_dict(FAMILIES[family].config, d, "model")


def saved_architecture(checkpoint: str | Path) -> tuple[str, Any]:
    """(family, model config) that a checkpoint dir's config.yaml records (no weights read)."""
    saved = read_yaml(Path(checkpoint) / "config.yaml")
    family = saved.get("family", "wav2vec2")
    return family, model_config(family, saved["model"])
