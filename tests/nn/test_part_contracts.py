"""The contract every registered part keeps (docs/architecture.md, "Parts"), run over all of them:
shapes, what padding and masks mean, and that a gradient reaches every trained weight."""

import pytest
import torch

from speechxl.models.speech_encoder import ENCODERS, FRONTENDS
from speechxl.nn.causal_conv import CausalConvConfig
from speechxl.nn.conformer import ConformerConfig
from speechxl.nn.conv_frontend import ConvFrontendConfig
from speechxl.nn.fbank_frontend import FbankFrontendConfig
from speechxl.nn.gumbel_quantizer import GumbelQuantizer, GumbelQuantizerConfig
from speechxl.nn.masking import MaskingConfig, SpanMasker
from speechxl.nn.random_projection_quantizer import RandomProjectionConfig, RandomProjectionQuantizer
from speechxl.nn.lstm import LSTMConfig
from speechxl.nn.transformer import TransformerConfig

TINY_FRONTENDS = {
    "conv, group norm": ConvFrontendConfig(conv_dim=[16, 16], conv_kernel=[10, 3], conv_stride=[5, 2]),
    "conv, layer norm": ConvFrontendConfig(conv_dim=[16, 16], conv_kernel=[10, 3], conv_stride=[5, 2], norm="layer"),
    "fbank, stacked": FbankFrontendConfig(n_mels=20, stack=2),
    "fbank, conv2d": FbankFrontendConfig(n_mels=20, subsampling="conv2d", conv_channels=4),
}
TINY_ENCODERS = {
    "transformer": TransformerConfig(hidden_size=16, num_layers=2, num_heads=2, intermediate_size=32,
                                     pos_conv_kernel=4, pos_conv_groups=2, layerdrop=0.0),
    "transformer, pre-LN": TransformerConfig(hidden_size=16, num_layers=2, num_heads=2, intermediate_size=32,
                                             pos_conv_kernel=4, pos_conv_groups=2, layerdrop=0.0, pre_norm=True),
    "transformer, pre-LN, language adapters": TransformerConfig(
        hidden_size=16, num_layers=2, num_heads=2, intermediate_size=32, pos_conv_kernel=4, pos_conv_groups=2,
        layerdrop=0.0, pre_norm=True, adapter_dim=4),
    "conformer": ConformerConfig(hidden_size=16, num_layers=2, num_heads=2, intermediate_size=32, conv_kernel=3,
                                 layerdrop=0.0),
    "conformer, relative_key": ConformerConfig(hidden_size=16, num_layers=2, num_heads=2, intermediate_size=32,
                                               conv_kernel=3, layerdrop=0.0, position="relative_key",
                                               conv_norm="layer"),
    "lstm": LSTMConfig(hidden_size=16, num_layers=2),
    "causal_conv": CausalConvConfig(hidden_size=16, kernel_sizes=[3, 2]),
}


def test_every_registered_part_type_has_a_tiny_config_here():
    assert {type(c) for c in TINY_FRONTENDS.values()} == set(FRONTENDS)
    assert {type(c) for c in TINY_ENCODERS.values()} == set(ENCODERS)


@pytest.mark.parametrize("name", sorted(TINY_FRONTENDS))
def test_frontend_contract(name):
    cfg = TINY_FRONTENDS[name]
    frontend = FRONTENDS[type(cfg)](cfg)
    wav, lengths = torch.randn(2, 8000) * 0.1, torch.tensor([8000, 5000])
    frames, valid = frontend(wav, lengths)  # (B, T, C), (B, T)
    assert frames.shape[:2] == valid.shape and frames.shape[0] == 2 and frames.shape[2] == frontend.output_dim
    assert valid.dtype == torch.bool and valid.sum(1).tolist() == frontend.output_lengths(lengths).tolist()
    assert valid[0].all() and not valid[1].all()
    unpadded, none = frontend(wav)  # no lengths (the trainer's batch without padding): no mask to apply
    assert none is None and torch.equal(unpadded, frontend(wav, torch.tensor([8000, 8000]))[0])
    if frontend.padding_exact:  # what it says: a padded utterance's real frames are its frames alone
        alone, _ = frontend(wav[1:, :5000], lengths[1:])
        torch.testing.assert_close(frames[1, : alone.shape[1]], alone[0], atol=1e-5, rtol=1e-4)
    trained = [p for p in frontend.parameters() if p.requires_grad]
    if trained:
        frames[valid].square().mean().backward()
        assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in trained)


