"""The ``finetune`` verb: CTC training on transcribed audio over one unit set for all languages.

    speechxl finetune --config recipes/finetune/ctc_tiny.yaml init=exp/pretrain units=phones \\
        data=data/train valid_data=data/dev out=exp/ctc_phones

``units`` is chars, phones or bpe, read from ``lang_dir`` (default: data/lang_<kind> beside the
first training set). Before training, symbols outside the unit set are counted per language
(they train as <unk>), and utterances whose labels cannot fit their frames are left out, with
a count per language. Without ``init`` the encoder starts from random weights (the baseline
that pretraining must beat). The best checkpoint is the one with the lowest token error rate
on ``valid_data`` (greedy decoding). A run whose best token error rate is still 1.0 has learnt
nothing (CTC's all-blank stage: every hypothesis empty) and ends with an error that says so,
so that a recipe stops instead of decoding and scoring a model that writes nothing.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import torch

from speechxl import checkpoint as ckpt
from speechxl.config import ConfigError, save_config
from speechxl.data.batching import BatchConfig, BatchPlan
from speechxl.data.manifest import Utterance, read_manifest
from speechxl.data.validate import ctc_min_frames
from speechxl.errors import SpeechxlError
from speechxl.models.card import ModelCard, frame_shift_ms
from speechxl.models.ctc import CTCConfig, CTCModel
from speechxl.models.speech_encoder import build_encoder
from speechxl.text.lang_dir import UNIT_KINDS, lang_dir_beside
from speechxl.text.tokenize import load_tokenizer
from speechxl.text.units import Units
from speechxl.train.distributed import finish_distributed, init_distributed
from speechxl.train.exp_lock import lock_experiment
from speechxl.train.schedules import ScheduleConfig
from speechxl.train.setup import (RunConfig, build_model, load_run_config, read_streams, record_start,
                                  start_afresh, stream_batches)
from speechxl.train.metrics import train_log
from speechxl.train.trainer import Trainer

log = logging.getLogger(__name__)


@dataclass(kw_only=True)
class FinetuneConfig(RunConfig):
    """CTC fine-tuning run; without ``init`` the encoder starts from random weights."""

    units: str = "chars"
    """chars, phones or bpe."""
    lang_dir: str | None = None
    """Units stage output; default: lang_<kind> beside the first stream's first data dir."""
    require_learning: bool = True
    """End with an error when the best dev token error rate is 1.0 or more (nothing learnt); false
    only for smoke tests of a few updates."""
    ctc: CTCConfig = field(default_factory=CTCConfig)
    batch: BatchConfig = field(default_factory=lambda: BatchConfig(crop_to_shortest=False, max_seconds=20.0))
    schedule: ScheduleConfig = field(default_factory=lambda: ScheduleConfig(
        kind="tri_stage", warmup_steps=500, hold_steps=2000, init_scale=0.01, final_scale=0.05))

    def validate(self) -> None:
        super().validate()
        if self.units not in UNIT_KINDS:
            raise ConfigError(f"units is one of {list(UNIT_KINDS)}, not {self.units!r}")
        if self.batch.crop_to_shortest:
            raise ConfigError("batch.crop_to_shortest would cut transcribed audio; set it false")

    def resolved_lang_dir(self) -> Path:
        first = next(iter(self.training_streams().values())).data[0]
        return Path(self.lang_dir) if self.lang_dir else lang_dir_beside(first, self.units)


def load_finetune_config(path: str | Path | None, overrides: list[str] = ()) -> FinetuneConfig:
    return load_run_config(FinetuneConfig, path, overrides)


def label_utterances(utts: list[Utterance], lang_dir: Path, units: Units,
                     frames_of=None) -> tuple[list[Utterance], dict[str, list[int]], dict]:
    """Token ids per utterance; left out: untranscribed ones and (given ``frames_of``, samples ->
    frames) those too short for their labels. Returns (kept, labels by id, per-language counts)."""
    tokenizer = load_tokenizer(lang_dir)
    utts = [u for u in utts if u.text or u.phones]
    tokens = tokenizer.tokenize(utts)
    unknown: Counter = Counter()
    infeasible: Counter = Counter()
    kept, labels = [], {}
    for u, toks in zip(utts, tokens):
        ids = units.encode(toks)
        unknown[u.lang] += sum(i == units.unk_id for i in ids)
        if not ids or (frames_of is not None and frames_of(int(u.duration * 16000)) < ctc_min_frames(ids)):
            infeasible[u.lang] += 1
            continue
        kept.append(u)
        labels[u.id] = ids
    report = {"unknown_tokens": dict(unknown), "left_out_too_short": dict(infeasible),
              "kept": dict(Counter(u.lang for u in kept))}
    for lang in sorted(set(unknown) | set(infeasible)):
        if unknown[lang] or infeasible[lang]:
            log.info("labels %s: %d tokens outside the units (trained as <unk>), %d utterances too short "
                     "for their labels left out", lang, unknown[lang], infeasible[lang])
    return kept, labels, report


