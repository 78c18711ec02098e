"""What every training verb does before training: read its config, find its initial weights.

A run config is a dataclass with a ``family`` and a ``model`` section typed by that family
(speechxl.models.registry). ``init`` names a speechxl checkpoint (a checkpoint dir, a
checkpoints dir or an experiment dir) or a Hugging Face model dir; the model then takes the
initial model's architecture, and keeps the run's own training settings.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, TypeVar

import torch

from speechxl.config import ConfigError, apply_overrides, from_dict, read_yaml, validate
from speechxl.models.registry import FAMILIES
from speechxl.train import checkpoint as ckpt

log = logging.getLogger(__name__)
T = TypeVar("T")


def load_run_config(cls: type[T], path: str | Path | None, overrides: list[str] = ()) -> T:
    """Preset + overrides; ``data``/``valid_data`` may be one dir or a comma list; ``model`` is
    typed by ``family``."""
    raw = apply_overrides(read_yaml(path) if path else {}, list(overrides))
    for key in ("data", "valid_data"):
        if isinstance(raw.get(key), str):
            raw[key] = raw[key].split(",")
    family = raw.get("family", "wav2vec2")
    if family not in FAMILIES:
        raise ConfigError(f"family: unknown {family!r}; known: {sorted(FAMILIES)}")
    model = from_dict(FAMILIES[family].config, raw.pop("model", {}) or {}, "model")
    cfg = from_dict(cls, raw)
    cfg.model = model
    validate(cfg)
    return cfg


def initial_weights(family: str, model_cfg: Any, init: str) -> tuple[Any, dict[str, torch.Tensor], str]:
    """(model config with the initial model's architecture, its weights, a description)."""
    fam = FAMILIES[family]
    from speechxl.interop.hf_wav2vec2 import is_hf_dir, load_hf

    if is_hf_dir(init):
        init_model, state = load_hf(init)
        source = f"Hugging Face model {init}"
    else:
        found = ckpt.find_checkpoint(init)
        saved = read_yaml(found / "config.yaml")
        if saved.get("family", family) != family:
            raise ConfigError(f"init {found} is a {saved.get('family')} model, not {family}")
        init_model = from_dict(fam.config, saved["model"], "model")
        state = ckpt.load_model_state(found)
        source = f"speechxl checkpoint {found}"
    return fam.copy_architecture(model_cfg, init_model), state, source


def load_partial(model: torch.nn.Module, state: dict[str, torch.Tensor], source: str) -> None:
    """Load the parameters of ``state`` that fit ``model``; log what starts fresh or goes unused."""
    own = model.state_dict()
    fitting = {k: v for k, v in state.items() if k in own and own[k].shape == v.shape}
    mismatched = sorted(k for k in state if k in own and own[k].shape != state[k].shape)
    missing, unused = model.load_state_dict(fitting, strict=False)
    log.info("init from %s: %d tensors loaded", source, len(fitting))
    if missing:
        log.info("  %d start fresh, e.g. %s", len(missing), missing[:3])
    if unused or mismatched:
        log.info("  %d unused, e.g. %s", len(unused) + len(mismatched), (list(unused) + mismatched)[:3])
