import pytest
import torch

from speechxl.config import ConfigError, from_dict, validate
from speechxl.nn.conformer import ConformerConfig, ConformerEncoder


def tiny(**kw):
    cfg = ConformerConfig(**{**dict(hidden_size=16, num_layers=2, num_heads=2, intermediate_size=32, conv_kernel=5), **kw})
    validate(cfg)
    return cfg


@pytest.mark.parametrize("position", ["relative", "rotary", "relative_key", "none"])
@pytest.mark.parametrize("conv_norm", ["batch", "layer"])
def test_shapes_and_padding_invariance(position, conv_norm):
    torch.manual_seed(0)
    # the centred convolution reads padded positions, which stop being zero after the first block
    # (as in transformers), so padding changes that variant beyond one block; test it on one
    layers = 2 if conv_norm == "layer" else 1
    enc = ConformerEncoder(tiny(position=position, conv_norm=conv_norm, final_norm=conv_norm == "batch",
                                num_layers=layers)).eval()
    x = torch.randn(1, 12, 16)
    padded = torch.cat([x, torch.randn(1, 4, 16) * 50], dim=1)
    mask = torch.tensor([[True] * 12 + [False] * 4])
    with torch.no_grad():
        alone, together = enc(x), enc(padded, mask)
    assert together.shape == (1, 16, 16)
    if conv_norm == "layer":  # causal convolutions never look right, padded frames are zeroed
        torch.testing.assert_close(together[:, :12], alone, atol=1e-5, rtol=0)
    else:  # the last (kernel - 1) / 2 real frames see padded positions, which are not zero after LayerNorm
        torch.testing.assert_close(together[:, :10], alone[:, :10], atol=1e-5, rtol=0)


def test_relative_positions_longer_than_the_table():
    enc = ConformerEncoder(tiny(max_positions=8)).eval()
    with torch.no_grad():
        assert enc(torch.randn(2, 20, 16)).shape == (2, 20, 16)


def test_layerdrop_and_return_layers():
    enc = ConformerEncoder(tiny(layerdrop=0.99)).train()
    x = torch.randn(2, 6, 16)
    _, layers = enc(x, return_layers=True)
    assert len(layers) == 3 and all(torch.equal(layers[0], h) for h in layers[1:])


def test_config_errors():
    with pytest.raises(ConfigError, match="position"):
        validate(from_dict(ConformerConfig, {"position": "absolute"}))
    with pytest.raises(ConfigError, match="odd"):
        validate(from_dict(ConformerConfig, {"conv_kernel": 4}))
