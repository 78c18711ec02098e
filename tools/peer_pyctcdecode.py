#!/usr/bin/env python3
"""pyctcdecode side of tools/bench_decode.py; runs in its own environment (pyctcdecode pins numpy<2).

Reads <work>/job.json and <work>/{dev,test}.npz (log-probs per utterance); for each unknown-word
offset given (pyctcdecode's default -10 lets it spell words outside the LM's vocabulary; a very
low one keeps it to the vocabulary, as a lexicon decoder), tunes alpha/beta on dev over the grid,
decodes test with the best, and writes the results to <work>/pyctcdecode.json.
"""

import json
import sys
import time
from pathlib import Path

import numpy as np
from pyctcdecode import build_ctcdecoder


def wer(refs, hyps):
    import difflib  # word edit distance without extra packages

    errors = total = 0
    for r, h in zip(refs, hyps):
        r, h = r.split(), h.split()
        sm = difflib.SequenceMatcher(a=r, b=h, autojunk=False)
        errors += sum(max(i2 - i1, j2 - j1) for op, i1, i2, j1, j2 in sm.get_opcodes() if op != "equal")
        total += len(r)
    return errors / max(total, 1)


def main(work: Path) -> None:
    job = json.loads((work / "job.json").read_text())
    sets = {name: np.load(work / f"{name}.npz") for name in ("dev", "test")}
    results = [tuned_run(job, sets, offset) for offset in job["unk_score_offsets"]]
    (work / "pyctcdecode.json").write_text(json.dumps(results, ensure_ascii=False))


def tuned_run(job: dict, sets: dict, unk_score_offset: float) -> dict:
    decoders = {}

    def decoder(lang, alpha, beta):
        if lang not in decoders:
            decoders[lang] = build_ctcdecoder(job["labels"], kenlm_model_path=job["arpa"][lang],
                                              unigrams=job["words"][lang], alpha=alpha, beta=beta,
                                              unk_score_offset=unk_score_offset)
        d = decoders[lang]
        d.reset_params(alpha=alpha, beta=beta, unk_score_offset=unk_score_offset)
        return d

    def run(name, alpha, beta):
        meta = job[name]
        return [decoder(lang, alpha, beta).decode(sets[name][uid], beam_width=job["beam"]).strip()
                for uid, lang in zip(meta["ids"], meta["langs"])]

    grid = []
    for a in job["weights"]:
        for b in job["scores"]:
            grid.append((wer(job["dev"]["refs"], run("dev", a, b)), a, b))
    best = min(grid)
    run("test", best[1], best[2])  # warm: caches and LM states
    t0 = time.perf_counter()
    hyps = run("test", best[1], best[2])
    seconds = time.perf_counter() - t0
    return {"unk_score_offset": unk_score_offset, "alpha": best[1], "beta": best[2], "dev_wer": best[0],
            "seconds": seconds, "hyps": hyps}


if __name__ == "__main__":
    main(Path(sys.argv[1]))
