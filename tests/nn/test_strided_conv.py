import pytest
import torch
import torch.nn.functional as F

from speechxl.nn.strided_conv import strided_conv, time_norm


@pytest.mark.parametrize("c_in, kernel, stride, length, bias", [
    (1, 10, 5, 203, False), (3, 3, 2, 20, False), (3, 3, 2, 21, True), (4, 2, 2, 17, True), (2, 7, 2, 30, False),
])
def test_strided_conv_matches_conv1d_and_passes_gradcheck(c_in, kernel, stride, length, bias):
    torch.manual_seed(0)
    x = torch.randn(2, length, c_in, dtype=torch.float64, requires_grad=True)
    w = torch.randn(5, c_in, kernel, dtype=torch.float64, requires_grad=True)
    b = torch.randn(5, dtype=torch.float64, requires_grad=True) if bias else None
    want = F.conv1d(x.transpose(1, 2), w, b, stride=stride).transpose(1, 2)
    torch.testing.assert_close(strided_conv(x, w, b, stride), want)
    assert torch.autograd.gradcheck(lambda *a: strided_conv(a[0], a[1], a[2] if bias else None, stride),
                                    (x, w, b if bias else torch.zeros(1)))


def test_time_norm_matches_group_norm_and_passes_gradcheck():
    torch.manual_seed(0)
    x = torch.randn(3, 40, 6, dtype=torch.float64, requires_grad=True) * 3 + 1
    w = torch.randn(6, dtype=torch.float64, requires_grad=True)
    b = torch.randn(6, dtype=torch.float64, requires_grad=True)
    want = F.group_norm(x.transpose(1, 2), 6, w, b, 1e-5).transpose(1, 2)
    torch.testing.assert_close(time_norm(x, w, b, 1e-5), want)
    assert torch.autograd.gradcheck(lambda *a: time_norm(*a, 1e-5), (x, w, b))


@pytest.mark.parametrize("norm", ["group", "layer"])
def test_conv_frontend_without_autograd_in_pieces_gives_what_it_gives_with_it(norm):
    """Eager inference computes each utterance PIECE_FRAMES output frames at a time from the samples they read
    (a GroupNorm with the whole utterance's statistics): the frames of the whole batch at once, in fp32 and
    under bf16 autocast, for utterances of several pieces and of one piece."""
    from speechxl.nn.conv_frontend import PIECE_FRAMES, ConvFrontend, ConvFrontendConfig

    torch.manual_seed(0)
    frontend = ConvFrontend(ConvFrontendConfig(conv_dim=[8, 8, 8], conv_kernel=[10, 3, 2], conv_stride=[5, 2, 2],
                                               norm=norm, conv_bias=norm == "layer"))
    assert frontend.cfg.hop == 20 and frontend.cfg.receptive_field == 30
    # 3 pieces and a part; one frame and samples after it (which the GroupNorm's statistics see); one frame
    for samples in (PIECE_FRAMES * 20 * 3 + 57, 47, 30):
        wav = torch.randn(2, samples) + 0.5
        for bf16 in (False, True):
            with torch.autocast("cpu", torch.bfloat16, enabled=bf16):
                want, _ = frontend(wav, None)
                with torch.inference_mode():
                    got, _ = frontend(wav, None)
            frames = int(frontend.output_lengths(torch.tensor(samples)))
            assert got.shape == want.shape == (2, frames, 8) and got.dtype == want.dtype
            torch.testing.assert_close(got.float(), want.detach().float(), **({"rtol": 0.02, "atol": 0.05} if bf16
                                                                              else {}))


def test_strided_conv_under_autocast_computes_in_bf16_as_conv1d_would():
    """Its GEMMs write in place, which autocast does not reach: it casts to the autocast dtype itself,
    and the gradients reach the fp32 weights in fp32."""
    torch.manual_seed(0)
    x = torch.randn(2, 41, 8, requires_grad=True)
    w = torch.randn(16, 8, 3, requires_grad=True)
    b = torch.randn(16, requires_grad=True)
    with torch.autocast("cpu", torch.bfloat16):
        got = strided_conv(x, w, b, 2)
        want = F.conv1d(x.transpose(1, 2), w, b, stride=2).transpose(1, 2)
    assert got.dtype == want.dtype == torch.bfloat16
    torch.testing.assert_close(got.float(), want.float(), rtol=0.02, atol=0.1)
    got.float().sum().backward()
    assert w.grad.dtype == torch.float32 and x.grad.dtype == torch.float32 and b.grad is not None
