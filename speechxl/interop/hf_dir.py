"""A transformers model directory's files, whatever the model: its config and its weights, read and written.

Weights are read from ``model.safetensors``, a sharded ``model.safetensors.index.json``, or
``pytorch_model.bin`` (with ``torch.load(weights_only=True)``, never full pickle), and written as
one ``model.safetensors``; ``config.json`` beside them.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from speechxl.atomic import atomic_path, atomic_write
from speechxl.checkpoint import load_tensors


def read_hf_config_json(model_dir: str | Path) -> dict:
    """config.json of a transformers dir ({} when there is none)."""
    path = Path(model_dir) / "config.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def hf_weight_files(model_dir: str | Path) -> list[Path]:
    """The files a transformers model directory's weights are read from, in the order of preference:
    ``model.safetensors``, the shards of ``model.safetensors.index.json``, ``pytorch_model.bin``."""
    d = Path(model_dir)
    if (d / "model.safetensors").is_file():
        return [d / "model.safetensors"]
    if (d / "model.safetensors.index.json").is_file():
        index = json.loads((d / "model.safetensors.index.json").read_text(encoding="utf-8"))
        return [d / shard for shard in sorted(set(index["weight_map"].values()))]
    if (d / "pytorch_model.bin").is_file():
        return [d / "pytorch_model.bin"]
    raise FileNotFoundError(f"{d}: no model.safetensors, model.safetensors.index.json or pytorch_model.bin")


def read_hf_weights(model_dir: str | Path) -> dict[str, torch.Tensor]:
    """The state dict of a transformers model directory, with transformers' names."""
    out: dict[str, torch.Tensor] = {}
    for f in hf_weight_files(model_dir):
        out.update(load_tensors(f) if f.suffix == ".bin" else load_file(str(f)))
    return out


def write_hf_dir(out_dir: str | Path, weights: dict[str, torch.Tensor], config: dict) -> Path:
    """``model.safetensors`` (weights with transformers' names) and ``config.json`` in ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with atomic_path(out / "model.safetensors") as tmp:
        save_file({k: v.detach().contiguous().cpu() for k, v in weights.items()}, str(tmp), metadata={"format": "pt"})
    atomic_write(out / "config.json", json.dumps(config, indent=2) + "\n")
    return out
