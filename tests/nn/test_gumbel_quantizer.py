import torch

from speechxl.nn.gumbel_quantizer import GumbelQuantizer, GumbelQuantizerConfig


def make():
    torch.manual_seed(0)
    return GumbelQuantizer(GumbelQuantizerConfig(groups=2, entries=8, dim=12, temperature=(2.0, 0.5, 0.5)), in_dim=6)


def test_eval_picks_the_argmax_codeword_of_each_group():
    q = make().eval()
    x = torch.randn(5, 6)
    out, codes, stats = q(x)
    logits = q.weight_proj(x).view(5, 2, 8)
    assert torch.equal(codes, logits.argmax(-1))
    book = q.codevectors.view(2, 8, 6)
    want = torch.cat([book[0, codes[:, 0]], book[1, codes[:, 1]]], dim=1)
    torch.testing.assert_close(out, want)
    assert 2 <= stats["code_perplexity"] <= 16


def test_training_uses_hard_gumbel_with_a_straight_through_gradient():
    q = make().train()
    out, codes, stats = q(torch.randn(40, 6))
    book = q.codevectors.view(2, 8, 6)
    torch.testing.assert_close(out[:, :6], book[0, codes[:, 0]], atol=1e-6, rtol=0)
    (out.sum() + stats["prob_perplexity"]).backward()
    assert q.weight_proj.weight.grad.abs().sum() > 0 and q.codevectors.grad.abs().sum() > 0


def test_temperature_anneals_to_its_floor():
    q = make()
    q.set_step(0)
    assert q.temperature == 2.0
    q.set_step(1)
    assert q.temperature == 1.0
    q.set_step(10)
    assert q.temperature == 0.5
