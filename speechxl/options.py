"""Command-line option helpers shared by the ``speechxl`` command and the corpus modules."""

from __future__ import annotations

import argparse


def option(parser: argparse.ArgumentParser, name: str, **kw) -> None:
    """Add --a_b with --a-b as its alias."""
    names = [name] + ([name.replace("_", "-")] if "_" in name else [])
    parser.add_argument(*names, **kw)


def words(values: list[str] | None) -> list[str]:
    """'de fr' 'pl' or 'de,fr' -> ['de', 'fr', 'pl']."""
    return [w for v in values or [] for w in v.replace(",", " ").split()]


def key_values(values: list[str] | None, what: str) -> dict[str, str]:
    """'a=1 b=2' -> {'a': '1', 'b': '2'}; anything else is an error naming ``what``."""
    out = {}
    for item in words(values):
        key, eq, value = item.partition("=")
        if not eq:
            raise SystemExit(f"speechxl: {what}: expected key=value, got {item!r}")
        out[key] = value
    return out
