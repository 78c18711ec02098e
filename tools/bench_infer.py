#!/usr/bin/env python3
"""Benchmark CTC inference: speechxl vs transformers' Wav2Vec2ForCTC, same weights, same audio.

One model per preset is saved where each implementation's users load it from (a speechxl checkpoint dir,
a transformers dir); each worker loads it as they do (speechxl's load_model, as `speechxl decode` and
speechxl.load; transformers' from_pretrained) and computes CTC log-probabilities (transformers: logits then
log_softmax) for the same batch under torch.inference_mode, in a precision: fp32; bf16 (under
torch.autocast, as `speechxl decode --precision bf16`; the peer loaded with torch_dtype=torch.bfloat16, its
fastest way in a trial); int8 (Linear layers dynamically quantized, as `--precision int8`). Each
(implementation, preset, malloc setting, precision) runs in a fresh process, in alternating rounds.
Reports the real-time factor (compute seconds per audio second; lower is faster), the peak memory of the
process (loading included) and the model's part of it (the peak less the memory after imports).
With --ctranslate2 (pip install ctranslate2 first; not a speechxl dependency), CTranslate2's Wav2Vec2 runs
too, converted from the transformers dir, in the same precision (compute_type float32 or int8; it has no
bf16 on the CPU), on presets whose feature encoder has layer norms (base_layernorm: XLSR's layout at BASE
size), the only layout its converter reads.

    python tools/bench_infer.py                       # tiny and base, batch 1 x 8 s, CPU, fp32
    python tools/bench_infer.py --batch 16 --presets base --precisions fp32 bf16 int8 --allocators kept
    python tools/bench_infer.py --presets base_layernorm --precisions fp32 bf16 int8 --allocators kept --ctranslate2
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# preset -> (fine-tuning preset, the pretraining preset whose sizes the model takes, overrides)
PRESETS = {"tiny": ("recipes/finetune/ctc_tiny.yaml", "recipes/pretrain/wav2vec2_tiny.yaml", []),
           "base": ("recipes/finetune/ctc_base.yaml", "recipes/pretrain/wav2vec2_base.yaml", []),
           "base_layernorm": ("recipes/finetune/ctc_base.yaml", "recipes/pretrain/wav2vec2_base.yaml",
                              ["model.frontend.norm=layer", "model.frontend.conv_bias=true",
                               "model.encoder.pre_norm=true"])}
CT2_TYPES = {"fp32": "float32", "int8": "int8"}  # its CPU backend refuses bfloat16 ("not efficient")
VOCAB = 64
SPECIALS = ["<pad>", "<s>", "</s>", "<unk>", "|"]  # a Wav2Vec2CTCTokenizer's, within the VOCAB ids


def save_models(args) -> dict:
    """One model of the preset (seeded), written where each implementation's users load it from: a speechxl
    checkpoint dir, a transformers dir with a tokenizer of VOCAB ids, and (--ctranslate2) CTranslate2's."""
    import torch
    import transformers

    from speechxl.checkpoint import save_release
    from speechxl.interop.hf_wav2vec2 import config_to_hf, to_hf_name
    from speechxl.models.card import ModelCard
    from speechxl.text.units import BLANK, UNK, Units
    from speechxl.train.finetune import load_finetune_config

    finetune, architecture, overrides = PRESETS[args.preset]
    cfg = load_finetune_config(ROOT / finetune, ["data=x", "out=x", f"architecture={ROOT / architecture}", *overrides])
    card = ModelCard(family="wav2vec2", model=cfg.model, ctc=cfg.ctc, vocabulary=VOCAB, units="chars")
    torch.manual_seed(0)
    ours = card.build().eval()
    sx, hf = Path(args.models) / "speechxl", Path(args.models) / "hf"
    sx.mkdir(parents=True)
    card.save(sx / "card.json")
    Units([BLANK, UNK, *(f"u{i}" for i in range(VOCAB - 2))]).save(sx / "units.txt")
    save_release(sx, ours.state_dict(), "bench_infer", 0)
    hf_cfg = transformers.Wav2Vec2Config(**{k: v for k, v in config_to_hf(cfg.model, "Wav2Vec2ForCTC").items()
                                            if k not in ("model_type", "architectures")}, vocab_size=VOCAB)
    peer = transformers.Wav2Vec2ForCTC(hf_cfg).eval()
    peer.load_state_dict({to_hf_name(k): v for k, v in ours.state_dict().items()}, strict=True)
    peer.save_pretrained(hf)
    vocab = {**{t: i for i, t in enumerate(SPECIALS)}, **{f"u{i}": i for i in range(len(SPECIALS), VOCAB)}}
    (hf / "vocab.json").write_text(json.dumps(vocab))
    transformers.Wav2Vec2CTCTokenizer(str(hf / "vocab.json")).save_pretrained(hf)
    if args.ctranslate2:
        import ctranslate2

        ctranslate2.converters.TransformersConverter(str(hf)).convert(str(Path(args.models) / "ct2"), force=True)
    return {"params_m": sum(p.numel() for p in ours.parameters()) / 1e6}


