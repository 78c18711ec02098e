import pytest
import torch

from speechxl.config import ConfigError, from_dict
from speechxl.nn.utterance_mixing import MixingConfig, UtteranceMixer


def test_mixing_overlays_part_of_an_utterance_with_another_at_the_drawn_energy_ratio():
    torch.manual_seed(0)
    wav = torch.stack([torch.ones(1000), 2 * torch.ones(1000), 3 * torch.ones(1000)])
    lengths = torch.tensor([1000, 1000, 600])
    mixer = UtteranceMixer(MixingConfig(prob=1.0, max_share=0.5, energy_ratio_db=(0.0, 0.0))).train()
    out = mixer(wav, lengths)
    for i in range(3):
        changed = (out[i] != wav[i]).nonzero()[:, 0]
        assert 0 < len(changed) <= 0.5 * int(lengths[i])  # a stretch of at most half of it
        assert changed.max() - changed.min() + 1 == len(changed)  # one stretch
        added = out[i, changed] - wav[i, changed]
        assert torch.allclose(added, wav[i, changed])  # 0 dB: the other's stretch scaled to the same energy
    assert torch.equal(out[2, 600:], wav[2, 600:])  # nothing past an utterance's end
    assert torch.equal(mixer.eval()(wav, lengths), wav)  # never at evaluation


def test_no_mixing_at_prob_zero_or_alone_and_the_draws_follow_the_seed():
    wav, lengths = torch.randn(4, 800), torch.full((4,), 800)
    assert torch.equal(UtteranceMixer(MixingConfig(prob=0.0)).train()(wav, lengths), wav)
    assert torch.equal(UtteranceMixer(MixingConfig(prob=1.0)).train()(wav[:1], lengths[:1]), wav[:1])
    mixer = UtteranceMixer(MixingConfig(prob=0.5)).train()
    torch.manual_seed(3)
    a = mixer(wav, lengths)
    torch.manual_seed(3)
    assert torch.equal(mixer(wav, lengths), a) and not torch.equal(a, wav)
    torch.manual_seed(3)
    assert torch.equal(mixer(wav, None), a)  # no lengths (the trainer's batch without padding): all full


def test_bad_mixing_settings_are_refused():
    with pytest.raises(ConfigError):
        from_dict(MixingConfig, {"prob": 1.5}).validate()
