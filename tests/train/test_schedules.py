import math

import pytest

from speechxl.config import ConfigError
from speechxl.train.schedules import ScheduleConfig, lr_scale


def test_linear_and_cosine():
    cfg = ScheduleConfig(kind="linear", warmup_steps=10, final_scale=0.0)
    assert [lr_scale(s, 110, cfg) for s in (0, 5, 10, 60, 110)] == pytest.approx([0, 0.5, 1, 0.5, 0])
    cos = ScheduleConfig(kind="cosine", warmup_steps=0, final_scale=0.1)
    assert lr_scale(50, 100, cos) == pytest.approx(0.55) and lr_scale(100, 100, cos) == pytest.approx(0.1)
    assert lr_scale(99, 100, ScheduleConfig(kind="constant", warmup_steps=0)) == 1


def test_tri_stage():
    cfg = ScheduleConfig(kind="tri_stage", warmup_steps=10, hold_steps=40, decay_steps=50, init_scale=0.01,
                         final_scale=0.05)
    assert lr_scale(0, 100, cfg) == pytest.approx(0.01)
    assert lr_scale(10, 100, cfg) == lr_scale(49, 100, cfg) == 1
    assert lr_scale(75, 100, cfg) == pytest.approx(math.sqrt(0.05))
    assert lr_scale(100, 100, cfg) == lr_scale(500, 100, cfg) == pytest.approx(0.05)
    with pytest.raises(ConfigError):
        ScheduleConfig(kind="tri_stage", final_scale=0).validate()


def test_a_budget_share_scales_the_budget_and_keeps_the_schedule_shape(run_cli, capsys):
    """--budget_share 1/6: one of six monolingual models at a multilingual model's total cost."""
    from pathlib import Path

    import yaml

    from speechxl.train.pretrain import load_pretrain_config
    from speechxl.train.setup import share_budget

    cfg = load_pretrain_config(None, ["data=d", "out=o", "train.max_steps=4000", "train.max_minutes=6",
                                      "schedule.kind=tri_stage", "schedule.final_scale=0.05",
                                      "schedule.warmup_steps=300", "schedule.hold_steps=1200"])
    share_budget(cfg, 1 / 6)
    assert (cfg.train.max_steps, cfg.train.max_minutes) == (667, 1.0)
    assert (cfg.schedule.warmup_steps, cfg.schedule.hold_steps, cfg.schedule.decay_steps) == (50, 200, 0)
    with pytest.raises(ConfigError, match="budget share 1.5: a share of the preset's budget is in"):
        share_budget(cfg, 1.5)
    preset = Path(__file__).resolve().parents[2] / "recipes/pretrain/w2v_bert_tiny.yaml"
    run_cli("pretrain", "--config", preset, "--budget_share", "1/4", "--print_config")
    printed = yaml.safe_load(capsys.readouterr().out)
    assert printed["train"]["max_steps"] == 1000 and printed["schedule"]["warmup_steps"] == 75
