"""process_map: a worker that dies is noticed (never a hang) and only its own item is lost."""

import os
import signal

import pytest

from speechxl.workers import process_map


def square_unless_13(x):
    if x == 13:
        os.kill(os.getpid(), signal.SIGKILL)  # a decoder segfault, or the kernel's OOM killer
    return x * x


@pytest.fixture
def alarm():
    """Fail instead of hanging (multiprocessing.Pool waited forever here)."""
    signal.signal(signal.SIGALRM, lambda *_: pytest.fail("process_map hung"))
    signal.alarm(60)
    yield
    signal.alarm(0)


def test_a_worker_that_dies_costs_only_its_own_item(alarm):
    results = dict(process_map(square_unless_13, list(range(40)), jobs=2, on_crash=lambda x: -x))
    assert results == {i: (-13 if i == 13 else i * i) for i in range(40)}


def test_one_job_runs_in_this_process():
    assert sorted(process_map(os.getpid().__add__, [0, 1], jobs=1, on_crash=None)) == [(0, os.getpid()),
                                                                                       (1, os.getpid() + 1)]


def fail_on_3(x):
    if x == 3:
        raise ValueError("item 3 is bad")
    return x


def test_an_error_in_an_item_stops_the_rest_instead_of_running_them_all(alarm):
    import time

    start = time.time()
    with pytest.raises(ValueError, match="item 3 is bad"):
        list(process_map(fail_on_3, list(range(5000)), jobs=2, on_crash=None))
    assert time.time() - start < 20  # not all 5000 run before the error comes back
