"""Where a recording's speech is: (start, end) seconds of its speech regions.

Two detectors, one interface (16 kHz samples in, regions out, each at most ``max_region`` long,
pauses shorter than ``min_pause`` bridged, regions padded by ``pad``, none shorter than
``min_region``):

- ``silero``: the silero-vad package's network (its wheel ships the model; nothing is
  downloaded), which tells speech from noise, music and breathing; regions over ``max_region``
  are cut at the longest pause inside them, as silero-vad does.
- ``energy``: frames louder than the recording's own noise floor (its quietest 2 % of frames, digital
  silence left out) by ``margin_db``, long regions cut at their quietest frame. No model; it takes any loud noise for
  speech, so it is the fallback, and alignment uses it to find the frames that are surely silent.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from speechxl.data.audio import SAMPLE_RATE

VADS = ("silero", "energy")
MAX_REGION = 8.0  # seconds: the longest region the detectors give by default (utterances as models train on them)
FRAME = 0.03  # seconds per energy frame
DIGITAL_SILENCE_DB = -90.0  # frames quieter than this are zeros, not a noise floor


def speech_regions(samples: np.ndarray, vad: str = "silero", min_pause: float = 0.3, pad: float = 0.15,
                   min_region: float = 0.3, max_region: float = MAX_REGION) -> list[tuple[float, float]]:
    """(start, end) seconds of the speech in 16 kHz ``samples`` (S,), by the detector ``vad``."""
    if vad not in VADS:
        raise ValueError(f"--vad {vad}: not one of {', '.join(VADS)}")
    if vad == "energy":
        return energy_regions(samples, min_pause=min_pause, pad=pad, min_region=min_region, max_region=max_region)
    return silero_regions(samples, min_pause=min_pause, pad=pad, min_region=min_region, max_region=max_region)


@lru_cache(maxsize=1)
def _silero():
    from silero_vad import load_silero_vad

    return load_silero_vad()


def silero_regions(samples: np.ndarray, min_pause: float = 0.3, pad: float = 0.15, min_region: float = 0.3,
                   max_region: float = MAX_REGION) -> list[tuple[float, float]]:
    """Speech regions by silero-vad (its default threshold, 0.5)."""
    import torch
    from silero_vad import get_speech_timestamps

    if samples.size == 0:
        return []
    found = get_speech_timestamps(torch.from_numpy(np.ascontiguousarray(samples, dtype=np.float32)), _silero(),
                                  sampling_rate=SAMPLE_RATE, min_speech_duration_ms=int(min_region * 1000),
                                  max_speech_duration_s=max_region, min_silence_duration_ms=int(min_pause * 1000),
                                  speech_pad_ms=int(pad * 1000))
    return [(round(r["start"] / SAMPLE_RATE, 3), round(r["end"] / SAMPLE_RATE, 3)) for r in found]


def energy_regions(samples: np.ndarray, margin_db: float = 12.0, min_pause: float = 0.3, pad: float = 0.15,
                   min_region: float = 0.3, max_region: float = MAX_REGION) -> list[tuple[float, float]]:
    """Speech regions by frame energy."""
    hop = int(FRAME * SAMPLE_RATE)
    n = samples.size // hop
    if n == 0:
        return []
    frames = samples[: n * hop].reshape(n, hop)
    db = 10 * np.log10(np.mean(frames.astype(np.float64) ** 2, axis=1) + 1e-10)  # (n,)
    heard = db[db > DIGITAL_SILENCE_DB]  # frames of digital silence (edited or synthesised audio) are no floor
    loud = db > np.percentile(heard if heard.size else db, 2) + margin_db  # above the quietest 2 % of frames
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
