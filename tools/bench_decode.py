#!/usr/bin/env python3
"""Benchmark beam search + n-gram LM: speechxl (flashlight-text) vs pyctcdecode, at equal footing.

Both decode the same CTC log-probabilities (from a fine-tuned character model) with the same
per-language word n-gram LMs (data/lang_word/<lang>.arpa) and the same beam width; each picks
its LM weight and word score on dev over the same grid, then decodes test. speechxl's lexicon
decoder writes only words of the LM's vocabulary; pyctcdecode runs twice, as it comes (it may
spell out-of-vocabulary words) and kept to the vocabulary (the same search space). Reported:
test WER and search time (log-probabilities excluded) of each. pyctcdecode (what transformers'
Wav2Vec2ProcessorWithLM uses) pins numpy<2, so it runs in its own virtual environment,
tools/.peer-venv, made on first use.

    python tools/bench_decode.py --model egs/commonvoice/exp/ctc_chars_wav2vec2_tiny \\
        --dev egs/commonvoice/data/dev --test egs/commonvoice/data/test --lm egs/commonvoice/data/lang_word
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
PEER = ROOT / "tools" / ".peer-venv"
WEIGHTS = (0.0, 0.25, 0.5, 1.0, 1.5, 2.0)
SCORES = (-2.0, -1.0, 0.0, 1.0, 2.0)


def peer_python() -> Path:
    py = PEER / "bin" / "python"
    if not py.exists():
        print(f"making {PEER} (pyctcdecode, kenlm) ...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(PEER)], check=True)
        subprocess.run([str(py), "-m", "pip", "install", "-q", "pyctcdecode", "kenlm"], check=True)
    return py


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True, help="a fine-tuned character (or BPE) model")
    p.add_argument("--dev", required=True)
    p.add_argument("--test", required=True)
    p.add_argument("--lm", required=True, help="dir of <lang>.arpa word LMs (data/lang_word)")
    p.add_argument("--beam", type=int, default=50)
    p.add_argument("--out", default="")
    args = p.parse_args()
    sys.path.insert(0, str(ROOT))
    from rapidfuzz.distance import Levenshtein

    from speechxl.data.manifest import read_manifest
    from speechxl.decode.beam import BeamConfig
    from speechxl.decode.model import _arpa_words, load_model
    from speechxl.decode.run import Searcher, emissions, tune
    from speechxl.text.units import BLANK, UNK, WORD

    model = load_model(args.model)
    dev, test = read_manifest(args.dev), read_manifest(args.test)
    lm = Path(args.lm)
    langs = sorted({u.lang for u in dev + test})

    def wer(utts, hyps):
        return sum(Levenshtein.distance(h.split(), u.text.split()) for u, h in zip(utts, hyps)) / sum(
            len(u.text.split()) for u in utts)

    # speechxl: tune on dev, then time the search on test
    beam, _ = tune(model, lm, BeamConfig(beam=args.beam), dev, WEIGHTS, SCORES)
    em_test = emissions(model, test)
    searcher = Searcher(model, lm, beam)
    for lang in langs:
        searcher.decoder_for(lang)
    t0 = time.perf_counter()
    ours = [searcher(em_test[u.id], u.lang)[1] for u in test]
    ours_s = time.perf_counter() - t0

    # pyctcdecode, in its own environment, on the same log-probabilities
    em_dev = emissions(model, dev)
    labels = ["" if s == BLANK else " " if s == WORD else "⁇" if s == UNK else s for s in model.units.symbols]
    with tempfile.TemporaryDirectory() as work:
        w = Path(work)
        for name, utts, em in (("dev", dev, em_dev), ("test", test, em_test)):
            np.savez(w / f"{name}.npz", **{u.id: em[u.id].numpy() for u in utts})
        job = {"labels": labels, "beam": args.beam, "weights": WEIGHTS, "scores": SCORES,
               "unk_score_offsets": [-10.0, -1000.0],
               "arpa": {lang: str(lm / f"{lang}.arpa") for lang in langs},
               "words": {lang: _arpa_words(lm / f"{lang}.arpa") for lang in langs},
               **{name: {"ids": [u.id for u in utts], "langs": [u.lang for u in utts],
                         "refs": [u.text for u in utts]} for name, utts in (("dev", dev), ("test", test))}}
        (w / "job.json").write_text(json.dumps(job, ensure_ascii=False))
        subprocess.run([str(peer_python()), str(ROOT / "tools" / "peer_pyctcdecode.py"), work], check=True)
        peer = json.loads((w / "pyctcdecode.json").read_text())

    audio = sum(u.duration for u in test)
    rows = [
        {"decoder": "speechxl (flashlight-text)", "lm_weight": beam.lm_weight, "word_score": beam.word_score,
         "test_wer": round(wer(test, ours), 4), "search_s": round(ours_s, 3)},
    ] + [{"decoder": f"pyctcdecode, {'vocabulary only' if r['unk_score_offset'] < -100 else 'spells OOV words'}",
          "lm_weight": r["alpha"], "word_score": r["beta"], "test_wer": round(wer(test, r["hyps"]), 4),
          "search_s": round(r["seconds"], 3)} for r in peer]
    greedy = [model.detokenize(Searcher(model, None, beam)(em_test[u.id], u.lang)[0]) for u in test]
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores; model {model.checkpoint}; beam {args.beam}; "
          f"test {len(test)} utterances, {audio / 60:.1f} min; greedy WER {wer(test, greedy):.4f}")
    print(f"{'decoder':36} {'weight':>7} {'score':>6} {'test WER':>9} {'search s':>9} {'x real time':>12}")
    for r in rows:
        print(f"{r['decoder']:36} {r['lm_weight']:7.2f} {r['word_score']:6.1f} {r['test_wer']:9.4f} "
              f"{r['search_s']:9.2f} {audio / r['search_s']:12.1f}")
    for r in rows[1:]:
        print(f"speechxl searches {r['search_s'] / rows[0]['search_s']:.1f}x as fast as {r['decoder']}")
    if args.out:
        Path(args.out).write_text(json.dumps({"args": vars(args), "rows": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()
