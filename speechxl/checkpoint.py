"""Checkpoints: a directory per save, written under a temporary name and renamed.

  checkpoints/step_00001000/
    model.safetensors   weights
    trainer.pt          optimizer, scheduler, RNG states, data position, step, counters
                        (tensors and plain values only: read with torch.load(weights_only=True))
    config.yaml         the resolved config
    ...                 task files (e.g. units.txt)
  checkpoints/last, checkpoints/best   text files naming a checkpoint directory

Older step directories beyond ``keep_last`` are removed, never the best one.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from speechxl.config import save_config
from speechxl.atomic import atomic_write


def save_checkpoint(root: Path, name: str, model_state: dict[str, torch.Tensor], trainer_state: dict,
                    config: Any, files: dict[str, str | Path] | None = None) -> Path:
    """Write checkpoint ``root/name`` atomically (a temporary directory renamed at the end)."""
    root.mkdir(parents=True, exist_ok=True)
    tmp = root / f".tmp-{name}-{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    save_file({k: v.detach().contiguous().cpu() for k, v in model_state.items()}, str(tmp / "model.safetensors"))
    torch.save(trainer_state, tmp / "trainer.pt")
    save_config(config, tmp / "config.yaml")
    for fname, src in (files or {}).items():
        shutil.copyfile(src, tmp / fname)
    final = root / name
    if final.exists():
        shutil.rmtree(final)
    os.replace(tmp, final)
    return final


def mark(root: Path, tag: str, name: str) -> None:
    """Point ``root/tag`` (last, best) at checkpoint ``name``."""
    atomic_write(root / tag, name + "\n")


def resolve(root: Path, tag: str) -> Path | None:
    """The checkpoint directory ``root/tag`` points at, if any."""
    f = root / tag
    if not f.is_file():
        return None
    path = root / f.read_text().strip()
    return path if (path / "model.safetensors").is_file() else None


def prune(root: Path, keep_last: int) -> None:
    """Remove step directories beyond the newest ``keep_last``, sparing last and best."""
    keep = {p.name for tag in ("last", "best") if (p := resolve(root, tag))}
    steps = sorted(p for p in root.glob("step_*") if p.is_dir())
    for p in steps[: max(len(steps) - keep_last, 0)]:
        if p.name not in keep:
            shutil.rmtree(p)
    for stale in root.glob(".tmp-*"):  # left by a killed save
        shutil.rmtree(stale, ignore_errors=True)


def load_model_state(ckpt: Path) -> dict[str, torch.Tensor]:
    return load_file(str(Path(ckpt) / "model.safetensors"))


def load_trainer_state(ckpt: Path) -> dict:
    return torch.load(Path(ckpt) / "trainer.pt", map_location="cpu", weights_only=True)


def find_checkpoint(path: str | Path) -> Path:
    """A checkpoint directory from an experiment dir (its best, else last), a checkpoints dir,
    or a checkpoint dir itself."""
    p = Path(path)
    if (p / "model.safetensors").is_file():
        return p
    for root in (p / "checkpoints", p):
        for tag in ("best", "last"):
            if found := resolve(root, tag):
                return found
    raise FileNotFoundError(f"{p}: no speechxl checkpoint (model.safetensors) here or in checkpoints/")
