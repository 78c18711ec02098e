import pytest
import torch

from speechxl.config import ConfigError, from_dict, validate
from speechxl.nn.conv_frontend import ConvFrontend, ConvFrontendConfig, UnfoldedConv

TINY = dict(conv_dim=[8, 8, 8], conv_kernel=[10, 3, 3], conv_stride=[5, 2, 2])


@pytest.mark.parametrize("norm", ["group", "layer"])
def test_output_lengths_match_the_convolutions(norm):
    fe = ConvFrontend(ConvFrontendConfig(**TINY, norm=norm, conv_bias=norm == "layer"))
    for n in (400, 401, 1999, 16000):
        x, mask = fe(torch.randn(1, n), torch.tensor([n]))
        assert x.shape == (1, int(fe.output_lengths(torch.tensor(n))), 8) and mask.all()
    assert ConvFrontendConfig().hop == 320  # BASE: 20 ms frames


def test_padding_mask_marks_real_frames():
    fe = ConvFrontend(ConvFrontendConfig(**TINY))
    x, mask = fe(torch.randn(2, 4000), torch.tensor([4000, 2000]))
    assert mask[0].all() and mask[1].sum() == fe.output_lengths(torch.tensor(2000))


def test_parameter_names_follow_transformers():
    names = set(ConvFrontend(ConvFrontendConfig(**TINY, norm="group")).state_dict())
    assert names == {"conv_layers.0.conv.weight", "conv_layers.0.layer_norm.weight", "conv_layers.0.layer_norm.bias",
                     "conv_layers.1.conv.weight", "conv_layers.2.conv.weight"}
    names = set(ConvFrontend(ConvFrontendConfig(**TINY, norm="layer", conv_bias=True)).state_dict())
    assert "conv_layers.2.layer_norm.weight" in names and "conv_layers.2.conv.bias" in names


def test_gradient_multiplier_scales_the_frontend_gradient():
    torch.manual_seed(0)
    fe = ConvFrontend(ConvFrontendConfig(**TINY, grad_mult=1.0))
    scaled = ConvFrontend(ConvFrontendConfig(**TINY, grad_mult=0.1))
    scaled.load_state_dict(fe.state_dict())
    wav = torch.randn(1, 2000)
    fe(wav)[0].sum().backward()
    scaled(wav)[0].sum().backward()
    w = "conv_layers.1.conv.weight"
    torch.testing.assert_close(dict(scaled.named_parameters())[w].grad, 0.1 * dict(fe.named_parameters())[w].grad)


def test_config_is_checked():
    with pytest.raises(ConfigError, match="one value per layer"):
        validate(from_dict(ConvFrontendConfig, {"conv_dim": [8], "conv_kernel": [3, 3], "conv_stride": [1, 1]}))


@pytest.mark.parametrize("norm", ["group", "layer"])
def test_the_cpu_kernels_and_the_accelerators_convolution_agree(norm):
    torch.manual_seed(0)
    frontend = ConvFrontend(ConvFrontendConfig(conv_dim=[8, 8], conv_kernel=[10, 3], conv_stride=[5, 2], norm=norm))
    x = torch.randn(2, 400, 1)
    for layer in frontend.conv_layers:
        cpu, accelerator = layer.conv_on_cpu(x), layer.conv_on_accelerator(x)
        torch.testing.assert_close(cpu, accelerator, atol=1e-5, rtol=1e-4)
        x = layer(x)


def test_off_the_cpu_the_frontend_does_not_use_the_cpu_kernels(monkeypatch):
    import speechxl.nn.conv_frontend as conv_frontend

    monkeypatch.setattr(conv_frontend, "strided_conv", lambda *a: pytest.fail("the CPU kernel ran off the CPU"))
    frontend = ConvFrontend(ConvFrontendConfig(conv_dim=[8, 8], conv_kernel=[10, 3], conv_stride=[5, 2])).to("meta")
    frames, _ = frontend(torch.randn(2, 4000, device="meta"), torch.tensor([4000, 3000], device="meta"))
    assert frames.device.type == "meta" and frames.shape[:2] == (2, 399)


@pytest.mark.parametrize("bias", [False, True])
def test_unfolded_convolutions_are_the_strided_ones(bias, monkeypatch):
    """int8 inference quantizes some of the frontend's convolutions as Linear layers over unfolded frames
    (kernel 3 over stride 2: overlapping rows; 2 over 2), a block of rows at a time; in fp32 they give what the
    strided GEMMs give, for a batch and utterance by utterance, in several blocks and a part."""
    monkeypatch.setattr(UnfoldedConv, "BLOCK_ROWS", 64)
    torch.manual_seed(0)
    cfg = ConvFrontendConfig(conv_dim=[8, 6, 5], conv_kernel=[10, 3, 2], conv_stride=[5, 2, 2], conv_bias=bias)
    frontend = ConvFrontend(cfg).eval()
    wav, lengths = torch.randn(2, 4001), torch.tensor([4001, 3000])
    with torch.inference_mode():
        expected, mask = frontend(wav, lengths)  # utterance by utterance (the pieces path)
        inputs = [frontend.conv_layers[0](wav[:, :, None])]  # (2, 799, 8): a batch, rows of two utterances
        inputs.append(frontend.conv_layers[1](inputs[0]))
        strided = [layer.convolve(x) for layer, x in zip(frontend.conv_layers[1:], inputs)]
        for layer in frontend.conv_layers[1:]:
            layer.unfold()
        for layer, x, want in zip(frontend.conv_layers[1:], inputs, strided):
            assert isinstance(layer.conv, UnfoldedConv)
            torch.testing.assert_close(layer.convolve(x), want)
        frames, same_mask = frontend(wav, lengths)
    torch.testing.assert_close(frames, expected, atol=1e-5, rtol=1e-4)
    assert torch.equal(mask, same_mask)


@pytest.mark.parametrize("vnni", [True, False])
@pytest.mark.parametrize("norm", ["group", "layer"])
def test_int8_quantizes_the_convolutions_whose_input_was_normalised(norm, vnni, monkeypatch):
    """One scale per utterance fits frames each normalised on its own (a LayerNorm after every layer: XLSR's
    layout); others follow the loudness (BASE's layout: +5 PER points on the demo). Their 8-bit activations
    need a CPU with VNNI (exact 32-bit sums); without, the frontend stays fp32."""
    from speechxl.decode.model import quantize_linears

    monkeypatch.setattr(torch.cpu, "_is_vnni_supported", lambda: vnni)
    torch.manual_seed(0)
    frontend = ConvFrontend(ConvFrontendConfig(conv_dim=[32, 32, 32], conv_kernel=[10, 3, 2], conv_stride=[5, 2, 2],
                                               norm=norm, conv_bias=norm == "layer"))
    wav = torch.randn(1, 8000)
    with torch.inference_mode():
        expected, _ = frontend.eval()(wav)
        quantize_linears(frontend)
        frames, _ = frontend(wav)
    quantized = [isinstance(layer.conv, UnfoldedConv) and isinstance(layer.conv.linear,
                                                                     torch.ao.nn.quantized.dynamic.Linear)
                 for layer in frontend.conv_layers]
    assert quantized == ([False, True, True] if vnni and norm == "layer" else [False] * 3)
    assert frames.shape == expected.shape
    assert (frames - expected).abs().max() < 0.05 * expected.abs().max()
