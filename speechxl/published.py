"""What speechxl writes to be shared (export-hf's model card, release, export-torch, import-fairseq)
holds no local path: each path relative to a base the reader also has (the experiment's folder), else
its last part. ``--keep_paths`` on those verbs keeps them whole.

>>> public_path("/home/ana/proj/exp/ctc/checkpoints/step_9", "/home/ana/proj")
'exp/ctc/checkpoints/step_9'
>>> public_path("/mnt/corpora/cv/train", "/home/ana/proj")
'train'
>>> public_command("speechxl decode /home/ana/proj/exp/ctc data/test --lm=/srv/lm/lang_word", "/home/ana/proj")
'speechxl decode exp/ctc data/test --lm=lang_word'
"""

from __future__ import annotations

import os
import shlex
from pathlib import Path


def project_folder(exp: str | Path) -> Path:
    """The folder a recipe runs in, which its experiment dirs lie two below (``exp/<name>``): the base of
    every path that is published."""
    return Path(exp).parent.parent


def public_path(path: str | Path, base: str | Path) -> str:
    """``path`` as it may be published: relative to ``base`` when below it, a relative path as it is,
    else its last part."""
    p = Path(path)
    if not p.is_absolute():
        return str(p)
    try:
        return str(p.resolve().relative_to(Path(base).resolve()))
    except ValueError:
        return p.name


def public_values(value, base: str | Path):
    """A record (a card's provenance: dicts, lists, strings) with every absolute path in it made public."""
    if isinstance(value, dict):
        return {k: public_values(v, base) for k, v in value.items()}
    if isinstance(value, list):
        return [public_values(v, base) for v in value]
    return public_path(value, base) if isinstance(value, str) and os.path.isabs(value) else value


def public_command(command: str, base: str | Path) -> str:
    """A recorded command line with each absolute path in it (a word, or a ``key=`` value) made public."""
    try:
        words = shlex.split(command)
    except ValueError:  # unbalanced quotes: not a command speechxl recorded
        return "(command not shown)"
    out = []
    for w in words:
        key, eq, value = w.rpartition("=") if "=" in w and not w.startswith("/") else ("", "", w)
        out.append(f"{key}{eq}{public_path(value, base)}" if os.path.isabs(value) else w)
    return shlex.join(out)
