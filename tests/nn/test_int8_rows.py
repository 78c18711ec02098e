import os
import subprocess
import sys

import torch

from speechxl.nn.int8_rows import LEVELS, int8_product, quantize_rows


def test_each_row_gets_its_own_scale_its_largest_magnitude_the_top_level():
    torch.manual_seed(0)
    x = torch.randn(6, 40) * torch.tensor([1e-4, 1e-2, 1, 10, 1e3, 0])[:, None]  # the last row all zeros
    q, scale = quantize_rows(x)
    assert q.dtype == torch.int8 and scale.shape == (6, 1) and q.is_contiguous()
    assert (q[:5].abs().amax(1) == LEVELS).all() and (q[5] == 0).all() and scale.isfinite().all()
    error = (q * scale - x).abs().amax(1) / x.abs().amax(1).clamp(min=1e-30)
    assert (error[:5] <= 0.5 / LEVELS + 1e-6).all()  # half a step of each row's own range


def test_rows_of_an_overlapping_view_are_quantized_as_copies_are():
    x = torch.randn(100)
    rows = x.as_strided((31, 10), (3, 1))  # overlapping rows, as an unfolded convolution's
    for got, want in zip(quantize_rows(rows), quantize_rows(rows.contiguous())):
        assert torch.equal(got, want)


def test_the_int8_product_is_the_exact_product_of_the_quantized_operands():
    torch.manual_seed(0)
    x, w, bias = torch.randn(33, 300), torch.randn(17, 300), torch.randn(17)
    wq, w_scale = quantize_rows(w)
    q, scale = quantize_rows(x)
    want = (q.double() * scale) @ (wq.double() * w_scale).T + bias.double()
    got = int8_product(x, wq, w_scale[:, 0], bias)
    assert got.dtype == torch.float32
    torch.testing.assert_close(got.double(), want, rtol=1e-6, atol=1e-5)
    assert (got - (x @ w.T + bias)).abs().max() < 0.05 * (x @ w.T).abs().max()
    torch.testing.assert_close(int8_product(x, wq, w_scale[:, 0], None), got - bias)


def test_without_vnni_7_bit_weights_keep_the_sums_exact():
    """oneDNN without VNNI (limited to AVX2 here, as on most laptops) sums pairs of unsigned x signed products
    in 16 bits: the largest products with 8-bit weights saturate; weight_levels()' 7 bits for such CPUs cannot.
    On a CPU that has only AVX2 (an AMD EPYC without AVX-512, seen 2026-12-07) the 8-bit sums came out exact
    too: the rule is then only cautious, and the product of 8-bit weights is either exact or saturated."""
    script = """
import torch
torch.cpu._is_vnni_supported = lambda: False
from speechxl.nn.int8_rows import LEVELS, int8_product, quantize_rows, weight_levels
x, w = torch.ones(8, 256), torch.ones(4, 256)  # every quantized activation 127, every weight the top level
for levels in (LEVELS, weight_levels()):
    wq, scale = quantize_rows(w, levels)
    print(levels, int8_product(x, wq, scale[:, 0], None).max().item())
"""
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,
                         env={**os.environ, "ONEDNN_MAX_CPU_ISA": "AVX2"})
    (eight, saturated), (seven, exact) = [line.split() for line in run.stdout.split("\n") if line]
    assert (int(eight), int(seven)) == (127, 63)
    assert abs(float(exact) - 256) < 1e-3, f"7-bit weights gave {exact}, not 256"
    assert float(saturated) < 256 - 1 or abs(float(saturated) - 256) < 1e-3, f"8-bit weights gave {saturated}"
