"""Transformer encoder with a convolutional positional embedding (wav2vec 2.0).

Two layer orders: post-LN (BASE: LayerNorm after each residual block, and once before the
first layer) and pre-LN, the "stable layer norm" of LARGE and XLSR-53 (LayerNorm before
attention and feed-forward, and once after the last layer). Attention is fused through
``scaled_dot_product_attention``; LayerDrop skips whole layers while training. With
``adapter_dim``, each layer ends in MMS's language adapter (Pratap et al. 2023): a bottleneck
(LayerNorm, down to ``adapter_dim``, ReLU, back up) added to the layer's output, the small part a
language's fine-tuning trains while the rest stays frozen.
Parameter names follow transformers' ``Wav2Vec2Encoder`` so weights map one to one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.checkpoint import checkpoint

from speechxl.config import ConfigError, at_least
from speechxl.nn.dropout import Dropout
from speechxl.nn.padding import padding_mask


@dataclass(kw_only=True)
class TransformerConfig:
    """Transformer encoder sizes, layer order and regularisation."""

    type: str = "transformer"
    """The part's tag in YAML (``encoder: {type: transformer}``)."""
    hidden_size: int = 768
    """Model width D."""
    num_layers: int = 12
    num_heads: int = 12
    intermediate_size: int = 3072
    """Feed-forward inner width."""
    pre_norm: bool = False
    """LayerNorm before each block ("stable layer norm", LARGE/XLSR) instead of after (BASE)."""
    dropout: float = 0.1
    """Dropout on residual branches and after the positional embedding."""
    attention_dropout: float = 0.1
    activation_dropout: float = 0.0
    """Dropout after the feed-forward activation."""
    layerdrop: float = 0.05
    """Probability of skipping a whole layer while training."""
    pos_conv_kernel: int = 128
    """Width of the convolutional positional embedding, in frames."""
    pos_conv_groups: int = 16
    layer_norm_eps: float = 1e-5
    adapter_dim: int = 0
    """Width of each layer's language adapter (MMS: 16); 0: none."""

    def validate(self) -> None:
        at_least(self, 1, "hidden_size", "num_layers", "num_heads", "intermediate_size", "pos_conv_kernel")
        at_least(self, 0, "adapter_dim")
        if self.hidden_size % self.num_heads:
            raise ConfigError(f"hidden_size {self.hidden_size} is not divisible by num_heads {self.num_heads}")
        if self.hidden_size % self.pos_conv_groups:
            raise ConfigError(f"hidden_size {self.hidden_size} is not divisible by pos_conv_groups")
        if not 0 <= self.layerdrop < 1:
            raise ConfigError("layerdrop is a probability in [0, 1)")


class ConvPositionalEmbedding(nn.Module):
    """Grouped conv over time with weight norm (over the kernel axis), 'same' padding, GELU."""

    def __init__(self, dim: int, kernel: int, groups: int):
        super().__init__()
        self.conv = nn.Module()
        self.conv.weight_v = nn.Parameter(torch.empty(dim, dim // groups, kernel))
        self.conv.weight_g = nn.Parameter(torch.empty(1, 1, kernel))
        self.conv.bias = nn.Parameter(torch.zeros(dim))
        self.kernel, self.groups = kernel, groups
        std = math.sqrt(4 / (kernel * dim))
        if self.conv.weight_v.is_meta:  # built to load weights into (decode.model.built_with_weights)
            return  # the norm on the meta device is a Python kernel that imports torch._dynamo (76 MiB)
        with torch.no_grad():
            nn.init.normal_(self.conv.weight_v, 0, std)
            self.conv.weight_g.copy_(self.conv.weight_v.norm(dim=(0, 1), keepdim=True))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, T, D) -> (B, T, D)
        weight = torch._weight_norm(self.conv.weight_v, self.conv.weight_g, dim=2)
        y = F.conv1d(x.transpose(1, 2), weight, self.conv.bias, padding=self.kernel // 2, groups=self.groups)
        if self.kernel % 2 == 0:
            y = y[:, :, :-1]
        return F.gelu(y).transpose(1, 2)


class SelfAttention(nn.Module):
    def __init__(self, dim: int, heads: int, dropout: float):
        super().__init__()
        self.heads, self.dropout = heads, dropout
        self.q_proj = nn.Linear(dim, dim)
        self.k_proj = nn.Linear(dim, dim)
        self.v_proj = nn.Linear(dim, dim)
        self.out_proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor, attn_mask: torch.Tensor | None) -> torch.Tensor:
        b, t, d = x.shape
        q, k, v = (proj(x).view(b, t, self.heads, d // self.heads).transpose(1, 2)  # (B, H, T, D/H)
                   for proj in (self.q_proj, self.k_proj, self.v_proj))
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask,
                                           dropout_p=self.dropout if self.training else 0.0)
        return self.out_proj(y.transpose(1, 2).reshape(b, t, d))


class FeedForward(nn.Module):
    def __init__(self, dim: int, inner: int, activation_dropout: float, dropout: float):
        super().__init__()
        self.intermediate_dense = nn.Linear(dim, inner)
        self.output_dense = nn.Linear(inner, dim)
        self.activation_dropout = Dropout(activation_dropout)
        self.dropout = Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.output_dense(self.activation_dropout(F.gelu(self.intermediate_dense(x)))))


