"""Frame features for k-means (HuBERT's targets): MFCCs, or a layer of a pretrained model.

    speechxl dump-features mfcc data/pretrain data/dev --out exp/feats_mfcc [--frame_shift 20]
    speechxl dump-features exp/hubert_it1 data/pretrain data/dev --layer 6 --out exp/feats_it1

Each utterance whole (no crop, no masking, the model in eval mode), one at a time, into a frame
store (``data/frame_store.py``) at the frame rate of the model that will predict the labels: a
model's own frames, or MFCCs averaged to ``frame_shift`` ms. Unreadable audio is skipped with a
log line naming it and counted in info.json.
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch

from speechxl.data.audio import AudioError, load_audio
from speechxl.data.frame_store import FrameWriter
from speechxl.data.manifest import read_manifest
from speechxl.decode.codes import load_pretrained
from speechxl.errors import SpeechxlError
from speechxl.models.card import frame_shift_ms
from speechxl.nn.mfcc import HOP_MS, Mfcc, pooled

log = logging.getLogger(__name__)


def _extractor(source: str, layer: int, shift_ms: float):
    """(frames of a waveform (S,) -> (T, D), D, frame shift in ms, what to record of the source)."""
    if source == "mfcc":
        k = round(shift_ms / HOP_MS)
        if k < 1 or abs(k * HOP_MS - shift_ms) > 1e-6:
            raise SpeechxlError(f"--frame_shift {shift_ms} ms: MFCCs come every {HOP_MS:g} ms; give a multiple of it")
        mfcc = Mfcc()
        return (lambda wav: pooled(mfcc(wav), k)), 39, shift_ms, {"source": "mfcc"}
    model = load_pretrained(source)
    encoder = model.backbone
    layers = len(encoder.encoder.layers)
    if not 0 <= layer <= layers:
        raise SpeechxlError(f"--layer {layer}: {source} has layers 1-{layers} (0: the encoder's input)")

    def frames(wav: torch.Tensor) -> torch.Tensor:
        return encoder(wav[None], return_layers=True).layers[layer][0]  # (T, D)

    dim = encoder.feature_projection.projection.out_features  # the encoder's width
    return frames, dim, frame_shift_ms(encoder.frontend), {"source": str(source), "layer": layer}


@torch.inference_mode()
def dump_features(source: str, data_dirs: list[str | Path], out: str | Path, layer: int = 0,
                  frame_shift: float = 20.0) -> Path:
    """Frames of every utterance of ``data_dirs`` from ``source`` ('mfcc' or a pretraining exp) into ``out``."""
    extract, dim, shift, what = _extractor(source, layer, frame_shift)
    sets = {d: read_manifest(d) for d in data_dirs}
    seen: dict[str, str | Path] = {}
    for d, utts in sets.items():
        for u in utts:
            if u.id in seen:
                raise SpeechxlError(f"utterance {u.id} is in {seen[u.id]} and in {d}: frames are kept by utterance "
                                    "id, which must name one utterance")
            seen[u.id] = d
    writer = FrameWriter(out, "float16", dim)
    skipped = []
    for d, utts in sets.items():
        for u in utts:
            try:
                wav = torch.from_numpy(load_audio(u.audio, u.offset, u.duration))
            except AudioError as e:
                log.warning("%s: skipped (%s)", u.id, e)
                skipped.append(u.id)
                continue
            writer.add(u.id, extract(wav).float().numpy())
    path = writer.close({**what, "frame_shift_ms": shift, "data": [str(d) for d in data_dirs], "skipped": skipped})
    log.info("%d utterances, %d frames of %d values every %g ms -> %s", len(writer.rows), writer.total, dim, shift, path)
    return path
