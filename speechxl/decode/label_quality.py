"""k-means labels against phones: ``speechxl label-quality`` (HuBERT's phone purity, cluster purity, PNMI).

    speechxl label-quality exp/hubert/km_it1 exp/hubert/km_it2 --data data/dev --aligner exp/ctc_phones --out q

Each utterance of ``--data`` with a transcript is force-aligned by a phone CTC model
(``decode.align``: ctc-segmentation, each phone from where the path enters it to where it enters
the next, inside its word); a label frame gets the phone whose span holds its centre, and frames
outside every phone (pauses between words) are left out, as are utterances the labels do not cover
or the aligner cannot align (logged). The counts of (phone, label) pairs give the figures
(``eval/label_quality.py``) of each label set, over the same utterances, each at its own frame rate
(a 20 ms label set counts twice the frames of a 40 ms one). The figures are as good as the aligner:
give the best phone recogniser there is.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from speechxl.data.audio import AudioError, load_audio
from speechxl.data.frame_store import FrameStore
from speechxl.data.manifest import read_manifest
from speechxl.decode.align import align
from speechxl.decode.model import load_model
from speechxl.errors import SpeechxlError
from speechxl.eval.label_quality import purity, write_report

log = logging.getLogger(__name__)
WINDOW_S = 0.025  # a label frame's centre is this much / 2 after its start


def frame_phones(spans: list[tuple[float, float, int]], frames: int, shift: float) -> np.ndarray:
    """(frames,) the phone id whose span [start, end) seconds holds each frame's centre; -1 for none."""
    out = np.full(frames, -1, dtype=np.int64)
    centres = np.arange(frames) * shift + WINDOW_S / 2
    for start, end, phone in spans:
        out[(centres >= start) & (centres < end)] = phone
    return out


def label_quality(labels: list[str | Path], data: str | Path, aligner: str | Path, out: str | Path) -> Path:
    stores = {str(p): FrameStore(p) for p in labels}
    for p, s in stores.items():
        if "clusters" not in s.info:
            raise SpeechxlError(f"{p}: features, not k-means labels (speechxl kmeans writes them)")
    model = load_model(aligner)
    if model.card.units != "phones":
        raise SpeechxlError(f"--aligner {aligner}: a {model.card.units} model; give a phone CTC model")
    joint = {p: np.zeros((len(model.units), s.info["clusters"]), dtype=np.int64) for p, s in stores.items()}
    skipped = 0
    for u in read_manifest(data):
        if not u.text or not all(u.id in s for s in stores.values()):
            skipped += 1
            continue
        try:
            aligned = align(model, load_audio(u.audio, u.offset, u.duration), [(None, None, u.text)], u.lang,
                            where=u.id)[0]
        except (AudioError, ValueError) as e:
            log.warning("%s: skipped (%s)", u.id, e)
            skipped += 1
            continue
        spans = [(ph.start, ph.end, model.units.index[ph.text]) for w in aligned.words for ph in w.units]
        for p, s in stores.items():
            z = np.asarray(s[u.id][:, 0], dtype=np.int64)
            y = frame_phones(spans, len(z), s.frame_shift_ms / 1000)
            np.add.at(joint[p], (y[y >= 0], z[y >= 0]), 1)
    if skipped:
        log.info("%d utterances left out (no transcript, no labels, or not aligned)", skipped)
    rows = {}
    for p, counts in joint.items():
        if not counts.sum():
            raise SpeechxlError(f"{p}: no frame of {data} has both a label and an aligned phone")
        rows[p] = {"clusters": stores[p].info["clusters"], "frames": int(counts.sum()), **purity(counts),
                   "features": stores[p].info.get("features", {})}
    about = (f"Frames of {data} with a phone from a forced alignment by {aligner} (pauses left out); "
             "phone purity: how pure in phones a cluster is; cluster purity: how much of a phone one cluster holds; "
             "PNMI: the share of a phone's uncertainty that its label removes (HuBERT, section IV-A).")
    return write_report(rows, out, "k-means labels against phones", about)
