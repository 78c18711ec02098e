"""What fine-tuning trains, one class per task (``task=`` in a fine-tuning config): what it reads as
labels, the model it builds on the encoder, what its model card and checkpoints hold.
``train/finetune.py`` drives any of them, so a new head is a task here and its model in
``speechxl/models/``: no trainer code.

  ctc      a recogniser: each utterance's transcript in the run's units (``units``, ``lang_dir``)
  lid      spoken language identification: each utterance's language (untranscribed speech serves)
  ctc+lid  both heads on one encoder (the language's cross-entropy per utterance, weighted by lid.weight)
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from pathlib import Path
from typing import Any, Callable

from torch import nn

from speechxl import checkpoint as ckpt
from speechxl.config import ConfigError
from speechxl.data.manifest import Utterance
from speechxl.models.ctc import CTCModel
from speechxl.models.lid import LanguageHead, LIDModel
from speechxl.models.speech_encoder import build_encoder
from speechxl.text.units import Units
from speechxl.train.labels import label_utterances

log = logging.getLogger(__name__)
TASKS = ("ctc", "lid", "ctc+lid")


class LIDTask:
    """Language ID over the training streams' languages."""

    lang_dir = None  # no units

    def __init__(self, cfg: Any, streams: dict[str, list[Utterance]]):
        self.cfg = cfg
        self.languages = sorted({u.lang for utts in streams.values() for u in utts})
        if len(self.languages) < 2:
            raise ConfigError(f"task {cfg.task}: the training data holds {len(self.languages)} language; "
                              "language ID needs two or more")

    def labelled(self, utts: list[Utterance], frames_of: Callable[[int], int]
                 ) -> tuple[list[Utterance], dict[str, list[int]] | None, dict]:
        """The utterances it can learn from or score (those in its languages), their labels, counts."""
        kept = [u for u in utts if u.lang in self.languages]
        other = Counter(u.lang for u in utts if u.lang not in self.languages)
        if other:
            log.info("language ID: left out utterances of languages the model does not know: %s", dict(other))
        return kept, None, {"kept": dict(Counter(u.lang for u in kept)), "other_languages": dict(other)}

    def head(self, model_cfg: Any) -> LanguageHead:
        return LanguageHead(model_cfg.encoder.hidden_size, self.languages, self.cfg.lid)

    def build(self, model_cfg: Any) -> nn.Module:
        """The model, its speech encoder of ``model_cfg`` (init's architecture, or the run's own)."""
        return LIDModel(build_encoder(model_cfg), self.cfg.ctc, self.head(model_cfg))

    def card(self) -> dict:
        return {"task": self.cfg.task, "vocabulary": 0, "units": "", "languages": self.languages, "lid": self.cfg.lid}

    def files(self) -> dict[str, Path]:
        return {}

    def describe(self) -> str:
        return f"language ID over {len(self.languages)} languages ({' '.join(self.languages)})"


class CTCTask:
    """CTC over the run's units; task ctc+lid adds the language head."""

    def __init__(self, cfg: Any, streams: dict[str, list[Utterance]]):
        self.cfg = cfg
        self.lid = LIDTask(cfg, streams) if cfg.task == "ctc+lid" else None
        self.lang_dir = cfg.resolved_lang_dir()
        self.units = Units.load(self.lang_dir / "units.txt")
        resumed = ckpt.resolve(Path(cfg.out) / "checkpoints", "last")
        if resumed is not None and (resumed / "units.txt").read_text(encoding="utf-8") != (
                self.lang_dir / "units.txt").read_text(encoding="utf-8"):
            raise ConfigError(f"{cfg.out}: its checkpoints were trained on other units than "
                              f"{self.lang_dir / 'units.txt'} (the head's rows would mean other units); give another out")

    def labelled(self, utts: list[Utterance], frames_of: Callable[[int], int]):
        """Transcribed utterances whose labels fit their frames, the labels, counts per language."""
        if self.lid is not None:
            utts = self.lid.labelled(utts, frames_of)[0]
        return label_utterances(utts, self.lang_dir, self.units, frames_of)

    def build(self, model_cfg: Any) -> nn.Module:
        """The model, its speech encoder of ``model_cfg`` (init's architecture, or the run's own)."""
        return CTCModel(build_encoder(model_cfg), len(self.units), self.cfg.ctc,
                        self.lid.head(model_cfg) if self.lid else None, self.cfg.lid.weight if self.lid else 0.0)

    def card(self) -> dict:
        info = json.loads((self.lang_dir / "info.json").read_text(encoding="utf-8"))
        out = {"task": self.cfg.task, "vocabulary": len(self.units), "units": self.cfg.units,
               "voices": info.get("voices")}
        if self.lid is not None:
            out.update(languages=self.lid.languages, lid=self.cfg.lid)
        return out

    def files(self) -> dict[str, Path]:
        files = {"units.txt": self.lang_dir / "units.txt", "lang_info.json": self.lang_dir / "info.json"}
        files |= {f.name: f for f in sorted(self.lang_dir.glob("units_*.txt"))}  # each language's own units
        if (self.lang_dir / "bpe.model").is_file():
            files["bpe.model"] = self.lang_dir / "bpe.model"
        return files

    def describe(self) -> str:
        return f"CTC over {len(self.units)} {self.cfg.units} units" + (
            f" and {self.lid.describe()}" if self.lid else "")


def make_task(cfg: Any, streams: dict[str, list[Utterance]]) -> LIDTask | CTCTask:
    return LIDTask(cfg, streams) if cfg.task == "lid" else CTCTask(cfg, streams)
