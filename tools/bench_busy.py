#!/usr/bin/env python3
"""How much a second busy process slows training and decoding, per thread setting (the speed issue,
target 2).

Each workload runs once alone and once beside one busy single-threaded process (``yes > /dev/null``,
as a laptop's other job), per setting, in alternating rounds (each round visits the settings in
another order, so that drift in the machine's speed hits them alike); the figures are medians over
the rounds. Training: ``--steps`` updates of ``--train`` (by default ``speechxl pretrain`` of wav2vec2_tiny;
the second example: the demo's CTC), the median of its logged steps per second after the first log interval.
Decoding: ``speechxl decode`` of a model on a data set, greedy, audio seconds per second of its acoustic
model and search (decode.json). On 2 cores the fair slowdown beside one busy process is 2x.

    python tools/bench_busy.py --data egs/commonvoice/data/pretrain [--steps 160] [--rounds 3] \\
        [--model exp/ctc_phones --decode_data egs/commonvoice/data/dev] [--out busy.json]
    python tools/bench_busy.py --data egs/commonvoice/data/pretrain --train "finetune --config \\
        recipes/finetune/ctc_tiny.yaml architecture=recipes/pretrain/w2v_bert_tiny.yaml units=phones \\
        lang_dir=egs/commonvoice/data/lang_phone valid_data=egs/commonvoice/data/dev ctc.freeze_encoder_steps=0"

Settings: ``speechxl``'s own (cpu_threads.py: waiting threads spin, as libgomp's default has them, and the
thread count follows the cores other processes leave free); its earlier default (waiting threads sleep:
OMP_WAIT_POLICY=PASSIVE, a thread per core); torch as it comes (a thread per core, libgomp's default wait: a
waiting thread spins about 3 ms, then sleeps); OpenMP's active wait policy (spin); one thread. The fixed
counts are set with OMP_NUM_THREADS, which speechxl leaves alone.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORES = str(len(os.sched_getaffinity(0)))
SETTINGS = {"speechxl (follows the load)": {},
            "PASSIVE, a thread per core": {"OMP_WAIT_POLICY": "PASSIVE", "OMP_NUM_THREADS": CORES},
            "torch as it comes": {"OMP_NUM_THREADS": CORES},
            "OMP_WAIT_POLICY=ACTIVE": {"OMP_WAIT_POLICY": "ACTIVE", "OMP_NUM_THREADS": CORES},
            "1 thread": {"OMP_NUM_THREADS": "1"}}


def env_for(setting: dict) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "OMP_NUM_THREADS")}
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
    with tempfile.TemporaryDirectory() as out:
        beside_busy([sys.executable, "-m", "speechxl", *shlex.split(args.train), f"data={args.data}", f"out={out}",
                     f"train.max_steps={args.steps}", "train.log_every=20", "train.valid_every=100000",
                     "train.save_every=100000"], env_for(SETTINGS[setting]), busy)
        rows = [json.loads(x) for x in (Path(out) / "log.jsonl").read_text().splitlines()]
        rates = [r["steps_per_s"] for r in rows if r.get("split") == "train" and "steps_per_s" in r][1:]
        return statistics.median(rates)


def decode_speed(setting: str, args, busy: bool) -> float:
    """Audio seconds decoded per second (1 / real-time factor; higher is faster)."""
    with tempfile.TemporaryDirectory() as out:
        beside_busy([sys.executable, "-m", "speechxl", "decode", args.model, args.decode_data, "--out", out],
                    env_for(SETTINGS[setting]), busy)
        info = json.loads((Path(out) / "decode.json").read_text())
        return info["audio_hours"] * 3600 / sum(info["seconds"].values())  # decode.json's RTF has 4 decimals


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", required=True, help="training data (a prepared data set)")
    preset = shlex.quote(str(ROOT / "recipes/pretrain/wav2vec2_tiny.yaml"))  # found from any directory
    p.add_argument("--train", default=f"pretrain --config {preset}",
                   help="the training command: a speechxl verb and its arguments, less data, out and the intervals")
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
            "machine": platform.processor() or platform.machine(), "cores": os.cpu_count(), "train": args.train,
            "steps": args.steps, "model": args.model, "decode_data": args.decode_data, "rounds": args.rounds,
            "units": {"train": "steps per second", "decode": "audio seconds per second"},
            "results": results}, indent=1) + "\n")


if __name__ == "__main__":
    main()