class LanguageAdapter(nn.Module):
    """MMS's attention adapter (transformers' ``Wav2Vec2AttnAdapterLayer``): (B, T, D) -> (B, T, D), the
    residual branch a layer adds to its output."""

    def __init__(self, dim: int, bottleneck: int):
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.linear_1 = nn.Linear(dim, bottleneck)
        self.linear_2 = nn.Linear(bottleneck, dim)
        for linear in (self.linear_1, self.linear_2):  # as transformers initialises them: a small branch at first
            if not linear.weight.is_meta:
                nn.init.normal_(linear.weight, 0.0, 0.02)
                nn.init.zeros_(linear.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear_2(F.relu(self.linear_1(self.norm(x))))


class TransformerLayer(nn.Module):
    def __init__(self, cfg: TransformerConfig):
        super().__init__()
        d = cfg.hidden_size
        self.pre_norm = cfg.pre_norm
        self.attention = SelfAttention(d, cfg.num_heads, cfg.attention_dropout)
        self.dropout = Dropout(cfg.dropout)
        self.layer_norm = nn.LayerNorm(d, eps=cfg.layer_norm_eps)
        self.feed_forward = FeedForward(d, cfg.intermediate_size, cfg.activation_dropout, cfg.dropout)
        self.final_layer_norm = nn.LayerNorm(d, eps=cfg.layer_norm_eps)
        self.adapter_layer = LanguageAdapter(d, cfg.adapter_dim) if cfg.adapter_dim else None

    def forward(self, x: torch.Tensor, attn_mask: torch.Tensor | None) -> torch.Tensor:
        if self.pre_norm:
            x = x + self.dropout(self.attention(self.layer_norm(x), attn_mask))
            x = x + self.feed_forward(self.final_layer_norm(x))
        else:
            x = self.layer_norm(x + self.dropout(self.attention(x, attn_mask)))
            x = self.final_layer_norm(x + self.feed_forward(x))
        return x if self.adapter_layer is None else x + self.adapter_layer(x)


class TransformerEncoder(nn.Module):
    """frames (B, T, D) + mask (B, T), True = valid -> contextual frames (B, T, D)."""

    def __init__(self, cfg: TransformerConfig):
        super().__init__()
        self.cfg = cfg
        self.pos_conv_embed = ConvPositionalEmbedding(cfg.hidden_size, cfg.pos_conv_kernel, cfg.pos_conv_groups)
        self.layer_norm = nn.LayerNorm(cfg.hidden_size, eps=cfg.layer_norm_eps)
        self.dropout = Dropout(cfg.dropout)
        self.layers = nn.ModuleList(TransformerLayer(cfg) for _ in range(cfg.num_layers))
        self.checkpoint_layers = False
        """Training recomputes each layer's activations in the backward pass instead of keeping them
        (``train.checkpoint_activations``): less memory, about a third more compute."""

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None, return_layers: bool = False, first: int = 0
                ) -> torch.Tensor | tuple[torch.Tensor, list[torch.Tensor]]:
        """Contextual frames (B, T, D); with ``return_layers`` also [the input to the first layer,
        then each layer's output] (before the final norm of pre-LN models), as transformers'
        ``hidden_states``. ``first``: the layer ``x`` enters at, past the positional embedding (a
        joint model's text enters the upper layers)."""
        attn_mask = None
        mask = padding_mask(mask)
        if mask is not None:
            x = x.masked_fill(~mask[..., None], 0.0)
            attn_mask = mask[:, None, None, :]  # (B, 1, 1, T): True = attend
        if first == 0:
            x = x + self.pos_conv_embed(x)
            if not self.cfg.pre_norm:
                x = self.layer_norm(x)
        x = self.dropout(x)
        outputs = [x]
        for layer in self.layers[first:]:
            if self.training and self.cfg.layerdrop > 0 and float(torch.rand(())) < self.cfg.layerdrop:
                outputs.append(x)
                continue
            x = checkpoint(layer, x, attn_mask, use_reentrant=False) if self.checkpoint_layers and self.training \
                else layer(x, attn_mask)
            outputs.append(x)
        if self.cfg.pre_norm:
            x = self.layer_norm(x)
        return (x, outputs) if return_layers else x
