"""The ``pretrain`` verb: self-supervised training on untranscribed audio.

    speechxl pretrain --config recipes/pretrain/wav2vec2_tiny.yaml data=data/pretrain out=exp/w2v
    speechxl pretrain ... init=<speechxl checkpoint | Hugging Face model dir>   # continued pretraining
    torchrun --nproc_per_node 2 -m speechxl pretrain ...                        # data-parallel

With ``init``, the model takes the initial model's architecture (sizes, layer order, codebook)
and weights; training settings (masking, loss weights, dropouts) stay the preset's. A run whose
``out`` already holds checkpoints resumes from the last one instead.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from speechxl.config import ConfigError, from_dict, read_yaml, save_config
from speechxl.data.batching import BatchConfig, BatchPlan
from speechxl.data.manifest import read_manifest
from speechxl.data.sampling import SamplingConfig, log_shares
from speechxl.models.registry import FAMILIES
from speechxl.train import checkpoint as ckpt
from speechxl.train.distributed import init_distributed
from speechxl.train.schedules import ScheduleConfig
from speechxl.train.setup import initial_weights, load_partial, load_run_config
from speechxl.train.trainer import OptimConfig, TrainConfig, Trainer

log = logging.getLogger(__name__)


@dataclass(kw_only=True)
class PretrainConfig:
    """Self-supervised pretraining run."""

    family: str = "wav2vec2"
    """Model family: a key of speechxl.models.registry.FAMILIES."""
    data: list[str] = field(default_factory=list)
    """Data dirs of training audio (transcripts, if any, are ignored)."""
    valid_data: list[str] = field(default_factory=list)
    """Data dirs of held-out audio for the validation loss."""
    out: str = ""
    """Experiment dir: checkpoints/, log.jsonl, tensorboard/, config.yaml."""
    init: str | None = None
    """speechxl checkpoint or Hugging Face model dir to start from."""
    model: Any = None
    """The family's model config."""
    batch: BatchConfig = field(default_factory=BatchConfig)
    sampling: SamplingConfig = field(default_factory=SamplingConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def validate(self) -> None:
        if not self.data:
            raise ConfigError("data: give the training data dirs, e.g. data=data/pretrain")
        if not self.out:
            raise ConfigError("out: give the experiment dir, e.g. out=exp/pretrain")


def load_pretrain_config(path: str | Path | None, overrides: list[str] = ()) -> PretrainConfig:
    return load_run_config(PretrainConfig, path, overrides)


def pretrain(cfg: PretrainConfig) -> dict[str, float]:
    """Run (or resume) pretraining; returns the final validation figures."""
    dist = init_distributed()
    out = Path(cfg.out)
    resuming = ckpt.resolve(out / "checkpoints", "last") is not None
    init_state = None
    if resuming:  # the run's own config decides the architecture
        cfg.model = from_dict(FAMILIES[cfg.family].config, read_yaml(out / "config.yaml")["model"], "model")
    elif cfg.init:
        cfg.model, init_state, source = initial_weights(cfg.family, cfg.model, cfg.init)
    torch.manual_seed(cfg.train.seed)  # the same initial weights on every worker
    model = FAMILIES[cfg.family].build(cfg.model)
    if init_state is not None:
        load_partial(model, init_state, source)
    torch.manual_seed(cfg.train.seed + dist.rank)
    if dist.main:
        out.mkdir(parents=True, exist_ok=True)
        save_config(cfg, out / "config.yaml")
        n_params = sum(p.numel() for p in model.parameters())
        log.info("%s model: %.2fM parameters; out %s", cfg.family, n_params / 1e6, out)

    utts = [u for d in cfg.data for u in read_manifest(d)]
    if dist.main:
        shares = log_shares([u.lang for u in utts], [u.duration for u in utts], cfg.sampling)
        (out / "sampling.json").write_text(json.dumps(shares, indent=1) + "\n")
    train = BatchPlan(utts, cfg.batch, cfg.train.seed, cfg.sampling, rank=dist.rank, world=dist.world)
    valid_utts = [u for d in cfg.valid_data for u in read_manifest(d)]
    valid = (BatchPlan(valid_utts, cfg.batch, cfg.train.seed, None, shuffle=False, rank=dist.rank, world=dist.world)
             if valid_utts else None)
    trainer = Trainer(model, lambda m, b: m(b["wav"], b["lengths"]), train, valid, out, cfg, cfg.optim,
                      cfg.schedule, cfg.train, cfg.batch.num_workers, dist)
    trainer.resume()
    figures = trainer.fit()
    if dist.main and figures:
        log.info("done at step %d: valid %s", trainer.step,
                 ", ".join(f"{k} {v:.4g}" for k, v in figures.items() if isinstance(v, float)))
    return figures
