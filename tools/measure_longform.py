"""What long-form transcription costs against decoding each reference segment alone, and its memory at an hour.

    python tools/measure_longform.py --model egs/fieldwork/exp/ctc_continued_related --data egs/fieldwork/data/test \
        --lang ca [--lm_from egs/fieldwork/exp/ctc_continued_related/decode_test_lm] [--minutes 60]

1. Error rates, on the utterances of ``--data`` (segments of long recordings) against their
   transcripts: each decoded alone, as ``speechxl decode`` does ("alone"); and each recording
   transcribed whole as ``speechxl transcribe-long`` does it, utterances found by the voice activity
   detector (``--vad``), each utterance's hypothesis the words transcribe-long timed inside its
   span (their middle inside it: a word of an overlapping speaker counts for both). Both search
   the same way (greedy, or as ``--lm_from``'s decode searched). The issue's target: long-form
   costs at most 0.5 points.
2. Memory: the data's recordings joined (again as often as needed) into one recording of
   ``--minutes``, transcribed by ``speechxl transcribe-long`` in a process of its own (voice
   activity detection, the model, search, alignment, files): its peak resident memory and wall time.
Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from speechxl.data.audio import SAMPLE_RATE, load_audio, write_audio
from speechxl.data.manifest import read_manifest
from speechxl.data.vad import MAX_REGION, speech_regions
from speechxl.decode.longform import transcribe_regions
from speechxl.decode.recognizer import load
from speechxl.decode.run import search_of_decode
from speechxl.eval.metrics import Counts, align, views


def rates(refs: list[str], hyps: list[str]) -> dict[str, float]:
    out = {}
    for metric in ("CER", "WER"):
        total = Counts()
        for ref, hyp in zip(refs, hyps):
            total.add(align(*views({"ref": ref, "hyp": hyp}, "chars")[metric])[0])
        out[metric] = round(100 * total.rate, 2)
    return out


def long_form_vs_alone(model: str, data: Path, lang: str, lm_from: str | None, vad: str, max_region: float) -> dict:
    lm, beam = search_of_decode(lm_from) if lm_from else (None, None)
    asr = load(model, lm, beam=beam)
    utts = [u for u in read_manifest(data) if u.text]
    began = time.perf_counter()
    alone = asr.transcribe([load_audio(u.audio, u.offset, u.duration) for u in utts], sample_rate=SAMPLE_RATE,
                           lang=lang)
    alone_s = time.perf_counter() - began
    long_form, began = {}, time.perf_counter()
    for recording in sorted({u.audio for u in utts}):
        samples = load_audio(recording)
        timed = transcribe_regions(asr, samples, {"t": speech_regions(samples, vad, max_region=max_region)}, lang)
        words = [w for a in timed["t"] for w in a.words]
        for u in (u for u in utts if u.audio == recording):
            inside = [w.text for w in words if u.offset <= (w.start + w.end) / 2 <= u.offset + u.duration]
            long_form[u.id] = " ".join(inside)
    long_s = time.perf_counter() - began
    refs = [u.text for u in utts]
    return {"utterances": len(utts), "search": "beam+lm" if lm else "greedy", "vad": vad, "max_region": max_region,
            "alone": rates(refs, alone), "long_form": rates(refs, [long_form[u.id] for u in utts]),
            "seconds": {"alone": round(alone_s, 1), "long_form": round(long_s, 1)}}


def memory_at(model: str, data: Path, lang: str, minutes: float, lm_from: str | None) -> dict:
    recordings = sorted({u.audio for u in read_manifest(data)})
    pieces, seconds, k = [], 0.0, 0
    while seconds < minutes * 60:
        x = load_audio(recordings[k % len(recordings)])
        pieces.append(x)
        seconds += x.size / SAMPLE_RATE
        k += 1
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "long.wav"
        write_audio(wav, np.concatenate(pieces)[: int(minutes * 60 * SAMPLE_RATE)])
        del pieces
        began = time.perf_counter()
        search = ["--lm_from", lm_from] if lm_from else []
        subprocess.run([sys.executable, "-m", "speechxl", "transcribe-long", model, str(wav), "--out",
                        str(Path(tmp) / "out"), "--lang", lang, *search], check=True, capture_output=True)
        wall = time.perf_counter() - began
        rows = (Path(tmp) / "out" / "long.tsv").read_text(encoding="utf-8").splitlines()
    return {"recording_minutes": minutes, "utterances": sum(r.startswith("utterance\t") for r in rows),
            "seconds": round(wall, 1),
            "peak_rss_gib": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 2**20, 2)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", required=True)
    p.add_argument("--data", required=True, type=Path, help="a set of segments of long recordings")
    p.add_argument("--lang", required=True)
    p.add_argument("--lm_from", help="search as this decode dir did (its LM and tuned weights)")
    p.add_argument("--vad", default="silero", help="voice activity detector (silero, energy)")
    p.add_argument("--max_region", type=float, default=MAX_REGION, help="longest utterance the detector gives, in seconds")
    p.add_argument("--minutes", type=float, default=60.0, help="length of the recording the memory is measured on")
    args = p.parse_args()
    out = {"model": args.model, "data": str(args.data),
           **long_form_vs_alone(args.model, args.data, args.lang, args.lm_from, args.vad, args.max_region)}
    out["memory"] = memory_at(args.model, args.data, args.lang, args.minutes, args.lm_from)
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
