"""Strided 1-D convolution and per-channel time normalisation for channels-last frames.

The wav2vec 2.0 feature encoder's convolutions all have kernel <= 2 x stride (10/5, 3/2, 2/2).
Then output frame t reads input chunk t (``stride`` frames) plus the first ``kernel - stride``
frames of chunk t + 1, and on channels-last input (B, T, C) both are plain row-major matrices
(the second with a row stride): a convolution is one or two GEMMs per utterance, forward and
backward, with no im2col copy and no layout conversion. On a CPU this runs at GEMM speed,
1.2-4x faster than oneDNN's convolution for these shapes (tools/bench_pretrain.py).

``time_norm`` is GroupNorm with one group per channel (wav2vec 2.0 BASE's first layer) over the
time axis of channels-last frames, with statistics from sums (``time_sums``, a block of frames at a
time) rather than Welford's algorithm, which is slow across a non-contiguous axis.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def _next_taps(x: torch.Tensor, i: int, rows: int, stride: int, width: int) -> torch.Tensor:
    """View of utterance ``i``: row t = the first ``width`` values of chunk t + 1, (rows, width)."""
    c = x.shape[2]
    return x.as_strided((rows, width), (stride * c, 1), x.storage_offset() + i * x.stride(0) + stride * c)


class _StridedConv(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, weight, bias, stride):
        b, t, c = x.shape
        c_out, _, k = weight.shape
        t_out = (t - k) // stride + 1
        w = weight.permute(2, 1, 0).reshape(k * c, c_out)  # rows ordered (tap, input channel)
        w0, w1 = w[: stride * c], w[stride * c:]
        y = torch.empty(b, t_out, c_out, dtype=x.dtype, device=x.device)
        for i in range(b):
            chunks = x[i, : stride * t_out].view(t_out, stride * c)
            if bias is None:
                torch.mm(chunks, w0, out=y[i])
            else:
                torch.addmm(bias, chunks, w0, out=y[i])
            if k > stride:
                y[i].addmm_(_next_taps(x, i, t_out, stride, (k - stride) * c), w1)
        ctx.save_for_backward(x, w)
        ctx.stride, ctx.kernel, ctx.has_bias = stride, k, bias is not None
        return y

    @staticmethod
    def backward(ctx, grad):
        x, w = ctx.saved_tensors
        s, k = ctx.stride, ctx.kernel
        b, t, c = x.shape
        t_out, c_out = grad.shape[1], grad.shape[2]
        grad = grad.contiguous()
        w0, w1 = w[: s * c], w[s * c:]
        gx = gw = gb = None
        if ctx.needs_input_grad[0]:
            gx = torch.empty_like(x)
            gx[:, s * t_out:].zero_()
            for i in range(b):
                torch.mm(grad[i], w0.t(), out=gx[i, : s * t_out].view(t_out, s * c))
                if k > s:
                    _next_taps(gx, i, t_out, s, (k - s) * c).add_(grad[i] @ w1.t())
        if ctx.needs_input_grad[1]:
            g = torch.zeros(k * c, c_out, dtype=x.dtype, device=x.device)
            for i in range(b):
                g[: s * c].addmm_(x[i, : s * t_out].view(t_out, s * c).t(), grad[i])
                if k > s:
                    g[s * c:].addmm_(_next_taps(x, i, t_out, s, (k - s) * c).t(), grad[i])
            gw = g.view(k, c, c_out).permute(2, 1, 0)
        if ctx.has_bias and ctx.needs_input_grad[2]:
            gb = grad.sum((0, 1))
        return gx, gw, gb, None


def strided_conv(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, stride: int) -> torch.Tensor:
    """Conv1d without padding on channels-last frames: x (B, T, C_in) -> (B, T_out, C_out).

    weight (C_out, C_in, k) as nn.Conv1d's. Kernels wider than 2 x stride, and graphs being traced
    (the loop over utterances would fix the batch size), fall back to F.conv1d. Under autocast it
    computes in the autocast dtype, as F.conv1d would.
    """
    k = weight.shape[-1]
    if torch.compiler.is_compiling():  # copied unconditionally: copy-if-needed would fix the batch size too
        return F.conv1d(x.transpose(1, 2).clone(memory_format=torch.contiguous_format), weight, bias,
                        stride=stride).transpose(1, 2)
    if k > 2 * stride or x.shape[1] < k:
        return F.conv1d(x.transpose(1, 2), weight, bias, stride=stride).transpose(1, 2)
    if torch.is_autocast_enabled(x.device.type):  # its GEMMs write in place, which autocast skips: cast here
        dtype = torch.get_autocast_dtype(x.device.type)
        x, weight, bias = x.to(dtype), weight.to(dtype), bias.to(dtype) if bias is not None else None
    return _StridedConv.apply(x.contiguous(), weight, bias, stride)


TIME_BLOCK = 1024
"""Frames that time_sums squares at a time (BASE: 2 MB in fp32, in cache)."""


def time_sums(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The sum and the sum of squares over time of channels-last x (B, T, C), each (B, 1, C) in float64,
    TIME_BLOCK frames at a time: torch.var_mean across the non-contiguous time axis took 8x as long (49 against
    6 ms on BASE's first layer, 8 s), and squaring all of x at once allocates a copy of it."""
    s1 = torch.zeros(x.shape[0], 1, x.shape[2], dtype=torch.float64, device=x.device)
    s2 = torch.zeros_like(s1)
    dtype = torch.promote_types(x.dtype, torch.float32)
    # one block in a traced graph: a loop over time would fix the length in it (and the compiler fuses anyway)
    for block in [x] if torch.compiler.is_compiling() else x.split(TIME_BLOCK, 1):
        block = block.to(dtype)
        s1 += block.sum(1, keepdim=True)
        s2 += (block * block).sum(1, keepdim=True)
    return s1, s2


