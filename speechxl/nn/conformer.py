"""Conformer encoder (Gulati et al., 2020): macaron feed-forward halves around self-attention
and a convolution module, each block ending in LayerNorm.

Position information, one of:
  relative      Transformer-XL relative sinusoidal encoding with learned biases u, v
  rotary        rotary embedding of the block input before the query/key projections
  relative_key  learned embeddings of clipped distances (w2v-BERT 2.0)
The convolution module is pointwise conv + GLU, depthwise conv, BatchNorm (Wav2Vec2Conformer)
or LayerNorm with causal padding and padded frames zeroed (Wav2Vec2Bert), activation,
pointwise conv. Attention is fused (``scaled_dot_product_attention``, the position term as an
additive bias). Parameter names and numerics follow transformers' Wav2Vec2Conformer and
Wav2Vec2Bert encoders, so their weights load one to one.
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.checkpoint import checkpoint

from speechxl.config import ConfigError, at_least
from speechxl.nn.dropout import Dropout
from speechxl.nn.padding import padding_mask

ACTIVATIONS = {"swish": F.silu, "silu": F.silu, "gelu": F.gelu, "relu": F.relu}


@dataclass(kw_only=True)
class ConformerConfig:
    """Conformer sizes, position encoding, convolution module and regularisation."""

    type: str = "conformer"
    """The part's tag in YAML (``encoder: {type: conformer}``)."""
    hidden_size: int = 256
    num_layers: int = 12
    num_heads: int = 4
    intermediate_size: int = 1024
    activation: str = "swish"
    position: str = "relative"
    """relative, rotary, relative_key or none."""
    rotary_base: int = 10000
    max_positions: int = 5000
    """relative: longest sequence (frames) with a precomputed encoding; longer ones extend it."""
    left_max_positions: int = 64
    """relative_key: distances to the left clipped here."""
    right_max_positions: int = 8
    conv_kernel: int = 31
    """Depthwise convolution width (odd)."""
    conv_norm: str = "batch"
    """'batch' (BatchNorm, centred kernel) or 'layer' (LayerNorm, causal kernel, w2v-BERT 2.0)."""
    final_norm: bool = True
    """LayerNorm after the last block (Wav2Vec2Conformer has one, Wav2Vec2Bert does not)."""
    dropout: float = 0.1
    attention_dropout: float = 0.1
    activation_dropout: float = 0.0
    conv_dropout: float = 0.1
    layerdrop: float = 0.0
    layer_norm_eps: float = 1e-5

    def validate(self) -> None:
        at_least(self, 1, "hidden_size", "num_layers", "num_heads", "intermediate_size", "conv_kernel")
        if self.hidden_size % self.num_heads:
            raise ConfigError(f"hidden_size {self.hidden_size} is not divisible by num_heads {self.num_heads}")
        if self.position not in ("relative", "rotary", "relative_key", "none"):
            raise ConfigError(f"position is relative, rotary, relative_key or none, not {self.position!r}")
        if self.conv_norm not in ("batch", "layer"):
            raise ConfigError(f"conv_norm is 'batch' or 'layer', not {self.conv_norm!r}")
        if self.conv_kernel % 2 == 0:
            raise ConfigError("conv_kernel must be odd")
        if self.activation not in ACTIVATIONS:
            raise ConfigError(f"activation is one of {sorted(ACTIVATIONS)}")


class RelativeSinusoids(nn.Module):
    """Sinusoids for relative distances T-1 ... -(T-1), (1, 2T - 1, D)."""

    def __init__(self, dim: int, max_len: int):
        super().__init__()
        self.dim = dim
        self.register_buffer("pe", self._table(max_len), persistent=False)

    def _table(self, n: int) -> torch.Tensor:
        with torch.device("cpu"):  # a constant, computed where its values exist (also when built on "meta")
            pos = torch.arange(n, dtype=torch.float32)[:, None]
            div = torch.exp(torch.arange(0, self.dim, 2, dtype=torch.float32) * -(math.log(10000.0) / self.dim))
            pe_pos, pe_neg = torch.zeros(n, self.dim), torch.zeros(n, self.dim)
            pe_pos[:, 0::2], pe_pos[:, 1::2] = torch.sin(pos * div), torch.cos(pos * div)
            pe_neg[:, 0::2], pe_neg[:, 1::2] = torch.sin(-pos * div), torch.cos(-pos * div)
            return torch.cat([pe_pos.flip(0), pe_neg[1:]])[None]  # (1, 2n - 1, D)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        t = x.shape[1]
        if self.pe.shape[1] < 2 * t - 1:
            self.pe = self._table(t).to(x.device)
        mid = self.pe.shape[1] // 2
        return self.pe[:, mid - t + 1: mid + t].to(x.dtype)


def rotary_frequencies(head_dim: int, base: int) -> torch.Tensor:
    with torch.device("cpu"):  # a constant, computed where its values exist (also when a model is built on "meta")
        return 1.0 / base ** (torch.arange(0, head_dim, 2).float() / head_dim)


