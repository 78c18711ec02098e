"""One trainer per experiment dir: an exclusive lock on ``<out>/.lock`` (flock, released when the
process ends, however it ends), holding the owner's pid and host so a refusal can name it."""

from __future__ import annotations

import fcntl
import os
import socket
from pathlib import Path
from typing import IO

from speechxl.errors import SpeechxlError


def lock_experiment(out: str | Path) -> IO:
    """Take ``out``'s lock; keep the returned file open for the life of the run."""
    path = Path(out) / ".lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    f = open(path, "a+", encoding="utf-8")
    try:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        f.seek(0)
        owner = f.read().strip() or "another process"
        f.close()
        raise SpeechxlError(f"{out} is in use by {owner}: two trainers would overwrite each other's "
                            "checkpoints; wait for it or stop it") from None
    f.seek(0)
    f.truncate()
    f.write(f"pid {os.getpid()} on {socket.gethostname()}\n")
    f.flush()
    return f
