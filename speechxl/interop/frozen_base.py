"""A frozen base by reference. An adapter run (``finetune ... adapter=mms``) trains a few weights of a large
model; its checkpoints hold those, and ``base.json`` names the model it started from: its path and the
sha256 of each of its weight files. Whoever loads such a checkpoint (resume, decode, averaging, release)
reads the base from there first; a base that changed since, or is gone, is refused by name.

  {"path": "/abs/path/to/xls-r-300m", "sha256": {"model.safetensors": "9f1c..."}}
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import torch

from speechxl import checkpoint as ckpt
from speechxl.checkpoint import CheckpointError
from speechxl.interop.hf_dir import hf_weight_files
from speechxl.interop.hf_wav2vec2 import is_hf_dir, load_hf

BASE_FILE = "base.json"


def _weight_files(path: Path) -> list[Path]:
    """The files a base's weights are read from: a transformers dir's, or a speechxl checkpoint's."""
    return hf_weight_files(path) if is_hf_dir(path) else [ckpt.find_checkpoint(path) / "model.safetensors"]


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 24):
            h.update(block)
    return h.hexdigest()


def base_reference(path: str | Path) -> dict:
    """What ``base.json`` holds for the base at ``path``."""
    p = Path(path).resolve()
    return {"path": str(p), "sha256": {str(f.relative_to(p)): _sha256(f) for f in _weight_files(p)}}


def base_weights(checkpoint: str | Path) -> dict[str, torch.Tensor]:
    """The weights (speechxl's names) of the base a checkpoint dir's ``base.json`` names, checked unchanged."""
    where = Path(checkpoint) / BASE_FILE
    ref = json.loads(where.read_text(encoding="utf-8"))
    base = Path(ref["path"])
    if not base.exists():
        raise CheckpointError(f"{where}: its frozen base {base} is not there; the checkpoint holds only what "
                              "was trained on top of it")
    now = base_reference(base)["sha256"]
    for name, digest in ref["sha256"].items():
        if now.get(name) != digest:
            raise CheckpointError(f"{where}: its frozen base {base} changed since the run started ({name}: sha256 "
                                  f"{digest[:12]}..., now {str(now.get(name))[:12]}...); the adapter fits only the "
                                  "base it was trained on")
    return load_hf(base)[2] if is_hf_dir(base) else ckpt.load_model_state(ckpt.find_checkpoint(base))
