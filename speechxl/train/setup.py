"""What every training verb does before training: read its config, find its initial weights.

A run config is a dataclass with a ``family`` and a ``model`` section typed by that family
(speechxl.models.registry). ``init`` names a speechxl checkpoint (a checkpoint dir, a
checkpoints dir or an experiment dir) or a Hugging Face model dir; the model then takes the
initial model's architecture, and keeps the run's own training settings.
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import dataclass, field, fields, is_dataclass, replace
from pathlib import Path
from typing import Any, Callable, TypeVar

import torch
from torch import nn

from speechxl.config import (ConfigError, apply_overrides, from_dict, merge_dicts, part_config, read_yaml, to_dict,
                             validate)
from speechxl.atomic import atomic_write
from speechxl.data.augment import AugmentConfig
from speechxl.data.batching import BatchConfig, BatchPlan
from speechxl.data.frame_store import FrameStore
from speechxl.data.manifest import Utterance, read_manifest
from speechxl.data.sampling import SamplingConfig, log_shares
from speechxl.data.streams import MixedStreams, StreamConfig
from speechxl.data.text_batching import TextBatchPlan
from speechxl.models.registry import FAMILIES, model_config, saved_architecture
from speechxl.models.speech_encoder import TRAINING_FIELDS
from speechxl.models.text_encoder import SentenceTeacher, TextMLM
from speechxl.text.xlmr_tokenizer import XlmrTokenizer
from speechxl.text.lang_dir import UNIT_KINDS, lang_dir_beside
from speechxl import checkpoint as ckpt
from speechxl.train.distributed import Dist, all_gather
from speechxl.train.schedules import ScheduleConfig
from speechxl.train.trainer import OptimConfig, TrainConfig
from speechxl.versions import versions

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(kw_only=True)
class RunConfig:
    """What every training run has: data, where it goes, where it starts, how it trains."""

    family: str = "wav2vec2"
    """Model family: a key of speechxl.models.registry.FAMILIES; by default init's or architecture's."""
    data: list[str] = field(default_factory=list)
    """Data dirs of training audio: the run's one stream (or give ``streams``)."""
    streams: dict[str, StreamConfig] = field(default_factory=dict)
    """Named streams instead of ``data``, each with its data dirs and a weight, e.g.
    streams.target.data=data/ain streams.target.weight=0.7 streams.related.data=data/ja ..."""
    valid_data: list[str] = field(default_factory=list)
    """Data dirs of held-out audio for validation."""
    out: str = ""
    """Experiment dir: checkpoints/, log.jsonl, tensorboard/, config.yaml."""
    restart: bool = False
    """Start afresh in an ``out`` that holds a run: its contents move to out/previous_<n>/ (nothing
    is deleted) and this run starts from its init or from random weights; without it, the run resumes."""
    init: dict[str, str] = field(default_factory=dict)
    """Weights to start from, per part: ``init.speech=<speechxl checkpoint or Hugging Face model dir>``
    (it sets the speech encoder's architecture); ``init=<path>`` is ``init.speech=<path>``."""
    model: Any = None
    """The family's model config (its regularisation always applies; its sizes without init)."""
    units: str = ""
    """chars, phones or bpe: the units of what the run reads as text (finetune: its CTC head's; pretrain:
    those of a joint family's text and paired streams)."""
    lang_dir: str | None = None
    """Units stage output; default: lang_<units> beside the first stream's first data dir."""
    batch: BatchConfig = field(default_factory=BatchConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    """Waveform augmentation of the training audio (speed, frequency warping, reverberation, noise); off by default."""
    sampling: SamplingConfig = field(default_factory=SamplingConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def validate(self) -> None:
        if not self.data and not self.streams:
            raise ConfigError("data: give the training data dirs, e.g. data=data/train")
        if self.data and self.streams:
            raise ConfigError("data and streams: give one of them (data= is one stream named 'data')")
        if not self.out:
            raise ConfigError("out: give the experiment dir, e.g. out=exp/run1")
        if Path(self.out).exists() and not Path(self.out).is_dir():
            raise ConfigError(f"out: {self.out} is a file, not an experiment dir")
        if self.units and self.units not in UNIT_KINDS:
            raise ConfigError(f"units is one of {list(UNIT_KINDS)}, not {self.units!r}")

    def resolved_lang_dir(self) -> Path:
        first = next(iter(self.training_streams().values())).data[0]
        return Path(self.lang_dir) if self.lang_dir else lang_dir_beside(first, self.units)

    def training_streams(self) -> dict[str, StreamConfig]:
        """The run's streams, ``data=`` as the one named 'data'; each with its own sampling."""
        named = self.streams or {"data": StreamConfig(data=self.data)}
        return {name: StreamConfig(data=s.data, weight=s.weight, sampling=s.sampling or self.sampling, kind=s.kind)
                for name, s in named.items()}


def init_by_part(raw: dict) -> dict:
    """``raw`` with ``init: <path>`` (the speech part, as before parts) as ``init: {speech: <path>}``."""
    init = raw.get("init")
    if init is None or isinstance(init, str):
        return {**raw, "init": {"speech": init} if init else {}}
    return raw


def init_architecture(init: str | Path) -> tuple[str, Any]:
    """(family, model config) of a speechxl checkpoint or a Hugging Face model dir (no weights read)."""
    from speechxl.interop.hf_wav2vec2 import is_hf_dir, read_hf_config

    if is_hf_dir(init):
        return read_hf_config(init)
    try:
        return saved_architecture(ckpt.find_checkpoint(init))
    except ConfigError as e:
        raise ConfigError(f"init {init}: {e}") from None


def _with_part_types(model: dict, source: Any) -> dict:
    """The run's model section with the part types of ``source`` where the run names none."""
    out = dict(model)
    for f in fields(source):
        part = getattr(source, f.name)
        if is_dataclass(part) and hasattr(part, "type") and "type" not in (out.get(f.name) or {}):
            out[f.name] = {"type": part.type, **(out.get(f.name) or {})}
    return out


def _regularisation_that_applies(model: dict, config: type) -> dict:
    """The model section without the regularisation keys (TRAINING_FIELDS) that a part of its type has
    not, logged: a fine-tuning preset's attention dropout does not apply to CPC's LSTM. Any other key a
    part has not stays, for from_dict to refuse."""
    out = dict(model)
    for name, value in model.items():
        cls = part_config(config, name, value)
        if cls is None:
            continue
        has = {f.name for f in fields(cls)}
        absent = sorted(k for k in value if k in TRAINING_FIELDS and k not in has)
        if absent:
            log.info("model.%s: a %s part has no %s; the preset's values do not apply", name,
                     value.get("type", cls.__name__), ", ".join(absent))
            out[name] = {k: v for k, v in value.items() if k not in absent}
    return out


def load_run_config(cls: type[T], path: str | Path | None, overrides: list[str] = (), check: bool = True) -> T:
    """Preset + overrides; ``data``/``valid_data`` may be one dir or a comma list; ``model`` is
    typed by ``family``, which defaults to init's. Without init, ``architecture=<preset.yaml>``
    takes the family and the model section of another preset (a pretraining one) as the base of
    this run's model section: a from-scratch baseline of the same size."""
    raw = init_by_part(apply_overrides(read_yaml(path) if path else {}, list(overrides)))
    for section in [raw, *(s for s in (raw.get("streams") or {}).values() if isinstance(s, dict))]:
        for key in ("data", "valid_data"):
            if isinstance(section.get(key), str):
                section[key] = section[key].split(",")
    architecture = raw.pop("architecture", None)
    if architecture and not raw["init"]:
        arch = read_yaml(architecture)
        raw.setdefault("family", arch.get("family", "wav2vec2"))
        raw["model"] = merge_dicts(arch.get("model") or {}, raw.get("model") or {})
    family_from_init = bool(raw["init"].get("speech")) and "family" not in raw
    if raw["init"].get("speech"):  # the family and part types default to init's
        init_family, init_model = init_architecture(raw["init"]["speech"])
        raw.setdefault("family", init_family)
        if raw["family"] == init_family:
            raw["model"] = _with_part_types(raw.get("model") or {}, init_model)
    family = raw.get("family", "wav2vec2")
    if family not in FAMILIES:
        raise ConfigError(f"family: unknown {family!r}; known: {sorted(FAMILIES)}")
    for part in raw.get("init", {}):
        if part not in FAMILIES[family].parts:
            raise ConfigError(f"init.{part}: a {family} model has no {part} part; its parts: "
                              f"{', '.join(FAMILIES[family].parts)}")
    try:
        model = from_dict(FAMILIES[family].config, _regularisation_that_applies(raw.pop("model", {}) or {},
                                                                                FAMILIES[family].config), "model")
    except ConfigError as e:
        if not family_from_init:
            raise
        raise ConfigError(f"{e} (the model section is read as a {family} model, the family of init "
                          f"{raw['init']['speech']}; a model section for another family does not fit it)") from None
    cfg = from_dict(cls, raw)
    cfg.model = model
    if check:  # not for --print_config, which may show a config before it is complete
        validate(cfg)
    return cfg


def share_budget(cfg: RunConfig, share: float) -> None:
    """Give the run ``share`` of its budget: train.max_steps, train.max_minutes and the schedule's
    step counts scaled (the schedule keeps its shape), for one of several runs that split a budget,
    e.g. one model per language at a multilingual model's total cost."""
    if not 0 < share <= 1:
        raise ConfigError(f"budget share {share}: a share of the preset's budget is in (0, 1]")
    steps = lambda n: max(1, round(n * share)) if n else 0  # noqa: E731
    cfg.train.max_steps = steps(cfg.train.max_steps)
    cfg.train.max_minutes *= share
    for name in ("warmup_steps", "hold_steps", "decay_steps"):
        setattr(cfg.schedule, name, steps(getattr(cfg.schedule, name)))


def initial_architecture(family: str, model_cfg: Any, init: str) -> Any:
    """The model config with the initial model's architecture (no weights read)."""
    init_family, init_model = init_architecture(init)
    if init_family != family:
        raise ConfigError(f"init {init} is a {init_family} model, not {family}: set family={init_family}")
    return FAMILIES[family].copy_architecture(model_cfg, init_model)


def initial_weights(family: str, model_cfg: Any, init: str) -> tuple[Any, dict[str, torch.Tensor], str]:
    """(model config with the initial model's architecture, its weights, a description)."""
    from speechxl.interop.hf_wav2vec2 import is_hf_dir, load_hf

    architecture = initial_architecture(family, model_cfg, init)
    if is_hf_dir(init):
        state, source = load_hf(init)[2], f"Hugging Face model {init}"
    else:
        found = ckpt.find_checkpoint(init)
        state, source = ckpt.load_model_state(found), f"speechxl checkpoint {found}"
    return architecture, state, source


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


# settings a resumed run may change (named in the log); any other change is refused; an
# experiment dir that was moved resumes where it now is
RESUMABLE_CHANGES = ("out", "restart", "train.max_steps", "train.max_minutes", "train.log_every", "train.valid_every",
                     "train.save_every", "train.keep_last", "train.threads", "train.nonfinite_patience",
                     "train.precision", "train.keep_freed_memory", "train.checkpoint_activations", "train.compile",
                     "batch.num_workers", "require_learning")


def _flatten(d: dict, prefix: str = "") -> dict[str, Any]:
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out |= _flatten(v, f"{prefix}{k}.")
        else:
            out[f"{prefix}{k}"] = v
    return out


def check_resume(saved: dict, new: dict, out: str | Path) -> None:
    """Refuse to resume ``out`` (one line naming each conflicting key) when the new run's
    settings differ from those it was started with, except RESUMABLE_CHANGES (logged)."""
    a, b = _flatten(saved), _flatten(new)
    changed = sorted(k for k in a.keys() | b.keys() if a.get(k) != b.get(k))
    conflicts = [k for k in changed if k not in RESUMABLE_CHANGES]
    if conflicts:
        raise ConfigError(
            f"{out} holds checkpoints of a run with other settings, which resuming would not honour: "
            + "; ".join(f"{k} {a.get(k)!r} -> {b.get(k)!r}" for k in conflicts)
            + " (give another out, restart=true to start afresh in it, or the settings it was started with)")
    if changed:
        log.info("resuming %s with %s", out, ", ".join(f"{k} {a.get(k)} -> {b.get(k)}" for k in changed))


def build_model(cfg: RunConfig, build: Callable[[Any], nn.Module], rank: int,
                utts: list | None = None, architecture: Callable[[Any], Any] = lambda model: model) -> nn.Module:
    """The run's model: with the run's own architecture when ``out`` holds checkpoints (the
    trainer then resumes the weights), else ``init``'s architecture and weights, else random (a
    fresh model with a 'global' log-mel frontend gets its feature statistics from ``utts``);
    ``architecture``: what the run adds to the initial model's (a fine-tuning's adapter layers);
    ``init.text`` attaches a frozen text encoder to distil from (every time: it is never saved).
    Every worker builds the same initial weights, then seeds its own random stream."""
    init_state = None
    resuming = ckpt.resolve(Path(cfg.out) / "checkpoints", "last") is not None
    teacher = text_teacher(cfg.init["text"]) if cfg.init.get("text") else None
    if teacher is not None:  # its width is the distillation's (a joint family's distill_dim)
        cfg.model = replace(cfg.model, distill_dim=teacher.dim)
    speech = cfg.init.get("speech")
    fresh = not resuming and not speech
    if resuming:
        saved = init_by_part(read_yaml(Path(cfg.out) / "config.yaml"))
        started_with = architecture(initial_architecture(cfg.family, cfg.model, speech) if speech else cfg.model)
        check_resume(saved, {**to_dict(cfg), "model": to_dict(started_with)}, cfg.out)
        cfg.model = model_config(cfg.family, saved["model"])
    else:
        if speech:
            cfg.model, init_state, source = initial_weights(cfg.family, cfg.model, speech)
        cfg.model = architecture(cfg.model)
    torch.manual_seed(cfg.train.seed)
    model = build(cfg.model)
    if init_state is not None:
        load_partial(model, init_state, source)
    if teacher is not None:
        model.attach_teacher(teacher)
    frontend = getattr(getattr(model, "backbone", None), "frontend", None)
    if fresh and utts and getattr(getattr(frontend, "cfg", None), "normalize", None) == "global":
        _fit_frontend(frontend, utts)
    torch.manual_seed(cfg.train.seed + rank)
    return model


def text_teacher(path: str) -> SentenceTeacher:
    """The frozen text encoder of ``init.text=`` (an XLM-R dir or a speechxl text checkpoint)."""
    from speechxl.interop.hf_xlmr import load_text_encoder

    cfg, state, tokenizer = load_text_encoder(path)
    encoder = TextMLM(cfg)
    encoder.load_state_dict(state, strict=False)  # the LM head, if any, is not needed
    log.info("init.text: a %d-layer text encoder of width %d from %s, frozen, for distillation", cfg.num_layers,
             cfg.hidden_size, path)
    return SentenceTeacher(encoder.encoder, XlmrTokenizer(tokenizer))


def start_afresh(out: Path, dist: Dist) -> None:
    """``restart=true``: what ``out`` holds from an earlier run moves to out/previous_<n>/."""
    if dist.main and ckpt.resolve(out / "checkpoints", "last") is not None:
        earlier = [int(p.name.removeprefix("previous_")) for p in out.glob("previous_*") if p.name[9:].isdigit()]
        aside = out / f"previous_{max(earlier, default=0) + 1}"
        aside.mkdir()
        for p in sorted(out.iterdir()):
            if p != aside and p.name != ".lock" and not p.name.startswith("previous_"):
                os.replace(p, aside / p.name)
        log.info("restart: the earlier run in %s is now in %s; starting afresh", out, aside)
    all_gather(None, dist)  # the other workers wait until it has moved


def record_start(out: Path, resumed: bool) -> None:
    """Append this start (time, fresh or resumed, versions) to out/versions.json."""
    path = out / "versions.json"
    starts = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else []
    starts.append({"started": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "resumed": resumed, **versions()})
    atomic_write(path, json.dumps(starts, indent=1) + "\n")


def read_streams(cfg: RunConfig) -> dict[str, list[Utterance]]:
    """Each training stream's utterances."""
    return {name: [u for d in stream.data for u in read_manifest(d)] for name, stream in cfg.training_streams().items()}


def stream_batches(cfg: RunConfig, utts: dict[str, list[Utterance]], dist: Dist,
                   labels: dict[str, Callable[[Utterance], list[int]]] | None = None,
                   text: dict[str, TextBatchPlan] | None = None, frame_labels: FrameStore | None = None
                   ) -> MixedStreams:
    """The run's training batches: a plan per stream (audio from ``utts``, transcribed where ``labels``
    names the stream: never cropped, labelled; ``text``: the text streams' plans; ``frame_labels``
    of the audio streams, when the family predicts them), interleaved by
    weight; each stream's language shares are logged and (main worker) written to ``out/sampling.json``."""
    streams = cfg.training_streams()
    labels, text = labels or {}, text or {}
    shares = {}
    for name, stream in streams.items():
        if dist.main and name in text:
            plan = text[name]
            log.info("stream %s (weight %g): %d sentences", name, stream.weight, len(plan.sentences))
            shares[name] = log_shares([s.lang for s in plan.sentences], plan.lengths, stream.sampling, unit="tokens")
        elif dist.main:
            log.info("stream %s (weight %g): %d utterances", name, stream.weight, len(utts[name]))
            shares[name] = log_shares([u.lang for u in utts[name]], [u.duration for u in utts[name]], stream.sampling)
    if dist.main:
        atomic_write(Path(cfg.out) / "sampling.json", json.dumps(shares, indent=1) + "\n")
    plans = {name: text[name] if name in text else BatchPlan(
        utts[name], replace(cfg.batch, crop_to_shortest=False) if name in labels else cfg.batch, cfg.train.seed,
        stream.sampling, rank=dist.rank, world=dist.world, labels=labels.get(name), frame_labels=frame_labels,
        augment=cfg.augment if cfg.augment.active() else None)
        for name, stream in streams.items()}
    return MixedStreams(plans, {name: s.weight for name, s in streams.items()})


def _fit_frontend(frontend, utts: list, n: int = 300) -> None:
    from speechxl.data.audio import load_audio
    from speechxl.nn.fbank_frontend import fit_global_stats

    sample = sorted(utts, key=lambda u: u.id)[:: max(1, len(utts) // n)][:n]  # spread, deterministic
    frames = fit_global_stats(frontend, (load_audio(u.audio, u.offset, u.duration) for u in sample))
    log.info("global log-mel statistics from %d utterances (%d frames)", len(sample), frames)
