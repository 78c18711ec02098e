"""Raw-waveform convolutional feature encoder (wav2vec 2.0).

A stack of 1-D convolutions turns 16 kHz samples into frames (BASE: 7 layers, 512 channels,
stride 320 = 20 ms, receptive field 400 samples = 25 ms). Two variants:
  group: GroupNorm with one group per channel after the first conv only, no conv bias (BASE)
  layer: LayerNorm over channels after every conv, conv bias (LARGE "stable" models, XLSR-53)
Parameter names follow transformers' ``Wav2Vec2FeatureEncoder`` (``conv_layers.<i>.conv``,
``conv_layers.<i>.layer_norm``). Frames stay channels-last (B, T, C) from the first layer on,
and each convolution runs as GEMMs (``speechxl.nn.strided_conv``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from speechxl.config import ConfigError
from speechxl.nn.int8_rows import int8_product, quantize_rows, weight_levels
from speechxl.nn.strided_conv import strided_conv, time_norm, time_statistics, time_sums


@dataclass(kw_only=True)
class ConvFrontendConfig:
    """Conv feature encoder: channels, kernels and strides per layer."""

    type: str = "conv"
    """The part's tag in YAML (``frontend: {type: conv}``)."""
    conv_dim: list[int] = field(default_factory=lambda: [512] * 7)
    """Output channels of each conv layer."""
    conv_kernel: list[int] = field(default_factory=lambda: [10, 3, 3, 3, 3, 2, 2])
    """Kernel width of each conv layer, in samples or frames."""
    conv_stride: list[int] = field(default_factory=lambda: [5, 2, 2, 2, 2, 2, 2])
    """Stride of each conv layer."""
    conv_bias: bool = False
    """Bias in the convolutions (True for the layer-norm variant of XLSR-53)."""
    norm: str = "group"
    """'group' (GroupNorm after the first conv, BASE) or 'layer' (LayerNorm after each, LARGE)."""
    grad_mult: float = 1.0
    """Multiplies the gradient reaching the frontend (wav2vec 2.0 pretraining uses 0.1)."""
    normalize_waveform: bool = False
    """Scale each utterance to zero mean, unit variance first (LARGE and XLSR-53 models expect it)."""

    def validate(self) -> None:
        if not (len(self.conv_dim) == len(self.conv_kernel) == len(self.conv_stride) > 0):
            raise ConfigError("conv_dim, conv_kernel and conv_stride need one value per layer")
        if self.norm not in ("group", "layer"):
            raise ConfigError(f"norm is 'group' or 'layer', not {self.norm!r}")

    @property
    def hop(self) -> int:
        """Samples per output frame."""
        hop = 1
        for s in self.conv_stride:
            hop *= s
        return hop

    @property
    def receptive_field(self) -> int:
        """Samples that one output frame reads."""
        field = 1
        for k, s in zip(reversed(self.conv_kernel), reversed(self.conv_stride)):
            field = (field - 1) * s + k
        return field


