"""Utterance manifests: typed records saved as ``utts.jsonl`` plus the Kaldi-compatible view.

A data directory ``data/<set>/`` holds one record per utterance in ``utts.jsonl`` and, written
from the same records, Kaldi's ``wav.scp``, ``text``, ``utt2spk``, ``utt2lang``, ``utt2dur``
and, when any utterance is a segment of a longer recording, ``segments``.

>>> u = Utterance(id="es_0001", audio="/data/clips/a.flac", duration=2.5, lang="es",
...               speaker="spk1", text="hola mundo")
>>> Utterance.from_json(u.to_json()) == u
True
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from speechxl.atomic import atomic_write
from speechxl.untrusted import check_lang, check_name

MANIFEST = "utts.jsonl"


@dataclass(kw_only=True)
class Utterance:
    """One utterance: a whole audio file, or a segment [offset, offset + duration) of one."""

    id: str
    """Unique utterance id; Kaldi sorts by it, so ids start with the speaker or language."""
    audio: str
    """Path of the audio file; relative paths in utts.jsonl are relative to the data dir."""
    duration: float
    """Length in seconds of the utterance (of the segment, for a segment)."""
    lang: str
    """Language code, e.g. the CommonVoice locale ("es", "pt", "zh-CN")."""
    speaker: str
    """Speaker id (CommonVoice: client_id)."""
    offset: float = 0.0
    """Start in seconds within the audio file; 0 for whole files."""
    recording: str | None = None
    """Id of the recording a segment comes from; None when the utterance is the whole file."""
    sample_rate: int = 16000
    """Sample rate of the audio file in Hz."""
    text: str | None = None
    """Normalised transcript; None for untranscribed audio."""
    raw_text: str | None = None
    """Transcript as the corpus gives it, before normalisation."""
    phones: list[str] | None = None
    """IPA phones given by the corpus itself (e.g. a fieldwork phone tier); "|" between words."""

    def to_json(self) -> str:
        d = {k: v for k, v in dataclasses.asdict(self).items() if v is not None}
        return json.dumps(d, ensure_ascii=False)

    @classmethod
    def from_json(cls, line: str) -> Utterance:
        return cls(**json.loads(line))

    @property
    def recording_id(self) -> str:
        return self.recording or self.id


def _resolve(path: str, base: Path) -> str:
    return path if os.path.isabs(path) else str((base / path).resolve())


def _relative(path: str, base: Path) -> str:
    """``path`` relative to ``base`` when it lies below base's parent (portable data dirs)."""
    p = Path(path).resolve()
    try:
        p.relative_to(base.resolve().parent)
    except ValueError:
        return str(p)
    return os.path.relpath(p, base.resolve())


def write_manifest(utts: Iterable[Utterance], data_dir: str | Path) -> None:
    """Write ``utts.jsonl`` and the Kaldi view, sorted by utterance id, atomically. A ``data_dir`` that
    is a symbolic link is refused: the set would be written into the one it points to."""
    data_dir = Path(data_dir)
    if data_dir.is_symlink():
        raise ValueError(f"{data_dir}: a symbolic link to {os.readlink(data_dir)}; writing this set there would "
                         "overwrite that one: remove the link first")
    data_dir.mkdir(parents=True, exist_ok=True)
    utts = sorted(utts, key=lambda u: u.id)
    ids = [u.id for u in utts]
    if len(set(ids)) != len(ids):
        dup = sorted({i for i in ids if ids.count(i) > 1})[:5]
        raise ValueError(f"{data_dir}: duplicate utterance ids {dup}")
    lines = []
    for u in utts:
        rel = dataclasses.replace(u, audio=_relative(u.audio, data_dir))
        lines.append(rel.to_json() + "\n")
    atomic_write(data_dir / MANIFEST, "".join(lines))
    write_kaldi(utts, data_dir)


def read_manifest(data_dir: str | Path) -> list[Utterance]:
    """Read ``utts.jsonl``; audio paths come back absolute. A record whose id, speaker, recording or
    language cannot be a name (a data dir from someone else: ``untrusted.py``) is an error naming its line."""
    data_dir = Path(data_dir)
    path = data_dir / MANIFEST
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no manifest; run the prepare stage for {data_dir} first")
    utts = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                u = Utterance.from_json(line)
            except (json.JSONDecodeError, TypeError) as e:
                raise ValueError(f"{path}:{n}: not an utterance record: {e}") from None
            for what, value in (("utterance id", u.id), ("speaker", u.speaker), ("recording", u.recording)):
                if value is not None:
                    check_name(value, what, f"{path}:{n}")
            check_lang(u.lang, f"{path}:{n}")
            u.audio = _resolve(u.audio, data_dir)
            utts.append(u)
    return utts


def write_kaldi(utts: list[Utterance], data_dir: Path) -> None:
    """Kaldi files: wav.scp (absolute paths), text, utt2spk, spk2utt, utt2lang, utt2dur, segments."""
    segmented = any(u.recording is not None for u in utts)
    recordings: dict[str, str] = {}
    for u in utts:
        recordings.setdefault(u.recording_id, str(Path(u.audio).resolve()))
    files = {
        "wav.scp": "".join(f"{r} {p}\n" for r, p in sorted(recordings.items())),
        "text": "".join(f"{u.id} {u.text}\n" for u in utts if u.text is not None),
        "utt2spk": "".join(f"{u.id} {u.speaker}\n" for u in utts),
        "utt2lang": "".join(f"{u.id} {u.lang}\n" for u in utts),
        "utt2dur": "".join(f"{u.id} {u.duration:.3f}\n" for u in utts),
    }
    spk2utt: dict[str, list[str]] = {}
    for u in utts:
        spk2utt.setdefault(u.speaker, []).append(u.id)
    files["spk2utt"] = "".join(f"{s} {' '.join(us)}\n" for s, us in sorted(spk2utt.items()))
    if segmented:
        files["segments"] = "".join(
            f"{u.id} {u.recording_id} {u.offset:.3f} {u.offset + u.duration:.3f}\n" for u in utts
        )
    elif (data_dir / "segments").exists():
        (data_dir / "segments").unlink()
    for name, content in files.items():
        atomic_write(data_dir / name, content)


def read_table(path: Path, required: bool = True) -> dict[str, str]:
    """Kaldi 'key rest-of-line' file as a dict."""
    if not path.is_file():
        if required:
            raise FileNotFoundError(f"{path}: missing Kaldi file")
        return {}
    table = {}
    # a byte that is not UTF-8 is kept (surrogateescape): the utterance that holds it is a bad_name reject
    lines = path.read_text(encoding="utf-8", errors="surrogateescape").split("\n")
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        key, _, rest = line.partition(" ")
        if key in table:
            raise ValueError(f"{path}:{n}: duplicate key {key!r}")
        table[key] = rest
    return table
