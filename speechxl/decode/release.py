"""A slim release checkpoint: what inference needs and nothing of the training state.

    speechxl release exp/ctc_chars release/ctc_chars [--average 5]

Writes a checkpoint directory that every inference verb loads as it loads an experiment
(``speechxl decode release/ctc_chars data/test``, ``speechxl.load("release/ctc_chars")``,
``export-hf``): model.safetensors (the best checkpoint's weights, or the mean of the newest N),
card.json, units.txt and each language's units, and the BPE model where the units are BPE pieces;
``release.json`` says which checkpoint it came from, its step, and the averaged ones. No trainer.pt:
the optimizer's moments (twice the weights with Adam), RNG and data positions are what a release does
not need, so it cannot be resumed, only used. It is meant to be shared: only the files in RELEASED are
copied (a link among them is refused, not followed), and the card and release.json name paths relative
to the experiment's project folder, or by their last part (``keep_paths`` keeps them whole).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from speechxl.checkpoint import save_release
from speechxl.decode.model import load_model
from speechxl.published import project_folder, public_path

RELEASED = ("units.txt", "units_*.txt", "bpe.model")
"""The checkpoint's files a release copies, besides the card it writes (not config.yaml or lang_info.json,
which name the training machine's data paths: the card holds all that inference reads)."""


def release(model_dir: str | Path, out: str | Path, average: int = 1, keep_paths: bool = False) -> Path:
    """Write the slim checkpoint of ``model_dir`` (its best, else last) to ``out``; returns ``out``."""
    m = load_model(model_dir, average=average)
    out = Path(out)
    if (out / "trainer.pt").exists() or out.resolve() == m.checkpoint.resolve():
        raise ValueError(f"{out}: a training checkpoint; a release goes to a directory of its own")
    out.mkdir(parents=True, exist_ok=True)
    for f in sorted({f for pattern in RELEASED for f in m.checkpoint.glob(pattern)}):
        if f.is_symlink() or not f.is_file():
            raise ValueError(f"{f}: a link or not a file; a release copies the checkpoint's own files only")
        shutil.copyfile(f, out / f.name)
    root = project_folder(m.exp)
    (m.card if keep_paths else m.card.with_public_paths(root)).save(out / "card.json")
    source = str(m.checkpoint.resolve()) if keep_paths else public_path(m.checkpoint.resolve(), root)
    save_release(out, m.net.state_dict(), source, m.step, m.averaged)
    return out
