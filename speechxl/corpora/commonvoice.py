"""Mozilla CommonVoice: any release, read by TSV header names.

A release is ``<cv_root>/<locale>/{clips/*.mp3, train.tsv, dev.tsv, test.tsv, validated.tsv,
other.tsv, [clip_durations.tsv]}``. Columns are found by name: only ``client_id``, ``path`` and
``sentence`` are needed, so old releases (no ``sentence_id``, ``accent``) and new ones
(``sentence_domain``, ``variant``, ``locale``, ``segment``, ``accents``) read alike.

``prepare_commonvoice`` writes, under ``out_dir``:
  train, dev, test   the standard splits of the training languages
  pretrain           their unlabelled audio: validated (and optionally other) clips, minus
                     every clip of dev/test and every clip that reads a dev/test sentence
  test_heldout, pretrain_heldout   the same for held-out (zero-shot) languages
  audio/<locale>/    16 kHz mono FLAC copies of the clips, so MP3 is decoded only once
  lm_text/<locale>.txt  normalised text for language models and phone inventories: the
                     release's sentences (validated_sentences.tsv where it exists, else those of
                     its clips) minus every dev/test sentence, for every locale
"""

from __future__ import annotations

import csv
import json
import logging
from pathlib import Path

from speechxl.atomic import atomic_write
from speechxl.corpora.prepare import (Source, add_limit_arguments, convert, limits_of, prepare_set,
                                      report_overlaps)
from speechxl.data.validate import Limits
from speechxl.options import option, words
from speechxl.text import normalize as norm
from speechxl.untrusted import inside

log = logging.getLogger(__name__)

SPLITS = ("train", "dev", "test")
REQUIRED_COLUMNS = ("client_id", "path", "sentence")


def read_tsv(path: Path, required: tuple[str, ...] = REQUIRED_COLUMNS) -> list[dict[str, str]]:
    """Rows of a CommonVoice TSV as dicts keyed by its header; sentences may hold quotes.

    ``required`` columns must be in the header (validated_sentences.tsv: just "sentence").
    """
    csv.field_size_limit(1 << 24)
    # -sig: a byte-order mark is not a column name; a byte that is not UTF-8 is kept (surrogateescape), and the
    # utterance whose name or transcript holds it is a bad_name reject (corpora/prepare.py)
    with open(path, encoding="utf-8-sig", newline="", errors="surrogateescape") as f:
        reader = csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
        header = next(reader, None)
        if header is None:
            return []
        missing = [c for c in required if c not in header]
        if missing:
            raise ValueError(f"{path}: no column(s) {missing}; header has {header}")
        rows = []
        for n, fields in enumerate(reader, 2):
            if not any(fields):
                continue
            if len(fields) != len(header):  # a missing field would shift the others into wrong columns
                raise ValueError(f"{path}:{n}: {len(fields)} fields, header has {len(header)}")
            rows.append(dict(zip(header, fields)))
        return rows


def _read_durations(locale_dir: Path) -> dict[str, float]:
    """clip file name -> seconds, from clip_durations.tsv where the release has it (columns
    ``clip`` and ``duration[ms]``, found by name; without them the check is skipped, with a
    warning). The durations only check the decoded audio, so nothing else depends on them."""
    path = locale_dir / "clip_durations.tsv"
    if not path.is_file():
        return {}
    try:
        rows = read_tsv(path, required=("clip", "duration[ms]"))
    except ValueError as e:
        log.warning("clip durations not checked: %s", e)
        return {}
    out = {}
    for n, row in enumerate(rows, 2):
        if not row["duration[ms]"]:
            continue
        try:
            out[row["clip"]] = float(row["duration[ms]"]) / 1000
        except ValueError:
            raise ValueError(f"{path}:{n}: duration[ms] is {row['duration[ms]']!r}, not a number") from None
    return out


