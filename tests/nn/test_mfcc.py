import numpy as np
import torch

from speechxl.nn.conv_frontend import ConvFrontend, ConvFrontendConfig
from speechxl.nn.mfcc import Mfcc, deltas, pooled


def test_mfccs_pooled_to_20_ms_have_the_conv_frontends_frame_count():
    frontend, mfcc = ConvFrontend(ConvFrontendConfig()), Mfcc()
    for samples in (400, 720, 12345, 16000, 16160, 16320):
        feats = pooled(mfcc(torch.randn(samples) * 0.1), 2)
        assert feats.shape == (int(frontend.output_lengths(torch.tensor(samples))), 39)


def test_mfccs_tell_sounds_apart_and_deltas_are_kaldis_slopes():
    t = torch.arange(16000) / 16000
    low, high = Mfcc()(0.3 * torch.sin(2 * np.pi * 200 * t)), Mfcc()(0.3 * torch.sin(2 * np.pi * 3000 * t))
    assert (low[:, :13].mean(0) - high[:, :13].mean(0)).abs().max() > 1.0
    ramp = torch.arange(10.0)[:, None]
    assert torch.allclose(deltas(ramp)[2:-2], torch.ones(6, 1))  # slope 1 inside, Kaldi's window 2


def test_pooled_averages_groups_and_keeps_the_remainder():
    x = torch.arange(5.0)[:, None]
    assert pooled(x, 2)[:, 0].tolist() == [0.5, 2.5, 4.0]
