"""Kaldi data directories (as Kaldi, ESPnet and lhotse write them) in, speechxl data sets out.

    speechxl prepare kaldi --kaldi_dirs kaldi/train kaldi/dev kaldi/test --lang sw --out data

Each Kaldi dir becomes ``<out>/<its name>/``: ``wav.scp`` (recording -> audio file), ``utt2spk``,
and if present ``segments`` (utterance -> recording, start, end: segments of long recordings
stay segments), ``text`` (then the set is transcribed and its transcripts are checked) and
``utt2lang`` (else every utterance is ``--lang``). Audio is decoded once into 16 kHz FLAC
copies and every utterance checked, as for any corpus; a ``wav.scp`` entry that is a command
(``sox ... |``) or an archive (``foo.ark:123``) cannot be read as a file and is rejected with
that reason. Clips and speakers shared between the sets are reported (``overlaps.json``).
"""

from __future__ import annotations

from pathlib import Path

from speechxl.corpora.prepare import SetSources, Source, add_set_arguments, run_sets, store_for
from speechxl.data.manifest import read_table
from speechxl.data.validate import Reject

HELP = "Kaldi data directories (wav.scp, utt2spk, [segments, text, utt2lang])"


def _unreadable(entry: str) -> str | None:
    """Why a wav.scp entry is not a file prepare can read, or None."""
    if entry.rstrip().endswith("|"):
        return "a command (wav.scp entry ending in |), which prepare does not run: write its audio to files first"
    if ".ark:" in entry:
        return "a Kaldi archive offset (.ark:N): write the audio to files first (e.g. wav-copy ark:... ark,scp:...)"
    return None


def read_kaldi_dir(kaldi_dir: Path, lang: str | None, store: Path) -> SetSources:
    """The utterances of one Kaldi dir as Sources; entries that are not files, as rejects."""
    if not (kaldi_dir / "wav.scp").is_file():
        raise ValueError(f"--kaldi_dirs {kaldi_dir}: not a Kaldi data dir (no wav.scp)")
    wav = read_table(kaldi_dir / "wav.scp")
    utt2spk = read_table(kaldi_dir / "utt2spk")
    text = read_table(kaldi_dir / "text", required=False)
    utt2lang = read_table(kaldi_dir / "utt2lang", required=False)
    segments = read_table(kaldi_dir / "segments", required=False)
    sources, rejects = [], []
    for uid, speaker in utt2spk.items():
        if segments:
            if uid not in segments or len(segments[uid].split()) != 3:
                raise ValueError(f"{kaldi_dir / 'segments'}: no 'recording start end' line for utterance {uid}")
            rec, start, end = segments[uid].split()
            offset, duration, recording = float(start), float(end) - float(start), rec
        else:
            rec, offset, duration, recording = uid, 0.0, None, None
        if rec not in wav:
            raise ValueError(f"{kaldi_dir / 'wav.scp'}: no entry for recording {rec} (utterance {uid})")
        utt_lang = utt2lang.get(uid) or lang
        if not utt_lang:
            raise ValueError(f"{kaldi_dir}: utterance {uid} has no language: give --lang, or an utt2lang file")
        if why := _unreadable(wav[rec]):
            rejects.append(Reject(uid, wav[rec], "unreadable", why))
            continue
        path = Path(wav[rec]) if Path(wav[rec]).is_absolute() else kaldi_dir / wav[rec]
        sources.append(Source(id=uid, path=str(path), store=store_for(store, utt_lang, path, rec), lang=utt_lang,
                              speaker=speaker, raw_text=text.get(uid), offset=offset, duration=duration,
                              recording=recording))
    return SetSources(sources, rejects, {"kaldi_dir": str(kaldi_dir.resolve())})


def add_arguments(p) -> None:
    """``speechxl prepare kaldi`` options."""
    add_set_arguments(p, "--kaldi_dirs", "Kaldi data dirs")


def run(args) -> None:
    run_sets(args, args.kaldi_dirs, read_kaldi_dir, "kaldi")
