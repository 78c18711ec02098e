"""The ``pretrain`` verb: self-supervised training on untranscribed audio.

    speechxl pretrain --config recipes/pretrain/wav2vec2_tiny.yaml data=data/pretrain out=exp/w2v
    speechxl pretrain ... init=<speechxl checkpoint | Hugging Face model dir>   # continued pretraining
    torchrun --nproc_per_node 2 -m speechxl pretrain ...                        # data-parallel

With ``init``, the model takes the initial model's architecture (sizes, layer order, codebook)
and weights; training settings (masking, loss weights, dropouts) stay the preset's. A run whose
``out`` already holds checkpoints resumes from the last one instead.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from speechxl.config import save_config
from speechxl.data.batching import BatchPlan
from speechxl.data.manifest import read_manifest
from speechxl.models.registry import FAMILIES
from speechxl.train.distributed import finish_distributed, init_distributed
from speechxl.train.exp_lock import lock_experiment
from speechxl.train.setup import (RunConfig, build_model, load_run_config, read_streams, record_start,
                                  start_afresh, stream_batches)
from speechxl.train.metrics import train_log
from speechxl.train.trainer import Trainer

log = logging.getLogger(__name__)


@dataclass(kw_only=True)
class PretrainConfig(RunConfig):
    """Self-supervised pretraining run (transcripts in the data, if any, are ignored)."""


def load_pretrain_config(path: str | Path | None, overrides: list[str] = ()) -> PretrainConfig:
    return load_run_config(PretrainConfig, path, overrides)


@train_log
def pretrain(cfg: PretrainConfig) -> dict[str, float]:
    """Run (or resume) pretraining; returns the final validation figures."""
    dist = init_distributed()
    out = Path(cfg.out)
    lock = lock_experiment(out) if dist.main else None  # noqa: F841  (held until the run returns)
    if cfg.restart:
        start_afresh(out, dist)
    utts = read_streams(cfg)
    model = build_model(cfg, FAMILIES[cfg.family].build, dist.rank, [u for us in utts.values() for u in us])
    if dist.main:
        out.mkdir(parents=True, exist_ok=True)
        save_config(cfg, out / "config.yaml")
        n_params = sum(p.numel() for p in model.parameters())
        log.info("%s model: %.2fM parameters; out %s", cfg.family, n_params / 1e6, out)
    train = stream_batches(cfg, utts, dist)
    valid_utts = [u for d in cfg.valid_data for u in read_manifest(d)]
    valid = (BatchPlan(valid_utts, cfg.batch, cfg.train.seed, None, shuffle=False, rank=dist.rank, world=dist.world)
             if valid_utts else None)
    trainer = Trainer(model, train, valid, out, cfg, cfg.optim,
                      cfg.schedule, cfg.train, cfg.batch.num_workers, dist)
    resumed = trainer.resume()
    if dist.main:
        record_start(out, resumed)
    figures = trainer.fit()
    step = trainer.step
    del trainer, model  # the DistributedDataParallel wrapper goes before the process group
    finish_distributed(dist)
    if dist.main and figures:
        log.info("done at step %d: valid %s", step,
                 ", ".join(f"{k} {v:.4g}" for k, v in figures.items() if isinstance(v, float)))
    return figures
