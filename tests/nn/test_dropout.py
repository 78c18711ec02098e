import pytest
import torch
import torch.nn.functional as F
from torch.utils.checkpoint import checkpoint

from speechxl.nn.dropout import Dropout, dropout


@pytest.mark.parametrize("p", [0.1, 0.5, 0.9])
def test_drops_a_share_p_and_keeps_the_mean(p):
    torch.manual_seed(0)
    y = dropout(torch.ones(1_000_000), p)
    dropped = y == 0
    assert abs(dropped.float().mean().item() - p) < 0.002
    assert torch.all(y[~dropped] == y[~dropped][0])  # one scale for every kept element
    assert abs(y.mean().item() - 1) < 0.005


def test_neighbouring_elements_are_dropped_independently():
    # four elements share one 64-bit draw: each pair of them must still be dropped independently
    torch.manual_seed(0)
    d = (dropout(torch.ones(250_000, 4), 0.5) == 0).float()  # (N, 4): the four lanes of each draw
    for i in range(4):
        for j in range(i + 1, 4):
            assert abs((d[:, i] * d[:, j]).mean().item() - 0.25) < 0.004
    assert abs((d[1:, 0] * d[:-1, 0]).mean().item() - 0.25) < 0.004  # the same lane of successive draws


def test_the_seed_decides_the_mask():
    x = torch.randn(3, 50, 7)
    torch.manual_seed(5)
    a = dropout(x, 0.3)
    torch.manual_seed(5)
    b = dropout(x, 0.3)
    c = dropout(x, 0.3)
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_gradient_passes_the_kept_elements_scaled():
    torch.manual_seed(0)
    x = torch.randn(4, 300, requires_grad=True)
    y = dropout(x, 0.2)
    y.sum().backward()
    kept = y != 0
    assert torch.all(x.grad[~kept] == 0)
    assert torch.allclose(x.grad[kept], y[kept] / x[kept])


def test_a_checkpointed_layer_replays_the_same_mask():
    layer = torch.nn.Sequential(torch.nn.Linear(16, 64), Dropout(0.3), torch.nn.Linear(64, 16))
    x = torch.randn(8, 16)

    def grads(run):
        torch.manual_seed(1)
        layer.zero_grad()
        run(x).sum().backward()
        return [p.grad.clone() for p in layer.parameters()]

    plain = grads(layer)
    replayed = grads(lambda inp: checkpoint(layer, inp, use_reentrant=False))
    assert all(torch.equal(a, b) for a, b in zip(plain, replayed))


def test_no_dropout_where_none_is_asked_and_torchs_at_p_one():
    x = torch.randn(5, 6)
    assert dropout(x, 0.1, training=False) is x and dropout(x, 0.0) is x
    assert torch.equal(dropout(x, 1.0), torch.zeros_like(x))
    module = Dropout(0.4).eval()
    assert module(x) is x
    with pytest.raises(ValueError, match="between 0 and 1"):
        Dropout(1.5)


def test_under_autocast_the_mask_takes_the_input_dtype():
    torch.manual_seed(0)
    x = torch.randn(64, 64, dtype=torch.bfloat16)
    y = dropout(x, 0.1)
    assert y.dtype == torch.bfloat16
    kept = y != 0
    ratio = (y[kept].float() / x[kept].float())
    assert torch.allclose(ratio, torch.full_like(ratio, 1 / 0.9), rtol=1e-2)


def test_same_statistics_as_torchs_dropout():
    torch.manual_seed(0)
    x = torch.randn(200_000)
    ours, theirs = dropout(x, 0.25), F.dropout(x, 0.25)
    assert abs((ours == 0).float().mean() - (theirs == 0).float().mean()) < 0.006
    assert abs(ours.std() - theirs.std()) < 0.01