class RotarySinusoids(nn.Module):
    """cos and sin tables for rotary embeddings, (2, T, 1, 1, head_dim)."""

    def __init__(self, head_dim: int, base: int):
        super().__init__()
        self.register_buffer("inv_freq", rotary_frequencies(head_dim, base), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        freqs = torch.arange(x.shape[1], device=x.device).float()[:, None] * self.inv_freq
        emb = torch.cat([freqs, freqs], dim=-1)
        return torch.stack([emb.cos()[:, None, None], emb.sin()[:, None, None]]).to(x.dtype)


class ConformerAttention(nn.Module):
    def __init__(self, cfg: ConformerConfig):
        super().__init__()
        d = cfg.hidden_size
        self.heads, self.head_dim, self.position = cfg.num_heads, d // cfg.num_heads, cfg.position
        self.dropout = cfg.attention_dropout
        self.linear_q, self.linear_k = nn.Linear(d, d), nn.Linear(d, d)
        self.linear_v, self.linear_out = nn.Linear(d, d), nn.Linear(d, d)
        if cfg.position == "relative":
            self.linear_pos = nn.Linear(d, d, bias=False)
            self.pos_bias_u = nn.Parameter(torch.zeros(self.heads, self.head_dim))
            self.pos_bias_v = nn.Parameter(torch.zeros(self.heads, self.head_dim))
        elif cfg.position == "relative_key":
            self.left, self.right = cfg.left_max_positions, cfg.right_max_positions
            self.distance_embedding = nn.Embedding(self.left + self.right + 1, self.head_dim)

    def _rotate(self, x: torch.Tensor, rot: torch.Tensor) -> torch.Tensor:
        b, t, d = x.shape
        x = x.view(b, t, self.heads, self.head_dim).transpose(0, 1)  # (T, B, H, hd)
        half = self.head_dim // 2
        rotated = torch.cat([-x[..., half:], x[..., :half]], dim=-1)
        return (x * rot[0] + rotated * rot[1]).transpose(0, 1).reshape(b, t, d)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None, pos: torch.Tensor | None) -> torch.Tensor:
        b, t, d = x.shape
        qk_in = self._rotate(x, pos) if self.position == "rotary" else x
        split = lambda y: y.view(b, t, self.heads, self.head_dim).transpose(1, 2)  # noqa: E731  (B, H, T, hd)
        q, k, v = split(self.linear_q(qk_in)), split(self.linear_k(qk_in)), split(self.linear_v(x))
        scale = self.head_dim ** -0.5
        bias = None
        if self.position == "relative":
            p = self.linear_pos(pos).view(1, -1, self.heads, self.head_dim).permute(0, 2, 3, 1)  # (1, H, hd, 2T-1)
            scores = (q + self.pos_bias_v[None, :, None]) @ p  # (B, H, T, 2T-1)
            # shift so that column j holds the score for distance i - j (Transformer-XL)
            scores = F.pad(scores, (1, 0)).view(b, self.heads, 2 * t, t)[:, :, 1:].reshape(b, self.heads, t, 2 * t - 1)
            bias = scores[..., :t] * scale
            q = q + self.pos_bias_u[None, :, None]
        elif self.position == "relative_key":
            dist = torch.arange(t, device=x.device)[None] - torch.arange(t, device=x.device)[:, None]
            emb = self.distance_embedding(dist.clamp(-self.left, self.right) + self.left).to(q.dtype)  # (T, T, hd)
            # bias[b, h, l, r] = q[b, h, l] . emb[l, r]: one matmul per query position l; copied
            # unconditionally (einsum's and reshape's copy-if-needed would fix an exported graph's batch size)
            ql = q.permute(2, 0, 1, 3).clone(memory_format=torch.contiguous_format)
            ql = ql.view(t, b * self.heads, self.head_dim)  # (T, B H, hd)
            bias = (ql @ emb.transpose(1, 2)).view(t, b, self.heads, t).permute(1, 2, 0, 3) * scale  # (B, H, T, T)
        if mask is not None:
            pad = torch.zeros(b, 1, 1, t, dtype=q.dtype, device=x.device).masked_fill(~mask[:, None, None], -math.inf)
            bias = pad if bias is None else bias + pad
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=bias, dropout_p=self.dropout if self.training else 0.0,
                                           scale=scale)
        return self.linear_out(y.transpose(1, 2).reshape(b, t, d))


