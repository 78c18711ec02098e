#!/usr/bin/env python3
"""How much a second busy process slows training and decoding, per thread setting (the speed issue,
target 2).

Each workload runs once alone and once beside one busy single-threaded process (``yes > /dev/null``,
as a laptop's other job), per setting, in alternating rounds (each round visits the settings in
another order, so that drift in the machine's speed hits them alike); the figures are medians over
the rounds. Training: ``speechxl pretrain`` for ``--steps`` updates of a preset, the median of its
logged steps per second after the first log interval. Decoding: ``speechxl decode`` of a model on a
data set, greedy, its real-time factor (decode.json). On 2 cores the fair slowdown beside one busy
process is 2x.

    python tools/bench_busy.py --data egs/commonvoice/data/pretrain [--steps 160] [--rounds 3] \\
        [--model exp/ctc_phones --decode_data egs/commonvoice/data/dev] [--out busy.json]

Settings: ``speechxl``'s own (it sets OMP_WAIT_POLICY=PASSIVE when neither it nor GOMP_SPINCOUNT is
set: waiting OpenMP threads sleep), libgomp's default (GOMP_SPINCOUNT=300000: a waiting thread spins
about 3 ms, then sleeps; what torch does when nothing is set), OpenMP's active wait policy (spin), and
one thread (``train.threads=1``; training only).
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
SETTINGS = {"speechxl (PASSIVE)": ({}, []), "libgomp default": ({"GOMP_SPINCOUNT": "300000"}, []),
            "OMP_WAIT_POLICY=ACTIVE": ({"OMP_WAIT_POLICY": "ACTIVE"}, []), "1 thread": ({}, ["train.threads=1"])}


def env_for(setting: dict) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}
    return {**env, **setting}


def beside_busy(cmd: list[str], env: dict, busy: bool) -> None:
    hog = subprocess.Popen(["yes"], stdout=subprocess.DEVNULL) if busy else None
    try:
        subprocess.run(cmd, check=True, env=env, capture_output=True)
    finally:
        if hog:
            hog.kill()
            hog.wait()


def train_speed(setting: str, args, busy: bool) -> float:
    """Training steps per second (higher is faster)."""
    env, overrides = SETTINGS[setting]
    with tempfile.TemporaryDirectory() as out:
        beside_busy([sys.executable, "-m", "speechxl", "pretrain", "--config", str(ROOT / args.preset),
                     f"data={args.data}", f"out={out}", f"train.max_steps={args.steps}", "train.log_every=20",
                     "train.valid_every=100000", "train.save_every=100000", *overrides], env_for(env), busy)
        rows = [json.loads(x) for x in (Path(out) / "log.jsonl").read_text().splitlines()]
        rates = [r["steps_per_s"] for r in rows if r.get("split") == "train" and "steps_per_s" in r][1:]
        return statistics.median(rates)


def decode_speed(setting: str, args, busy: bool) -> float:
    """Audio seconds decoded per second (1 / real-time factor; higher is faster)."""
    env, _ = SETTINGS[setting]
    with tempfile.TemporaryDirectory() as out:
        beside_busy([sys.executable, "-m", "speechxl", "decode", args.model, args.decode_data, "--out", out],
                    env_for(env), busy)
        return 1 / json.loads((Path(out) / "decode.json").read_text())["real_time_factor"]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", required=True, help="training data (a prepared data set)")
    p.add_argument("--preset", default="recipes/pretrain/wav2vec2_tiny.yaml")
    p.add_argument("--steps", type=int, default=160)
    p.add_argument("--model", help="a CTC model to decode with (no decoding without it)")
    p.add_argument("--decode_data", help="the data set it decodes")
    p.add_argument("--settings", nargs="+", default=list(SETTINGS), choices=list(SETTINGS))
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--out", type=Path)
    args = p.parse_args()
    workloads = {"train": train_speed}
    if args.model:
        workloads["decode"] = decode_speed
    runs: dict[tuple[str, str], dict[str, list[float]]] = {}
    for r in range(args.rounds):
        order = args.settings[r % len(args.settings):] + args.settings[: r % len(args.settings)]
        for setting in order:
            for workload, speed in workloads.items():
                if workload == "decode" and SETTINGS[setting][1]:
                    continue  # a training override
                run = runs.setdefault((workload, setting), {"alone": [], "busy": []})
                for busy in ((False, True) if r % 2 == 0 else (True, False)):
                    run["busy" if busy else "alone"].append(speed(setting, args, busy))
                print(f"round {r + 1} {workload:6s} {setting:24s} alone {run['alone'][-1]:7.2f}  busy "
                      f"{run['busy'][-1]:7.2f}  slowdown {run['alone'][-1] / run['busy'][-1]:.2f}x", flush=True)
    results = []
    for (workload, setting), run in runs.items():
        alone, busy = statistics.median(run["alone"]), statistics.median(run["busy"])
        slowdowns = [a / b for a, b in zip(run["alone"], run["busy"])]
        results.append({"workload": workload, "setting": setting, "alone": round(alone, 3), "busy": round(busy, 3),
                        "slowdown_median": round(statistics.median(slowdowns), 2),
                        "slowdowns": [round(s, 2) for s in slowdowns], "alone_runs": run["alone"],
                        "busy_runs": run["busy"]})
        print(f"median {workload:6s} {setting:24s} alone {alone:7.2f}  busy {busy:7.2f}  slowdown "
              f"{statistics.median(slowdowns):.2f}x  ({' '.join(f'{s:.2f}' for s in slowdowns)})", flush=True)
    if args.out:
        args.out.write_text(json.dumps({
            "machine": platform.processor() or platform.machine(), "cores": os.cpu_count(), "preset": args.preset,
            "steps": args.steps, "model": args.model, "decode_data": args.decode_data, "rounds": args.rounds,
            "units": {"train": "steps per second", "decode": "audio seconds per second"},
            "results": results}, indent=1) + "\n")


if __name__ == "__main__":
    main()
