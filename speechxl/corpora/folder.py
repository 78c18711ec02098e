"""A plain folder of audio files, with their transcripts in a TSV or none, in; speechxl data sets out.

    speechxl prepare folder --folders recordings/train recordings/test --lang sw --out data

Each folder becomes a set named after it. Its audio is every file below it that libsndfile reads
(``.wav .flac .mp3 .ogg .opus``), in subfolders too. ``transcripts.tsv`` in the folder, if there is
one, makes the set transcribed: a header naming its columns, ``path`` (relative to the folder) and
``text``, and optionally ``speaker`` and ``lang``; an audio file it does not list is a
``no_transcript`` reject, a row naming a file that is not there an ``unreadable`` one. Without it the
set is untranscribed audio (for pretraining); ``untranscribed.tsv`` may then give each file's
``speaker`` and ``lang`` (columns ``path`` and either or both; a ``text`` column is refused, so that
no transcript hides in it), a file it does not list taking the defaults below. The speaker is the ``speaker`` column, else the first
subfolder a file lies in (``recordings/train/spk07/a.wav`` -> ``spk07``), else the file's name; the
utterance id is the file's path below the folder, less its suffix, with ``_`` for ``/``.
"""

from __future__ import annotations

from pathlib import Path

from speechxl.corpora.commonvoice import read_tsv
from speechxl.corpora.prepare import SetSources, Source, add_set_arguments, run_sets, store_for
from speechxl.data.validate import Reject

HELP = "a folder of audio files, with transcripts.tsv (path, text[, speaker, lang]) or untranscribed"
TRANSCRIPTS = "transcripts.tsv"
UNTRANSCRIBED = "untranscribed.tsv"
AUDIO_SUFFIXES = {".wav", ".flac", ".mp3", ".ogg", ".opus"}


def read_folder(folder: Path, lang: str | None, store: Path) -> SetSources:
    """The audio files of ``folder`` as Sources, with their transcripts.tsv rows where it has one."""
    if not folder.is_dir():
        raise ValueError(f"--folders {folder}: not a folder")
    audio = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*")
                   if p.suffix.lower() in AUDIO_SUFFIXES and p.is_file())
    tsv, listing = folder / TRANSCRIPTS, folder / UNTRANSCRIBED
    rows = {Path(r["path"]).as_posix(): r for r in read_tsv(tsv, ("path", "text"))} if tsv.is_file() else None
    if rows is not None and listing.is_file():
        raise ValueError(f"--folders {folder}: {TRANSCRIPTS} and {UNTRANSCRIBED}: a set is transcribed or not")
    listed = {Path(r["path"]).as_posix(): r for r in read_tsv(listing, ("path",))} if listing.is_file() else {}
    if any("text" in r for r in listed.values()):
        raise ValueError(f"{listing}: a text column: {UNTRANSCRIBED} lists untranscribed audio "
                         f"(transcripts go in {TRANSCRIPTS})")
    if not audio and not rows:
        raise ValueError(f"--folders {folder}: no audio files ({' '.join(sorted(AUDIO_SUFFIXES))}) below it")
    sources, rejects = [], []
    for rel in sorted(set(audio) | set(rows or ()) | set(listed)):
        row = (rows if rows is not None else listed).get(rel, {})
        uid = rel.rsplit(".", 1)[0].replace("/", "_")
        if rows is not None and not row:
            rejects.append(Reject(uid, str(folder / rel), "no_transcript", f"not a path in {tsv}"))
            continue
        utt_lang = row.get("lang") or lang
        if not utt_lang:
            where = tsv if rows is not None else listing if row else folder / rel
            raise ValueError(f"{where}: no lang for {rel}: give --lang, or a lang column")
        parts = rel.split("/")
        path = folder / rel
        sources.append(Source(id=uid, path=str(path), store=store_for(store, utt_lang, path, Path(rel).stem),
                              lang=utt_lang, speaker=row.get("speaker") or (parts[0] if len(parts) > 1 else uid),
                              raw_text=row.get("text")))
    return SetSources(sources, rejects, {"transcripts": str(tsv.resolve()) if rows is not None else None})


def add_arguments(p) -> None:
    """``speechxl prepare folder`` options."""
    add_set_arguments(p, "--folders", f"folders of audio files (with {TRANSCRIPTS}, or untranscribed)")


def run(args) -> None:
    run_sets(args, args.folders, read_folder, "folder")
