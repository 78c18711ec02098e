"""The ``finetune`` verb: a task's head trained on the speech encoder (train/tasks.py): CTC over one
unit set for all languages, language ID, or both.

    speechxl finetune --config recipes/finetune/ctc_tiny.yaml init=exp/pretrain units=phones \\
        data=data/train valid_data=data/dev out=exp/ctc_phones
    speechxl finetune --config recipes/finetune/lid_tiny.yaml init=exp/pretrain data=data/train \\
        valid_data=data/dev out=exp/lid
    speechxl finetune --config recipes/finetune/ctc_tiny.yaml init=mms-1b-all adapter=mms ...  # base frozen

CTC: ``units`` is chars, phones or bpe, read from ``lang_dir`` (default: data/lang_<kind> beside the
first training set). Before training, symbols outside the unit set are counted per language
(they train as <unk>), and utterances whose labels cannot fit their frames are left out, with
a count per language. Without ``init`` the encoder starts from random weights (the baseline
that pretraining must beat). The best checkpoint is the one with the lowest token error rate
on ``valid_data`` (greedy decoding; language ID: the share of utterances given the wrong
language). A run whose best error rate is still 1.0 has learnt nothing (CTC's all-blank stage:
every hypothesis empty) and ends with an error that says so, so that a recipe stops instead of
decoding and scoring a model that writes nothing.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

import torch

from speechxl import checkpoint as ckpt
from speechxl.config import ConfigError, save_config
from speechxl.data.batching import BatchConfig, BatchPlan
from speechxl.data.manifest import read_manifest
from speechxl.errors import SpeechxlError
from speechxl.atomic import atomic_write
from speechxl.interop.frozen_base import BASE_FILE, base_reference, base_weights
from speechxl.models.adapters import AdapterConfig, FullFinetuning, adapted_architecture, with_adapter
from speechxl.models.card import ModelCard, frame_shift_ms
from speechxl.models.ctc import CTCConfig
from speechxl.models.lid import LIDConfig
from speechxl.text.lang_dir import UNIT_KINDS
from speechxl.train.distributed import finish_distributed, init_distributed
from speechxl.dir_lock import lock_dir
from speechxl.train.schedules import ScheduleConfig
from speechxl.train.setup import (RunConfig, build_model, load_partial, load_run_config, read_streams,
                                  record_start, start_afresh, stream_batches)
from speechxl.train.metrics import train_log
from speechxl.train.tasks import TASKS, make_task
from speechxl.train.trainer import Trainer

log = logging.getLogger(__name__)


@dataclass(kw_only=True)
class FinetuneConfig(RunConfig):
    """Fine-tuning run; without ``init`` the encoder starts from random weights."""

    task: str = "ctc"
    """ctc (a recogniser over units), lid (spoken language ID) or ctc+lid (both heads)."""
    units: str = "chars"
    """chars, phones or bpe: the CTC head's units."""
    require_learning: bool = True
    """End with an error when the best dev error rate is 1.0 or more (nothing learnt); false
    only for smoke tests of a few updates."""
    ctc: CTCConfig = field(default_factory=CTCConfig)
    """The encoder's fine-tuning (frozen parts, SpecAugment; every task) and the CTC head's dropout."""
    lid: LIDConfig = field(default_factory=LIDConfig)
    adapter: AdapterConfig = field(default_factory=FullFinetuning)
    """What trains of the encoder: all of it (none), or MMS's language adapters or LoRA with the rest
    frozen (``adapter=mms``, ``adapter=lora``; models/adapters.py)."""
    batch: BatchConfig = field(default_factory=lambda: BatchConfig(crop_to_shortest=False, max_seconds=20.0))
    schedule: ScheduleConfig = field(default_factory=lambda: ScheduleConfig(
        kind="tri_stage", warmup_steps=500, hold_steps=2000, init_scale=0.01, final_scale=0.05))

    def validate(self) -> None:
        super().validate()
        if self.task not in TASKS:
            raise ConfigError(f"task is one of {list(TASKS)}, not {self.task!r}")
        if not self.units and self.task != "lid":
            raise ConfigError(f"units is one of {list(UNIT_KINDS)}, not empty")
        if self.batch.crop_to_shortest:
            raise ConfigError("batch.crop_to_shortest would cut transcribed audio; set it false")
        if not isinstance(self.adapter, FullFinetuning) and not self.init.get("speech"):
            raise ConfigError(f"adapter {self.adapter.type}: an adapter trains on a frozen pretrained model; "
                              "give it as init=")


