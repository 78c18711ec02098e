"""Checkpoints: a directory per save, written under a temporary name and renamed.

  checkpoints/step_00001000/
    model.safetensors   weights
    trainer.pt          optimizer, scheduler, RNG states, data position, step, counters
                        (tensors and plain values only: read with torch.load(weights_only=True))
    config.yaml         the resolved config
    ...                 task files (e.g. units.txt)
  checkpoints/last, checkpoints/best   text files naming a checkpoint directory

Older step directories beyond ``keep_last`` are removed, never the best one. Re-saving a step
moves the old copy aside until the new one is renamed in; if ``last`` names a directory that is
gone, the copy moved aside is restored, else the newest complete checkpoint is used: a killed
save never sends a run back to scratch. Files, directories and pointers are flushed to the disk
(fsync) before and after their renames, so a power loss leaves the same as a kill.
"""

from __future__ import annotations

import json
import logging
import os
import pickle
import re
import shutil
from pathlib import Path
from typing import Any, BinaryIO, Callable

import torch
from safetensors.torch import load_file, save_file

from speechxl.atomic import atomic_path, atomic_write, fsync
from speechxl.config import save_config
from speechxl.errors import SpeechxlError

log = logging.getLogger(__name__)


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
    for f in [*tmp.iterdir(), tmp]:  # on the disk before the rename: a power loss keeps it whole
        fsync(f)
    final = root / name
    old = root / f".old-{name}-{os.getpid()}"
    if final.exists():  # moved aside, not deleted, until the new one is in (a kill between keeps one)
        os.replace(final, old)
    os.replace(tmp, final)
    fsync(root)
    if old.exists():
        shutil.rmtree(old)
    return final


def mark(root: Path, tag: str, name: str) -> None:
    """Point ``root/tag`` (last, best) at checkpoint ``name``."""
    atomic_write(root / tag, name + "\n", durable=True)


def _complete(path: Path) -> bool:
    return all((path / f).is_file() for f in ("model.safetensors", "trainer.pt", "config.yaml"))


def resolve(root: Path, tag: str) -> Path | None:
    """The checkpoint directory ``root/tag`` points at, if any. When it is gone (a save killed
    while replacing it), the copy that save moved aside is put back; failing that, the newest
    complete checkpoint is used, with a warning: never nothing while one is on disk."""
    f = root / tag
    if not f.is_file():
        return None
    path = root / f.read_text(encoding="utf-8").strip()
    if _complete(path):
        return path
    for aside in sorted(root.glob(f".old-{path.name}-*")):
        if _complete(aside) and not path.exists():
            os.replace(aside, path)
            log.warning("%s: %s was being replaced when a run stopped; its previous copy is restored", root, path.name)
            return path
    complete = [p for p in sorted(root.glob("step_*")) if _complete(p)]
    if complete:
        log.warning("%s: %s names %s, which is missing or incomplete; using %s", root, tag, path.name, complete[-1].name)
        return complete[-1]
    return None


def prune(root: Path, keep_last: int) -> None:
    """Remove step directories beyond the newest ``keep_last``, sparing last and best."""
    keep = {p.name for tag in ("last", "best") if (p := resolve(root, tag))}
    steps = sorted(p for p in root.glob("step_*") if p.is_dir())
    for p in steps[: max(len(steps) - keep_last, 0)]:
        if p.name not in keep:
            shutil.rmtree(p)
    for stale in root.glob(".tmp-*"):  # left by a killed save
        shutil.rmtree(stale, ignore_errors=True)
    for tag in ("last", "best"):  # a pointer's temporary file, left by a kill between write and rename
        for stale in root.glob(f".{tag}.tmp*"):
            stale.unlink(missing_ok=True)
    for aside in root.glob(".old-*"):  # a killed save's previous copy, once the new one is in
        if _complete(root / aside.name[len(".old-"):].rsplit("-", 1)[0]):
            shutil.rmtree(aside, ignore_errors=True)


