"""Long recordings: cut into speech regions, transcribed with times, written as an ELAN tier.

    speechxl transcribe-long exp/ctc_chars recordings/*.wav --out transcribed/ --lang ain [--lm data/lang_word]

A recording of any length is read once; an energy detector finds its speech (frames louder
than the recording's own noise floor, its quietest 2 % of frames, by ``margin_db``, pauses shorter than ``min_pause``
bridged, regions padded by ``pad`` and cut at their quietest frame when longer than
``max_region``), and the regions go through the recognizer in batches: the model's memory is
bounded by the longest region, whatever the recording's length (its samples are held once,
about 230 MB an hour). Each recording gives ``<out>/<name>.tsv`` (start, end,
text) and ``<out>/<name>.eaf``: a copy of the recording's own ELAN file (``--eaf_dir``, same
name) with one new tier, or a new ELAN file linking the recording; the user's file is never
written. The new tier is named ``--tier`` (default ``asr@speechxl``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from speechxl.atomic import atomic_path, atomic_write
from speechxl.data.audio import SAMPLE_RATE, load_audio
from speechxl.decode.recognizer import Recognizer

log = logging.getLogger(__name__)
FRAME = 0.03  # seconds per energy frame


@dataclass(frozen=True)
class Timed:
    """A stretch of a recording, in seconds, and its transcript."""

    start: float
    end: float
    text: str


def speech_regions(samples: np.ndarray, margin_db: float = 12.0, min_pause: float = 0.3, pad: float = 0.15,
                   min_region: float = 0.3, max_region: float = 20.0) -> list[tuple[float, float]]:
    """(start, end) seconds of the speech in 16 kHz ``samples`` (S,), by frame energy."""
    hop = int(FRAME * SAMPLE_RATE)
    n = samples.size // hop
    if n == 0:
        return []
    frames = samples[: n * hop].reshape(n, hop)
    db = 10 * np.log10(np.mean(frames.astype(np.float64) ** 2, axis=1) + 1e-10)  # (n,)
    loud = db > np.percentile(db, 2) + margin_db  # above the noise floor: the quietest 2 % of frames
    regions, start = [], None
    for i, on in enumerate(np.append(loud, False)):
        if on and start is None:
            start = i
        elif not on and start is not None:
            if regions and (start - regions[-1][1]) * FRAME < min_pause:
                regions[-1] = (regions[-1][0], i)  # a short pause: the same region
            else:
                regions.append((start, i))
            start = None
    out = []
    for a, b in regions:
        out += _cut(db, a, b, int(max_region / FRAME))
    seconds = samples.size / SAMPLE_RATE
    return [(max(0.0, a * FRAME - pad), min(seconds, b * FRAME + pad)) for a, b in out if (b - a) * FRAME >= min_region]


def _cut(db: np.ndarray, a: int, b: int, longest: int) -> list[tuple[int, int]]:
    """Frames [a, b) cut at their quietest frame (away from the ends) until no piece is longer than ``longest``."""
    if b - a <= longest:
        return [(a, b)]
    margin = (b - a) // 4
    quietest = a + margin + int(np.argmin(db[a + margin: b - margin]))
    return _cut(db, a, quietest, longest) + _cut(db, quietest, b, longest)


def transcribe_long(asr: Recognizer, path: str | Path, lang: str | None = None, **vad) -> list[Timed]:
    """The speech regions of a recording, each with its text (empty regions left out)."""
    samples = load_audio(path)
    regions = speech_regions(samples, **vad)
    pieces = [samples[int(a * SAMPLE_RATE): int(b * SAMPLE_RATE)] for a, b in regions]
    texts = asr.transcribe(pieces, sample_rate=SAMPLE_RATE, lang=lang) if pieces else []
    return [Timed(round(a, 3), round(b, 3), t) for (a, b), t in zip(regions, texts) if t.strip()]


def open_eaf(media: Path, base: Path | None = None):
    """A copy of the ELAN file ``base`` in memory (pympi's Eaf), or a new one linking ``media``."""
    import pympi

    if base:
        return pympi.Elan.Eaf(str(base))
    eaf = pympi.Elan.Eaf(author="speechxl")
    eaf.add_linked_file(str(media.resolve()), relpath=media.name, mimetype="audio/x-wav")
    eaf.remove_tier("default")
    return eaf


def write_eaf(out: Path, media: Path, timed: list[Timed], tier: str, base: Path | None = None) -> Path:
    """``timed`` as tier ``tier`` of a copy of ``base`` (an ELAN file), or of a new one linking ``media``."""
    eaf = open_eaf(media, base)
    if tier in eaf.get_tier_names():
        raise ValueError(f"{base}: it already has a tier {tier!r}; give another --tier")
    if "speechxl-asr" not in eaf.get_linguistic_type_names():
        eaf.add_linguistic_type("speechxl-asr")
    eaf.add_tier(tier, ling="speechxl-asr")
    for t in timed:
        eaf.add_annotation(tier, int(round(t.start * 1000)), int(round(t.end * 1000)), t.text)
    with atomic_path(out) as tmp:
        eaf.to_file(str(tmp))
    return out


def transcribe_recordings(asr: Recognizer, paths: list[str], out: Path, lang: str | None = None,
                          eaf_dir: Path | None = None, tier: str = "asr@speechxl") -> list[Path]:
    """Each recording -> <out>/<name>.tsv and <name>.eaf; returns the ELAN files written."""
    written = []
    for p in map(Path, paths):
        timed = transcribe_long(asr, p, lang)
        atomic_write(out / f"{p.stem}.tsv", "start\tend\ttext\n" + "".join(
            f"{t.start:.3f}\t{t.end:.3f}\t{t.text}\n" for t in timed))
        base = eaf_dir / f"{p.stem}.eaf" if eaf_dir and (eaf_dir / f"{p.stem}.eaf").is_file() else None
        written.append(write_eaf(out / f"{p.stem}.eaf", p, timed, tier, base))
        log.info("%s: %d regions transcribed -> %s", p, len(timed), written[-1])
    return written