def memory_mib(field: str) -> float:
    """VmRSS (now) or VmHWM (the peak) of this process; not ru_maxrss, which starts at the parent's peak."""
    line = next(x for x in Path("/proc/self/status").read_text().splitlines() if x.startswith(field + ":"))
    return int(line.split()[1]) / 1024


def worker(args) -> dict:
    """Load the saved model as the implementation's users do, in a precision, and time it on one batch."""
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    if args.allocator == "kept":
        from speechxl.train.allocator import keep_freed_memory

        assert keep_freed_memory()
    models = Path(args.models)
    if args.impl == "ctranslate2":
        import ctranslate2
        import numpy as np

        imported = memory_mib("VmRSS")
        model = ctranslate2.models.Wav2Vec2(str(models / "ct2"), device="cpu", compute_type=CT2_TYPES[args.precision],
                                            intra_threads=torch.get_num_threads())

        def run(wav):  # wav (B, S) -> its (B, 1, S) features, the LM head's logits
            out = model.encode(ctranslate2.StorageView.from_array(wav[:, None].numpy()), to_cpu=True)
            return torch.from_numpy(np.array(out)).float().log_softmax(-1)
    elif args.impl == "speechxl":
        from speechxl.decode.model import load_model

        imported = memory_mib("VmRSS")
        model = load_model(models / "speechxl", precision=args.precision)  # as speechxl.load and decode do

        def run(wav):
            return model.log_probs(wav, torch.full((wav.shape[0],), wav.shape[1]))[0]
    else:
        import transformers

        from speechxl.decode.model import in_precision

        imported = memory_mib("VmRSS")
        model = transformers.Wav2Vec2ForCTC.from_pretrained(  # its fastest bf16 in a trial: bf16 weights too
            models / "hf", torch_dtype=torch.bfloat16 if args.precision == "bf16" else torch.float32).eval()
        if args.precision == "int8":  # the same quantization as speechxl's
            model = in_precision(model, "int8")

        def run(wav):
            return model(wav.to(next(model.parameters()).dtype)).logits.float().log_softmax(-1)
    g = torch.Generator().manual_seed(0)
    wav = 0.1 * torch.randn(args.batch, int(args.seconds * 16000), generator=g)
    times = []
    with torch.inference_mode(), torch.autocast("cpu", torch.bfloat16, enabled=args.precision == "bf16"):
        for i in range(args.warmup + args.n):
            t0 = time.perf_counter()
            run(wav)
            if i >= args.warmup:
                times.append(time.perf_counter() - t0)
    return {"times": times, "peak_mib": memory_mib("VmHWM"),
            "imported_mib": imported}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--presets", nargs="+", default=["tiny", "base"], choices=sorted(PRESETS))
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--seconds", type=float, default=8.0)
    p.add_argument("--n", type=int, default=10, help="timed batches per round")
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--allocators", nargs="+", default=["default", "kept"], choices=["default", "kept"])
    p.add_argument("--precisions", nargs="+", default=["fp32"], choices=["fp32", "bf16", "int8"])
    p.add_argument("--ctranslate2", action="store_true", help="CTranslate2's Wav2Vec2 too (base_layernorm)")
    p.add_argument("--out", default="")
    p.add_argument("--impl", help=argparse.SUPPRESS)
    p.add_argument("--models", help=argparse.SUPPRESS)
    p.add_argument("--preset", help=argparse.SUPPRESS)
    p.add_argument("--allocator", help=argparse.SUPPRESS)
    p.add_argument("--precision", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.impl:
        print(json.dumps(save_models(args) if args.impl == "save" else worker(args)))
        return
    if args.ctranslate2 and any("model.frontend.norm=layer" not in PRESETS[p][2] for p in args.presets):
        sys.exit("--ctranslate2: CTranslate2's converter reads only layer-norm feature encoders: "
                 "--presets base_layernorm")
    impls = ("speechxl", "transformers") + (("ctranslate2",) if args.ctranslate2 else ())
    results: dict = {}
    models = tempfile.mkdtemp(prefix="bench_infer_")

    def worker_run(impl, preset, alloc, precision):
        cmd = [sys.executable, __file__, "--impl", impl, "--preset", preset, "--allocator", alloc,
               f"--precision={precision}", f"--batch={args.batch}", f"--seconds={args.seconds}",
               f"--n={args.n}", f"--warmup={args.warmup}", f"--threads={args.threads}", f"--models={models}/{preset}"]
        cmd += ["--ctranslate2"] if args.ctranslate2 else []
        path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
        r = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": path})
        if r.returncode:
            sys.exit(f"{impl} {preset} {precision} failed:\n{r.stderr[-3000:]}")
        return json.loads(r.stdout.splitlines()[-1])

    params = {}
    for preset in args.presets:
        params[preset] = worker_run("save", preset, "default", "fp32")["params_m"]
        for _ in range(args.rounds):
            for alloc, precision, impl in itertools.product(args.allocators, args.precisions, impls):
                if impl == "ctranslate2" and precision not in CT2_TYPES:
                    continue
                results.setdefault((preset, alloc, precision, impl), []).append(
                    worker_run(impl, preset, alloc, precision))
    shutil.rmtree(models)
    audio = args.batch * args.seconds
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores; batch {args.batch} x {args.seconds} s; "
          f"{args.rounds} rounds x {args.n} batches")
    print(f"{'preset':14} {'malloc':8} {'prec':5} {'impl':13} {'params':>7} {'batch s':>8} {'RTF':>7} {'peak MiB':>9} "
          f"{'model MiB':>9}")
    rows = []
    for preset, alloc in itertools.product(args.presets, args.allocators):
        peer_fp32 = statistics.median(t for r in results[(preset, alloc, args.precisions[0], "transformers")]
                                      for t in r["times"])
        for precision in args.precisions:
            rtf = {}
            for impl in impls:
                runs = results.get((preset, alloc, precision, impl))
                if runs is None:
                    continue
                med = statistics.median(t for r in runs for t in r["times"])
                rtf[impl] = med / audio
                row = {"preset": preset, "allocator": alloc, "precision": precision, "impl": impl,
                       "median_batch_s": round(med, 4), "rtf": round(med / audio, 5),
                       "peak_mib": round(max(r["peak_mib"] for r in runs)),
                       "model_mib": round(max(r["peak_mib"] - r["imported_mib"] for r in runs)),
                       "params_m": round(params[preset], 2)}
                rows.append(row)
                print(f"{preset:14} {alloc:8} {precision:5} {impl:13} {row['params_m']:6.2f}M {med:8.3f} "
                      f"{row['rtf']:7.4f} {row['peak_mib']:9d} {row['model_mib']:9d}")
            print(f"{preset:14} {alloc:8} {precision:5} speechxl is {rtf['transformers'] / rtf['speechxl']:.2f}x as "
                  f"fast as transformers in {precision}, {peer_fp32 / audio / rtf['speechxl']:.2f}x as fast as "
                  f"transformers in {args.precisions[0]}"
                  + (f", {rtf['ctranslate2'] / rtf['speechxl']:.2f}x as fast as CTranslate2 in {precision}"
                     if "ctranslate2" in rtf else ""))
    if args.out:
        Path(args.out).write_text(json.dumps({"args": vars(args), "rows": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()
