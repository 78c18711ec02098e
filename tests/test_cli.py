"""The speechxl command itself."""

import subprocess
import sys


def test_the_command_reads_its_arguments_without_importing_torch():
    """--help answers at once: torch (a second to import) loads only when a verb runs."""
    code = ("import sys\nfrom speechxl import cli\ntry:\n    cli.main(['pretrain', '--help'])\n"
            "except SystemExit:\n    pass\nprint('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().endswith("False")
