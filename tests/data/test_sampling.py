import numpy as np
import pytest

from speechxl.data.sampling import SamplingConfig, epoch_indices, language_shares, log_shares

HOURS = {"big": 90.0, "mid": 9.0, "small": 1.0}


def test_natural_and_temperature_shares():
    assert language_shares(HOURS, SamplingConfig(method="natural")) == pytest.approx(
        {"big": 0.9, "mid": 0.09, "small": 0.01})
    p = language_shares(HOURS, SamplingConfig(method="temperature", alpha=0.5))
    raw = {k: (v / 100) ** 0.5 for k, v in HOURS.items()}
    assert p == pytest.approx({k: v / sum(raw.values()) for k, v in raw.items()})
    assert language_shares(HOURS, SamplingConfig(method="temperature", alpha=0.0)) == pytest.approx(
        {k: 1 / 3 for k in HOURS})


def test_unimax_caps_small_languages_and_shares_the_rest():
    # budget 100 h: small gets min(100/3, 4 x 1) = 4, mid min(96/2, 4 x 9) = 36, big the remaining 60
    p = language_shares(HOURS, SamplingConfig(method="unimax", max_epochs=4))
    assert p == pytest.approx({"big": 0.60, "mid": 0.36, "small": 0.04})


def test_an_epoch_draws_each_language_by_its_share():
    rng = np.random.default_rng(0)
    langs = ["big"] * 900 + ["small"] * 10
    durations = np.full(910, 360.0)  # 0.1 h each: big 90 h, small 1 h
    cfg = SamplingConfig(method="temperature", alpha=0.5)
    idx = epoch_indices(langs, durations, cfg, rng)
    drawn = {lang: sum(1 for i in idx if langs[i] == lang) * 0.1 for lang in ("big", "small")}
    share = language_shares({"big": 90.0, "small": 1.0}, cfg)
    assert drawn["small"] == pytest.approx(share["small"] * 91, abs=0.1)  # upsampled about 8.7 times
    assert drawn["big"] == pytest.approx(share["big"] * 91, abs=0.1)
    table = log_shares(langs, durations, cfg)
    assert 8.6 < table["small"]["passes"] < 8.7 and table["big"]["passes"] < 1


def test_alpha_stages_change_the_temperature_from_their_epoch_on():
    from speechxl.config import ConfigError

    cfg = SamplingConfig(alpha=1.0, alpha_stages=[(3, 0.5), (6, 0.0)])
    assert [cfg.at_epoch(e).alpha for e in (0, 2, 3, 5, 6, 9)] == [1.0, 1.0, 0.5, 0.5, 0.0, 0.0]
    with pytest.raises(ConfigError, match="stages of the temperature method"):
        SamplingConfig(method="unimax", alpha_stages=[(1, 0.5)]).validate()
