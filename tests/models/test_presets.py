"""The published-size presets build the models the papers describe (on the meta device: no memory)."""

from pathlib import Path

import pytest
import torch

from speechxl.models.registry import FAMILIES
from speechxl.train.finetune import load_finetune_config
from speechxl.train.pretrain import load_pretrain_config

RECIPES = Path(__file__).resolve().parents[2] / "recipes"


def _parameters(preset: str) -> tuple[object, int]:
    cfg = load_pretrain_config(RECIPES / "pretrain" / f"{preset}.yaml", ["data=d", "out=o"])
    with torch.device("meta"):
        model = FAMILIES[cfg.family].build(cfg.model)
    return cfg, sum(p.numel() for p in model.parameters())


# Babu et al. (2021), Table 1: XLS-R 0.3B, 1B and 2B; wav2vec 2.0 LARGE is the 0.3B
@pytest.mark.parametrize("preset, published", [("wav2vec2_large", 317e6), ("xlsr53", 317e6), ("xls_r_300m", 317e6),
                                               ("xls_r_1b", 965e6), ("xls_r_2b", 2162e6)])
def test_xls_r_presets_have_the_published_parameter_counts(preset, published):
    pytest.importorskip("transformers")
    from transformers import Wav2Vec2Config, Wav2Vec2ForPreTraining

    from speechxl.interop.hf_wav2vec2 import config_to_hf

    cfg, count = _parameters(preset)
    assert abs(count - published) / published < 0.002, (preset, count)
    hf = config_to_hf(cfg.model, "Wav2Vec2ForPreTraining")
    with torch.device("meta"):
        theirs = Wav2Vec2ForPreTraining(Wav2Vec2Config(**{k: v for k, v in hf.items() if k != "model_type"}))
    assert sum(p.numel() for p in theirs.parameters()) == count  # the same model as transformers' XLS-R


def test_the_600m_conformer_presets_build_on_the_meta_device():
    for preset in ("w2v_bert_600m", "bestrq_conformer_600m"):
        _, count = _parameters(preset)
        assert 0.55e9 < count < 0.65e9, (preset, count)


@pytest.mark.parametrize("preset, lr, samples_per_update", [("ctc_xls_r", 3e-4, 4 * 1_280_000 * 5),
                                                          ("ctc_xls_r_2b", 3e-5, 2_560_000 * 24)])
def test_xls_r_fine_tuning_presets_follow_the_paper(preset, lr, samples_per_update):
    cfg = load_finetune_config(RECIPES / "finetune" / f"{preset}.yaml", ["data=d", "out=o"])
    assert cfg.optim.lr == lr and cfg.train.max_steps == 13000 and cfg.ctc.freeze_encoder_steps == 10000
    assert 4 * cfg.batch.max_samples * cfg.optim.accum_steps == samples_per_update  # on 4 processes
    s = cfg.schedule
    assert (s.warmup_steps, s.hold_steps, s.decay_steps) == (1300, 5200, 6500)  # 10 / 40 / 50 %
    assert cfg.ctc.mask_channel.prob == 0.25 and cfg.ctc.mask_time.length == 10
