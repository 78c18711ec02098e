"""The speech encoder shared by pretraining and CTC: frontend, projection, encoder.

waveform (B, S) -> frontend -> features (B, T, C) -> [masker] -> LayerNorm + Linear -> (B, T, D)
  -> [masked positions replaced by the learned vector] -> encoder -> (B, T, D)
Names follow transformers' ``Wav2Vec2Model`` (``feature_projection``, ``masked_spec_embed``,
``encoder``), with ``frontend`` for its ``feature_extractor``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from speechxl.nn.causal_conv import CausalConvConfig, CausalConvEncoder
from speechxl.nn.conformer import ConformerConfig, ConformerEncoder
from speechxl.nn.conv_frontend import ConvFrontend, ConvFrontendConfig
from speechxl.nn.dropout import Dropout
from speechxl.nn.fbank_frontend import FbankFrontend, FbankFrontendConfig
from speechxl.nn.lstm import LSTMConfig, LSTMEncoder
from speechxl.nn.masking import MaskedFrames, SpanMasker
from speechxl.nn.transformer import TransformerConfig, TransformerEncoder

# part configs -> the module they build: a part is swapped by giving another config type
FRONTENDS = {ConvFrontendConfig: ConvFrontend, FbankFrontendConfig: FbankFrontend}
ENCODERS = {TransformerConfig: TransformerEncoder, ConformerConfig: ConformerEncoder, LSTMConfig: LSTMEncoder,
            CausalConvConfig: CausalConvEncoder}
# what continued pretraining and fine-tuning keep from their own config: regularisation
TRAINING_FIELDS = {"dropout", "attention_dropout", "activation_dropout", "conv_dropout", "layerdrop", "grad_mult",
                   "temperature"}


class FeatureProjection(nn.Module):
    """(B, T, C) -> projected (B, T, D) and the normalised input (B, T, C) that targets use."""

    def __init__(self, in_dim: int, out_dim: int, dropout: float, eps: float = 1e-5):
        super().__init__()
        self.layer_norm = nn.LayerNorm(in_dim, eps=eps)
        self.projection = nn.Linear(in_dim, out_dim)
        self.dropout = Dropout(dropout)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        normed = self.layer_norm(x)
        return self.dropout(self.projection(normed)), normed


def build_encoder(cfg: Any) -> SpeechEncoder:
    """The speech encoder of any family's model config (``frontend``, ``encoder``,
    ``projection_dropout``): the part configs' types pick the modules."""
    return SpeechEncoder(FRONTENDS[type(cfg.frontend)](cfg.frontend), ENCODERS[type(cfg.encoder)](cfg.encoder),
                         cfg.encoder.hidden_size, cfg.projection_dropout, cfg.encoder.layer_norm_eps)


def copy_architecture(cfg: Any, source: Any, parts: tuple[str, ...], also: dict[str, tuple[str, ...]] = {}) -> Any:
    """``cfg`` with ``source``'s architecture: every field of the ``parts`` except regularisation
    (TRAINING_FIELDS), and the fields listed in ``also``; all else stays ``cfg``'s."""
    changes = {}
    for part in parts:
        mine, theirs = getattr(cfg, part), getattr(source, part)
        if type(mine) is not type(theirs):
            raise ValueError(f"{part}: the initial model has a {type(theirs).__name__}, this run a {type(mine).__name__}")
        keep = {f.name: getattr(theirs, f.name) for f in dataclasses.fields(theirs) if f.name not in TRAINING_FIELDS}
        changes[part] = dataclasses.replace(mine, **keep)
    for part, keys in also.items():
        changes[part] = dataclasses.replace(getattr(cfg, part), **{k: getattr(getattr(source, part), k) for k in keys})
    return dataclasses.replace(cfg, **changes)


