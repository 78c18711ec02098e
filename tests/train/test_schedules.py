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