def load_model_state(ckpt: Path) -> dict[str, torch.Tensor]:
    return load_file(str(Path(ckpt) / "model.safetensors"))


RELEASE = "release.json"
"""A checkpoint without training state (``speechxl release``, ``speechxl import-fairseq``) records
here where it came from and its step, in place of trainer.pt."""


def save_release(out: Path, model_state: dict[str, torch.Tensor], source: str, step: int,
                 averaged: list[str] | tuple[str, ...] = ()) -> None:
    """A slim checkpoint's weights and then its RELEASE record, each written atomically into ``out``: the
    caller writes the card and units first, so that RELEASE is the last file of a finished one."""
    with atomic_path(out / "model.safetensors") as tmp:
        save_file({k: v.detach().contiguous().cpu() for k, v in model_state.items()}, str(tmp))
    atomic_write(out / RELEASE, json.dumps({"checkpoint": source, "step": step, "averaged": list(averaged)},
                                           indent=1) + "\n")


class CheckpointError(SpeechxlError):
    """A checkpoint that cannot be loaded safely."""


SAFETENSORS_DTYPES = {"F64": torch.float64, "F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16,
                      "I64": torch.int64, "I32": torch.int32, "I16": torch.int16, "I8": torch.int8,
                      "U8": torch.uint8, "BOOL": torch.bool}


def load_weights(net: torch.nn.Module, ckpt: Path,
                 loaded: Callable[[torch.nn.Module], None] | None = None) -> None:
    """A checkpoint's weights read into ``net``'s own tensors one at a time, names and shapes checked as
    load_state_dict's strict mode does. Loading holds the model and at most one tensor: load_model_state
    then load_state_dict held the weights twice, and safetensors' readers map the whole file, whose pages
    then count in the process's memory too. A model built on the meta device (no memory) gets each tensor
    allocated as it is read, in the dtype the model holds it in, on the CPU; ``loaded`` is then called on
    each module once its own and its submodules' tensors are read (submodules first), e.g. to quantize it
    before the next one is read, so that the model's weights are never all held in the file's precision.
    The file is read with plain reads (the format: an 8-byte little-endian header size, a JSON header of
    dtype, shape and byte offsets per name, the data)."""
    path = Path(ckpt) / "model.safetensors"
    own = net.state_dict()
    with open(path, "rb") as f, torch.no_grad():
        header, start = _fitting_header(f, path, own)
        for prefix in reversed([n for n, _ in net.named_modules()]):  # each module after its submodules; by name,
            module = net.get_submodule(prefix)  # as ``loaded`` may replace those visited (a list would keep them)
            for slots in (module._parameters, module._buffers):
                for local, target in slots.items():
                    name = f"{prefix}.{local}" if prefix else local
                    if target is None or name not in header:  # a buffer computed, not saved
                        continue
                    read = _read_tensor(f, start, header[name], target, f"{path}: {name}")
                    if read is not target:  # built on the meta device: the tensor read takes its place
                        slots[local] = torch.nn.Parameter(read, target.requires_grad) if slots is module._parameters \
                            else read
            if loaded is not None:
                loaded(module)
    left = [n for n, t in [*net.named_parameters(), *net.named_buffers()] if t.is_meta]
    if left:
        raise RuntimeError(f"{path}: {left[:3]} are neither saved nor computed on the CPU: still on the meta device")


def add_weights(net: torch.nn.Module, ckpt: Path) -> None:
    """A checkpoint's floating-point weights added to ``net``'s own, one tensor at a time (to average
    checkpoints holding the model and one tensor); names and shapes checked as load_weights checks them;
    integer tensors (a BatchNorm's batch count) stay ``net``'s."""
    path = Path(ckpt) / "model.safetensors"
    own = net.state_dict()
    with open(path, "rb") as f, torch.no_grad():
        header, start = _fitting_header(f, path, own)
        for name, target in own.items():
            if target.is_floating_point() and name in header:  # not in it: a buffer computed, not saved
                target.add_(_read_tensor(f, start, header[name], torch.empty_like(target), f"{path}: {name}"))


