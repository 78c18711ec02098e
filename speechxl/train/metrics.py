"""Training figures: averaged over an interval, written as JSON lines and TensorBoard scalars.

Per-batch logs are dicts of numbers or 0-dim tensors (a model leaves its figures on its device: the
trainer turns an update's figures into numbers at once, ``as_numbers``, one wait for the device per
update instead of one per figure). Counts are summed: ``correct`` / ``count`` give
``accuracy`` and ``errors`` / ``ref_tokens`` give ``error_rate``; every other figure is averaged,
weighted by the batch's sample size. A model may also give each utterance's share of its loss,
sample size, correct and count (``per_utterance``, tensors (B,)): they are summed by the batch's
languages (``by_language``) and give ``loss/<lang>`` and ``accuracy/<lang>``.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import time
from collections import defaultdict
from pathlib import Path
from typing import Any, Callable, TypeVar

import torch

from speechxl.atomic import atomic_write

T = TypeVar("T")
SUMMED = ("correct", "count", "errors", "ref_tokens", "zeroed")
LANG = "lang:"  # the prefix of a figure summed by language: lang:<lang>:<figure>


def as_numbers(tree: T) -> T:
    """Dicts, lists and tuples of numbers and tensors -> the same with each 0-dim tensor a float and
    each other tensor a list of floats, copied from the device in one transfer."""
    tensors: list[torch.Tensor] = []

    def collect(x):
        if torch.is_tensor(x):
            tensors.append(x)
        elif isinstance(x, dict):
            for v in x.values():
                collect(v)
        elif isinstance(x, (list, tuple)):
            for v in x:
                collect(v)

    collect(tree)
    if not tensors:
        return tree
    flat = torch.cat([t.detach().reshape(-1).to(tensors[0].device, torch.float64) for t in tensors]).tolist()
    at = 0

    def rebuild(x):
        nonlocal at
        if torch.is_tensor(x):
            n = x.numel()
            values, at = flat[at: at + n], at + n
            return values[0] if x.dim() == 0 else values
        if isinstance(x, dict):
            return {k: rebuild(v) for k, v in x.items()}
        if isinstance(x, (list, tuple)):
            return type(x)(rebuild(v) for v in x)
        return x

    return rebuild(tree)


def by_language(logs: dict, langs: list[str] | None) -> dict:
    """A model's batch logs (numbers: ``as_numbers``) with its ``per_utterance`` figures (lists, one value
    per utterance) summed by ``langs``; without languages they are dropped."""
    per_utterance = logs.get("per_utterance")
    if per_utterance is None:
        return logs
    out = {k: v for k, v in logs.items() if k != "per_utterance"}
    if langs:
        for i, lang in enumerate(langs):
            for name, values in per_utterance.items():
                out[f"{LANG}{lang}:{name}"] = out.get(f"{LANG}{lang}:{name}", 0.0) + values[i]
    return out


class Meter:
    def __init__(self):
        self.sums: dict[str, float] = defaultdict(float)
        self.weights: dict[str, float] = defaultdict(float)

    def add(self, logs: dict[str, float], n: float) -> None:
        """Add one batch's figures; ``n`` is its sample size (the weight of its averages)."""
        for k, v in logs.items():
            self.sums[k] += v if k in SUMMED or k.startswith(LANG) else v * n
            self.weights[k] += n

    @classmethod
    def combined(cls, meters: list[Meter]) -> Meter:
        """One meter with the sums of several (every worker's share of a validation)."""
        out = cls()
        for m in meters:
            for k, v in m.sums.items():
                out.sums[k] += v
                out.weights[k] += m.weights[k]
        return out

    def result(self) -> dict[str, float]:
        out = {k: (v if k in SUMMED else v / max(self.weights[k], 1e-9)) for k, v in self.sums.items()
               if not k.startswith(LANG)}
        if out.get("count"):
            out["accuracy"] = out["correct"] / out["count"]
        if out.get("ref_tokens"):
            out["error_rate"] = out["errors"] / out["ref_tokens"]
        langs = sorted({k.split(":")[1] for k in self.sums if k.startswith(LANG)})
        for lang in langs:
            lang_sum = lambda name: self.sums.get(f"{LANG}{lang}:{name}", 0.0)  # noqa: E731
            if lang_sum("sample_size"):
                out[f"loss/{lang}"] = lang_sum("loss") / lang_sum("sample_size")
            if lang_sum("count"):
                out[f"accuracy/{lang}"] = lang_sum("correct") / lang_sum("count")
        return out


def train_log(run: Callable[[Any], T]) -> Callable[[Any], T]:
    """Decorates a training verb ``run(cfg)``: its log lines (not tqdm's progress bar) also go to
    ``<cfg.out>/train.log``, appended, on the main worker."""

    @functools.wraps(run)
    def logged(cfg: Any) -> T:
        if int(os.environ.get("RANK", "0")) != 0:
            return run(cfg)
        Path(cfg.out).mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(Path(cfg.out) / "train.log", encoding="utf-8")
        handler.setFormatter(logging.Formatter("%(asctime)s %(name)s: %(message)s", "%Y-%m-%d %H:%M:%S"))
        handler.setLevel(logging.INFO)
        logger = logging.getLogger("speechxl")
        level = logger.level
        logger.addHandler(handler)
        if logger.getEffectiveLevel() > logging.INFO:
            logger.setLevel(logging.INFO)
        try:
            return run(cfg)
        finally:
            logger.removeHandler(handler)
            logger.setLevel(level)
            handler.close()

    return logged


class MetricsWriter:
    """Appends {"split", "step", "time", ...figures} lines to ``log.jsonl``; TensorBoard events beside it."""

    def __init__(self, out_dir: Path, enabled: bool = True):
        self.enabled, self.out = enabled, out_dir
        self.start = time.time()
        if enabled:
            out_dir.mkdir(parents=True, exist_ok=True)
            self.jsonl = open(out_dir / "log.jsonl", "a", encoding="utf-8")
            from tensorboardX import SummaryWriter

            self.tb = SummaryWriter(str(out_dir / "tensorboard"))

    def resume_at(self, step: int) -> None:
        """Forget what was logged after ``step`` (a run killed after its last checkpoint logged
        steps that the resumed run logs again): those lines of log.jsonl, and a line torn by
        the kill, are dropped; TensorBoard hides its events from ``step + 1`` on (purge_step)."""
        if not self.enabled:
            return
        self.jsonl.close()
        path = self.out / "log.jsonl"
        kept = [line for line in path.read_text(encoding="utf-8").splitlines(keepends=True)
                if _step_of(line) is not None and _step_of(line) <= step]
        atomic_write(path, "".join(kept))
        self.jsonl = open(path, "a", encoding="utf-8")
        from tensorboardX import SummaryWriter

        self.tb.close()
        self.tb = SummaryWriter(str(self.out / "tensorboard"), purge_step=step + 1)

    def write(self, split: str, step: int, figures: dict[str, float]) -> None:
        if not self.enabled:
            return
        row = {"split": split, "step": step, "time": round(time.time() - self.start, 2),
               **{k: (round(v, 6) if isinstance(v, float) else v) for k, v in figures.items()}}
        self.jsonl.write(json.dumps(row) + "\n")
        self.jsonl.flush()
        for k, v in figures.items():
            if isinstance(v, (int, float)):
                self.tb.add_scalar(f"{split}/{k}", v, step)
        self.tb.flush()

    def close(self) -> None:
        if self.enabled:
            self.jsonl.close()
            self.tb.close()


def _step_of(line: str) -> int | None:
    try:
        return int(json.loads(line)["step"])
    except (ValueError, KeyError, TypeError):
        return None
