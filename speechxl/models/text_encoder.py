"""A cross-lingual text encoder (XLM-R / InfoXLM) and its masked-language-model pretraining.

The encoder is RoBERTa's: ``nn.text_embedding`` (words, learned positions, token type) into
post-LN Transformer layers, the same layers the speech Transformer uses
(``nn.transformer.TransformerLayer``: LayerNorm after each residual block, exact GELU), so its
weights map one to one onto transformers' ``XLMRobertaModel`` (``interop/hf_xlmr.py``) and a test
holds its hidden states to transformers' within 1e-5.

``TextMLM`` owns its batch (``ids`` (B, L), padded with the tokenizer's pad id): it masks
``mask.prob`` of the real tokens other than ``<s>`` and ``</s>`` (of those, ``mask.replace`` become
``<mask>``, ``mask.random`` a random token, the rest stay, as in BERT and XLM-R) and returns the
cross-entropy of the masked tokens, summed, through RoBERTa's LM head, whose output projection is
the word embedding (tied).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from speechxl.config import ConfigError, at_least
from speechxl.nn.masking import MaskedFrames
from speechxl.nn.padding import padding_mask
from speechxl.nn.text_embedding import TextEmbedding
from speechxl.nn.transformer import TransformerConfig, TransformerLayer
from speechxl.text.xlmr_tokenizer import XlmrTokenizer


@dataclass(kw_only=True)
class TextEncoderConfig:
    """Sizes of an XLM-R encoder (these defaults: XLM-R base) and its special ids."""

    vocab_size: int = 250002
    """Ids in all: the tokenizer's pieces, its four specials and <mask>."""
    hidden_size: int = 768
    num_layers: int = 12
    num_heads: int = 12
    intermediate_size: int = 3072
    max_positions: int = 514
    """Position embeddings: the longest sentence is max_positions - pad_id - 1 tokens."""
    type_vocab_size: int = 1
    pad_id: int = 1
    mask_id: int = 250001
    dropout: float = 0.1
    attention_dropout: float = 0.1
    layer_norm_eps: float = 1e-5

    def validate(self) -> None:
        at_least(self, 1, "vocab_size", "hidden_size", "num_layers", "num_heads", "intermediate_size",
                 "type_vocab_size")
        if self.hidden_size % self.num_heads:
            raise ConfigError(f"hidden_size {self.hidden_size} is not divisible by num_heads {self.num_heads}")
        if not 0 <= self.mask_id < self.vocab_size or not 0 <= self.pad_id < self.vocab_size:
            raise ConfigError(f"mask_id {self.mask_id} and pad_id {self.pad_id} are ids below vocab_size "
                              f"{self.vocab_size}")
        if self.max_positions <= self.pad_id + 2:
            raise ConfigError(f"max_positions {self.max_positions} leaves no position after pad_id {self.pad_id}")

    def layer(self) -> TransformerConfig:
        """The config of its (post-LN) layers."""
        return TransformerConfig(hidden_size=self.hidden_size, num_layers=self.num_layers, num_heads=self.num_heads,
                                 intermediate_size=self.intermediate_size, pre_norm=False, dropout=self.dropout,
                                 attention_dropout=self.attention_dropout, activation_dropout=0.0, layerdrop=0.0,
                                 layer_norm_eps=self.layer_norm_eps, pos_conv_groups=1)


@dataclass(kw_only=True)
class TokenMaskingConfig:
    """BERT's masking of tokens for masked-language-model training."""

    prob: float = 0.15
    """Share of the real tokens (not <s>, </s>, padding) that are predicted."""
    replace: float = 0.8
    """Of the predicted tokens: share replaced by <mask>."""
    random: float = 0.1
    """Of the predicted tokens: share replaced by a random token (the rest stay as they are)."""

    def validate(self) -> None:
        if not 0 < self.prob < 1:
            raise ConfigError(f"prob is in (0, 1), not {self.prob}")
        if self.replace < 0 or self.random < 0 or self.replace + self.random > 1:
            raise ConfigError("replace and random are shares that sum to at most 1")


@dataclass(kw_only=True)
class TextMLMConfig(TextEncoderConfig):
    """The encoder and how its pretraining masks tokens."""

    masking: TokenMaskingConfig = field(default_factory=TokenMaskingConfig)


class TextEncoder(nn.Module):
    """ids (B, L) -> hidden states (B, L, D); padding (``pad_id``) is not attended to."""

    def __init__(self, cfg: TextEncoderConfig):
        super().__init__()
        self.cfg = cfg
        self.embed = TextEmbedding(cfg.vocab_size, cfg.hidden_size, cfg.max_positions, cfg.pad_id,
                                   cfg.type_vocab_size, cfg.layer_norm_eps, cfg.dropout)
        layer = cfg.layer()
        self.layers = nn.ModuleList(TransformerLayer(layer) for _ in range(cfg.num_layers))

    def forward(self, ids: torch.Tensor, return_layers: bool = False
                ) -> torch.Tensor | tuple[torch.Tensor, list[torch.Tensor]]:
        """Hidden states (B, L, D); with ``return_layers`` also the embedding's output and each
        layer's (transformers' ``hidden_states``)."""
        real = padding_mask(ids != self.cfg.pad_id)  # (B, L), None: no padding (found on the CPU only)
        attn_mask = None if real is None else real[:, None, None, :]  # (B, 1, 1, L): True = attend
        x = self.embed(ids)
        outputs = [x]
        for layer in self.layers:
            x = layer(x, attn_mask)
            outputs.append(x)
        return (x, outputs) if return_layers else x


