"""torch's CPU threads: one per core that other processes leave free, followed as a job runs.

On a machine of its own, training and decoding run fastest with a thread per core whose idle threads spin
while they wait for the next operation (libgomp's default); beside one busy process those spinning threads
hold a core the other process needs and wait on each other (3.5-7x slower on 2 cores, where 2x is the fair
share), while threads that sleep instead are woken for every operation, which on a virtual machine's idle
cores costs up to half of a small model's training speed (docs/benchmarks.md, "A busy machine"). So the
waiting threads spin, and their number follows the load: ``follow_load`` (called for every training update
and every decoded batch) reads, at most twice a second, how much CPU time the processes outside this one and
its children took on this process's cores, and sets torch's thread count to the cores they left free, at
least one, at most torch's default.

Linux only (/proc); elsewhere, or where the environment fixes the count (OMP_NUM_THREADS) or the caller does
(``fix``, as ``train.threads``), torch's count stays as it is. The count changes a run's last bits (sums split
across threads add up in another order): a fixed count gives bit-identical reruns.
"""

from __future__ import annotations

import logging
import math
import os
import time
from pathlib import Path

import torch

log = logging.getLogger(__name__)
TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100  # /proc's CPU times: ticks per second
EVERY = 0.5
"""Seconds between two looks at the load."""


def busy_seconds(cpus: set[int]) -> float:
    """CPU time spent on ``cpus`` since boot, by anyone (user, nice, system, irq, softirq; /proc/stat)."""
    total = 0
    for line in Path("/proc/stat").read_text(encoding="ascii").splitlines():
        name, *ticks = line.split()
        if name.startswith("cpu") and name != "cpu" and int(name[3:]) in cpus:
            user, nice, system, _idle, _iowait, irq, softirq = map(int, ticks[:7])
            total += user + nice + system + irq + softirq
    return total / TICKS


def own_seconds(pid: int | str = "self") -> float:
    """CPU time of process ``pid`` and of its descendants, live (a data loader's workers, say) or ended."""
    proc = Path(f"/proc/{pid}")
    stat = (proc / "stat").read_text(encoding="ascii", errors="replace")  # "pid (name) state ...": any name
    fields = stat.rsplit(")", 1)[1].split()
    total = sum(map(int, fields[11:15])) / TICKS  # utime, stime, and the ended children's: cutime, cstime
    for children in proc.glob("task/*/children"):
        try:
            pids = children.read_text(encoding="ascii").split()
        except OSError:  # the thread ended meanwhile
            continue
        for child in pids:
            try:
                total += own_seconds(child)
            except OSError:  # so did the child
                pass
    return total


class LoadFollower:
    """Sets torch's thread count to the cores of ``cpus`` that other processes left free in the last look."""

    def __init__(self, cpus: set[int], most: int):
        self.cpus, self.most = cpus, most
        self.last = (time.monotonic(), busy_seconds(cpus), own_seconds())

    def __call__(self) -> None:
        now = time.monotonic()
        if now - self.last[0] < EVERY:
            return
        try:
            sample = (now, busy_seconds(self.cpus), own_seconds())
        except (OSError, ValueError) as e:  # a look that fails leaves the count as it is
            log.debug("load not read: %s", e)
            return
        (t0, busy0, own0), self.last = self.last, sample
        others = max(0.0, (sample[1] - busy0) - (sample[2] - own0)) / (now - t0)  # cores
        threads = max(1, min(self.most, math.floor(len(self.cpus) - others + 0.5)))
        if threads != torch.get_num_threads():
            log.info("threads: %d (other processes used %.1f of %d cores)", threads, others, len(self.cpus))
            torch.set_num_threads(threads)


_follower: LoadFollower | None = None
_fixed = False


def fix(threads: int) -> None:
    """``threads`` for the rest of the process, whatever the load."""
    global _fixed
    _fixed = True
    torch.set_num_threads(threads)


def follow_load() -> None:
    """Cheap to call often: looks at the load at most every EVERY seconds."""
    global _follower, _fixed
    if _fixed:
        return
    if _follower is None:
        _follower = _started()
        if _follower is None:
            _fixed = True
            return
    _follower()


def _started() -> LoadFollower | None:
    """A follower from now, or None where the count stays: the environment fixes it, or there is no /proc
    that tells this process's children (else their work would look like another process's)."""
    if "OMP_NUM_THREADS" in os.environ:
        return None
    try:
        next(Path("/proc/self/task").glob("*/children"))
        return LoadFollower(os.sched_getaffinity(0), torch.get_num_threads())
    except (OSError, AttributeError, StopIteration, ValueError) as e:  # AttributeError: no sched_getaffinity
        log.debug("the thread count stays at %d: %s", torch.get_num_threads(), e or "no /proc/self/task/*/children")
        return None
