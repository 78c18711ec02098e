import pytest
import torch

from speechxl.nn.transformer import TransformerConfig, TransformerEncoder


def tiny(**kw):
    return TransformerConfig(hidden_size=16, num_layers=2, num_heads=2, intermediate_size=32, pos_conv_kernel=8,
                             pos_conv_groups=2, **kw)


@pytest.mark.parametrize("pre_norm", [False, True])
def test_padding_does_not_change_real_frames(pre_norm):
    torch.manual_seed(0)
    enc = TransformerEncoder(tiny(pre_norm=pre_norm)).eval()
    x = torch.randn(1, 10, 16)
    padded = torch.cat([x, torch.randn(1, 5, 16) * 100], dim=1)
    mask = torch.tensor([[True] * 10 + [False] * 5])
    with torch.no_grad():
        alone = enc(x)
        together = enc(padded, mask)
    torch.testing.assert_close(together[:, :10], alone, atol=1e-5, rtol=0)


def test_layerdrop_skips_layers_only_while_training():
    torch.manual_seed(0)
    enc = TransformerEncoder(tiny(layerdrop=0.99, dropout=0.0, attention_dropout=0.0))
    x = torch.randn(2, 6, 16)
    with torch.no_grad():
        enc.train()
        _, layers = enc(x, return_layers=True)
        assert all(torch.equal(layers[0], h) for h in layers[1:])  # every layer skipped
        enc.eval()
        _, layers = enc(x, return_layers=True)
        assert not torch.equal(layers[0], layers[-1])


def test_even_positional_kernel_keeps_the_length():
    enc = TransformerEncoder(tiny())
    assert enc(torch.randn(3, 7, 16)).shape == (3, 7, 16)
