import pytest
import torch

from speechxl.config import ConfigError, from_dict, validate
from speechxl.nn.conv_frontend import ConvFrontend, ConvFrontendConfig, UnfoldedConv
from speechxl.nn.int8_rows import quantize_rows

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
def test_an_unfolded_convolution_is_the_product_of_each_quantized_row(bias, monkeypatch):
    """int8 inference's convolutions (kernel 3 over stride 2: overlapping rows; 2 over 2) quantize a block of
    unfolded rows at a time, each row on its own scale: what the dequantized rows and weights give in float64,
    for a batch and utterance by utterance, in several blocks and a part."""
    monkeypatch.setattr(UnfoldedConv, "BLOCK_ROWS", 64)
    torch.manual_seed(0)
    cfg = ConvFrontendConfig(conv_dim=[8, 6, 5], conv_kernel=[10, 3, 2], conv_stride=[5, 2, 2], conv_bias=bias)
    frontend = ConvFrontend(cfg).eval()
    with torch.inference_mode():
        x = frontend.conv_layers[0](torch.randn(2, 4001, 1))  # (2, 799, 8): a batch, rows of two utterances
        for layer in frontend.conv_layers[1:]:
            conv = layer.conv
            layer.unfold()
            rows = x.unfold(1, conv.kernel_size[0], conv.stride[0]).transpose(2, 3).flatten(2)  # (B, L', k * C)
            q, scale = quantize_rows(rows.flatten(0, 1))
            weight = layer.conv.weight.double() * layer.conv.weight_scale.double()[:, None]
            want = (q.double() * scale.double()) @ weight.T + (conv.bias.double() if bias else 0)
            got = layer.convolve(x)
            torch.testing.assert_close(got.flatten(0, 1).double(), want, atol=1e-5, rtol=1e-5)
            assert torch.equal(torch.cat([layer.convolve(x[i: i + 1]) for i in range(2)]), got)
            x = layer(x)


@pytest.mark.parametrize("vnni", [True, False])
@pytest.mark.parametrize("norm", ["group", "layer"])
def test_int8_quantizes_each_convolution_after_the_first_keeping_quiet_frames(norm, vnni, monkeypatch):
    """Each frame gets its own scale: the frames of a quiet stretch (here 1000 times quieter than the rest) stay
    as close to fp32's as the loud ones, in BASE's layout (frames that follow the loudness; one scale per
    utterance cost the demo 5 PER points) and in XLSR's. Without VNNI the weights take 7 bits (int8_rows)."""
    from speechxl.decode.model import quantize_linears

    monkeypatch.setattr(torch.cpu, "_is_vnni_supported", lambda: vnni)
    torch.manual_seed(0)
    frontend = ConvFrontend(ConvFrontendConfig(conv_dim=[32, 32, 32], conv_kernel=[10, 3, 2], conv_stride=[5, 2, 2],
                                               norm=norm, conv_bias=norm == "layer"))
    wav = torch.randn(1, 16000)
    wav[:, 8000:] *= 1e-3
    with torch.inference_mode():
        expected, _ = frontend.eval()(wav)
        quantize_linears(frontend)
        frames, _ = frontend(wav)
    assert [isinstance(layer.conv, UnfoldedConv) for layer in frontend.conv_layers] == [False, True, True]
    assert [int(layer.conv.weight.abs().max()) for layer in frontend.conv_layers[1:]] == [127 if vnni else 63] * 2
    assert frames.shape == expected.shape
    quiet = expected[0, expected.shape[1] // 2 + 2:]  # (T/2, C), the frames that read quiet samples alone
    if norm == "group":  # a LayerNorm brings each frame to one size
        assert quiet.abs().max() < 0.01 * expected.abs().max()
    error = (frames[0, expected.shape[1] // 2 + 2:] - quiet).norm(dim=1) / quiet.norm(dim=1)
    assert error.max() < 0.05, f"a quiet frame's relative error {error.max():.3f}"
