"""speechxl's Dropout: torch's semantics with a mask from 16-bit draws while training on the CPU."""

import pytest
import torch

from speechxl.nn.dropout import Dropout, keep_mask


@pytest.mark.parametrize("p", [0.05, 0.1, 0.5, 0.9])
def test_the_mask_keeps_each_element_with_probability_one_minus_p(p):
    torch.manual_seed(0)
    mask = keep_mask(torch.Size([3, 1001, 77]), p)  # not a multiple of four elements
    assert mask.shape == (3, 1001, 77) and mask.dtype == torch.bool
    assert abs(mask.float().mean().item() - (1 - p)) < 0.005
    lanes = mask.flatten()[: mask.numel() // 4 * 4].view(-1, 4).float().mean(0)  # each 16 bits of a draw
    assert (lanes - (1 - p)).abs().max() < 0.01


def test_training_on_the_cpu_drops_and_scales_as_torch_does_and_repeats_under_a_seed():
    d = Dropout(0.2).train()
    x = torch.randn(8, 50, 64, requires_grad=True)
    torch.manual_seed(1)
    y = d(x)
    kept = y != 0
    assert abs(1 - kept.float().mean().item() - 0.2) < 0.02
    torch.testing.assert_close(y[kept], x[kept] / 0.8)
    y.sum().backward()
    torch.testing.assert_close(x.grad, kept.float() / 0.8)  # the same mask in the backward pass
    torch.manual_seed(1)
    assert torch.equal(d(x), y)
    assert torch.equal(d.eval()(x), x) and torch.equal(Dropout(0.0).train()(x), x)
    assert torch.equal(Dropout(1.0).train()(x), torch.zeros_like(x))


def test_elsewhere_it_is_torchs_dropout():
    d = Dropout(0.5).train()
    x = torch.randn(4, 5, device="meta")
    assert d(x).device.type == "meta"  # not the CPU: torch's own
