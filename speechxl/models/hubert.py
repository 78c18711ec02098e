"""HuBERT (Hsu et al., 2021): masked prediction of k-means labels of the model's own frames.

  frontend   ConvFrontend           waveform -> frames (B, T, C)  (or log-mel: frontend: {type: fbank})
  mixer      UtteranceMixer         (WavLM / WavLabLM denoising, off by default) part of an utterance
                                    overlaid with another of the batch; the targets stay the clean one's
  masker     SpanMasker             masked positions (B, T), filled with the encoder's learned vector
  encoder    TransformerEncoder     projected frames -> context (B, T, D)  (or encoder: {type: conformer})
  target     the batch's ``frame_labels`` (B, L): k-means labels at the model's frame rate, which
             arrive with the data (``speechxl dump-features`` + ``speechxl kmeans``; the first
             iteration clusters MFCCs, each later one a layer of the previous model)
  objective  MaskedPrediction with HuBERT's cosine head, at masked frames only

The labels come from outside, so the model holds nothing that makes them: ``clusters`` is set by
``pretrain`` from the labels it is given. The config's defaults are HuBERT BASE (the encoder of
wav2vec 2.0 BASE, spans of 10 frames from 80 % of the frames as starts, final_dim 256,
temperature 0.1); transformers' ``HubertModel`` is its encoder's counterpart.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial

import torch
from torch import nn

from speechxl.config import ConfigError
from speechxl.data.batching import IGNORE
from speechxl.models.speech_encoder import MaskedPretraining, SpeechEncoder, build_encoder
from speechxl.models.speech_encoder import copy_architecture as copy_parts
from speechxl.nn.conformer import ConformerConfig
from speechxl.nn.conv_frontend import ConvFrontendConfig
from speechxl.nn.fbank_frontend import FbankFrontendConfig
from speechxl.nn.masking import MaskedFrames, MaskingConfig, SpanMasker
from speechxl.nn.transformer import TransformerConfig
from speechxl.nn.utterance_mixing import MixingConfig, UtteranceMixer
from speechxl.objectives.masked_prediction import CosineHead, MaskedPrediction

FRAME_SLACK = 2
"""Label frames a batch may hold fewer than the model's frames (trimmed features differ by this much)."""


@dataclass(kw_only=True)
class HubertConfig:
    """HuBERT: the parts' configs (defaults: BASE) and its prediction head."""

    frontend: ConvFrontendConfig | FbankFrontendConfig = field(default_factory=lambda: ConvFrontendConfig(grad_mult=0.1))
    encoder: TransformerConfig | ConformerConfig = field(default_factory=TransformerConfig)
    masking: MaskingConfig = field(default_factory=lambda: MaskingConfig(prob=0.8, length=10))
    mixing: MixingConfig = field(default_factory=MixingConfig)
    """Utterance mixing (WavLM's denoising task: mixing.prob=0.2); off in HuBERT."""
    projection_dropout: float = 0.1
    """Dropout after the feature projection (fairseq dropout_input)."""
    final_dim: int = 256
    """Width of the space where frames meet the label embeddings."""
    temperature: float = 0.1
    """Divides the cosine similarities (fairseq logit_temp)."""
    clusters: int = 0
    """Label classes: set from the labels the run is given (speechxl kmeans --clusters)."""
    label_stride: int = 1
    """Labels per model frame: set from the labels' frame rate (20 ms MFCC labels for a 40 ms log-mel
    model: 2, every other label is a frame's target, as fairseq's label_rate does)."""

    def validate(self) -> None:
        if self.final_dim < 1 or self.temperature <= 0:
            raise ConfigError("final_dim >= 1 and temperature > 0")


def copy_architecture(cfg: HubertConfig, source: HubertConfig) -> HubertConfig:
    """The frontend and encoder; the head starts afresh when the labels change (a new iteration)."""
    return copy_parts(cfg, source, ("frontend", "encoder"))


def frame_targets(labels: torch.Tensor, frames: int, stride: int = 1) -> torch.Tensor:
    """A batch's labels (B, L), every ``stride``-th one (those where the model's frames start), cut or
    padded with IGNORE to the model's ``frames`` (B, frames)."""
    labels = labels[:, ::stride]
    if labels.shape[1] + FRAME_SLACK < frames:
        raise ValueError(f"the labels cover {labels.shape[1]} frames, the model has {frames}: were they made at "
                         "this model's frame rate?")
    if labels.shape[1] >= frames:
        return labels[:, :frames]
    return torch.nn.functional.pad(labels, (0, frames - labels.shape[1]), value=IGNORE)


class HubertPretrain(MaskedPretraining):
    """batch {wav (B, S), lengths (B,), frame_labels (B, L)} -> (loss summed over masked labelled
    frames, their count, logs)."""

    def __init__(self, backbone: SpeechEncoder, masker: SpanMasker, objective: MaskedPrediction,
                 mixer: UtteranceMixer | None = None, label_stride: int = 1):
        super().__init__()
        self.backbone, self.masker, self.objective, self.mixer = backbone, masker, objective, mixer
        self.label_stride = label_stride

    def draw(self, batch: dict) -> dict:
        """The batch with its ``masked`` frames, those of them that have a label (``scored``) and those labels
        (``scored_labels`` (N,)), drawn where its lengths and labels are (the trainer: on the host)."""
        frames, size = self.backbone.frame_lengths(batch["wav"], batch.get("lengths"))
        masked = self.masker.draw(frames, size)
        targets = frame_targets(batch["frame_labels"].to(masked.mask.device), size, self.label_stride)  # (B, T)
        scored = MaskedFrames.of(masked.mask & (targets != IGNORE))
        return {**batch, "masked": masked, "scored": scored, "scored_labels": scored.select(targets)}

    def forward(self, batch: dict) -> tuple[torch.Tensor, int, dict[str, float]]:
        batch = self.drawn(batch)
        wav = batch["wav"] if self.mixer is None else self.mixer(batch["wav"], batch["lengths"])  # (B, S)
        out = self.backbone(wav, batch["lengths"], self.masker, batch["masked"])
        scored = batch["scored"]
        loss, logs = self.objective(scored.select(out.hidden), batch["scored_labels"][:, None], scored.utterance,
                                    scored.mask.shape[0])
        return loss, scored.counts.sum(), logs


def build(cfg: HubertConfig) -> HubertPretrain:
    if cfg.clusters < 2:
        raise ConfigError("model.clusters: a HuBERT model predicts k-means labels; pretrain sets it from labels=")
    backbone = build_encoder(cfg)
    head = partial(CosineHead, final_dim=cfg.final_dim, temperature=cfg.temperature)
    return HubertPretrain(backbone, SpanMasker(cfg.masking),
                          MaskedPrediction(cfg.encoder.hidden_size, 1, cfg.clusters, head=head),
                          UtteranceMixer(cfg.mixing) if cfg.mixing.prob > 0 else None, cfg.label_stride)
