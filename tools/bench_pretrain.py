#!/usr/bin/env python3
"""Benchmark a full wav2vec 2.0 pretraining step: speechxl vs transformers, side by side.

A step is forward, backward and an AdamW update on the same batch, with the same weights and
config (speechxl: its trainer's fused AdamW; transformers: torch's default AdamW, as its Trainer).
transformers' Wav2Vec2ForPreTraining gets its masks and distractors from its own
helpers (_compute_mask_indices, _sample_negative_indices), counted in its step time. Each
(implementation, preset, malloc setting) runs in a fresh process, in alternating rounds, so that
peak memory (max RSS) is its own and drift in machine speed hits both alike. Both are measured
with glibc's malloc as it comes and with freed memory kept (what speechxl's trainer sets up).

    python tools/bench_pretrain.py                       # tiny and base presets, CPU, fp32
    python tools/bench_pretrain.py --presets tiny --steps 20 --rounds 3
    python tools/bench_pretrain.py --presets bestrq_tiny conformer_tiny tiny   # BEST-RQ vs wav2vec 2.0
    python tools/bench_pretrain.py --presets w2v_bert_tiny w2v_bert_base   # Wav2Vec2BertModel + speechxl's losses
    python tools/bench_pretrain.py --presets tiny base --precisions fp32 bf16 --allocators kept   # both in bf16
    python tools/bench_pretrain.py --device cuda --precisions bf16 --peak_tflops 989  # + MFU
    python tools/bench_pretrain.py --device cuda --precisions bf16 --compile      # speechxl compiled
Prints a table and writes it as JSON (--out).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# preset -> (speechxl config, the transformers class with the same architecture, if any, overrides)
PRESETS = {
    "tiny": ("recipes/pretrain/wav2vec2_tiny.yaml", "Wav2Vec2ForPreTraining", []),
    "base": ("recipes/pretrain/wav2vec2_base.yaml", "Wav2Vec2ForPreTraining", []),
    "conformer_tiny": ("recipes/pretrain/wav2vec2_conformer_tiny.yaml", "Wav2Vec2ConformerForPreTraining", []),
    "w2v_bert_tiny": ("recipes/pretrain/w2v_bert_tiny.yaml", "Wav2Vec2BertModel", []),
    # w2v-BERT at the BASE-size Conformer of bestrq_conformer_base (512 x 17), a third of it contrastive
    "w2v_bert_base": ("recipes/pretrain/w2v_bert_600m.yaml", "Wav2Vec2BertModel",
                      ["model.encoder.hidden_size=512", "model.encoder.num_layers=17", "model.encoder.num_heads=8",
                       "model.encoder.intermediate_size=2048", "model.contrastive_layers=6",
                       "model.objective.final_dim=256"]),
    "bestrq_tiny": ("recipes/pretrain/bestrq_conformer_tiny.yaml", None, []),
    "bestrq_base": ("recipes/pretrain/bestrq_conformer_base.yaml", None, []),
}


def _batch(args):
    import torch

    g = torch.Generator().manual_seed(0)
    wav = 0.1 * torch.randn(args.batch, int(args.seconds * 16000), generator=g)
    return wav, torch.full((args.batch,), wav.shape[1])


def _models(args):
    """speechxl model and a transformers model with the same config and weights."""
    import torch

    from speechxl.interop.hf_wav2vec2 import config_to_hf, to_hf_name
    from speechxl.models.registry import FAMILIES
    from speechxl.train.pretrain import load_pretrain_config

    path, peer, overrides = PRESETS[args.preset]
    run = load_pretrain_config(ROOT / path, ["data=x", "out=x", "model.encoder.layerdrop=0.0", *overrides])
    cfg = run.model
    torch.manual_seed(0)
    ours = FAMILIES[run.family].build(cfg)
    if args.impl == "speechxl":
        return cfg, ours
    import transformers

    hf_cfg = config_to_hf(cfg, peer)
    model_type = hf_cfg.pop("model_type")
    config_class = transformers.AutoConfig.for_model(model_type).__class__
    hf = getattr(transformers, peer)(config_class(**{k: v for k, v in hf_cfg.items() if k != "architectures"}))
    if peer == "Wav2Vec2BertModel":  # the encoder alone: the pretraining step around it is speechxl's
        hf.load_state_dict({to_hf_name(k, model_type).removeprefix("wav2vec2_bert."): v
                            for k, v in ours.state_dict().items() if k.startswith("backbone.")}, strict=True)
        return cfg, w2v_bert_peer(ours, hf, cfg.contrastive_layers)
    own = {to_hf_name(k, model_type): v for k, v in ours.state_dict().items()}
    missing, unexpected = hf.load_state_dict(own, strict=False)
    assert not unexpected and all(".pos_conv_embed." in k for k in missing), (missing, unexpected)
    return cfg, hf


def w2v_bert_peer(ours, hf, contrastive_layers: int):
    """w2v-BERT's step around transformers' Wav2Vec2BertModel: transformers has the encoder (feature projection,
    mask vector, Conformer) but no pretraining model, so the log-mel frames (its feature extractor runs outside
    the model), the quantizer and both losses are speechxl's own modules, the same objects as in ours."""
    import torch

    class Peer(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.frontend, self.hf = ours.backbone.frontend, hf
            self.target, self.objective, self.mlm = ours.target, ours.objective, ours.mlm

        def forward(self, wav, lengths, mask):  # mask (B, T): from transformers' _compute_mask_indices
            features, _ = self.frontend(wav, lengths)  # (B, T, 160); every frame real here
            out = self.hf(features, mask_time_indices=mask, output_hidden_states=True)
            quantized, codes, stats = self.target(out.extract_features[mask])
            loss, _, _ = self.objective(out.hidden_states[contrastive_layers][mask], quantized, codes, mask.sum(1),
                                        stats, out.last_hidden_state.new_zeros(()))
            mlm_loss, _ = self.mlm(out.last_hidden_state[mask], codes)
            return loss + mlm_loss / len(self.mlm.heads)

    return Peer()


def worker(args) -> dict:
    """Time ``args.steps`` training steps of one implementation; runs in its own process."""
    import resource

    import torch
    from torch.utils.flop_counter import FlopCounterMode

    if args.threads:
        torch.set_num_threads(args.threads)
    if args.allocator == "kept":
        from speechxl.train.allocator import keep_freed_memory

        assert keep_freed_memory()
    device = torch.device(args.device)
    cfg, model = _models(args)
    model.to(device).train()
    wav, host_lengths = _batch(args)
    wav, lengths = wav.to(device), host_lengths.to(device)
    if args.impl == "speechxl":  # what speechxl's trainer uses
        from speechxl.train.trainer import OptimConfig, make_optimizer

        opt = make_optimizer(list(model.parameters()), OptimConfig(lr=1e-4))
    else:  # torch's default AdamW, as transformers' Trainer uses ("adamw_torch")
        opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=args.precision == "bf16")

    if args.impl == "speechxl":
        from speechxl.train.trainer import to_device

        net = torch.compile(model) if args.compile else model  # as train.compile=true trains

        def loss():  # as the trainer sends a batch: its masks drawn on the host, then sent
            return net(to_device({"wav": wav, "lengths": host_lengths}, model, device))[0]
    else:  # masks (and distractors) from transformers' own helpers, counted in its step
        from transformers.models.wav2vec2.modeling_wav2vec2 import _compute_mask_indices, _sample_negative_indices

        bert = PRESETS[args.preset][1] == "Wav2Vec2BertModel"
        if bert:
            frames = int(model.frontend.output_lengths(torch.tensor(wav.shape[1])))
        else:
            model.set_gumbel_temperature(cfg.quantizer.temperature[0])
            frames = int(model._get_feat_extract_output_lengths(wav.shape[1]))

        def loss():
            mask = _compute_mask_indices((wav.shape[0], frames), cfg.masking.prob, cfg.masking.length,
                                         min_masks=cfg.masking.min_masks)
            if bert:
                return model(wav, lengths, torch.tensor(mask, device=device))
            neg = _sample_negative_indices((wav.shape[0], frames), cfg.objective.num_negatives, mask)
            return model(wav, mask_time_indices=torch.tensor(mask, device=device),
                         sampled_negative_indices=torch.tensor(neg, device=device)).loss

    def step():
        with autocast:
            value = loss()
        value.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize()

    for _ in range(args.warmup):
        step()
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    times = []
    for _ in range(args.steps):
        sync()
        t0 = time.perf_counter()
        step()
        sync()
        times.append(time.perf_counter() - t0)
    flops = FlopCounterMode(display=False)
    with flops:
        step()
    peak = (torch.cuda.max_memory_allocated() / 2**20 if device.type == "cuda"
            else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    return {"impl": args.impl, "preset": args.preset, "allocator": args.allocator, "times": times, "peak_mib": peak,
            "rss_warm_mib": rss_before / 1024, "flops": flops.get_total_flops(),
            "params_m": sum(p.numel() for p in model.parameters()) / 1e6}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--presets", nargs="+", default=["tiny", "base"], choices=sorted(PRESETS))
    p.add_argument("--batch", type=int, default=4, help="utterances per batch")
    p.add_argument("--seconds", type=float, default=4.0, help="seconds per utterance")
    p.add_argument("--steps", type=int, default=10, help="timed steps per round")
    p.add_argument("--warmup", type=int, default=5, help="untimed steps first (the heap grows in the first few)")
    p.add_argument("--rounds", type=int, default=2, help="alternating rounds of both implementations")
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--precisions", nargs="+", default=["fp32"], choices=["fp32", "bf16"],
                   help="each implementation in each (bf16: under torch.autocast, as train.precision=bf16)")
    p.add_argument("--peak_tflops", type=float, default=0.0, help="device peak, for model FLOP utilisation")
    p.add_argument("--compile", action="store_true", help="speechxl's model through torch.compile (train.compile)")
    p.add_argument("--out", default="", help="write the results as JSON here")
    p.add_argument("--allocators", nargs="+", default=["default", "kept"], choices=["default", "kept"],
                   help="glibc malloc as is, and keeping freed memory (what speechxl's trainer does)")
    p.add_argument("--impl", help=argparse.SUPPRESS)
    p.add_argument("--allocator", help=argparse.SUPPRESS)
    p.add_argument("--preset", help=argparse.SUPPRESS)
    p.add_argument("--precision", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.impl:  # a worker process
        print(json.dumps(worker(args)))
        return

    results: dict[tuple[str, str, str], list[dict]] = {}
    for preset in args.presets:
        impls = ("speechxl", "transformers") if PRESETS[preset][1] else ("speechxl",)
        for _ in range(args.rounds):
            for alloc, precision, impl in itertools.product(args.allocators, args.precisions, impls):
                cmd = [sys.executable, __file__, "--impl", impl, "--preset", preset, "--allocator", alloc,
                       "--precision", precision] + [
                    f"--{k}={v}" for k, v in vars(args).items()
                    if k not in ("impl", "preset", "presets", "out", "allocator", "allocators", "precision",
                                 "precisions", "compile")] + ["--compile"] * args.compile
                r = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT,
                                   env={**os.environ, "PYTHONPATH": str(ROOT)})
                if r.returncode:
                    sys.exit(f"{impl} {preset} {precision} failed:\n{r.stderr[-3000:]}")
                results.setdefault((preset, alloc, precision, impl), []).append(
                    json.loads(r.stdout.strip().splitlines()[-1]))

    audio = args.batch * args.seconds
    rows = []
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, device {args.device}, "
          f"{' '.join(args.precisions)}; batch {args.batch} x {args.seconds} s; {args.rounds} rounds x {args.steps} "
          "steps" + ("; speechxl compiled (torch.compile), transformers eager" if args.compile else ""))
    print(f"{'preset':14} {'malloc':8} {'prec':5} {'impl':13} {'params':>7} {'step s':>8} {'audio s/s':>10} "
          f"{'peak MiB':>9} {'GFLOP/s':>8}" + ("  MFU" if args.peak_tflops else ""))
    speed = {}
    for preset, alloc in itertools.product(args.presets, args.allocators):
        impls = ("speechxl", "transformers") if PRESETS[preset][1] else ("speechxl",)
        for precision in args.precisions:
            for impl in impls:
                runs = results[(preset, alloc, precision, impl)]
                med = statistics.median(t for r in runs for t in r["times"])
                peak = max(r["peak_mib"] for r in runs)
                gflops = runs[0]["flops"] / med / 1e9
                speed[preset, alloc, precision, impl] = audio / med
                row = {"preset": preset, "allocator": alloc, "precision": precision, "impl": impl,
                       "params_m": round(runs[0]["params_m"], 2), "median_step_s": round(med, 4),
                       "audio_s_per_s": round(audio / med, 2), "peak_mib": round(peak), "gflop_per_s": round(gflops, 1)}
                if args.peak_tflops:
                    row["mfu"] = round(gflops / 1e3 / args.peak_tflops, 4)
                rows.append(row)
                print(f"{preset:14} {alloc:8} {precision:5} {impl:13} {row['params_m']:6.2f}M {med:8.3f} "
                      f"{row['audio_s_per_s']:10.2f} {row['peak_mib']:9d} {gflops:8.1f}"
                      + (f"  {row['mfu']:.1%}" if args.peak_tflops else ""))
            if "transformers" in impls:
                ours = speed[preset, alloc, precision, "speechxl"]
                print(f"{preset:14} {alloc:8} {precision:5} speed-up of speechxl over transformers, same malloc: "
                      f"{ours / speed[preset, alloc, precision, 'transformers']:.2f}x in {precision}, "
                      f"{ours / speed[preset, alloc, args.precisions[0], 'transformers']:.2f}x against its "
                      f"{args.precisions[0]}")
        if "transformers" in impls and {"default", "kept"} <= set(args.allocators) and alloc == args.allocators[-1]:
            for precision in args.precisions:
                ratio = (speed[preset, "kept", precision, "speechxl"]
                         / speed[preset, "default", precision, "transformers"])
                print(f"{preset:14} {precision}, as each runs out of the box (speechxl's trainer keeps freed memory): "
                      f"{ratio:.2f}x")
    alloc, precision = args.allocators[-1], args.precisions[-1]
    for a, b in (("bestrq_tiny", "tiny"), ("bestrq_tiny", "conformer_tiny"), ("bestrq_base", "base")):
        if (a, alloc, precision, "speechxl") in speed and (b, alloc, precision, "speechxl") in speed:
            print(f"speechxl {a} vs speechxl {b}: "
                  f"{speed[a, alloc, precision, 'speechxl'] / speed[b, alloc, precision, 'speechxl']:.2f}x "
                  f"the audio per second ({alloc} malloc, {precision})")
    if args.out:
        Path(args.out).write_text(json.dumps({"args": vars(args), "rows": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()
