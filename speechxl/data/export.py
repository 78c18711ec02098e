"""A prepared data set out, as the manifests other toolkits train from: NeMo and lhotse.

    speechxl export-data data/train --to nemo --out manifests/     # manifests/train.json
    speechxl export-data data/train --to lhotse --out manifests/   # speechxl_{recordings,supervisions,cuts}_train.jsonl.gz

Both point at the set's 16 kHz FLAC copies (absolute paths) and carry each utterance's
normalised transcript (none for an untranscribed set), language and speaker. NeMo: one line per
utterance, ``offset`` and ``duration`` for a segment of a longer recording, as NeMo's ASR datasets
read them. lhotse: a recording per audio file, a supervision per utterance, and a cut per
utterance (the segment its supervision covers), loadable with ``lhotse.load_manifest`` and
``CutSet.from_file``.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import soundfile as sf

from speechxl.atomic import atomic_path, atomic_write
from speechxl.data.manifest import Utterance, read_manifest

def _nemo_line(u: Utterance) -> dict:
    line = {"audio_filepath": u.audio, "duration": u.duration}
    if u.recording is not None:
        line["offset"] = u.offset
    if u.text is not None:
        line["text"] = u.text
    return {**line, "lang": u.lang, "speaker": u.speaker, "utt_id": u.id}


def to_nemo(utts: list[Utterance], out: Path, name: str) -> list[Path]:
    path = out / f"{name}.json"
    atomic_write(path, "".join(json.dumps(_nemo_line(u), ensure_ascii=False) + "\n" for u in utts))
    return [path]


def _write_jsonl_gz(path: Path, records: list[dict]) -> None:
    with atomic_path(path) as tmp, gzip.open(tmp, "wt", encoding="utf-8") as f:
        for r in records:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")


def to_lhotse(utts: list[Utterance], out: Path, name: str) -> list[Path]:
    recordings: dict[str, dict] = {}
    for u in utts:
        if u.recording_id not in recordings:
            info = sf.info(u.audio)
            recordings[u.recording_id] = {
                "id": u.recording_id, "sources": [{"type": "file", "channels": [0], "source": u.audio}],
                "sampling_rate": info.samplerate, "num_samples": info.frames,
                "duration": info.frames / info.samplerate, "channel_ids": [0]}
    supervisions = []
    for u in utts:
        s = {"id": u.id, "recording_id": u.recording_id, "start": u.offset, "duration": u.duration, "channel": 0,
             "language": u.lang, "speaker": u.speaker}
        supervisions.append(s if u.text is None else {**s, "text": u.text})
    cuts = [{"id": s["id"], "start": s["start"], "duration": s["duration"], "channel": 0,
             "supervisions": [{**s, "start": 0.0}], "recording": recordings[s["recording_id"]], "type": "MonoCut"}
            for s in supervisions]
    paths = [out / f"speechxl_{kind}_{name}.jsonl.gz" for kind in ("recordings", "supervisions", "cuts")]
    for path, records in zip(paths, (list(recordings.values()), supervisions, cuts)):
        _write_jsonl_gz(path, records)
    return paths


FORMATS = {"nemo": to_nemo, "lhotse": to_lhotse}


def export_data(data_dir: str | Path, to: str, out: str | Path) -> list[Path]:
    """Write ``data_dir`` in format ``to`` (one of FORMATS) under ``out``; returns the files written."""
    if to not in FORMATS:
        raise ValueError(f"--to {to}: not a format speechxl exports; choose from {', '.join(FORMATS)}")
    utts = read_manifest(data_dir)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    return FORMATS[to](utts, out, Path(data_dir).resolve().name)