@pytest.mark.parametrize("name", sorted(TINY_ENCODERS))
def test_encoder_contract(name):
    """(B, T, D) + valid (B, T), True = a real frame -> (B, T, D); padding changes nothing on the real
    frames (eval mode); every weight gets a gradient."""
    cfg = TINY_ENCODERS[name]
    torch.manual_seed(0)
    encoder = ENCODERS[type(cfg)](cfg).eval()
    x = torch.randn(2, 12, 16)
    valid = torch.arange(12)[None] < torch.tensor([12, 7])[:, None]
    out = encoder(x, valid)
    assert out.shape == x.shape
    alone = encoder(x[1:, :7], None)
    torch.testing.assert_close(out[1, :7], alone[0], atol=1e-5, rtol=1e-4)
    hidden, layers = encoder(x, valid, return_layers=True)
    assert len(layers) == cfg.num_layers + 1 and torch.equal(hidden, out)
    encoder.train()
    encoder(x, valid)[valid].square().mean().backward()
    assert all(p.grad is not None for p in encoder.parameters() if p.requires_grad)


@pytest.mark.parametrize("noise_std", [None, 0.5], ids=["learned vector", "noise"])
def test_masker_contract(noise_std):
    """draw: real frames (B,) of T -> MaskedFrames (mask (B, T), True = masked; the masked positions' flat
    indices, utterances and counts): never on padding, at least min_masks spans; forward: a learned-vector
    masker leaves the frames to the encoder, a noise masker replaces exactly the masked ones."""
    torch.manual_seed(0)
    masker = SpanMasker(MaskingConfig(prob=0.5, length=5, min_masks=1), noise_std=noise_std)
    frames = torch.randn(2, 50, 6)
    masked = masker.draw(torch.tensor([50, 20]), 50)
    mask = masked.mask
    assert mask.shape == (2, 50) and mask.dtype == torch.bool
    assert not mask[1, 20:].any() and mask[0].any() and mask[1].any()
    assert torch.equal(masked.select(frames), frames[mask]) and torch.equal(masked.counts, mask.sum(1))
    assert torch.equal(masked.utterance, mask.nonzero()[:, 0])
    assert torch.equal(masked.place(masked.select(frames)), frames * mask[..., None])
    out = masker(frames, masked)
    assert out.shape == frames.shape and masker.fills_vector == (noise_std is None)
    changed = (out != frames).any(-1)
    assert torch.equal(changed, mask if noise_std else torch.zeros_like(mask))
    assert not list(masker.parameters())  # the learned vector is the encoder's (it is fine-tuned with it)


@pytest.mark.parametrize("kind", ["gumbel", "random projection"])
def test_target_contract(kind):
    """frames (N, C) -> code ids per frame; the Gumbel quantizer also gives vectors and trains,
    the random projection is frozen."""
    x = torch.randn(30, 12, requires_grad=True)
    if kind == "gumbel":
        q = GumbelQuantizer(GumbelQuantizerConfig(groups=2, entries=8, dim=16), 12)
        quantized, codes, _ = q(x)
        assert quantized.shape == (30, 16) and codes.shape == (30, 2)
        quantized.sum().backward()
        assert all(p.grad is not None for p in q.parameters())
    else:
        q = RandomProjectionQuantizer(RandomProjectionConfig(codebooks=2, codebook_size=16, dim=4), 12)
        codes = q(x)
        assert codes.shape == (30, 2) and not list(q.parameters())
    assert codes.dtype == torch.long and int(codes.min()) >= 0
