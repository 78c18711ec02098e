#!/usr/bin/env python3
"""Benchmark one CTC fine-tuning update of a BASE-size encoder: full fine-tuning (the peer: every encoder
weight trained, the frontend frozen, as recipes/finetune/ctc_base.yaml) against MMS's language adapters
(adapter=mms, a bottleneck of 16) and LoRA (adapter=lora, rank 8 on the attention's q and v), the base frozen.

Each mode runs in a fresh process (its peak memory is its own), the modes alternating over rounds; an update
is the forward and backward passes of one batch and the optimizer's step (AdamW, as the trainer's), timed
after one untimed update. Reports the median seconds per update, the optimizer state's bytes (exact: the
tensors AdamW holds) and the process's peak resident memory (ru_maxrss), the model's weights included.

    python tools/bench_adapters.py                     # BASE, 4 x 8 s, 3 rounds of 4 updates, fp32, CPU
    python tools/bench_adapters.py --out docs/bench_adapters.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODES = {"full": [], "mms": ["adapter=mms"], "lora": ["adapter=lora"]}
VOCAB = 40


def one_mode(mode: str, batch: int, seconds: float, updates: int) -> dict:
    """Build the model as `speechxl finetune` would for ``mode`` and time ``updates`` updates after one."""
    import torch

    from speechxl.models.adapters import adapted_architecture, with_adapter
    from speechxl.models.ctc import CTCModel
    from speechxl.models.speech_encoder import build_encoder
    from speechxl.train.finetune import FinetuneConfig
    from speechxl.train.setup import load_run_config
    from speechxl.train.trainer import make_optimizer

    cfg = load_run_config(FinetuneConfig, ROOT / "recipes/finetune/ctc_base.yaml", [  # random weights: no init
        f"architecture={ROOT / 'recipes/pretrain/wav2vec2_base.yaml'}", "units=chars", "ctc.freeze_encoder_steps=0",
        *MODES[mode]], check=False)
    torch.manual_seed(0)
    model = CTCModel(build_encoder(adapted_architecture(cfg.model, cfg.adapter)), VOCAB, cfg.ctc).train()
    with_adapter(model, cfg.adapter)
    trained = [p for p in model.parameters() if p.requires_grad]
    optimizer = make_optimizer(trained, cfg.optim)
    gen = torch.Generator().manual_seed(1)
    samples = int(seconds * 16000)
    data = {"wav": torch.randn(batch, samples, generator=gen) * 0.1, "lengths": torch.full((batch,), samples),
            "labels": [torch.randint(1, VOCAB, (int(seconds * 12),), generator=gen).tolist() for _ in range(batch)],
            "langs": ["xx"] * batch}
    times = []
    for i in range(updates + 1):
        start = time.perf_counter()
        loss, count, _ = model(data)
        (loss / count).backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if i:
            times.append(time.perf_counter() - start)
    state = sum(t.numel() * t.element_size() for s in optimizer.state.values() for t in s.values()
                if isinstance(t, torch.Tensor))
    return {"mode": mode, "seconds": times, "optimizer_state_mb": state / 2**20,
            "trained_m": sum(p.numel() for p in trained) / 1e6,
            "parameters_m": sum(p.numel() for p in model.parameters()) / 1e6,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--seconds", type=float, default=8.0)
    ap.add_argument("--updates", type=int, default=4, help="timed updates per round")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--out", help="write the results as JSON here")
    ap.add_argument("--mode", help=argparse.SUPPRESS)  # a worker: one mode, JSON on stdout
    args = ap.parse_args()
    if args.mode:
        print(json.dumps(one_mode(args.mode, args.batch, args.seconds, args.updates)))
        return
    runs: dict[str, list[dict]] = {m: [] for m in MODES}
    for _ in range(args.rounds):
        for mode in MODES:
            done = subprocess.run([sys.executable, __file__, "--mode", mode, "--batch", str(args.batch), "--seconds",
                                   str(args.seconds), "--updates", str(args.updates)], check=True,
                                  capture_output=True, text=True, cwd=ROOT)
            runs[mode].append(json.loads(done.stdout.strip().splitlines()[-1]))
    rows = {}
    for mode, rs in runs.items():
        rows[mode] = {"median_s": statistics.median(t for r in rs for t in r["seconds"]),
                      "optimizer_state_mb": rs[0]["optimizer_state_mb"], "trained_m": rs[0]["trained_m"],
                      "parameters_m": rs[0]["parameters_m"],
                      "peak_rss_mb": statistics.median(r["peak_rss_mb"] for r in rs)}
    full = rows["full"]
    print(f"| mode | trained M of {full['parameters_m']:.1f} M | s / update (median) | speed vs full | "
          "optimizer state MB | share of full's | peak RSS MB | vs full |")
    print("|---|---|---|---|---|---|---|---|")
    for mode, r in rows.items():
        print(f"| {mode} | {r['trained_m']:.2f} | {r['median_s']:.2f} | {full['median_s'] / r['median_s']:.2f}x | "
              f"{r['optimizer_state_mb']:.1f} | {100 * r['optimizer_state_mb'] / full['optimizer_state_mb']:.1f} % | "
              f"{r['peak_rss_mb']:.0f} | {100 * (r['peak_rss_mb'] / full['peak_rss_mb'] - 1):+.0f} % |")
    if args.out:
        info = {"machine": platform.processor() or platform.machine(), "cores": os.cpu_count(),
                "batch": args.batch, "seconds": args.seconds, "updates": args.updates, "rounds": args.rounds,
                "rows": rows, "runs": runs}
        Path(args.out).write_text(json.dumps(info, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