class UnfoldedConv(nn.Module):
    """A convolution in int8 for inference on the CPU: unfolded channels-last frames times its int8 weights
    (nn/int8_rows.py: a scale per frame and per output channel). Row t of the unfolded frames is input frames
    t * stride ... t * stride + k - 1 side by side, a view (rows overlap when k > stride), quantized BLOCK_ROWS
    rows at a time (a whole 8 s utterance's copy was 78 MB at BASE's second layer)."""

    BLOCK_ROWS = 1024

    def __init__(self, conv: nn.Conv1d):
        super().__init__()
        c_out, c_in, k = conv.weight.shape
        self.kernel, self.stride = k, conv.stride[0]
        # columns ordered (tap, input channel), as the unfolded rows
        weight, scale = quantize_rows(conv.weight.detach().permute(0, 2, 1).reshape(c_out, k * c_in), weight_levels())
        self.register_buffer("weight", weight)  # (C_out, k * C_in) int8
        self.register_buffer("weight_scale", scale[:, 0])  # (C_out,)
        self.register_buffer("bias", None if conv.bias is None else conv.bias.detach().float())

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, L, C_in) -> (B, L', C_out) fp32
        b, t, c = x.shape
        t_out = (t - self.kernel) // self.stride + 1
        x = x.contiguous()
        y = x.new_empty(b, t_out, self.weight.shape[0], dtype=torch.float32)
        for i in range(b):
            for start in range(0, t_out, self.BLOCK_ROWS):
                rows = min(self.BLOCK_ROWS, t_out - start)
                offset = x.storage_offset() + i * x.stride(0) + start * self.stride * c
                frames = x.as_strided((rows, self.kernel * c), (self.stride * c, 1), offset)
                y[i, start: start + rows] = int8_product(frames, self.weight, self.weight_scale, self.bias)
        return y


class _ConvLayer(nn.Module):
    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int, bias: bool, norm: nn.Module | None):
        super().__init__()
        self.conv = nn.Conv1d(c_in, c_out, kernel, stride=stride, bias=bias)
        self.layer_norm = norm if norm is not None else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, L, C_in) -> (B, L', C_out)
        return self.activate(self.conv_on_cpu(x) if x.device.type == "cpu" else self.conv_on_accelerator(x))

    def convolve(self, x: torch.Tensor) -> torch.Tensor:
        """The convolution alone on the CPU, channels-last (B, L, C_in) -> (B, L', C_out): strided GEMMs, or int8
        inference's product of unfolded frames (UnfoldedConv)."""
        if isinstance(self.conv, UnfoldedConv):
            return self.conv(x)
        return strided_conv(x, self.conv.weight, self.conv.bias, self.conv.stride[0])

    def unfold(self) -> None:
        """The convolution replaced by an UnfoldedConv: int8, for inference on the CPU."""
        self.conv = UnfoldedConv(self.conv)

    def activate(self, x: torch.Tensor) -> torch.Tensor:
        """The convolution's output x (after a GroupNorm over time, if any) through the LayerNorm over
        channels, if any, and the GELU; in place without autograd (x is this layer's own)."""
        norm = self.layer_norm
        if isinstance(norm, nn.LayerNorm):  # over channels
            x = F.layer_norm(x, norm.normalized_shape, norm.weight, norm.bias, norm.eps)
        if torch.is_grad_enabled() or torch.compiler.is_compiling():
            return F.gelu(x)
        return torch.ops.aten.gelu_(x)

    def piece(self, x: torch.Tensor, mean: torch.Tensor | None, rstd: torch.Tensor | None) -> torch.Tensor:
        """forward, without autograd on the CPU, on a piece of an utterance's time (1, L, C_in) -> (1, L', C_out):
        a GroupNorm over time normalises with the whole utterance's ``mean`` and ``rstd`` (1, 1, C_out), None
        when the piece is the whole utterance."""
        x = self.convolve(x)
        norm = self.layer_norm
        if isinstance(norm, nn.GroupNorm):  # in fp32, as time_norm
            x = x.float()
            if mean is None:  # the piece is the whole utterance
                mean, rstd = time_statistics(*time_sums(x), x.shape[1], norm.eps)
            scale = norm.weight * rstd
            x = x.mul_(scale).add_(norm.bias - mean * scale)
        return self.activate(x)

    def conv_on_cpu(self, x: torch.Tensor) -> torch.Tensor:
        """Convolution and GroupNorm as GEMMs on channels-last frames (nn/strided_conv.py: CPU kernels)."""
        x = self.convolve(x)
        norm = self.layer_norm
        if isinstance(norm, nn.GroupNorm):
            return time_norm(x.float(), norm.weight, norm.bias, norm.eps)  # in fp32
        return x

    def conv_on_accelerator(self, x: torch.Tensor) -> torch.Tensor:
        """The same with the device's own convolution and GroupNorm (cuDNN's), channels first."""
        y = self.conv(x.transpose(1, 2))  # (B, C_out, L')
        return (self.layer_norm(y) if isinstance(self.layer_norm, nn.GroupNorm) else y).transpose(1, 2)


PIECE_FRAMES = 512
"""Output frames that ConvFrontend.frames_in_pieces computes at a time (BASE: 10.24 s, its first layer's
output 67 MB in fp32)."""


def normalize_waveform(wav: torch.Tensor, lengths: torch.Tensor | None) -> torch.Tensor:
    """Zero mean, unit variance per utterance over its real samples; padding stays 0. (B, S)"""
    valid = torch.ones_like(wav, dtype=torch.bool) if lengths is None else (
        torch.arange(wav.shape[1], device=wav.device)[None] < lengths[:, None])
    n = valid.sum(1, keepdim=True).clamp(min=1)
    mean = (wav * valid).sum(1, keepdim=True) / n
    var = (((wav - mean) * valid) ** 2).sum(1, keepdim=True) / n
    return ((wav - mean) / torch.sqrt(var + 1e-7)) * valid


class _GradMultiply(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor, scale: float) -> torch.Tensor:
        ctx.scale = scale
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        return grad * ctx.scale, None


class ConvFrontend(nn.Module):
    """waveform (B, S) + lengths (B,) -> frames (B, T, C) + frame mask (B, T), True = valid."""

    def __init__(self, cfg: ConvFrontendConfig):
        super().__init__()
        self.cfg = cfg
        layers = []
        c_in = 1
        for i, (c, k, s) in enumerate(zip(cfg.conv_dim, cfg.conv_kernel, cfg.conv_stride)):
            if cfg.norm == "layer":
                norm = nn.LayerNorm(c)
            elif i == 0:
                norm = nn.GroupNorm(c, c)
            else:
                norm = None
            layers.append(_ConvLayer(c_in, c, k, s, cfg.conv_bias, norm))
            c_in = c
        self.conv_layers = nn.ModuleList(layers)
        self.output_dim = c_in
        # GroupNorm over time sees the padding: an utterance in a padded batch gets other frames
        # than alone (as in fairseq and transformers); inference then runs one utterance at a time
        self.padding_exact = cfg.norm != "group"
        self.reset_parameters()

    def reset_parameters(self) -> None:
        for layer in self.conv_layers:
            nn.init.kaiming_normal_(layer.conv.weight)
            if layer.conv.bias is not None:
                nn.init.zeros_(layer.conv.bias)

    def unfold_convs(self) -> None:
        """Each convolution after the first int8 (UnfoldedConv), for inference on the CPU; the first (one input
        channel, a kernel of 10 samples) is a sliver of the GEMMs. Each frame gets its own scale: in BASE's layout
        (a GroupNorm over time after the first layer alone) the frames follow the speech's loudness, and one scale
        per utterance (torch.ao's) lost the quiet ones: the demo's wav2vec 2.0 model went from test PER 32.7 in
        fp32 to 37.7 with one scale, 33.3 with one per 64 frames, 32.8 with one per frame."""
        for layer in self.conv_layers[1:]:
            layer.unfold()

    def output_lengths(self, lengths: torch.Tensor) -> torch.Tensor:
        """Frames produced from ``lengths`` samples (B,)."""
        for k, s in zip(self.cfg.conv_kernel, self.cfg.conv_stride):
            lengths = torch.div(lengths - k, s, rounding_mode="floor") + 1
        return lengths.clamp(min=0)

    def frames_in_pieces(self, wav: torch.Tensor, frames: int) -> torch.Tensor:
        """The ``frames`` frames of wav (B, S) without autograd on the CPU: one utterance at a time, and a long one
        PIECE_FRAMES output frames at a time, from the samples they read, so that only a piece's activations
        are held (a whole batch's first layer is 840 MB in fp32 at BASE's 16 x 8 s). A GroupNorm over time
        takes a long utterance's statistics from a first pass over the first layer. (B, T, C)"""
        hop, field, first = self.cfg.hop, self.cfg.receptive_field, self.conv_layers[0]
        out = None
        for i in range(wav.shape[0]):
            mean = rstd = None
            if isinstance(first.layer_norm, nn.GroupNorm) and frames > PIECE_FRAMES:
                mean, rstd = self._first_layer_statistics(wav[i])
            for start in range(0, frames, PIECE_FRAMES):
                stop = min(frames, start + PIECE_FRAMES)
                # (1, L, 1); the last piece to the utterance's end, whose first-layer frames the statistics see
                x = wav[i: i + 1, start * hop: (stop - 1) * hop + field if stop < frames else None, None]
                for n, layer in enumerate(self.conv_layers):
                    x = layer.piece(x, mean if n == 0 else None, rstd if n == 0 else None)
                if out is None:
                    out = torch.empty(wav.shape[0], frames, x.shape[2], dtype=x.dtype)
                out[i, start:stop] = x[0]
        return out

    def _first_layer_statistics(self, wav: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The mean and 1 / std (1, 1, C) over time of one utterance's (S,) first-layer outputs, in fp32,
        from the sums of pieces of PIECE_FRAMES x (hop / stride) frames."""
        layer = self.conv_layers[0]
        k, s = self.cfg.conv_kernel[0], self.cfg.conv_stride[0]
        total = (wav.shape[0] - k) // s + 1
        per_piece = PIECE_FRAMES * self.cfg.hop // s
        s1 = s2 = 0
        for start in range(0, total, per_piece):
            stop = min(total, start + per_piece)
            x = layer.convolve(wav[None, start * s: (stop - 1) * s + k, None])  # (1, stop - start, C)
            piece_s1, piece_s2 = time_sums(x)
            s1, s2 = s1 + piece_s1, s2 + piece_s2
        return time_statistics(s1, s2, total, layer.layer_norm.eps)

    def forward(self, wav: torch.Tensor, lengths: torch.Tensor | None = None):
        if self.cfg.normalize_waveform:
            wav = normalize_waveform(wav, lengths)
        # eager inference and validation on the CPU; traced graphs take the layers
        eager_cpu = wav.device.type == "cpu" and not torch.is_grad_enabled() and not torch.compiler.is_compiling()
        frames = int(self.output_lengths(torch.tensor(wav.shape[1]))) if eager_cpu else 0
        if frames > 0:
            x = self.frames_in_pieces(wav, frames)
        else:
            x = wav[:, :, None]  # (B, S, 1)
            for layer in self.conv_layers:
                x = layer(x)  # (B, T, C)
        if self.training and self.cfg.grad_mult != 1.0:
            x = _GradMultiply.apply(x, self.cfg.grad_mult)
        if lengths is None:
            return x, None
        frames = self.output_lengths(lengths)
        mask = torch.arange(x.shape[1], device=x.device)[None, :] < frames[:, None]  # (B, T)
        return x, mask
