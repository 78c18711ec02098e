"""A slim release checkpoint: what inference needs and nothing of the training state.

    speechxl release exp/ctc_chars release/ctc_chars [--average 5]

Writes a checkpoint directory that every inference verb loads as it loads an experiment
(``speechxl decode release/ctc_chars data/test``, ``speechxl.load("release/ctc_chars")``,
``export-hf``): model.safetensors (the best checkpoint's weights, or the mean of the newest N),
card.json, units.txt and each language's units, config.yaml, and the tokenizer files the
checkpoint had; ``release.json`` says which checkpoint it came from, its step, and the averaged
ones. No trainer.pt: the optimizer's moments (twice the weights with Adam), RNG and data
positions are what a release does not need, so it cannot be resumed, only used.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from speechxl.checkpoint import save_release
from speechxl.decode.model import load_model

LEFT_OUT = {"trainer.pt", "model.safetensors"}


def release(model_dir: str | Path, out: str | Path, average: int = 1) -> Path:
    """Write the slim checkpoint of ``model_dir`` (its best, else last) to ``out``; returns ``out``."""
    m = load_model(model_dir, average=average)
    out = Path(out)
    if (out / "trainer.pt").exists() or out.resolve() == m.checkpoint.resolve():
        raise ValueError(f"{out}: a training checkpoint; a release goes to a directory of its own")
    out.mkdir(parents=True, exist_ok=True)
    for f in sorted(m.checkpoint.iterdir()):
        if f.is_file() and f.name not in LEFT_OUT:
            shutil.copyfile(f, out / f.name)
    save_release(out, m.net.state_dict(), str(m.checkpoint.resolve()), m.step, m.averaged)
    return out