class LMHead(nn.Module):
    """RoBERTa's: dense, GELU, LayerNorm, then the word embedding (tied: given) and a bias ->
    logits (N, V)."""

    def __init__(self, cfg: TextEncoderConfig):
        super().__init__()
        self.dense = nn.Linear(cfg.hidden_size, cfg.hidden_size)
        self.layer_norm = nn.LayerNorm(cfg.hidden_size, eps=cfg.layer_norm_eps)
        self.bias = nn.Parameter(torch.zeros(cfg.vocab_size))

    def forward(self, x: torch.Tensor, words: torch.Tensor) -> torch.Tensor:  # (N, D), (V, D) -> (N, V)
        return F.linear(self.layer_norm(F.gelu(self.dense(x))), words, self.bias)


def mask_tokens(ids: torch.Tensor, cfg: TokenMaskingConfig, pad_id: int, mask_id: int, specials: int,
                vocab_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(ids with the chosen tokens replaced, chosen (B, L) bool): ``cfg.prob`` of the tokens above
    ``specials`` (ids below it are <s>, <pad>, </s>, <unk>), at least one per sentence."""
    candidates = ids >= specials
    score = torch.rand(ids.shape, device=ids.device).masked_fill(~candidates, 2.0)
    chosen = (score < cfg.prob) & candidates
    first = score.argmin(dim=1)  # each sentence's likeliest candidate, so none goes unmasked
    rows = torch.arange(ids.shape[0], device=ids.device)
    chosen[rows, first] |= candidates[rows, first]
    fate = torch.rand(ids.shape, device=ids.device)
    out = ids.masked_fill(chosen & (fate < cfg.replace), mask_id)
    randomised = chosen & (fate >= cfg.replace) & (fate < cfg.replace + cfg.random)
    out = torch.where(randomised, torch.randint(specials, vocab_size, ids.shape, device=ids.device), out)
    return out, chosen


class TextMLM(nn.Module):
    """Masked-language-model pretraining of a ``TextEncoder`` (see the module doc)."""

    SPECIALS = 4  # <s> <pad> </s> <unk>: never masked

    def __init__(self, cfg: TextMLMConfig):
        super().__init__()
        self.cfg = cfg
        self.encoder = TextEncoder(cfg)
        self.head = LMHead(cfg)
        self.apply(_init_weights)

    def draw(self, batch: dict) -> dict:
        """The batch {text (B, L)} with its ``masked_text`` (B, L) and the ``chosen`` tokens (MaskedFrames),
        drawn where the batch is: the trainer calls this on the host, so that picking the chosen tokens
        never waits for the device."""
        masked, chosen = mask_tokens(batch["text"], self.cfg.masking, self.cfg.pad_id, self.cfg.mask_id,
                                     self.SPECIALS, self.cfg.vocab_size)
        return {**batch, "masked_text": masked, "chosen": MaskedFrames.of(chosen)}

    def forward(self, batch: dict) -> tuple[torch.Tensor, int, dict]:
        batch = batch if "chosen" in batch else self.draw(batch)
        chosen = batch["chosen"]
        hidden = chosen.select(self.encoder(batch["masked_text"]))  # (N, D)
        logits = self.head(hidden, self.encoder.embed.words.weight).float()
        targets = chosen.select(batch["text"])
        loss = F.cross_entropy(logits, targets, reduction="sum")
        n = targets.shape[0]
        return loss, n, {"mlm_ce": loss.detach() / max(n, 1), "correct": (logits.detach().argmax(-1) == targets).sum(),
                         "count": n}


class SentenceTeacher:
    """A frozen text encoder that gives each sentence one vector: the mean of its last layer over the
    sentence's tokens (the text side of SAMU-XLSR-style distillation into a speech encoder). Not a
    module of the model it teaches: its weights are neither trained nor saved with that model's."""

    def __init__(self, encoder: TextEncoder, tokenizer: XlmrTokenizer, max_length: int = 128):
        self.encoder, self.tokenizer, self.max_length = encoder.eval().requires_grad_(False), tokenizer, max_length
        self.dim = encoder.cfg.hidden_size

    @torch.no_grad()
    def __call__(self, texts: list[str], device: torch.device) -> torch.Tensor:  # -> (B, D)
        self.encoder.to(device)
        rows = [self.tokenizer.encode(t, self.max_length) for t in texts]
        ids = torch.full((len(rows), max(map(len, rows))), self.tokenizer.pad, dtype=torch.long, device=device)
        for i, row in enumerate(rows):
            ids[i, : len(row)] = torch.tensor(row, device=device)
        real = (ids != self.tokenizer.pad)[..., None].float()  # (B, L, 1)
        return (self.encoder(ids) * real).sum(1) / real.sum(1)


def _init_weights(m: nn.Module) -> None:
    """BERT's initialisation: normal(0, 0.02) weights, zero biases, padding rows zero."""
    if isinstance(m, (nn.Linear, nn.Embedding)):
        nn.init.normal_(m.weight, std=0.02)
        if isinstance(m, nn.Linear) and m.bias is not None:
            nn.init.zeros_(m.bias)
        if isinstance(m, nn.Embedding) and m.padding_idx is not None:
            with torch.no_grad():
                m.weight[m.padding_idx].zero_()
