"""The codes a pretrained model's targets give each frame, over equal durations of each language,
and the analysis of how the languages share them (``speechxl codebooks``; speechxl.eval.codebooks).

The codes are deterministic: no masking, the quantizer's argmax (no Gumbel noise) for wav2vec 2.0,
w2v-BERT and mSLAM, the nearest codeword for BEST-RQ's random projections. Every language gets the
same number of frames: its utterances are taken in a seeded random order until the language with the
least speech (or ``minutes``) is covered, and the frames beyond that are left out.
"""

from __future__ import annotations

import logging
import random
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch

from speechxl import checkpoint as ckpt
from speechxl.data.audio import AudioError, load_audio
from speechxl.data.manifest import Utterance, read_manifest
from speechxl.errors import SpeechxlError
from speechxl.eval.codebooks import analyse, combined_ids, write_report
from speechxl.models.registry import FAMILIES, saved_architecture

log = logging.getLogger(__name__)


def load_pretrained(path: str | Path) -> torch.nn.Module:
    """A pretraining checkpoint's model (an exp dir: its best, else last), in eval mode."""
    found = ckpt.find_checkpoint(path)
    family, cfg = saved_architecture(found)
    model = FAMILIES[family].build(cfg)
    try:
        model.load_state_dict(ckpt.load_model_state(found))
    except RuntimeError as e:  # a fine-tuned model's weights
        raise SpeechxlError(f"{found}: not a {family} pretraining checkpoint ({str(e).splitlines()[0]})") from None
    return model.eval()


def chosen(utts: list[Utterance], minutes: float, seed: int) -> tuple[dict[str, list[Utterance]], float]:
    """Each language's utterances, in a seeded order, enough for the equal duration (seconds) returned."""
    by_lang: dict[str, list[Utterance]] = defaultdict(list)
    for u in utts:
        by_lang[u.lang].append(u)
    seconds = min(sum(u.duration for u in us) for us in by_lang.values())
    if minutes > 0:
        seconds = min(seconds, minutes * 60)
    rng = random.Random(seed)
    out = {}
    for lang in sorted(by_lang):
        order = sorted(by_lang[lang], key=lambda u: u.id)
        rng.shuffle(order)
        total, kept = 0.0, []
        for u in order:
            if total >= seconds:
                break
            kept.append(u)
            total += u.duration
        out[lang] = kept
    return out, seconds


@torch.no_grad()
def language_codes(model: torch.nn.Module, by_lang: dict[str, list[Utterance]]) -> tuple[dict[str, np.ndarray], int]:
    """Each language's frames' combined code ids, cut to the same count; and the number of possible ids."""
    ids, space = {}, 0
    for lang, utts in by_lang.items():
        per_utt = []
        for u in utts:
            try:
                wav = torch.from_numpy(load_audio(u.audio, u.offset, u.duration))[None]
            except AudioError as e:
                log.warning("%s: skipped (%s)", u.id, e)
                continue
            codes, valid, entries = model.frame_codes(wav)
            codes = codes[0] if valid is None else codes[0][valid[0]]  # (T, G)
            per_utt.append(combined_ids(codes.numpy(), entries))
            space = entries ** codes.shape[1]
        ids[lang] = np.concatenate(per_utt) if per_utt else np.zeros(0, dtype=np.int64)
    frames = min(len(v) for v in ids.values())
    if frames == 0:
        raise SpeechxlError(f"no frames for {[lang for lang, v in ids.items() if not len(v)]}: nothing to compare")
    return {lang: v[:frames] for lang, v in ids.items()}, space


def codebooks(model_dir: str | Path, data_dirs: list[str | Path], out: str | Path, minutes: float = 0.0,
              seed: int = 0) -> Path:
    """The codebook analysis of ``model_dir`` on the languages of ``data_dirs``, written to ``out``."""
    utts = [u for d in data_dirs for u in read_manifest(d)]
    if len({u.lang for u in utts}) < 2:
        raise SpeechxlError(f"{[str(d) for d in data_dirs]}: codebook sharing needs two languages or more")
    model = load_pretrained(model_dir)
    if not hasattr(model, "frame_codes"):
        raise SpeechxlError(f"{model_dir}: a {type(model).__name__} has no discrete targets to count")
    by_lang, seconds = chosen(utts, minutes, seed)
    ids, space = language_codes(model, by_lang)
    result = analyse(ids, space)
    result.update(model=str(model_dir), data=[str(d) for d in data_dirs], seconds_per_language=round(seconds, 2),
                  seed=seed)
    log.info("%d languages, %.1f s of speech each, %d possible codes", len(ids), seconds, space)
    return write_report(result, out, f"Codebook usage by language: {Path(model_dir).name}")
