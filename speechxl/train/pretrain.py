"""The ``pretrain`` verb: self-supervised training on untranscribed audio.

    speechxl pretrain --config recipes/pretrain/wav2vec2_tiny.yaml data=data/pretrain out=exp/w2v
    speechxl pretrain ... init=<speechxl checkpoint | Hugging Face model dir>   # continued pretraining
    torchrun --nproc_per_node 2 -m speechxl pretrain ...                        # data-parallel

With ``init``, the model takes the initial model's architecture (sizes, layer order, codebook)
and weights; training settings (masking, loss weights, dropouts) stay the preset's. A run whose
``out`` already holds checkpoints resumes from the last one instead.

A joint family (``mslam``) also reads paired streams (``streams.<name>.kind=paired``: transcribed
audio, the transcripts as ids of the run's ``units``, never cropped; utterances too short for their
labels left out) and text streams (``kind=text``: dirs of <lang>.txt, in the same units, batched
by ``text_batch``); validation stays on speech (``valid_data``).

A family with frame-label targets (``hubert``) reads ``labels=`` (speechxl kmeans's out dir, which
covers the training and validation utterances): its label count sets ``model.clusters``, the model's
frame shift must be a whole number of label frames (``model.label_stride``: 20 ms MFCC labels serve
a 40 ms log-mel model), and crops are cut at whole label frames (``data/batching.py``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from pathlib import Path

import torch

from speechxl.config import ConfigError, save_config
from speechxl.data.batching import BatchPlan
from speechxl.data.frame_store import FrameStore
from speechxl.data.manifest import read_manifest
from speechxl.data.text_batching import TextBatchConfig, TextBatchPlan
from speechxl.models.card import frame_shift_ms
from speechxl.models.speech_encoder import FRONTENDS
from speechxl.models.registry import FAMILIES
from speechxl.text.units import BLANK, Units
from speechxl.train.distributed import finish_distributed, init_distributed
from speechxl.dir_lock import lock_dir
from speechxl.train.labels import label_utterances, read_texts, unit_sentences
from speechxl.train.setup import RunConfig, build_model, load_run_config, record_start, start_afresh, stream_batches
from speechxl.train.metrics import train_log
from speechxl.train.trainer import Trainer

log = logging.getLogger(__name__)


@dataclass(kw_only=True)
class PretrainConfig(RunConfig):
    """Self-supervised pretraining run (transcripts in the data, if any, are ignored, but for a joint
    family's paired streams)."""

    text_batch: TextBatchConfig = field(default_factory=lambda: TextBatchConfig(max_tokens=4096, max_length=128))
    """Batches of a joint family's text streams, in units."""
    labels: str = ""
    """Frame labels of the training and validation audio (speechxl kmeans's out dir): what a family
    with frame-label targets (hubert) predicts."""


def load_pretrain_config(path: str | Path | None, overrides: list[str] = ()) -> PretrainConfig:
    return load_run_config(PretrainConfig, path, overrides)


def _stream_kinds(cfg: PretrainConfig) -> dict[str, str]:
    """Each stream's kind, checked against what the family reads."""
    family = FAMILIES[cfg.family]
    kinds = {name: s.kind for name, s in cfg.training_streams().items()}
    unread = sorted(set(kinds.values()) - set(family.streams))
    if unread:
        raise ConfigError(f"a {cfg.family} model reads {', '.join(family.streams)} streams, not "
                          f"{', '.join(unread)} (streams.<name>.kind)")
    if family.streams != ("speech",) and not cfg.units:
        raise ConfigError(f"units: a {cfg.family} model reads transcripts and text: give units=chars or units=phones "
                          "(a lang dir of the units stage)")
    return kinds


def _frame_labels(cfg: PretrainConfig) -> FrameStore | None:
    """The run's frame labels, for a family that predicts them; its ``clusters`` set from them."""
    if not FAMILIES[cfg.family].frame_labels:
        if cfg.labels:
            raise ConfigError(f"labels: a {cfg.family} model makes its own targets; labels= is for hubert")
        return None
    if not cfg.labels:
        raise ConfigError(f"labels: a {cfg.family} model predicts frame labels: give labels=<speechxl kmeans out dir>")
    store = FrameStore(cfg.labels)
    if "clusters" not in store.info:
        raise ConfigError(f"labels: {cfg.labels} holds features, not k-means labels (speechxl kmeans writes them)")
    cfg.model = replace(cfg.model, clusters=store.info["clusters"], label_stride=_label_stride(
        store, FRONTENDS[type(cfg.model.frontend)](cfg.model.frontend), cfg.labels))
    return store


def _label_stride(labels: FrameStore, frontend: torch.nn.Module, path: str) -> int:
    """Labels per model frame: the frontend's frame shift over the labels', a whole number."""
    model_ms = frame_shift_ms(frontend)
    stride = round(model_ms / labels.frame_shift_ms)
    if stride < 1 or abs(stride * labels.frame_shift_ms - model_ms) > 1e-3:
        raise ConfigError(f"labels: {path} has a label every {labels.frame_shift_ms:g} ms, the model a frame every "
                          f"{model_ms:g} ms, not a whole number of labels (dump-features --frame_shift, or another "
                          "layer's model)")
    return stride


@train_log
def pretrain(cfg: PretrainConfig) -> dict[str, float]:
    """Run (or resume) pretraining; returns the final validation figures."""
    dist = init_distributed()
    out = Path(cfg.out)
    lock = lock_dir(out) if dist.main else None  # noqa: F841  (held until the run returns)
    if cfg.restart:
        start_afresh(out, dist)
    kinds = _stream_kinds(cfg)
    streams = cfg.training_streams()
    files, lang_dir, units = {}, None, None
    if FAMILIES[cfg.family].streams != ("speech",):  # a joint family: its text and CTC head are in the units
        lang_dir = cfg.resolved_lang_dir()
        units = Units.load(lang_dir / "units.txt")
        cfg.model = replace(cfg.model, vocabulary=len(units))
        files = {"units.txt": lang_dir / "units.txt"}
    frame_labels = _frame_labels(cfg)
    audio = {name: [u for d in s.data for u in read_manifest(d)] for name, s in streams.items() if kinds[name] != "text"}
    model = build_model(cfg, FAMILIES[cfg.family].build, dist.rank, [u for us in audio.values() for u in us])
    if frame_labels is not None and _label_stride(frame_labels, model.backbone.frontend, cfg.labels) != model.label_stride:
        raise ConfigError(f"labels: init's frontend has another frame rate than {cfg.labels} was made for")
    labels = {}
    for name in (n for n, kind in kinds.items() if kind == "paired"):
        audio[name], ids, _ = label_utterances(
            audio[name], lang_dir, units, lambda s: int(model.backbone.frontend.output_lengths(torch.tensor(s))))
        labels[name] = lambda u, ids=ids: ids[u.id]
    text = {name: TextBatchPlan(unit_sentences(read_texts(streams[name].data), lang_dir, units, cfg.text_batch.max_length),
                                cfg.text_batch, cfg.train.seed, units.index[BLANK], streams[name].sampling,
                                rank=dist.rank, world=dist.world) for name, kind in kinds.items() if kind == "text"}
    if dist.main:
        out.mkdir(parents=True, exist_ok=True)
        save_config(cfg, out / "config.yaml")
        n_params = sum(p.numel() for p in model.parameters())
        log.info("%s model: %.2fM parameters; out %s", cfg.family, n_params / 1e6, out)
    train = stream_batches(cfg, audio, dist, labels, text, frame_labels)
    valid_utts = [u for d in cfg.valid_data for u in read_manifest(d)]
    valid = (BatchPlan(valid_utts, cfg.batch, cfg.train.seed, None, shuffle=False, rank=dist.rank, world=dist.world,
                       frame_labels=frame_labels) if valid_utts else None)
    trainer = Trainer(model, train, valid, out, cfg, cfg.optim, cfg.schedule, cfg.train, dist, files=files)
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