def load_finetune_config(path: str | Path | None, overrides: list[str] = ()) -> FinetuneConfig:
    return load_run_config(FinetuneConfig, path, overrides)


@train_log
def finetune(cfg: FinetuneConfig) -> dict[str, float]:
    """Run (or resume) fine-tuning; returns the final validation figures."""
    dist = init_distributed()
    out = Path(cfg.out)
    lock = lock_dir(out) if dist.main else None  # noqa: F841  (held until the run returns)
    if cfg.restart:
        start_afresh(out, dist)
    if not cfg.init.get("speech") and (cfg.ctc.freeze_frontend or cfg.ctc.freeze_encoder_steps):
        # a from-scratch baseline: random weights have nothing worth keeping fixed
        log.info("no init: the frontend and encoder train from the first step (freezing settings ignored)")
        cfg.ctc.freeze_frontend, cfg.ctc.freeze_encoder_steps = False, 0
    streams = read_streams(cfg)
    task = make_task(cfg, streams)
    model = build_model(cfg, task.build, dist.rank, [u for us in streams.values() for u in us],
                        lambda m: adapted_architecture(m, cfg.adapter))
    with_adapter(model, cfg.adapter)
    saved = None
    if not isinstance(cfg.adapter, FullFinetuning):  # checkpoints hold what trains, and name the frozen base
        saved = {n for n, p in model.named_parameters() if p.requires_grad} | {n for n, _ in model.named_buffers()}
        if (last := ckpt.resolve(out / "checkpoints", "last")) is not None:
            load_partial(model, base_weights(last), f"the frozen base {last / BASE_FILE} names")

    def frames_of(samples: int) -> int:
        return int(model.backbone.frontend.output_lengths(torch.tensor(samples)))

    labels, report = {}, {}
    for name, utts in streams.items():
        streams[name], stream_labels, report[name] = task.labelled(utts, frames_of)
        labels |= stream_labels or {}
    valid_utts, valid_labels, _ = task.labelled([u for d in cfg.valid_data for u in read_manifest(d)], frames_of)
    labels |= valid_labels or {}
    labelled = lambda u: labels[u.id]  # noqa: E731
    if dist.main:
        out.mkdir(parents=True, exist_ok=True)
        save_config(cfg, out / "config.yaml")
        ModelCard(family=cfg.family, model=cfg.model, ctc=cfg.ctc, frame_shift_ms=frame_shift_ms(model.backbone.frontend),
                  adapter=cfg.adapter,
                  provenance={"init": cfg.init, "lang_dir": str(task.lang_dir) if task.lang_dir else None,
                              "training_data": [d for s in cfg.training_streams().values() for d in s.data]},
                  **task.card()).save(out / "card.json")
        (out / "labels.json").write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
        if saved is not None and not (out / BASE_FILE).is_file():  # a resumed run's base was checked above
            atomic_write(out / BASE_FILE, json.dumps(base_reference(cfg.init["speech"]), indent=1) + "\n")
        log.info("%s; %.2fM parameters (%.2fM trained); out %s", task.describe(),
                 sum(p.numel() for p in model.parameters()) / 1e6,
                 sum(p.numel() for p in model.parameters() if p.requires_grad) / 1e6, out)
    train = stream_batches(cfg, streams, dist, labels={name: labelled for name in streams} if labels else None)
    valid = (BatchPlan(valid_utts, cfg.batch, cfg.train.seed, None, shuffle=False, rank=dist.rank,
                       world=dist.world, labels=labelled if labels else None) if valid_utts else None)
    files = {**task.files(), "card.json": out / "card.json", **({BASE_FILE: out / BASE_FILE} if saved else {})}
    trainer = Trainer(model, train, valid, out, cfg, cfg.optim, cfg.schedule, cfg.train, dist, files=files,
                      best_metric="error_rate" if valid else "loss", saved=saved)
    resumed = trainer.resume()
    if dist.main:
        record_start(out, resumed)
    figures = trainer.fit()
    step, best = trainer.step, trainer.best
    del trainer, model  # the DistributedDataParallel wrapper goes before the process group
    finish_distributed(dist)
    if dist.main and figures:
        log.info("done at step %d: valid error rate %.4f, loss %.4f", step,
                 figures.get("error_rate", float("nan")), figures["loss"])
    if cfg.require_learning and valid and best is not None and best >= 1.0:
        raise SpeechxlError(
            f"{out}: fine-tuning learnt nothing: the best dev error rate in {step} updates is "
            f"{best:.2f} (1.0: CTC's all-blank stage, every hypothesis empty); train longer "
            "(train.max_steps), from a longer-pretrained model, or at another optim.lr")
    return figures
