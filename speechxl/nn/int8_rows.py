"""int8 products with a scale per row: symmetric quantization of each row of a matrix (a frame, a weight's
output channel) and the product of two such matrices on the CPU's int8 GEMM (``torch._int_mm``: oneDNN; exact
sums, with 7-bit weights on CPUs without VNNI). torch.ao's dynamic quantization gives a whole input one scale,
which loses the quiet frames of features not normalised frame by frame (BASE's waveform convolutions); a scale
per frame keeps them."""

from __future__ import annotations

import torch

LEVELS = 127
"""The largest magnitude of a quantized value: symmetric int8."""


def weight_levels() -> int:
    """The largest magnitude of a quantized weight on this CPU: LEVELS with VNNI (its int8 products add up in 32
    bits); 63 without, where oneDNN sums pairs of unsigned x signed products in 16 bits, which saturate past
    32767 (255 x 127 x 2) but not with 7-bit weights (255 x 63 x 2 = 32130)."""
    return LEVELS if torch.cpu._is_vnni_supported() else 63


def quantize_rows(x: torch.Tensor, levels: int = LEVELS) -> tuple[torch.Tensor, torch.Tensor]:
    """x (N, K) float, any strides (overlapping rows of a view too) -> (int8 (N, K) contiguous, scale (N, 1)):
    x ~ q * scale, each row's largest magnitude ``levels`` (an all-zero row: zeros)."""
    largest = torch.maximum(x.amax(1, keepdim=True), x.amin(1, keepdim=True).neg_())  # no |x| copy
    scale = largest.float().div_(levels).clamp_(min=torch.finfo(torch.float32).tiny)
    return torch.div(x, scale).round_().to(torch.int8), scale


def int8_product(x: torch.Tensor, weight: torch.Tensor, weight_scale: torch.Tensor,
                 bias: torch.Tensor | None) -> torch.Tensor:
    """x (N, K) float times weight (C, K) int8 with its scale per output channel (C,), + bias (C,): (N, C) fp32,
    x quantized a row at a time."""
    q, scale = quantize_rows(x)
    y = torch._int_mm(q, weight.t()).float().mul_(scale).mul_(weight_scale)  # int32 sums, exact
    return y.add_(bias) if bias is not None else y
