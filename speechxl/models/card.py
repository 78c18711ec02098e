"""The model card: everything inference needs to rebuild and use a fine-tuned model, written as
``card.json`` in every checkpoint, so that decoding, transcription and export never read the
training config (a renamed or removed training key cannot break them).

  {"format": 1, "family": "w2v-bert", "model": {...the family's model config...},
   "head": {"type": "ctc", "ctc": {...CTCConfig...}, "vocabulary": 192},
            (language ID: "type": "lid", "languages": ["el", "es", ...], "lid": {...LIDConfig...};
             both: "type": "ctc+lid" with all of these)
   "units": "chars", "voices": {"es": "es", ...} (phones: the training G2P voices) or null,
   "sample_rate": 16000, "frame_shift_ms": 40.0,
   "provenance": {"init": "exp/pretrain_w2v_bert_tiny", "training_data": ["data/train"],
                  "lang_dir": "data/lang_char"}}

The unit list travels beside it (``units.txt``, and ``units_<lang>.txt`` per training
language). Checkpoints written before cards existed are read from their ``config.yaml`` and
``lang_info.json`` (only the keys above).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import torch

from speechxl.atomic import atomic_write
from speechxl.config import from_dict, read_yaml, to_dict
from speechxl.models.adapters import AdapterConfig, FullFinetuning, adapter_config
from speechxl.models.ctc import CTCConfig, CTCModel, TunedEncoder
from speechxl.models.lid import LanguageHead, LIDConfig, LIDModel
from speechxl.models.registry import model_config
from speechxl.published import public_values
from speechxl.models.speech_encoder import FRONTENDS, build_encoder
from speechxl.text.lang_dir import lang_dir_beside

SAMPLE_RATE = 16000
FORMAT = 1


@dataclass(kw_only=True)
class ModelCard:
    family: str
    """A key of speechxl.models.registry.FAMILIES."""
    model: Any
    """The family's model config."""
    ctc: CTCConfig
    vocabulary: int
    """Output units of the CTC head (lines of units.txt)."""
    units: str
    """chars, phones or bpe."""
    voices: dict[str, str] | None = None
    """Phones: the espeak-ng voice per training language (references are made with the same)."""
    sample_rate: int = SAMPLE_RATE
    frame_shift_ms: float = 0.0
    """Time between output frames."""
    provenance: dict[str, Any] = field(default_factory=dict)
    """Where it came from: init, training_data, lang_dir."""
    task: str = "ctc"
    """ctc (a recogniser), lid (language ID) or ctc+lid (both heads on one encoder)."""
    languages: list[str] | None = None
    """lid, ctc+lid: the languages the head tells apart, in its output order."""
    lid: LIDConfig | None = None
    adapter: AdapterConfig = field(default_factory=FullFinetuning)
    """What the fine-tuning trained (models.adapters): all of it, or an adapter on a frozen base (its
    checkpoints then hold what trained and name the base; LoRA's updates are merged when loaded)."""

    def build(self) -> TunedEncoder:
        """The model with freshly initialised weights (load the checkpoint's into it)."""
        encoder = build_encoder(self.model)
        head = (LanguageHead(self.model.encoder.hidden_size, self.languages, self.lid)
                if self.task in ("lid", "ctc+lid") else None)
        if self.task == "lid":
            return LIDModel(encoder, self.ctc, head)
        return CTCModel(encoder, self.vocabulary, self.ctc, head, self.lid.weight if head is not None else 0.0)

    def to_dict(self) -> dict:
        """What card.json holds."""
        head = {"type": self.task, "ctc": to_dict(self.ctc), "vocabulary": self.vocabulary}
        if self.task != "ctc":
            head.update(languages=self.languages, lid=to_dict(self.lid))
        return {"format": FORMAT, "family": self.family, "model": to_dict(self.model), "head": head,
                "units": self.units, "voices": self.voices, "sample_rate": self.sample_rate,
                "frame_shift_ms": self.frame_shift_ms, "provenance": self.provenance, "adapter": to_dict(self.adapter)}

    def with_public_paths(self, base: str | Path) -> ModelCard:
        """A copy to publish: every absolute path of its provenance relative to ``base``, else its last part."""
        return replace(self, provenance=public_values(self.provenance, base))

    def save(self, path: str | Path) -> None:
        atomic_write(path, json.dumps(self.to_dict(), ensure_ascii=False, indent=1) + "\n")

    @classmethod
    def load(cls, checkpoint: str | Path) -> ModelCard:
        """The card of a checkpoint dir (card.json, else the older config.yaml + lang_info.json)."""
        ck = Path(checkpoint)
        if (ck / "card.json").is_file():
            d = json.loads((ck / "card.json").read_text(encoding="utf-8"))
            if d.get("format") != FORMAT:
                raise ValueError(f"{ck / 'card.json'}: card format {d.get('format')!r}; this speechxl reads {FORMAT}")
            head = d["head"]
            return cls(family=d["family"], model=model_config(d["family"], d["model"]),
                       ctc=from_dict(CTCConfig, head["ctc"], "head.ctc"), vocabulary=head["vocabulary"],
                       units=d["units"], voices=d.get("voices"), sample_rate=d["sample_rate"],
                       frame_shift_ms=d["frame_shift_ms"], provenance=d.get("provenance", {}), task=head["type"],
                       languages=head.get("languages"),
                       lid=from_dict(LIDConfig, head["lid"], "head.lid") if "lid" in head else None,
                       adapter=adapter_config(d.get("adapter")))
        if not (ck / "units.txt").is_file():
            raise ValueError(f"{ck}: a pretraining checkpoint has no CTC head to decode with; fine-tune it first")
        run = read_yaml(ck / "config.yaml")
        info = json.loads((ck / "lang_info.json").read_text(encoding="utf-8"))
        family = run.get("family", "wav2vec2")
        card = cls(family=family, model=model_config(family, run.get("model") or {}),
                   ctc=from_dict(CTCConfig, run.get("ctc") or {}, "ctc"),
                   vocabulary=sum(1 for _ in (ck / "units.txt").open(encoding="utf-8")),
                   units=info["kind"], voices=info.get("voices"),
                   provenance={"init": run.get("init"), "training_data": run.get("data", []),
                               "lang_dir": run.get("lang_dir") or str(lang_dir_beside(run["data"][0], info["kind"]))})
        card.frame_shift_ms = frame_shift_ms(FRONTENDS[type(card.model.frontend)](card.model.frontend))
        return card


def frame_shift_ms(frontend: torch.nn.Module) -> float:
    """Milliseconds between a frontend's output frames."""
    frames = frontend.output_lengths(torch.tensor([SAMPLE_RATE, 10 * SAMPLE_RATE]))
    return round(9000.0 / float(frames[1] - frames[0]), 3)