@dataclass
class EncoderOutput:
    hidden: torch.Tensor
    """(B, T, D) encoder output."""
    valid: torch.Tensor | None
    """(B, T) True = a real frame; None when no padding was given."""
    features: torch.Tensor
    """(B, T, C) frontend output before normalisation."""
    normed: torch.Tensor
    """(B, T, C) normalised frontend output as the encoder saw it (wav2vec 2.0's quantizer input)."""
    layers: list[torch.Tensor] | None = None
    """With return_layers: the input to the first encoder layer and each layer's output."""
    mask: torch.Tensor | None = None
    """(B, T) True = masked, when a masker was given."""

    def frames(self) -> torch.Tensor:
        """(B,) real frames of each utterance."""
        if self.valid is not None:
            return self.valid.sum(1)
        return torch.full(self.hidden.shape[:1], self.hidden.shape[1], dtype=torch.long, device=self.hidden.device)


class SpeechEncoder(nn.Module):
    def __init__(self, frontend: nn.Module, encoder: nn.Module, hidden_size: int, projection_dropout: float,
                 eps: float = 1e-5):
        super().__init__()
        self.frontend = frontend
        self.feature_projection = FeatureProjection(frontend.output_dim, hidden_size, projection_dropout, eps)
        self.masked_spec_embed = nn.Parameter(torch.empty(hidden_size).uniform_())
        self.encoder = encoder

    def frame_lengths(self, wav: torch.Tensor, lengths: torch.Tensor | None) -> tuple[torch.Tensor, int]:
        """(real frames of each utterance (B,), frames T) of wav (B, S) with ``lengths`` (B,) in samples, on the
        lengths' device, from the waveform's shape alone: the trainer asks on the host."""
        size = int(self.frontend.output_lengths(torch.tensor(wav.shape[1])))
        return (self.frontend.output_lengths(lengths) if lengths is not None
                else torch.full((wav.shape[0],), size, device=wav.device)), size

    def forward(self, wav: torch.Tensor, lengths: torch.Tensor | None = None, masker: SpanMasker | None = None,
                masked: MaskedFrames | None = None, return_layers: bool = False) -> EncoderOutput:
        """wav (B, S), lengths (B,) in samples; ``masker`` masks the ``masked`` frames it drew (``features``
        of the output stay unmasked: the targets' input)."""
        features, valid = self.frontend(wav, lengths)  # (B, T, C), (B, T)
        if masker is None:
            return self.encode(features, valid, return_layers=return_layers)
        out = self.encode(masker(features, masked), valid, masked.mask if masker.fills_vector else None,
                          return_layers=return_layers)
        out.features, out.mask = features, masked.mask
        return out

    def encode(self, features: torch.Tensor, valid: torch.Tensor | None, mask: torch.Tensor | None = None,
               channel_mask: torch.Tensor | None = None, return_layers: bool = False) -> EncoderOutput:
        """Frontend output (B, T, C) -> encoder output; for callers that need T before masking.
        ``channel_mask`` (B, D), True = that channel of the projected frames is zeroed."""
        x, normed = self.feature_projection(features)
        if mask is not None:
            x = torch.where(mask[..., None], self.masked_spec_embed.to(x.dtype), x)
        if channel_mask is not None:
            x = x.masked_fill(channel_mask[:, None, :], 0.0)
        if return_layers:
            hidden, layers = self.encoder(x, valid, return_layers=True)
            return EncoderOutput(hidden, valid, features, normed, layers)
        return EncoderOutput(self.encoder(x, valid), valid, features, normed)


class MaskedPretraining(nn.Module):
    """A pretraining model whose ``backbone`` (a SpeechEncoder) encodes the frames its ``masker`` masked."""

    def draw(self, batch: dict) -> dict:
        """The batch {wav (B, S), lengths (B,)} with its ``masked`` frames (MaskedFrames), drawn where its lengths
        are: the trainer calls this on the host, before the batch goes to the device."""
        return {**batch, "masked": self.masker.draw(*self.backbone.frame_lengths(batch["wav"], batch.get("lengths")))}

    def drawn(self, batch: dict) -> dict:
        """The batch as ``draw`` gives it; drawn now (on its device) if the caller did not."""
        return batch if "masked" in batch else self.draw(batch)
