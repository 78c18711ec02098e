"""Hugging Face ``datasets`` directories (``Dataset.save_to_disk``) in; speechxl data sets out.

    speechxl prepare hf --datasets saved/train saved/test --lang sw --out data

Each dataset directory becomes a set (a ``DatasetDict``'s splits are its subfolders: give those).
The audio is the dataset's ``Audio`` column, read undecoded (the file's bytes, or its path when the
dataset holds only a path), so no audio backend of ``datasets`` is used: the bytes go through the
same decoder and checks as every corpus's audio. Columns, the first found of each: the transcript
``text``, ``sentence``, ``transcription``, ``transcript`` or ``normalized_text`` (``--text_column``
to choose; none: untranscribed), the speaker ``speaker_id``, ``client_id`` or ``speaker`` (else each
row its own), the language ``locale``, ``language`` or ``lang`` (else ``--lang``), the utterance id
``id`` (else the audio file's name, else the set's name and the row number). Needs ``pip install datasets``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from speechxl.corpora.prepare import SetSources, Source, add_set_arguments, run_sets, store_for
from speechxl.options import option
from speechxl.untrusted import file_name, inside

HELP = "Hugging Face datasets saved with save_to_disk (an Audio column, text[, speaker, language])"
TEXT_COLUMNS = ("text", "sentence", "transcription", "transcript", "normalized_text")
SPEAKER_COLUMNS = ("speaker_id", "client_id", "speaker")
LANG_COLUMNS = ("locale", "language", "lang")
STAGING = ".hf_bytes"  # below the audio store: each row's audio bytes as a file, until it is decoded


def _first(columns, names: tuple[str, ...]) -> str | None:
    return next((c for c in names if c in columns), None)


def read_hf_dataset(directory: Path, lang: str | None, store: Path, text_column: str | None = None) -> SetSources:
    """The rows of a saved dataset as Sources (audio bytes written out below ``store``/.hf_bytes)."""
    try:
        import datasets
    except ImportError:
        raise ValueError("prepare hf needs the datasets package: pip install datasets") from None
    if (directory / "dataset_dict.json").is_file():
        splits = sorted(p.name for p in directory.iterdir() if p.is_dir())
        raise ValueError(f"--datasets {directory}: a DatasetDict; give its splits: "
                         + " ".join(str(directory / s) for s in splits))
    try:
        ds = datasets.load_from_disk(str(directory))
    except (FileNotFoundError, ValueError) as e:
        raise ValueError(f"--datasets {directory}: not a dataset saved with save_to_disk ({e})") from None
    audio_columns = [c for c, f in ds.features.items() if isinstance(f, datasets.Audio)]
    if len(audio_columns) != 1:
        raise ValueError(f"--datasets {directory}: {len(audio_columns)} Audio columns ({audio_columns}); need one")
    audio = audio_columns[0]
    ds = ds.cast_column(audio, datasets.Audio(decode=False))
    if text_column and text_column not in ds.column_names:
        raise ValueError(f"--text_column {text_column}: {directory} has columns {ds.column_names}")
    text = text_column or _first(ds.column_names, TEXT_COLUMNS)
    speaker, lang_col = _first(ds.column_names, SPEAKER_COLUMNS), _first(ds.column_names, LANG_COLUMNS)
    sources, used = [], set()
    for i, row in enumerate(ds):  # one row at a time: a dataset's audio need not fit in memory
        name = Path(row[audio]["path"] or "").stem
        uid = str(row["id"]) if "id" in row else name if name and name not in used else f"{directory.name}_{i:06d}"
        used.add(uid)
        utt_lang = (row[lang_col] if lang_col else None) or lang
        if not utt_lang:
            raise ValueError(f"--datasets {directory}: row {i} has no language: give --lang")
        utt_lang = str(utt_lang)
        clip = row[audio]
        if clip["bytes"] is not None:  # the usual case: the dataset holds the file itself
            # named by the row's number, never by anything in the data (an id may be a path)
            suffix = Path(clip["path"] or "").suffix[1:]  # libsndfile tells some formats by it
            path = inside(store / STAGING, directory.name, f"{i:08d}.{file_name(suffix, 8)}" if suffix else f"{i:08d}")
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(clip["bytes"])
        else:
            path = Path(clip["path"])
        sources.append(Source(id=uid, path=str(path), store=store_for(store, utt_lang, directory / f"row{i}", uid),
                              lang=utt_lang, speaker=str(row[speaker]) if speaker else uid,
                              raw_text=None if text is None or row[text] is None else str(row[text])))
    return SetSources(sources, info={"columns": {"audio": audio, "text": text, "speaker": speaker,
                                                 "lang": lang_col}})


def add_arguments(p) -> None:
    """``speechxl prepare hf`` options."""
    add_set_arguments(p, "--datasets", "dataset dirs written by Dataset.save_to_disk")
    option(p, "--text_column", help=f"column of the transcripts (default: the first of {', '.join(TEXT_COLUMNS)})")


def run(args) -> None:
    try:
        run_sets(args, args.datasets,
                 lambda d, lang, store: read_hf_dataset(d, lang, store, args.text_column), "hf")
    finally:
        shutil.rmtree(Path(args.out) / "audio" / STAGING, ignore_errors=True)
