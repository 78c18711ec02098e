"""k-means labels of dumped frames: HuBERT's targets.

    speechxl kmeans exp/feats_mfcc --clusters 100 --out exp/km100 [--sample 100000]

Fits faiss's k-means (Lloyd iterations, the best of ``redo`` seeded starts) on a seeded random
sample of the store's frames (HuBERT fits on a tenth of its data), then labels every frame with
its nearest centroid, into a frame store of int16 labels (``data/frame_store.py``) at the
features' frame rate, keyed by utterance id: ``speechxl pretrain ... labels=exp/km100`` reads it.
faiss was chosen over scikit-learn's MiniBatchKMeans (fairseq's choice) by tools/bench_kmeans.py:
docs/benchmarks.md, "k-means".
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from speechxl.data.frame_store import FrameStore, FrameWriter
from speechxl.errors import SpeechxlError

log = logging.getLogger(__name__)
logging.getLogger("faiss.loader").setLevel(logging.WARNING)  # which of its builds it tried, at INFO
CHUNK = 65536  # frames labelled at a time


def fit(frames: np.ndarray, clusters: int, sample: int, seed: int, iterations: int = 20, redo: int = 3) -> np.ndarray:
    """Centroids (clusters, D) fitted on ``sample`` frames of ``frames`` (N, D) drawn with ``seed``."""
    import faiss

    rng = np.random.default_rng(seed)
    rows = np.sort(rng.choice(len(frames), min(sample, len(frames)), replace=False))
    x = np.ascontiguousarray(frames[rows], dtype=np.float32)
    if len(x) < clusters:
        raise SpeechxlError(f"{len(x)} frames cannot make {clusters} clusters: give fewer --clusters or more data")
    km = faiss.Kmeans(x.shape[1], clusters, niter=iterations, nredo=redo, seed=seed, max_points_per_centroid=len(x))
    km.train(x)
    return km.centroids


def nearest(centroids: np.ndarray, frames: np.ndarray) -> tuple[np.ndarray, float]:
    """(each frame's nearest centroid (N,), the summed squared distance)."""
    import faiss

    index = faiss.IndexFlatL2(centroids.shape[1])
    index.add(np.ascontiguousarray(centroids, dtype=np.float32))
    labels, total = [], 0.0
    for i in range(0, len(frames), CHUNK):
        dist, idx = index.search(np.ascontiguousarray(frames[i: i + CHUNK], dtype=np.float32), 1)
        labels.append(idx[:, 0])
        total += float(dist.sum())
    return (np.concatenate(labels) if labels else np.zeros(0, dtype=np.int64)), total


def kmeans(features: str | Path, clusters: int, out: str | Path, sample: int = 100_000, seed: int = 0) -> Path:
    """Labels of every utterance of the frame store ``features`` into the store ``out``."""
    if not 2 <= clusters <= np.iinfo(np.int16).max:
        raise SpeechxlError(f"--clusters {clusters}: give 2 to {np.iinfo(np.int16).max}")
    store = FrameStore(features)
    centroids = fit(store.frames, clusters, sample, seed)
    labels, total = nearest(centroids, store.frames)
    out = Path(out)
    writer = FrameWriter(out, "int16", 1)
    for utt, (start, rows) in store.index.items():
        writer.add(utt, labels[start: start + rows])
    np.save(out / "centroids.npy", centroids)
    used = int((np.bincount(labels, minlength=clusters) > 0).sum())
    mse = total / max(len(labels), 1)
    path = writer.close({"clusters": clusters, "frame_shift_ms": store.frame_shift_ms, "sample": min(sample, len(labels)),
                         "seed": seed, "mean_squared_distance": mse, "clusters_used": used,
                         "features": {"path": str(features), **{k: store.info[k] for k in ("source", "layer", "data")
                                                                if k in store.info}}})
    log.info("%d clusters (%d used) of %d frames, fitted on %d; mean squared distance %.4g -> %s",
             clusters, used, len(labels), min(sample, len(labels)), mse, path)
    return path

