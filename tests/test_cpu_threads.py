"""torch's thread count follows the cores other processes leave free (cpu_threads.py), unless fixed."""

import logging
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
import torch

from speechxl import cpu_threads


@pytest.fixture
def threads(monkeypatch):
    """torch's count as it was afterwards, and the module's state fresh."""
    before = torch.get_num_threads()
    monkeypatch.setattr(cpu_threads, "_follower", None)
    monkeypatch.setattr(cpu_threads, "_fixed", False)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    yield
    torch.set_num_threads(before)


def test_the_count_follows_what_other_processes_leave_free(threads, monkeypatch, caplog):
    clock, busy, own = [100.0], [0.0], [0.0]  # seconds: now, all CPU time on the cores, this process's
    monkeypatch.setattr(cpu_threads.time, "monotonic", lambda: clock[0])
    monkeypatch.setattr(cpu_threads, "busy_seconds", lambda cpus: busy[0])
    monkeypatch.setattr(cpu_threads, "own_seconds", lambda: own[0])
    follower = cpu_threads.LoadFollower({0, 1, 2, 3}, most=4)
    torch.set_num_threads(4)
    seen = []
    for others, mine in [(0.2, 3.8), (1.0, 3.0), (2.6, 1.0), (3.9, 0.1), (0.4, 2.0)]:  # cores used in 1 s
        follower()  # sooner than EVERY after the last look: nothing looked at
        clock[0] += 1.0
        busy[0] += others + mine
        own[0] += mine
        with caplog.at_level(logging.INFO, logger="speechxl.cpu_threads"):
            follower()
        seen.append(torch.get_num_threads())
    assert seen == [4, 3, 1, 1, 4]  # 4 - others, rounded; at least 1, at most `most`
    assert "threads: 3 (other processes used 1.0 of 4 cores)" in caplog.text


def test_a_look_at_the_load_that_fails_leaves_the_count(threads, monkeypatch):
    clock = [100.0]
    monkeypatch.setattr(cpu_threads.time, "monotonic", lambda: clock[0])
    monkeypatch.setattr(cpu_threads, "busy_seconds", lambda cpus: 0.0)
    monkeypatch.setattr(cpu_threads, "own_seconds", lambda: 0.0)
    follower = cpu_threads.LoadFollower({0, 1}, most=2)
    torch.set_num_threads(2)

    def unreadable(cpus):
        raise PermissionError("/proc/stat: permission denied")

    monkeypatch.setattr(cpu_threads, "busy_seconds", unreadable)
    clock[0] += 1.0
    follower()
    assert torch.get_num_threads() == 2


def test_a_count_fixed_by_the_caller_or_the_environment_stays(threads, monkeypatch):
    monkeypatch.setattr(cpu_threads, "LoadFollower", lambda *a: pytest.fail("the load was looked at"))
    cpu_threads.fix(1)
    cpu_threads.follow_load()
    assert torch.get_num_threads() == 1
    monkeypatch.setattr(cpu_threads, "_fixed", False)
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    cpu_threads.follow_load()
    assert cpu_threads._fixed


@pytest.mark.skipif(not Path("/proc/self/task").is_dir() or len(os.sched_getaffinity(0)) < 2,
                    reason="needs Linux's /proc and 2 cores")
def test_a_busy_process_elsewhere_takes_a_thread_and_a_busy_child_of_ours_does_not(threads):
    cores = len(os.sched_getaffinity(0))
    follower = cpu_threads.LoadFollower(os.sched_getaffinity(0), most=cores)
    torch.set_num_threads(cores)
    for ends in (False, True):  # ours: a data loader's worker, say, busy till the look or ended before it
        child = subprocess.Popen(["yes"], stdout=subprocess.DEVNULL)
        try:
            time.sleep(1.2)
            if ends:
                child.kill()
                child.wait()
            follower()
            assert torch.get_num_threads() == cores
        finally:
            child.kill()
            child.wait()
    # a process outside this one's tree: its shell exits, so it is nobody's child here
    other = int(subprocess.run(["sh", "-c", "yes > /dev/null 2>&1 & echo $!"], capture_output=True, text=True,
                               check=True).stdout)
    try:
        time.sleep(1.2)
        follower()
        assert torch.get_num_threads() == cores - 1
    finally:
        os.kill(other, signal.SIGKILL)
