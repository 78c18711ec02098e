"""int8 products with a scale per row: symmetric quantization of each row of a matrix (a frame, a weight's
output channel) and the product of two such matrices on the CPU's int8 GEMM (``torch._int_mm``: oneDNN, exact
32-bit sums with VNNI). torch.ao's dynamic quantization gives a whole input one scale, which loses the quiet
frames of features not normalised frame by frame (BASE's waveform convolutions); a scale per frame keeps them."""

from __future__ import annotations

import torch

LEVELS = 127
"""The largest magnitude of a quantized value: symmetric int8."""


def quantize_rows(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """x (N, K) float, any strides (overlapping rows of a view too) -> (int8 (N, K) contiguous, scale (N, 1)):
    x ~ q * scale, each row's largest magnitude LEVELS (an all-zero row: zeros)."""
    largest = torch.maximum(x.amax(1, keepdim=True), x.amin(1, keepdim=True).neg_())  # no |x| copy
    scale = largest.float().div_(LEVELS).clamp_(min=torch.finfo(torch.float32).tiny)
    return torch.div(x, scale).round_().to(torch.int8), scale


def int8_product(x: torch.Tensor, weight: torch.Tensor, weight_scale: torch.Tensor,
                 bias: torch.Tensor | None) -> torch.Tensor:
    """x (N, K) float times weight (C, K) int8 with its scale per output channel (C,), + bias (C,): (N, C) fp32,
    x quantized a row at a time."""
    q, scale = quantize_rows(x)
    y = torch._int_mm(q, weight.t()).float().mul_(scale).mul_(weight_scale)  # int32 sums, exact
    return y.add_(bias) if bias is not None else y
