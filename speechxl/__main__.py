"""``python -m speechxl`` (and ``torchrun -m speechxl``) run the ``speechxl`` command."""

from speechxl.cli import main

main()