class ConformerConvModule(nn.Module):
    def __init__(self, cfg: ConformerConfig):
        super().__init__()
        d, k = cfg.hidden_size, cfg.conv_kernel
        self.causal = cfg.conv_norm == "layer"
        self.layer_norm = nn.LayerNorm(d, eps=cfg.layer_norm_eps)
        self.pointwise_conv1 = nn.Conv1d(d, 2 * d, 1, bias=False)
        self.depthwise_conv = nn.Conv1d(d, d, k, padding=0 if self.causal else (k - 1) // 2, groups=d, bias=False)
        if self.causal:
            self.depthwise_layer_norm = nn.LayerNorm(d, eps=cfg.layer_norm_eps)
        else:
            self.batch_norm = nn.BatchNorm1d(d)
        self.activation = ACTIVATIONS[cfg.activation]
        self.pointwise_conv2 = nn.Conv1d(d, d, 1, bias=False)
        self.dropout = Dropout(cfg.conv_dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:  # (B, T, D)
        x = self.layer_norm(x)
        if mask is not None:  # padded frames must not reach real ones through the kernel
            x = x.masked_fill(~mask[..., None], 0.0)
        x = F.glu(self.pointwise_conv1(x.transpose(1, 2)), dim=1)  # (B, D, T)
        if self.causal:
            x = self.depthwise_conv(F.pad(x, (self.depthwise_conv.kernel_size[0] - 1, 0)))
            x = self.depthwise_layer_norm(x.transpose(1, 2)).transpose(1, 2)
        else:
            x = self.batch_norm(self.depthwise_conv(x))
        x = self.pointwise_conv2(self.activation(x))
        return self.dropout(x).transpose(1, 2)


class ConformerFeedForward(nn.Module):
    def __init__(self, cfg: ConformerConfig):
        super().__init__()
        self.intermediate_dense = nn.Linear(cfg.hidden_size, cfg.intermediate_size)
        self.output_dense = nn.Linear(cfg.intermediate_size, cfg.hidden_size)
        self.activation = ACTIVATIONS[cfg.activation]
        self.activation_dropout = Dropout(cfg.activation_dropout)
        self.dropout = Dropout(cfg.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.output_dense(self.activation_dropout(self.activation(self.intermediate_dense(x)))))


class ConformerLayer(nn.Module):
    def __init__(self, cfg: ConformerConfig):
        super().__init__()
        d, eps = cfg.hidden_size, cfg.layer_norm_eps
        self.ffn1_layer_norm, self.ffn1 = nn.LayerNorm(d, eps=eps), ConformerFeedForward(cfg)
        self.self_attn_layer_norm, self.self_attn = nn.LayerNorm(d, eps=eps), ConformerAttention(cfg)
        self.self_attn_dropout = Dropout(cfg.attention_dropout)
        self.conv_module = ConformerConvModule(cfg)
        self.ffn2_layer_norm, self.ffn2 = nn.LayerNorm(d, eps=eps), ConformerFeedForward(cfg)
        self.final_layer_norm = nn.LayerNorm(d, eps=eps)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None, pos: torch.Tensor | None) -> torch.Tensor:
        x = x + 0.5 * self.ffn1(self.ffn1_layer_norm(x))
        x = x + self.self_attn_dropout(self.self_attn(self.self_attn_layer_norm(x), mask, pos))
        x = x + self.conv_module(x, mask)
        x = x + 0.5 * self.ffn2(self.ffn2_layer_norm(x))
        return self.final_layer_norm(x)


@contextlib.contextmanager
def statistics_kept(module: nn.Module):
    """The running statistics of ``module``'s BatchNorms as they were before, once out: a checkpointed
    layer's recomputation must not count its batch twice."""
    saved = [(b, b.detach().clone()) for m in module.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)
             for b in m.buffers()]
    try:
        yield
    finally:
        with torch.no_grad():
            for b, before in saved:
                b.copy_(before)


class ConformerEncoder(nn.Module):
    """frames (B, T, D) + mask (B, T), True = valid -> contextual frames (B, T, D)."""

    def __init__(self, cfg: ConformerConfig):
        super().__init__()
        self.cfg = cfg
        if cfg.position == "relative":
            self.embed_positions = RelativeSinusoids(cfg.hidden_size, cfg.max_positions)
        elif cfg.position == "rotary":
            self.embed_positions = RotarySinusoids(cfg.hidden_size // cfg.num_heads, cfg.rotary_base)
        self.dropout = Dropout(cfg.dropout)
        self.layers = nn.ModuleList(ConformerLayer(cfg) for _ in range(cfg.num_layers))
        self.checkpoint_layers = False
        """Training recomputes each layer's activations in the backward pass (``train.checkpoint_activations``)."""
        if cfg.final_norm:
            self.layer_norm = nn.LayerNorm(cfg.hidden_size, eps=cfg.layer_norm_eps)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None, return_layers: bool = False, first: int = 0
                ) -> torch.Tensor | tuple[torch.Tensor, list[torch.Tensor]]:
        """Contextual frames; with ``return_layers`` also [the input to the first layer, then each
        layer's output] (before the final norm). ``first``: the layer ``x`` enters at (a joint model's
        text enters the upper layers)."""
        mask = padding_mask(mask)
        if mask is not None:
            x = x.masked_fill(~mask[..., None], 0.0)
        x = self.dropout(x)
        pos = self.embed_positions(x) if hasattr(self, "embed_positions") else None
        outputs = [x]
        for layer in self.layers[first:]:
            if not (self.training and self.cfg.layerdrop > 0 and float(torch.rand(())) < self.cfg.layerdrop):
                x = checkpoint(layer, x, mask, pos, use_reentrant=False,
                               context_fn=lambda: (contextlib.nullcontext(), statistics_kept(layer))) \
                    if self.checkpoint_layers and self.training else layer(x, mask, pos)
            outputs.append(x)
        if self.cfg.final_norm:
            x = self.layer_norm(x)
        return (x, outputs) if return_layers else x