MAX_HEADER = 100_000_000
"""Bytes a safetensors header may have (the safetensors library's own limit)."""


def _fitting_header(f: BinaryIO, path: Path, own: dict[str, torch.Tensor]) -> tuple[dict, int]:
    """(name -> dtype, shape and byte offsets; where the data starts) of an open safetensors file whose
    tensors are exactly ``own``'s names and shapes, in dtypes speechxl reads."""
    size = int.from_bytes(f.read(8), "little")
    if size > min(MAX_HEADER, os.fstat(f.fileno()).st_size - 8):
        raise CheckpointError(f"{path}: not a safetensors file (its header claims {size} bytes)")
    try:
        header = json.loads(f.read(size))
        if not isinstance(header, dict):
            raise ValueError("the header is not a JSON object")
        header.pop("__metadata__", None)
    except (ValueError, UnicodeDecodeError) as e:
        raise CheckpointError(f"{path}: not a safetensors file ({e})") from None
    missing, unexpected = sorted(own.keys() - header.keys()), sorted(header.keys() - own.keys())
    if missing or unexpected:
        raise CheckpointError(f"{path}: weights do not fit the model built for them "
                              f"(missing {missing[:3]}, unexpected {unexpected[:3]})")
    for name, entry in header.items():
        if (shape := tuple(entry["shape"])) != tuple(own[name].shape):
            raise CheckpointError(f"{path}: {name} is {shape}, the model's {tuple(own[name].shape)}")
        if entry["dtype"] not in SAFETENSORS_DTYPES:
            raise CheckpointError(f"{path}: {name} is {entry['dtype']}, a dtype speechxl does not read")
    return header, 8 + size


def _read_tensor(f: BinaryIO, start: int, entry: dict, target: torch.Tensor, what: str) -> torch.Tensor:
    """One tensor of an open safetensors file, read into ``target``, or for a meta ``target`` into a new CPU
    tensor of its dtype, which is returned."""
    dtype, (begin, end) = SAFETENSORS_DTYPES[entry["dtype"]], entry["data_offsets"]
    if target.is_meta:
        target = torch.empty(target.shape, dtype=target.dtype)
    into = target if target.dtype == dtype and target.is_contiguous() and target.device.type == "cpu" \
        else torch.empty(target.shape, dtype=dtype)
    f.seek(start + begin)
    if f.readinto(into.view(-1).view(torch.uint8).numpy()) != end - begin:
        raise CheckpointError(f"{what}: the file ends inside it (a truncated copy?)")
    if into is not target:
        target.copy_(into)
    return target


SAFE_TORCH = (2, 6)
"""The first torch whose ``torch.load(weights_only=True)`` a crafted file cannot get around (CVE-2025-32434)."""


def require_safe_torch(path: str | Path) -> None:
    """Refuse to read a pickle-based torch file (``path``) with a torch older than SAFE_TORCH."""
    have = tuple(int(x) for x in re.findall(r"\d+", torch.__version__)[:2])
    if have < SAFE_TORCH:
        raise CheckpointError(f"{path}: torch {torch.__version__} cannot read a .pt/.bin file safely (weights_only is "
                              f"safe from torch {'.'.join(map(str, SAFE_TORCH))}, CVE-2025-32434): "
                              f"pip install 'torch>={'.'.join(map(str, SAFE_TORCH))}'")


def load_tensors(path: str | Path) -> Any:
    """A torch file of tensors and plain values; one that holds other Python objects is refused
    (unpickling them could run code from the file), and so is any with a torch too old to refuse them."""
    require_safe_torch(path)
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        raise CheckpointError(f"{path}: holds Python objects besides tensors and plain values; refused, "
                              "because loading them could run code from the file") from None


def load_trainer_state(ckpt: Path) -> dict:
    return load_tensors(Path(ckpt) / "trainer.pt")


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