def time_statistics(s1: torch.Tensor, s2: torch.Tensor, frames: int, eps: float,
                    dtype: torch.dtype = torch.float32) -> tuple[torch.Tensor, torch.Tensor]:
    """The mean and 1 / sqrt(variance + eps) over ``frames`` frames from their time_sums, in ``dtype``. (B, 1, C)"""
    mean = s1 / frames
    var = (s2 / frames - mean * mean).clamp(min=0)
    return mean.to(dtype), (var + eps).rsqrt().to(dtype)


class _TimeNorm(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, weight, bias, eps):
        t = x.shape[1]
        mean, rstd = time_statistics(*time_sums(x), t, eps, x.dtype)  # (B, 1, C)
        scale = weight * rstd
        ctx.save_for_backward(x, weight, mean, rstd)
        return torch.addcmul(bias - mean * scale, x, scale)

    @staticmethod
    def backward(ctx, grad):
        x, weight, mean, rstd = ctx.saved_tensors
        t = x.shape[1]
        g_sum = grad.sum(1, keepdim=True)  # (B, 1, C)
        g_xhat = ((grad * x).sum(1, keepdim=True) - mean * g_sum) * rstd  # sum_t grad * x_hat
        scale = weight * rstd
        # dx = scale * (grad - mean_t(grad) - x_hat * mean_t(grad * x_hat)), x_hat = (x - mean) * rstd
        k = scale * rstd * g_xhat / t
        gx = torch.addcmul(torch.addcmul(k * mean - scale * g_sum / t, grad, scale), x, k, value=-1)
        return gx, g_xhat.sum((0, 1)), g_sum.sum((0, 1)), None


def time_norm(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, eps: float) -> torch.Tensor:
    """GroupNorm(C groups, C channels) of channels-last x (B, T, C): each (utterance, channel)
    normalised over time; the same as F.group_norm on (B, C, T)."""
    return _TimeNorm.apply(x.contiguous(), weight, bias, eps)
