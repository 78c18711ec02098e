"""The speechxl command makes waiting OpenMP threads sleep (a busy machine), unless the environment
chooses, and sets it before torch (which loads libgomp) is imported."""

import os
import subprocess
import sys

import pytest

from speechxl import cli


@pytest.mark.parametrize("given, expected", [({}, "PASSIVE"), ({"OMP_WAIT_POLICY": "ACTIVE"}, "ACTIVE"),
                                             ({"GOMP_SPINCOUNT": "300000"}, None)])
def test_waiting_threads_sleep_unless_the_environment_chooses(monkeypatch, given, expected):
    for key in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT"):
        monkeypatch.delenv(key, raising=False)
    for key, value in given.items():
        monkeypatch.setenv(key, value)
    cli.sleep_when_waiting()
    assert os.environ.get("OMP_WAIT_POLICY") == expected


def test_the_command_reads_its_arguments_without_importing_torch():
    code = ("import sys\nfrom speechxl import cli\ntry:\n    cli.main(['pretrain', '--help'])\n"
            "except SystemExit:\n    pass\nprint('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().endswith("False")
