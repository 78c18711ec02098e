#!/usr/bin/env python3
"""How much a second busy process slows training, per thread setting (the speed issue, target 2).

For each setting, ``speechxl pretrain`` runs ``--steps`` updates of a preset on a data set, once
alone and once beside one busy single-threaded process (``yes > /dev/null``, as a laptop's other
job); the figure is the median of the logged steps per second after the first log interval. On 2
cores the fair slowdown beside one busy process is 2x.

    python tools/bench_busy.py --data egs/commonvoice/data/pretrain [--steps 120] [--out busy.json]

Settings: torch's default (as many threads as cores, OpenMP's default wait policy), one thread,
OpenMP's passive wait policy (threads sleep instead of spinning when they wait), and libgomp's
spinning cut short (GOMP_SPINCOUNT: how long a waiting thread spins before it sleeps; libgomp's
default is 300000, or 1000 when there are more threads than free cores).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SETTINGS = {"default": ({}, []), "1 thread": ({}, ["train.threads=1"]),
            "OMP_WAIT_POLICY=PASSIVE": ({"OMP_WAIT_POLICY": "PASSIVE"}, []),
            "GOMP_SPINCOUNT=10000": ({"GOMP_SPINCOUNT": "10000"}, []),
            "GOMP_SPINCOUNT=100000": ({"GOMP_SPINCOUNT": "100000"}, [])}


def steps_per_second(env: dict, overrides: list[str], args, busy: bool) -> float:
    with tempfile.TemporaryDirectory() as out:
        cmd = [sys.executable, "-m", "speechxl", "pretrain", "--config", str(ROOT / args.preset), f"data={args.data}",
               f"out={out}", f"train.max_steps={args.steps}", "train.log_every=20", "train.valid_every=100000",
               "train.save_every=100000", *overrides]
        hog = subprocess.Popen(["yes"], stdout=subprocess.DEVNULL) if busy else None
        try:
            subprocess.run(cmd, check=True, env={**os.environ, **env}, capture_output=True)
        finally:
            if hog:
                hog.kill()
                hog.wait()
        rows = [json.loads(x) for x in (Path(out) / "log.jsonl").read_text().splitlines()]
        rates = [r["steps_per_s"] for r in rows if r.get("split") == "train" and "steps_per_s" in r][1:]
        return statistics.median(rates)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", required=True)
    p.add_argument("--preset", default="recipes/pretrain/wav2vec2_tiny.yaml")
    p.add_argument("--steps", type=int, default=120)
    p.add_argument("--settings", nargs="+", default=list(SETTINGS), choices=list(SETTINGS))
    p.add_argument("--out", type=Path)
    args = p.parse_args()
    results = {}
    for name in args.settings:
        env, overrides = SETTINGS[name]
        alone = steps_per_second(env, overrides, args, busy=False)
        busy = steps_per_second(env, overrides, args, busy=True)
        results[name] = {"alone_steps_per_s": round(alone, 3), "busy_steps_per_s": round(busy, 3),
                         "slowdown": round(alone / busy, 2)}
        print(f"{name:26s} alone {alone:6.2f} steps/s   beside a busy process {busy:6.2f}   slowdown {alone / busy:.2f}x",
              flush=True)
    if args.out:
        args.out.write_text(json.dumps({"machine": platform.processor() or platform.machine(), "cores": os.cpu_count(),
                                        "preset": args.preset, "steps": args.steps, "results": results}, indent=1) + "\n")


if __name__ == "__main__":
    main()
