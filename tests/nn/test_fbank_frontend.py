import numpy as np
import pytest
import torch

from speechxl.nn.fbank_frontend import FbankFrontend, FbankFrontendConfig, fit_global_stats, mel_filterbank
from tests.conftest import tone


def test_filterbank_shape_and_coverage():
    fb = mel_filterbank(80, 512, 16000)
    assert fb.shape == (257, 80) and (fb >= 0).all() and (fb.sum(0) > 0.3).all()  # narrow low filters fall between bins
    peak = fb.argmax(0).numpy()
    assert (np.diff(peak) >= 0).all()  # filters rise in frequency


def test_a_tone_lights_up_its_band():
    fe = FbankFrontend(FbankFrontendConfig(stack=1, normalize="none"))
    lo, _ = fe(torch.from_numpy(tone(1.0, 16000, freq=300))[None])
    hi, _ = fe(torch.from_numpy(tone(1.0, 16000, freq=3000))[None])
    assert lo.shape == (1, 98, 80)
    assert lo[0].mean(0).argmax() < hi[0].mean(0).argmax()


@pytest.mark.parametrize("subsampling, dim", [("stack", 320), ("conv2d", 144 * 19)])
def test_subsampling_to_40ms_and_lengths(subsampling, dim):
    fe = FbankFrontend(FbankFrontendConfig(subsampling=subsampling))
    wav = torch.randn(2, 16000) * 0.1
    x, mask = fe(wav, torch.tensor([16000, 8000]))
    assert x.shape[2] == fe.output_dim == dim
    assert mask[0].sum() == x.shape[1] == fe.output_lengths(torch.tensor(16000))
    assert mask[1].sum() == fe.output_lengths(torch.tensor(8000))


def test_utterance_normalisation_ignores_padding():
    fe = FbankFrontend(FbankFrontendConfig(stack=1))
    wav = torch.randn(1, 8000) * 0.1
    alone, _ = fe(wav)
    padded, mask = fe(torch.cat([wav, torch.zeros(1, 8000)], 1), torch.tensor([8000]))
    torch.testing.assert_close(padded[:, : alone.shape[1]], alone, atol=1e-4, rtol=1e-4)
    assert (padded[~mask] == 0).all()


def test_global_statistics():
    fe = FbankFrontend(FbankFrontendConfig(stack=1, normalize="global"))
    waves = [torch.randn(16000) * s for s in (0.01, 0.1, 0.5)]
    n = fit_global_stats(fe, waves)
    assert n == 3 * 98 and "global_mean" in fe.state_dict()
    x, _ = fe(torch.stack(waves))
    assert abs(float(x.mean())) < 0.05 and abs(float(x.std()) - 1) < 0.05
