"""Write files under a temporary name and rename, so a killed run never leaves half a file.

A rename survives a killed process at once; to survive a power loss too, the file's data and
then its directory entry must reach the disk (``fsync``): checkpoints ask for that
(``durable=True``); data sets, which a re-run rebuilds, do not pay for it.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Iterator


def fsync(path: str | Path) -> None:
    """Flush a file's data, or a directory's entries, to the disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(path: str | Path, durable: bool = False) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it is renamed to ``path`` (with
    ``durable``, flushed to the disk first and its directory after).

    The temporary name keeps the suffix, so libraries that pick a format by extension work; it is
    unpredictable and created with O_EXCL (``mkstemp``), so a link planted in a shared folder is
    never followed, and two processes never share one. A file gets the mode the user's umask gives
    (writers such as safetensors' create theirs 0600).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.stem}.tmp", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        if tmp.is_file():
            tmp.chmod(0o666 & ~_umask())
        if durable:
            fsync(tmp)
        os.replace(tmp, path)
        if durable:
            fsync(path.parent)
    finally:
        if tmp.exists():
            tmp.unlink()


def atomic_write(path: str | Path, content: str | bytes, durable: bool = False) -> None:
    """Write text (UTF-8) or bytes to ``path`` atomically."""
    with atomic_path(path, durable) as tmp:
        if isinstance(content, bytes):
            tmp.write_bytes(content)
        else:
            tmp.write_text(content, encoding="utf-8")
