"""What produced a result: versions recorded in every experiment and every decode."""

from __future__ import annotations

import platform
import subprocess
from pathlib import Path

from speechxl import __version__


def versions() -> dict[str, str | None]:
    """speechxl's version and git commit (``+changes`` when the checkout has uncommitted edits;
    None outside a git checkout), torch's, Python's."""
    import torch

    repo = Path(__file__).resolve().parent.parent

    def git(*args: str) -> str | None:
        try:
            return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, timeout=10,
                                  check=True).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return None

    commit = git("rev-parse", "HEAD") if (repo / ".git").exists() else None
    if commit and git("status", "--porcelain", "--untracked-files=no", "--", "speechxl"):
        commit += "+changes"
    return {"speechxl": __version__, "git_commit": commit, "torch": torch.__version__,
            "python": platform.python_version()}
