"""Learning-rate schedules, as a multiplier of the peak learning rate per update.

  constant   warm-up, then 1
  linear     warm-up, then linear decay to ``final_scale`` at the last update
  cosine     warm-up, then cosine decay to ``final_scale``
  tri_stage  warm-up from ``init_scale``, hold at 1 for ``hold_steps``, exponential decay to
             ``final_scale`` over ``decay_steps`` (0: until the last update), then stay (fairseq's
             schedule for wav2vec 2.0 fine-tuning)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from speechxl.config import ConfigError


@dataclass(kw_only=True)
class ScheduleConfig:
    """Learning-rate schedule."""

    kind: str = "linear"
    """constant, linear, cosine or tri_stage."""
    warmup_steps: int = 0
    hold_steps: int = 0
    """tri_stage: updates at the peak after warm-up."""
    decay_steps: int = 0
    """tri_stage: updates of exponential decay; 0 = until the last update."""
    init_scale: float = 0.0
    """Multiplier at the first update of warm-up."""
    final_scale: float = 0.0
    """Multiplier at the end of decay."""

    def validate(self) -> None:
        if self.kind not in ("constant", "linear", "cosine", "tri_stage"):
            raise ConfigError(f"kind is constant, linear, cosine or tri_stage, not {self.kind!r}")
        if self.kind == "tri_stage" and self.final_scale <= 0:
            raise ConfigError("tri_stage decays exponentially: final_scale must be > 0")


def lr_scale(step: int, max_steps: int, cfg: ScheduleConfig) -> float:
    """Multiplier of the peak learning rate at update ``step`` (0-based) of ``max_steps``."""
    if step < cfg.warmup_steps:
        return cfg.init_scale + (1 - cfg.init_scale) * step / cfg.warmup_steps
    t = step - cfg.warmup_steps
    if cfg.kind == "constant":
        return 1.0
    if cfg.kind == "tri_stage":
        if t < cfg.hold_steps:
            return 1.0
        t -= cfg.hold_steps
        decay = cfg.decay_steps or max(max_steps - cfg.warmup_steps - cfg.hold_steps, 1)
        return math.exp(math.log(cfg.final_scale) * min(t / decay, 1.0))
    frac = min(t / max(max_steps - cfg.warmup_steps, 1), 1.0)
    if cfg.kind == "linear":
        return 1 + (cfg.final_scale - 1) * frac
    return cfg.final_scale + (1 - cfg.final_scale) * 0.5 * (1 + math.cos(math.pi * frac))