class _Locale:
    """One locale directory of a release, turning TSV rows into Sources."""

    def __init__(self, cv_root: Path, lang: str, store: Path):
        self.dir = cv_root / lang
        if not self.dir.is_dir():
            found = sorted(p.name for p in cv_root.iterdir() if (p / "clips").is_dir()) if cv_root.is_dir() else []
            raise FileNotFoundError(f"{self.dir}: no such CommonVoice locale; {cv_root} has {found}")
        self.lang = lang
        self.store = store / lang
        self.durations = _read_durations(self.dir)

    def rows(self, split: str) -> list[dict[str, str]]:
        path = self.dir / f"{split}.tsv"
        if not path.is_file():
            log.warning("%s: missing, taken as empty", path)
            return []
        return read_tsv(path)

    def source(self, row: dict[str, str]) -> Source:
        clip = row["path"]
        stem = Path(clip).stem
        number = stem.removeprefix(f"common_voice_{self.lang}_")
        speaker = f"{self.lang}_{row['client_id'][:12] or 'anon'}"
        return Source(
            id=f"{speaker}-{number}", path=str(self.dir / "clips" / clip),
            store=str(self.store / f"{stem}.flac"), lang=self.lang, speaker=speaker,
            raw_text=row["sentence"], stated_duration=self.durations.get(clip),
        )

    def held_out_text(self) -> set[str]:
        return {norm.normalize(r["sentence"], self.lang) for split in ("dev", "test") for r in self.rows(split)}

    def lm_text(self) -> list[str]:
        """Normalised sentences for a language model, none of them in dev or test."""
        path = self.dir / "validated_sentences.tsv"
        rows = read_tsv(path, ("sentence",)) if path.is_file() else self.rows("train") + self.rows("validated")
        held = self.held_out_text()
        text = {norm.normalize(r["sentence"], self.lang) for r in rows}
        return sorted(t for t in text if t and t not in held)

    def unlabelled(self, splits: tuple[str, ...]) -> list[Source]:
        """Clips of ``splits`` (validated, other) that share no clip or sentence with dev/test."""
        held_clips = {r["path"] for split in ("dev", "test") for r in self.rows(split)}
        held_text = self.held_out_text()
        out, seen = [], set()
        for split in splits:
            for r in self.rows(split):
                if r["path"] in held_clips or r["path"] in seen:
                    continue
                if norm.normalize(r["sentence"], self.lang) in held_text:
                    continue
                seen.add(r["path"])
                out.append(self.source(r))
        return out


def prepare_commonvoice(
    cv_root: str | Path,
    out_dir: str | Path,
    langs: list[str],
    heldout_langs: list[str] = (),
    jobs: int = 2,
    limits: Limits = Limits(),
    strict: bool = False,
    unlabelled_splits: tuple[str, ...] = ("validated",),
) -> list[Path]:
    """Prepare the sets described in the module doc; returns their directories."""
    cv_root, out_dir = Path(cv_root), Path(out_dir)
    store = out_dir / "audio"
    sets: dict[str, tuple[list[Source], bool]] = {}  # name -> (sources, require_text)
    train_locales = [_Locale(cv_root, lang, store) for lang in langs]
    heldout_locales = [_Locale(cv_root, lang, store) for lang in heldout_langs]
    for split in SPLITS:
        sets[split] = ([loc.source(r) for loc in train_locales for r in loc.rows(split)], True)
    sets["pretrain"] = ([s for loc in train_locales for s in loc.unlabelled(unlabelled_splits)], False)
    if heldout_locales:
        sets["test_heldout"] = ([loc.source(r) for loc in heldout_locales for r in loc.rows("test")], True)
        sets["pretrain_heldout"] = (
            [s for loc in heldout_locales for s in loc.unlabelled(unlabelled_splits)], False)
    report_overlaps(out_dir, {name: sets[name][0] for name in SPLITS})
    unique = {s.id: s for sources, _ in sets.values() for s in sources}
    log.info("CommonVoice %s: %d distinct clips in %d languages", cv_root, len(unique),
             len(langs) + len(heldout_langs))
    checked = convert(unique.values(), limits, jobs=jobs, desc="decode clips")
    written = []
    for name, (sources, require_text) in sets.items():
        info = {"set": name, "source": "commonvoice", "cv_root": str(cv_root.resolve()),
                "languages_requested": sorted({s.lang for s in sources})}
        written.append(prepare_set(out_dir / name, sources, checked, limits, info, require_text, strict))
    for loc in train_locales + heldout_locales:
        text = loc.lm_text()
        atomic_write(inside(out_dir / "lm_text", f"{loc.lang}.txt"), "".join(t + "\n" for t in text))
        log.info("%s: %d sentences of language-model text", out_dir / "lm_text" / f"{loc.lang}.txt", len(text))
    return written


HELP = "a CommonVoice release (or the demo corpus)"


def add_arguments(p) -> None:
    """``speechxl prepare commonvoice`` options."""
    option(p, "--cv_root", required=True, help="release directory holding <locale>/ folders")
    option(p, "--out", required=True, help="data directory: writes <out>/train, dev, test, ...")
    option(p, "--langs", nargs="+", help="training locales (default: demo.json's, else all)")
    option(p, "--heldout_langs", nargs="+", help="held-out locales for zero-shot tests")
    option(p, "--unlabelled", nargs="+", default=["validated"],
           help="splits whose clips (minus dev/test) form the pretraining set; add 'other' for more")
    add_limit_arguments(p)


def run(args) -> None:
    root = Path(args.cv_root)
    if not root.is_dir():
        raise ValueError(f"--cv_root {root}: not a directory (a CommonVoice release's folder of <locale>/ folders)")
    langs, heldout = words(args.langs), words(args.heldout_langs)
    meta = root / "demo.json"
    if not langs and meta.is_file():
        d = json.loads(meta.read_text(encoding="utf-8"))
        langs, heldout = d["langs"], heldout or d["heldout_langs"]
    if not langs:
        langs = sorted(p.name for p in root.iterdir() if (p / "clips").is_dir() and p.name not in heldout)
    prepare_commonvoice(root, args.out, langs, heldout, jobs=args.jobs, limits=limits_of(args),
                        strict=args.strict, unlabelled_splits=tuple(words(args.unlabelled)))