@train_log
def finetune(cfg: FinetuneConfig) -> dict[str, float]:
    """Run (or resume) CTC fine-tuning; returns the final validation figures."""
    dist = init_distributed()
    out = Path(cfg.out)
    lock = lock_experiment(out) if dist.main else None  # noqa: F841  (held until the run returns)
    if cfg.restart:
        start_afresh(out, dist)
    if not cfg.init.get("speech") and (cfg.ctc.freeze_frontend or cfg.ctc.freeze_encoder_steps):
        # a from-scratch baseline: random weights have nothing worth keeping fixed
        log.info("no init: the frontend and encoder train from the first step (freezing settings ignored)")
        cfg.ctc.freeze_frontend, cfg.ctc.freeze_encoder_steps = False, 0
    lang_dir = cfg.resolved_lang_dir()
    units = Units.load(lang_dir / "units.txt")
    resumed = ckpt.resolve(out / "checkpoints", "last")
    if resumed is not None and (resumed / "units.txt").read_text(encoding="utf-8") != (
            lang_dir / "units.txt").read_text(encoding="utf-8"):
        raise ConfigError(f"{out}: its checkpoints were trained on other units than {lang_dir / 'units.txt'} (the "
                          "head's rows would mean other units); give another out")
    streams = read_streams(cfg)
    model = build_model(cfg, lambda model_cfg: CTCModel(build_encoder(model_cfg), len(units), cfg.ctc),
                        dist.rank, [u for us in streams.values() for u in us])

    def frames_of(samples: int) -> int:
        return int(model.backbone.frontend.output_lengths(torch.tensor(samples)))

    labels, report = {}, {}
    for name, utts in streams.items():
        streams[name], stream_labels, report[name] = label_utterances(utts, lang_dir, units, frames_of)
        labels |= stream_labels
    valid_utts, valid_labels, _ = label_utterances(
        [u for d in cfg.valid_data for u in read_manifest(d)], lang_dir, units, frames_of)
    labels |= valid_labels
    if dist.main:
        out.mkdir(parents=True, exist_ok=True)
        save_config(cfg, out / "config.yaml")
        ModelCard(family=cfg.family, model=cfg.model, ctc=cfg.ctc, vocabulary=len(units), units=cfg.units,
                  voices=json.loads((lang_dir / "info.json").read_text(encoding="utf-8")).get("voices"),
                  frame_shift_ms=frame_shift_ms(model.backbone.frontend),
                  provenance={"init": cfg.init, "lang_dir": str(lang_dir),
                              "training_data": [d for s in cfg.training_streams().values() for d in s.data]}
                  ).save(out / "card.json")
        (out / "labels.json").write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
        log.info("CTC over %d %s units; %.2fM parameters (%.2fM trained); out %s", len(units), cfg.units,
                 sum(p.numel() for p in model.parameters()) / 1e6,
                 sum(p.numel() for p in model.parameters() if p.requires_grad) / 1e6, out)
    train = stream_batches(cfg, streams, dist, labels=lambda u: labels[u.id])
    valid = (BatchPlan(valid_utts, cfg.batch, cfg.train.seed, None, shuffle=False, rank=dist.rank,
                       world=dist.world) if valid_utts else None)
    files = {"units.txt": lang_dir / "units.txt", "lang_info.json": lang_dir / "info.json",
             "card.json": out / "card.json"}
    files |= {f.name: f for f in sorted(lang_dir.glob("units_*.txt"))}  # each language's own units
    if (lang_dir / "bpe.model").is_file():
        files["bpe.model"] = lang_dir / "bpe.model"
    trainer = Trainer(model, train, valid, out, cfg,
                      cfg.optim, cfg.schedule, cfg.train, cfg.batch.num_workers, dist,
                      labels=lambda u: labels[u.id], files=files,
                      best_metric="error_rate" if valid else "loss")
    resumed = trainer.resume()
    if dist.main:
        record_start(out, resumed)
    figures = trainer.fit()
    step, best = trainer.step, trainer.best
    del trainer, model  # the DistributedDataParallel wrapper goes before the process group
    finish_distributed(dist)
    if dist.main and figures:
        log.info("done at step %d: valid token error rate %.4f, loss %.4f", step,
                 figures.get("error_rate", float("nan")), figures["loss"])
    if cfg.require_learning and valid and best is not None and best >= 1.0:
        raise SpeechxlError(
            f"{out}: fine-tuning learnt nothing: the best dev token error rate in {step} updates is "
            f"{best:.2f} (1.0: CTC's all-blank stage, every hypothesis empty); train longer "
            "(train.max_steps), from a longer-pretrained model, or at another optim.lr")
    return figures
