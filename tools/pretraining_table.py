"""The table of tools/compare_pretraining.sh: PER per test condition of each configuration, the mean over
its seeds and each seed's figure.

    python tools/pretraining_table.py egs/commonvoice/exp/compare --out egs/commonvoice/exp/compare/table.md

Reads <dir>/<configuration>/seed<n>/results_*.json (the recipe's stage 6) and writes a Markdown table: a
row per configuration (in the order of ORDER, then by name), for each test condition and search the
mean PER over all languages, then the seeds' figures in brackets; and the mean over both conditions,
the figure the demo's default follows.
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

ORDER = ("scratch", "scratch_aug", "whistle", "whistle_aug")
CONDITIONS = ("test", "test_voices")
SEARCHES = ("greedy", "LM")


def runs(root: Path) -> dict[str, dict[str, dict[str, float]]]:
    """configuration -> seed -> "<condition> <search>" -> PER (percent)."""
    found: dict[str, dict[str, dict[str, float]]] = {}
    for results in sorted(root.glob("*/seed*/results_*.json")):
        config, seed = results.parent.parent.name, results.parent.name.removeprefix("seed")
        table = json.loads(results.read_text(encoding="utf-8"))
        per = {}
        for label, metrics in table.items():
            search = label.rsplit(" ", 1)[-1]
            for condition in CONDITIONS:
                rate = metrics.get("PER", {}).get(f"{condition} all")
                if rate is not None and search in SEARCHES:
                    per[f"{condition} {search}"] = 100 * rate
        found.setdefault(config, {})[seed] = per
    return found


def cell(values: list[float]) -> str:
    if not values:
        return ""
    mean = f"{statistics.mean(values):.1f}"
    return mean if len(values) == 1 else f"{mean} ({', '.join(f'{v:.1f}' for v in values)})"


def table(found: dict[str, dict[str, dict[str, float]]]) -> str:
    columns = [f"{c} {s}" for s in SEARCHES for c in CONDITIONS]
    head = ["configuration", "seeds"] + [f"PER {c}" for c in columns] + ["PER mean of both, greedy"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    order = sorted(found, key=lambda name: (ORDER.index(name) if name in ORDER else len(ORDER), name))
    for config in order:
        seeds = found[config]
        row = [config, " ".join(sorted(seeds))]
        row += [cell([per[c] for per in seeds.values() if c in per]) for c in columns]
        both = [(per["test greedy"] + per["test_voices greedy"]) / 2 for per in seeds.values()
                if "test greedy" in per and "test_voices greedy" in per]
        lines.append("| " + " | ".join(row + [cell(both)]) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("dir", help="tools/compare_pretraining.sh's --out")
    p.add_argument("--out", required=True, help="the Markdown table to write")
    args = p.parse_args()
    found = runs(Path(args.dir))
    if not found:
        raise SystemExit(f"{args.dir}: no */seed*/results_*.json")
    Path(args.out).write_text(table(found), encoding="utf-8")
    print(Path(args.out).read_text(encoding="utf-8"), end="")


if __name__ == "__main__":
    main()
