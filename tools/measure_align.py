"""How close `speechxl align` puts utterance boundaries to the true ones.

    python tools/measure_align.py --model exp/ctc_chars --data data/test --lang es [--minutes 3] [--other ru]

Builds a long recording whose true boundaries are known: utterances of ``--data`` in ``--lang``
(drawn at random, as often as ``--minutes`` needs) joined with pauses of 0.3-2 s and low noise, and, when ``--other`` is given, a clip of another
language (not in the transcript) between every fourth pair, which the alignment must skip. A
clip's true boundaries are its first and last 10 ms frame within 35 dB of its loudest. Aligns the
untimed transcript to it and prints the share of boundaries within 20 and 50 ms and the mean and
median absolute error, with the time it took and the process's peak memory.
"""

from __future__ import annotations

import argparse
import json
import resource
import tempfile
import time
from pathlib import Path

import numpy as np

from speechxl.data.audio import SAMPLE_RATE, load_audio, write_audio
from speechxl.data.manifest import read_manifest
from speechxl.decode.align import align_recording
from speechxl.decode.model import load_model


def speech_span(samples: np.ndarray) -> tuple[float, float]:
    """(first, last) second of a clip's speech: 10 ms frames within 35 dB of its loudest."""
    hop = SAMPLE_RATE // 100
    n = samples.size // hop
    db = 10 * np.log10(np.mean(samples[: n * hop].reshape(n, hop) ** 2, axis=1) + 1e-12)
    on = np.flatnonzero(db > db.max() - 35)
    return on[0] * hop / SAMPLE_RATE, (on[-1] + 1) * hop / SAMPLE_RATE


def build(data: Path, lang: str, other: str | None, minutes: float, seed: int = 0):
    rng = np.random.default_rng(seed)
    utts = read_manifest(data)
    mine = [u for u in utts if u.lang == lang and u.text]
    others = [u for u in utts if u.lang == other] if other else []
    pieces, truth, texts, t, i = [], [], [], 0.0, 0
    while t < minutes * 60:  # the set's utterances in random order, again as often as the length needs
        u = mine[rng.integers(len(mine))]
        i += 1
        pause = np.zeros(int(rng.uniform(0.3, 2.0) * SAMPLE_RATE), np.float32)
        pieces.append(pause)
        t += pause.size / SAMPLE_RATE  # whole samples: the truth may not drift from the audio
        if others and i % 4 == 3:  # talk the transcript does not have
            x = load_audio(others[rng.integers(len(others))].audio)
            pieces += [x, np.zeros(int(0.5 * SAMPLE_RATE), np.float32)]
            t += x.size / SAMPLE_RATE + 0.5
        x = load_audio(u.audio, u.offset, u.duration)
        a, b = speech_span(x)
        truth.append((t + a, t + b))
        texts.append(u.text)
        pieces.append(x)
        t += x.size / SAMPLE_RATE
    pieces.append(np.zeros(SAMPLE_RATE, np.float32))
    recording = np.concatenate(pieces)
    recording += rng.normal(0, 0.002, recording.size).astype(np.float32)  # low background noise
    return recording, truth, texts


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", required=True)
    p.add_argument("--data", required=True, type=Path)
    p.add_argument("--lang", required=True)
    p.add_argument("--other", help="a language of --data whose clips go untranscribed between the utterances")
    p.add_argument("--minutes", type=float, default=3.0)
    args = p.parse_args()
    recording, truth, texts = build(args.data, args.lang, args.other, args.minutes)
    model = load_model(args.model)
    with tempfile.TemporaryDirectory() as tmp:
        wav, txt = Path(tmp) / "recording.wav", Path(tmp) / "recording.txt"
        write_audio(wav, recording)
        txt.write_text("".join(t + "\n" for t in texts), encoding="utf-8")
        began = time.perf_counter()
        tsv = align_recording(model, wav, txt, Path(tmp), args.lang)[0]
        seconds = time.perf_counter() - began
        rows = [line.split("\t") for line in tsv.read_text(encoding="utf-8").splitlines()[1:]]
    got = [(float(r[2]), float(r[3])) for r in rows if r[0] == "utterance"]  # level, tier, start, end
    err = np.abs(np.array(got) - np.array(truth)).ravel()
    print(json.dumps({"recording_minutes": round(recording.size / SAMPLE_RATE / 60, 2), "utterances": len(truth),
                      "boundaries": int(err.size), "within_20ms": round(float(np.mean(err <= 0.02)), 3),
                      "within_50ms": round(float(np.mean(err <= 0.05)), 3),
                      "mean_abs_error_ms": round(1000 * float(err.mean()), 1),
                      "median_abs_error_ms": round(1000 * float(np.median(err)), 1),
                      "align_seconds": round(seconds, 1),
                      "peak_rss_gib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2), "model": args.model, "untranscribed_other": args.other},
                     indent=1))


if __name__ == "__main__":
    main()
