"""The ``pretrain-text`` verb: a cross-lingual text encoder (XLM-R) by masked language modelling.

    speechxl pretrain-text --config recipes/text/xlmr_tiny.yaml data=data/lm_text out=exp/text
    speechxl pretrain-text --config recipes/text/xlmr_tiny.yaml init=<XLM-R or InfoXLM dir | exp/text> ...

``data`` are dirs of ``<lang>.txt`` files, a sentence a line (``data/lm_text`` as prepare writes
it), or data sets (``utts.jsonl``: their transcripts). ``valid_share`` of each language's
sentences, chosen by a hash of the sentence (so the choice does not move when text is added), is
held out for validation. Without ``init``, a SentencePiece unigram tokenizer of
``tokenizer.vocab_size`` pieces is trained first on language-balanced text (``text.xlmr_tokenizer``,
kept in ``out/tokenizer/`` and in every checkpoint); with ``init`` (a transformers XLM-R dir or a
speechxl text checkpoint) the model takes its tokenizer, architecture and weights, and the run
keeps its own masking and training settings. Batches hold sentences of similar length, each
language's share of an epoch set by ``sampling`` (XLM-R: temperature 0.3 over token counts); the
loss is ``models.text_encoder.TextMLM``'s. ``speechxl export-hf exp/text out_dir`` writes an
``XLMRobertaForMaskedLM`` dir with its tokenizer.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import torch

from speechxl import checkpoint as ckpt
from speechxl.config import ConfigError, apply_overrides, from_dict, read_yaml, save_config, to_dict, validate
from speechxl.data.sampling import SamplingConfig
from speechxl.data.streams import MixedStreams
from speechxl.data.text_batching import Sentence, TextBatchConfig, TextBatchPlan
from speechxl.interop.hf_xlmr import load_text_encoder
from speechxl.models.text_encoder import TextMLM, TextMLMConfig
from speechxl.text.xlmr_tokenizer import MODEL_FILE, XlmrTokenizer, train_xlmr_tokenizer
from speechxl.train.distributed import all_gather, finish_distributed, init_distributed
from speechxl.dir_lock import lock_dir
from speechxl.train.labels import read_texts
from speechxl.train.metrics import train_log
from speechxl.train.schedules import ScheduleConfig
from speechxl.train.setup import check_resume, load_partial, record_start, start_afresh
from speechxl.train.trainer import OptimConfig, TrainConfig, Trainer

log = logging.getLogger(__name__)


@dataclass(kw_only=True)
class TokenizerConfig:
    """The SentencePiece tokenizer trained when there is no ``init``."""

    vocab_size: int = 8000
    """Pieces (the model's vocabulary adds the four specials and <mask>)."""
    sentences: int = 1_000_000
    """Most sentences it is trained on, drawn language-balanced (the run's sampling alpha)."""

    def validate(self) -> None:
        if self.vocab_size < 8:
            raise ConfigError(f"vocab_size {self.vocab_size} is too small for a tokenizer")


@dataclass(kw_only=True)
class TextPretrainConfig:
    """Masked-language-model pretraining of a text encoder."""

    data: list[str] = field(default_factory=list)
    """Dirs of <lang>.txt files (a sentence a line), or data sets (their transcripts)."""
    valid_share: float = 0.02
    """Share of each language's sentences held out for validation."""
    out: str = ""
    """Experiment dir: checkpoints/, tokenizer/, log.jsonl, config.yaml."""
    restart: bool = False
    """Start afresh in an ``out`` that holds a run (its contents move to out/previous_<n>/)."""
    init: str = ""
    """A transformers XLM-R / InfoXLM dir or a speechxl text checkpoint to continue from."""
    tokenizer: TokenizerConfig = field(default_factory=TokenizerConfig)
    model: TextMLMConfig = field(default_factory=TextMLMConfig)
    """The encoder's sizes (without init; its vocabulary and special ids come from the tokenizer) and masking."""
    batch: TextBatchConfig = field(default_factory=TextBatchConfig)
    sampling: SamplingConfig = field(default_factory=lambda: SamplingConfig(alpha=0.3))
    optim: OptimConfig = field(default_factory=OptimConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def validate(self) -> None:
        if not self.data:
            raise ConfigError("data: give dirs of <lang>.txt files, e.g. data=data/lm_text")
        if not self.out:
            raise ConfigError("out: give the experiment dir, e.g. out=exp/text")
        if not 0 < self.valid_share < 1:
            raise ConfigError(f"valid_share is in (0, 1), not {self.valid_share}")


def load_text_pretrain_config(path: str | Path | None, overrides: list[str] = (), check: bool = True
                              ) -> TextPretrainConfig:
    raw = apply_overrides(read_yaml(path) if path else {}, list(overrides))
    if isinstance(raw.get("data"), str):
        raw["data"] = raw["data"].split(",")
    cfg = from_dict(TextPretrainConfig, raw)
    if check:
        validate(cfg)
    return cfg


def held_out(sentence: str, share: float) -> bool:
    """Whether a sentence is a validation one: a hash of it, not its place, decides."""
    return int(hashlib.sha1(sentence.encode()).hexdigest()[:8], 16) < share * 16 ** 8


def _architecture(cfg: TextMLMConfig, source: TextMLMConfig) -> TextMLMConfig:
    """``source``'s sizes and special ids with ``cfg``'s masking and dropouts."""
    keep = {"masking": cfg.masking, "dropout": cfg.dropout, "attention_dropout": cfg.attention_dropout}
    return from_dict(TextMLMConfig, {**to_dict(source), **to_dict(keep)}, "model")


@train_log
def pretrain_text(cfg: TextPretrainConfig) -> dict[str, float]:
    """Run (or resume) text pretraining; returns the final validation figures."""
    dist = init_distributed()
    out = Path(cfg.out)
    lock = lock_dir(out) if dist.main else None  # noqa: F841  (held until the run returns)
    if cfg.restart:
        start_afresh(out, dist)
    texts = read_texts(cfg.data)
    resuming = ckpt.resolve(out / "checkpoints", "last") is not None
    init_state = None
    if cfg.init:
        source, init_state, tokenizer_path = load_text_encoder(cfg.init)
        cfg.model = _architecture(cfg.model, source)
    else:
        tokenizer_path = out / "tokenizer" / MODEL_FILE
        if not tokenizer_path.is_file():
            train = {lang: [s for s in lines if not held_out(s, cfg.valid_share)] for lang, lines in texts.items()}
            if dist.main:
                train_xlmr_tokenizer(train, tokenizer_path.parent, cfg.tokenizer.vocab_size, cfg.sampling.alpha,
                                     cfg.tokenizer.sentences, cfg.train.seed)
            all_gather(None, dist)  # the other workers wait for it
    tokenizer = XlmrTokenizer(tokenizer_path)
    if not cfg.init:
        cfg.model.vocab_size, cfg.model.pad_id, cfg.model.mask_id = tokenizer.vocab_size, tokenizer.pad, tokenizer.mask
    validate(cfg)
    if resuming:
        check_resume(read_yaml(out / "config.yaml"), to_dict(cfg), out)
    torch.manual_seed(cfg.train.seed)
    model = TextMLM(cfg.model)
    if init_state is not None and not resuming:
        load_partial(model, init_state, cfg.init)
    torch.manual_seed(cfg.train.seed + dist.rank)
    sentences = {"train": [], "valid": []}
    for lang, lines in sorted(texts.items()):
        for line in lines:
            ids = tuple(tokenizer.encode(line, cfg.batch.max_length))
            if len(ids) > 2:
                sentences["valid" if held_out(line, cfg.valid_share) else "train"].append(Sentence(lang, ids))
    if dist.main:
        out.mkdir(parents=True, exist_ok=True)
        save_config(cfg, out / "config.yaml")
        counts = defaultdict(lambda: [0, 0])
        for s in sentences["train"]:
            counts[s.lang][0] += 1
            counts[s.lang][1] += len(s.ids)
        log.info("text encoder: %.2fM parameters, %d pieces; out %s", sum(p.numel() for p in model.parameters()) / 1e6,
                 tokenizer.vocab_size, out)
        for lang, (n, tokens) in sorted(counts.items()):
            log.info("  %-8s %8d sentences %10d tokens", lang, n, tokens)
        (out / "text.json").write_text(json.dumps({"train": dict(counts), "valid": len(sentences["valid"])},
                                                  indent=1) + "\n", encoding="utf-8")
    plan = TextBatchPlan(sentences["train"], cfg.batch, cfg.train.seed, tokenizer.pad, cfg.sampling,
                         rank=dist.rank, world=dist.world)
    valid = (TextBatchPlan(sentences["valid"], cfg.batch, cfg.train.seed, tokenizer.pad, None, shuffle=False,
                           rank=dist.rank, world=dist.world) if sentences["valid"] else None)
    trainer = Trainer(model, MixedStreams({"data": plan}, {"data": 1.0}), valid, out, cfg, cfg.optim,
                      cfg.schedule, cfg.train, dist, files={MODEL_FILE: tokenizer_path})
    resumed = trainer.resume()
    if dist.main:
        record_start(out, resumed)
    figures = trainer.fit()
    step = trainer.step
    del trainer, model
    finish_distributed(dist)
    if dist.main and figures:
        log.info("done at step %d: valid %s", step,
                 ", ".join(f"{k} {v:.4g}" for k, v in figures.items() if isinstance(v, float)))
    return figures

