"""NeMo manifests in: JSON lines, one utterance each, as NeMo's ASR datasets read them.

    speechxl prepare nemo --manifests train_manifest.json dev_manifest.json --lang sw --out data

A line is ``{"audio_filepath": "...", "duration": 3.2, "text": "..."}``, with ``offset`` for a
segment of a longer file, ``lang`` for its language (NeMo's multilingual manifests; else
``--lang``) and ``speaker`` where given (else the audio file's name). A relative
``audio_filepath`` is taken from the manifest's folder, as NeMo does. As NeMo reads it, a line
with an ``offset`` is the segment [offset, offset + duration) of its file (a segment past the
file's end is a duration_mismatch reject); without one, the whole file, whose decoded length must
agree with ``duration``. Each manifest becomes a set named after it
(``train_manifest.json`` -> ``data/train_manifest``, or ``--names``); a manifest with text is
transcribed. The utterance id is the audio file's name (with the offset in milliseconds for a
segment), or the line's ``utt_id``/``id`` when it has one.
"""

from __future__ import annotations

from pathlib import Path

from speechxl.corpora.prepare import SetSources, Source, add_set_arguments, read_jsonl, run_sets, store_for

HELP = "NeMo JSON-lines manifests (audio_filepath, duration, text[, offset, lang, speaker])"


def read_nemo_manifest(manifest: Path, lang: str | None, store: Path) -> SetSources:
    """The lines of a NeMo manifest as Sources; a malformed line is an error naming it."""
    sources = []
    for n, row in read_jsonl(manifest):
        if not row.get("audio_filepath"):
            raise ValueError(f"{manifest}:{n}: no audio_filepath")
        path = Path(row["audio_filepath"])
        path = path if path.is_absolute() else manifest.parent / path
        utt_lang = row.get("lang") or lang
        if not utt_lang:
            raise ValueError(f"{manifest}:{n}: no lang on the line and no --lang")
        try:
            offset = float(row.get("offset") or 0.0)
            duration = None if row.get("duration") is None else float(row["duration"])
        except (TypeError, ValueError):
            raise ValueError(f"{manifest}:{n}: offset and duration are seconds, got "
                             f"{row.get('offset')!r} and {row.get('duration')!r}") from None
        uid = str(row.get("utt_id") or row.get("id") or
                  (f"{path.stem}-{round(offset * 1000):08d}" if offset else path.stem))
        text = row.get("text")
        flac = store_for(store, utt_lang, path, path.stem)
        segment = dict(offset=offset, duration=duration, recording=Path(flac).stem) if offset else \
            dict(stated_duration=duration)  # a whole file, whose stated duration is checked
        sources.append(Source(id=uid, path=str(path), store=flac, lang=utt_lang,
                              speaker=str(row.get("speaker") or path.stem),
                              raw_text=None if text is None else str(text), **segment))
    return SetSources(sources)


def add_arguments(p) -> None:
    """``speechxl prepare nemo`` options."""
    add_set_arguments(p, "--manifests", "NeMo manifests (JSON lines)")


def run(args) -> None:
    run_sets(args, args.manifests, read_nemo_manifest, "nemo")
