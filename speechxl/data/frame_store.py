"""Per-utterance frame arrays on disk: features dumped from a model or MFCCs, and the k-means
labels HuBERT predicts.

A store is a directory:
  frames.bin   every utterance's frames one after the other, (N, dim) of ``dtype``, raw
  utts.tsv     utterance id, first row, rows
  info.json    dtype, dim, rows, frame_shift_ms, where the frames came from; a fingerprint of
               frames.bin. Written last: a store without it was not finished and is refused.
Rows are read through a memory map, so a store larger than memory is read one utterance at a time.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from speechxl.atomic import atomic_write
from speechxl.errors import SpeechxlError


class FrameStoreError(SpeechxlError):
    pass


class FrameWriter:
    """Append utterances' frames (T, dim), then ``close(info)``."""

    def __init__(self, out: str | Path, dtype: str, dim: int):
        self.out, self.dtype, self.dim = Path(out), np.dtype(dtype), dim
        self.out.mkdir(parents=True, exist_ok=True)
        (self.out / "info.json").unlink(missing_ok=True)  # unfinished until close
        self.file = open(self.out / "frames.bin", "wb")
        self.rows: list[tuple[str, int, int]] = []
        self.total = 0
        self.hash = hashlib.sha256()

    def add(self, utt_id: str, frames: np.ndarray) -> None:
        data = np.ascontiguousarray(frames, dtype=self.dtype).reshape(len(frames), self.dim)
        self.file.write(data.tobytes())
        self.hash.update(data.tobytes())
        self.rows.append((utt_id, self.total, len(data)))
        self.total += len(data)

    def close(self, info: dict) -> Path:
        self.file.close()
        atomic_write(self.out / "utts.tsv", "".join(f"{u}\t{a}\t{n}\n" for u, a, n in self.rows))
        info = {**info, "dtype": self.dtype.name, "dim": self.dim, "rows": self.total, "utterances": len(self.rows),
                "fingerprint": self.hash.hexdigest()[:16]}
        atomic_write(self.out / "info.json", json.dumps(info, indent=1) + "\n")
        return self.out


class FrameStore:
    """A finished store: ``store[utt_id]`` -> (T, dim) rows (a memory-mapped view), ``store.info``."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        if not (self.path / "info.json").is_file():
            raise FrameStoreError(f"{self.path}: not a finished frame store (no info.json): run the command "
                                  "that writes it again")
        self.info = json.loads((self.path / "info.json").read_text(encoding="utf-8"))
        self.index: dict[str, tuple[int, int]] = {}
        for line in (self.path / "utts.tsv").read_text(encoding="utf-8").splitlines():
            utt, start, rows = line.split("\t")
            self.index[utt] = (int(start), int(rows))
        rows = self.info["rows"]
        self.frames = (np.memmap(self.path / "frames.bin", dtype=self.info["dtype"], mode="r",
                                 shape=(rows, self.info["dim"])) if rows else np.zeros((0, self.info["dim"])))

    def __reduce__(self):  # to a loader's worker process by path, not as a copy of the frames
        return FrameStore, (self.path,)

    @property
    def frame_shift_ms(self) -> float:
        return float(self.info["frame_shift_ms"])

    def __contains__(self, utt_id: str) -> bool:
        return utt_id in self.index

    def __getitem__(self, utt_id: str) -> np.ndarray:
        start, rows = self.index[utt_id]
        return self.frames[start: start + rows]

    def __len__(self) -> int:
        return len(self.index)
