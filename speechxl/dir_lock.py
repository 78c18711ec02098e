"""One writer per directory: an exclusive lock on ``<dir>/.lock`` (flock, released when the process
ends, however it ends), holding the owner's pid and host while held, so a refusal can name it.

A trainer holds its experiment dir (two trainers would overwrite each other's checkpoints);
``prepare`` holds its ``--out`` (two runs would remove each other's temporary files).
"""

from __future__ import annotations

import fcntl
import os
import socket
from pathlib import Path

from speechxl.errors import SpeechxlError

LOCK = ".lock"


class DirLock:
    """A held lock; ``close()`` (or the end of the process) releases it and empties the file, so a
    directory that is shared afterwards names no host."""

    def __init__(self, file):
        self.file = file

    def close(self) -> None:
        if not self.file.closed:
            self.file.truncate(0)
            self.file.close()

    def __enter__(self) -> DirLock:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self) -> None:
        self.close()


def lock_dir(out: str | Path, why: str = "two trainers would overwrite each other's checkpoints") -> DirLock:
    """Take ``out``'s lock; keep the returned DirLock for the life of the run. ``why``: what two
    writers would do, said when the directory is taken."""
    path = Path(out) / LOCK
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
    f = os.fdopen(fd, "r+", encoding="utf-8")
    try:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        owner = f.read().strip() or "another process"
        f.close()
        raise SpeechxlError(f"{out} is in use by {owner}: {why}; wait for it or stop it") from None
    f.truncate(0)
    f.write(f"pid {os.getpid()} on {socket.gethostname()}\n")
    f.flush()
    return DirLock(f)
