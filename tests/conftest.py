"""Shared test helpers: synthetic audio and tiny CommonVoice releases made on the fly."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

NEW_HEADER = ["client_id", "path", "sentence_id", "sentence", "sentence_domain", "up_votes",
              "down_votes", "age", "gender", "accents", "variant", "locale", "segment"]
OLD_HEADER = ["client_id", "path", "sentence", "up_votes", "down_votes", "age", "gender", "accent"]


def tone(seconds: float, rate: int, freq: float = 440.0, channels: int = 1) -> np.ndarray:
    """A sine tone, (S,) or (S, C), amplitude 0.5."""
    t = np.arange(int(seconds * rate)) / rate
    x = (0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32)
    return np.stack([x] * channels, axis=1) if channels > 1 else x


def write_release(root: Path, lang: str, splits: dict[str, list[tuple[str, str, str]]],
                  header: list[str] = NEW_HEADER, seconds: float = 2.0, rate: int = 48000,
                  audio: dict[str, tuple[np.ndarray, int] | bytes] | None = None) -> Path:
    """A CommonVoice locale dir: splits maps 'train' etc. to (client_id, clip, sentence) rows.

    Clips get a tone of ``seconds`` at ``rate`` unless ``audio`` gives (samples, rate) or raw
    bytes; the format follows the clip's suffix.
    """
    d = root / lang
    (d / "clips").mkdir(parents=True, exist_ok=True)
    audio = audio or {}
    for rows in splits.values():
        for _, clip, _ in rows:
            path = d / "clips" / clip
            if path.exists():
                continue
            data = audio.get(clip)
            if isinstance(data, bytes):
                path.write_bytes(data)
            else:
                x, r = (tone(seconds, rate), rate) if data is None else data
                sf.write(str(path), x, r, format=path.suffix[1:].upper())
    for split, rows in splits.items():
        with open(d / f"{split}.tsv", "w", encoding="utf-8", newline="") as f:
            w = csv.writer(f, delimiter="\t", quoting=csv.QUOTE_NONE, escapechar=None, quotechar=None)
            w.writerow(header)
            for client, clip, sentence in rows:
                row = {"client_id": client, "path": clip, "sentence": sentence, "locale": lang,
                       "sentence_id": f"s{abs(hash(sentence))}", "up_votes": "2", "down_votes": "0"}
                w.writerow([row.get(h, "") for h in header])
    return d


@pytest.fixture
def run_cli():
    """Call the speechxl command in-process."""
    from speechxl.cli import main

    return lambda *args: main([str(a) for a in args])
