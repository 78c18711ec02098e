#!/usr/bin/env python3
"""k-means for HuBERT's labels: faiss-cpu against scikit-learn's MiniBatchKMeans (fairseq's choice),
side by side on the same frames (the HuBERT issue: choose by measured speed and quality). Needs
scikit-learn, which speechxl does not depend on (pip install scikit-learn).

    python tools/bench_kmeans.py exp/feats_mfcc:100 exp/feats_layer:500 [--sample 100000] [--runs 3]

Each store (a ``speechxl dump-features`` dir) with its cluster count: both libraries fit on the same
random sample of frames (seeded per run), then every frame of the store is labelled. Quality is the
mean squared distance of all frames to their centroid (lower is better; the fit sample is a part of
them), and the share of clusters used; time is the fit's and the labelling's, medians of ``--runs``.
fairseq's settings for MiniBatchKMeans (simple_kmeans/learn_kmeans.py): k-means++ init, batches of
10000, 100 iterations at most, 20 inits, no reassignment, 100 batches without improvement to stop.
faiss: 20 Lloyd iterations (its default is 25), 3 redos, the best kept.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from speechxl.data.frame_store import FrameStore  # noqa: E402


def fit_faiss(x: np.ndarray, k: int, seed: int):
    import faiss

    km = faiss.Kmeans(x.shape[1], k, niter=20, nredo=3, seed=seed, verbose=False, max_points_per_centroid=100000)
    km.train(x)
    return lambda y: km.index.search(y, 1)[1][:, 0]


def fit_sklearn(x: np.ndarray, k: int, seed: int):
    from sklearn.cluster import MiniBatchKMeans

    km = MiniBatchKMeans(n_clusters=k, init="k-means++", max_iter=100, batch_size=10000, tol=0.0,
                         max_no_improvement=100, n_init=20, reassignment_ratio=0.0, random_state=seed)
    km.fit(x)
    return km.predict


def measure(fit, frames: np.ndarray, k: int, sample: int, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    x = np.ascontiguousarray(frames[np.sort(rng.choice(len(frames), min(sample, len(frames)), replace=False))],
                             dtype=np.float32)
    t0 = time.perf_counter()
    predict = fit(x, k, seed)
    t1 = time.perf_counter()
    labels = np.concatenate([predict(np.ascontiguousarray(frames[i: i + 65536], dtype=np.float32))
                             for i in range(0, len(frames), 65536)])
    t2 = time.perf_counter()
    sq, counts = np.zeros(k), np.bincount(labels, minlength=k)
    sums = np.zeros((k, frames.shape[1]))
    for i in range(0, len(frames), 65536):  # centroid of each cluster over all frames, then the spread around it
        np.add.at(sums, labels[i: i + 65536], frames[i: i + 65536].astype(np.float64))
    centroids = sums / np.maximum(counts, 1)[:, None]
    for i in range(0, len(frames), 65536):
        d = frames[i: i + 65536].astype(np.float64) - centroids[labels[i: i + 65536]]
        sq += np.bincount(labels[i: i + 65536], weights=(d * d).sum(1), minlength=k)
    return {"fit_s": t1 - t0, "label_s": t2 - t1, "mse": float(sq.sum() / len(frames)),
            "used": float((counts > 0).mean())}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("stores", nargs="+", help="dump-features dir:clusters")
    ap.add_argument("--sample", type=int, default=100000, help="frames to fit on")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--out", help="write the figures as JSON here")
    args = ap.parse_args()
    result = {"machine": f"{platform.processor() or platform.machine()}, {__import__('os').cpu_count()} cores",
              "sample": args.sample, "stores": {}}
    for spec in args.stores:
        path, k = spec.rsplit(":", 1)
        frames = FrameStore(path).frames
        rows = {}
        for name, fit in (("faiss", fit_faiss), ("sklearn", fit_sklearn)):
            runs = [measure(fit, frames, int(k), args.sample, seed) for seed in range(args.runs)]
            rows[name] = {key: statistics.median(r[key] for r in runs) for key in runs[0]}
            print(f"{path} k={k} {name}: " + ", ".join(f"{key} {v:.4g}" for key, v in rows[name].items()), flush=True)
        result["stores"][spec] = rows
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
