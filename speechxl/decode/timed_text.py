"""Timed text (utterances, their words, the words' units, with confidences) and the files it goes to.

``transcribe-long`` and ``align`` both produce it, and both write it the same way:

- ``<name>.tsv``: level (utterance, word, unit), tier, start, end, confidence, text; an utterance
  row, then its words' rows, each followed by its units'.
- ``<name>.eaf``: a copy of the user's ELAN file (or a new one linking the recording) with, per
  utterance tier ``T@S`` (``asr@SP1``), its word tier ``T-words@S`` (time subdivisions inside each
  utterance), the words' units ``T-chars@S`` or ``T-phones@S`` (subdivisions of each word) and
  the words' confidences ``T-conf@S`` (an annotation over each word's span, below the utterance,
  its value the probability with two decimals: a time-aligned tier, which pympi-ling reads as it
  reads the others). The user's file is never written; every tier and annotation
  it had is kept.
- ``<name>.TextGrid``: a copy of the user's TextGrid (or a new one) with the same tiers as
  interval tiers (the confidences as intervals of the words' spans); the user's tiers keep their
  entries, and end where the recording does if it is longer than the TextGrid was.

``Outputs`` decides where they go: never onto an input, nor over a file speechxl did not write
(unless ``--overwrite``, and then the old file is kept beside it as ``<name>.orig``).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from urllib.request import pathname2url

from speechxl.atomic import atomic_path, atomic_write
from speechxl.corpora.fieldwork import media_candidates, open_elan
from speechxl.untrusted import inside

log = logging.getLogger(__name__)
MIME_TYPES = {".wav": "audio/x-wav", ".mp3": "audio/mpeg", ".flac": "audio/flac", ".ogg": "audio/ogg"}
WRITTEN = ".speechxl-written.json"
"""In an output folder: each file speechxl wrote there, with its SHA-256, so that a re-run replaces
its own files and never one of the user's (or one the user has since edited)."""


@dataclass(frozen=True)
class Word:
    """A word (or a unit of one) in seconds of the recording; ``units``: its units, timed."""

    start: float
    end: float
    text: str
    confidence: float
    units: tuple["Word", ...] = ()


@dataclass(frozen=True)
class Aligned:
    """An utterance and its words, in seconds of the recording."""

    start: float
    end: float
    text: str
    confidence: float
    words: tuple[Word, ...]


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


class Outputs:
    """An output folder of ``align`` or ``transcribe-long``. ``claim(stem, inputs, *more)`` gives the paths of
    one recording's ``.tsv``, ``.eaf`` and ``.TextGrid`` (and of the ``more`` suffixes), refusing (ValueError) a
    path that is one of the ``inputs`` or a file speechxl did not write there, unless ``overwrite``: then the old
    file is copied to ``<name>.orig`` (``.orig.1``, ...) first. ``wrote(paths)`` records what was written."""

    def __init__(self, folder: Path, overwrite: bool = False):
        self.folder, self.overwrite = Path(folder), overwrite
        record = self.folder / WRITTEN
        try:
            self.written = json.loads(record.read_text(encoding="utf-8")) if record.is_file() else {}
        except (ValueError, UnicodeDecodeError):
            self.written = {}  # unreadable: nothing in the folder counts as speechxl's
        if not isinstance(self.written, dict):
            self.written = {}

    def claim(self, stem: str, inputs: list[Path | None], *more: str) -> tuple[Path, ...]:
        paths = tuple(inside(self.folder, f"{stem}{suffix}") for suffix in (".tsv", ".eaf", ".TextGrid", *more))
        given = [p.resolve() for p in inputs if p is not None]
        for path in paths:
            if not path.exists() and not path.is_symlink():
                continue
            if path.resolve() in given:
                why = "is an input of this run"
            elif path.is_file() and not path.is_symlink() and self.written.get(path.name) == _sha256(path):
                continue  # speechxl's own, unchanged since: a re-run replaces it
            else:
                why = "exists and is not a file speechxl wrote there (or it was edited since)"
            if not self.overwrite:
                raise ValueError(f"{path}: {why}; give another --out, or --overwrite (which keeps the old file "
                                 "as <name>.orig)")
            self._keep(path)
        return paths

    def _keep(self, path: Path) -> None:
        backup, n = path.with_name(path.name + ".orig"), 0
        while backup.exists() or backup.is_symlink():
            n += 1
            backup = path.with_name(f"{path.name}.orig.{n}")
        shutil.copyfile(path, backup)  # the new file replaces the path by a rename: a link is replaced, not followed
        log.warning("%s: kept the file that was there as %s (--overwrite)", path, backup.name)

    def wrote(self, paths) -> None:
        self.written.update({p.name: _sha256(p) for p in paths})
        atomic_write(self.folder / WRITTEN, json.dumps(self.written, indent=1, sort_keys=True) + "\n")


def derived_tier(tier: str, what: str) -> str:
    """The name of ``tier``'s ``what`` tier: asr@SP1 -> asr-words@SP1."""
    return tier.replace("@", f"-{what}@", 1) if "@" in tier else f"{tier}-{what}"


def write_tsv(out: Path, tiers: dict[str, list[Aligned]]) -> Path:
    rows = ["level\ttier\tstart\tend\tconfidence\ttext"]
    for tier, utterances in tiers.items():
        for u in utterances:
            rows.append(f"utterance\t{tier}\t{u.start:.3f}\t{u.end:.3f}\t{u.confidence:.4f}\t{u.text}")
            for w in u.words:
                rows.append(f"word\t{tier}\t{w.start:.3f}\t{w.end:.3f}\t{w.confidence:.4f}\t{w.text}")
                rows += [f"unit\t{tier}\t{p.start:.3f}\t{p.end:.3f}\t{p.confidence:.4f}\t{p.text}" for p in w.units]
    atomic_write(out, "\n".join(rows) + "\n")
    return out


def media_urls(media: Path, folder: Path) -> dict[str, str]:
    """MEDIA_URL and RELATIVE_MEDIA_URL of ``media`` for an ELAN file in ``folder``, as ELAN writes them: an
    absolute ``file://`` URL, and a URL relative to the ELAN file's folder (``./rec.wav``, ``../audio/rec.wav``)."""
    absolute = Path(os.path.abspath(media))
    relative = pathname2url(os.path.relpath(absolute, os.path.abspath(folder)))
    return {"MEDIA_URL": absolute.as_uri(),
            "RELATIVE_MEDIA_URL": relative if relative.startswith("../") else f"./{relative}"}


def open_eaf(media: Path, out: Path, base: Path | None = None):
    """A copy of the ELAN file ``base`` in memory (pympi's Eaf), or a new one linking ``media``, its media
    linked from where it will be written (``out``): a copy's descriptors still name the files they named."""
    import pympi

    if base:
        eaf = open_elan(base)
        for d in eaf.media_descriptors:
            found = next((c for c in media_candidates(base.parent, d) if c.is_file()), None)
            if found is not None:
                d.update(media_urls(found, out.parent))
        return eaf
    eaf = pympi.Elan.Eaf(author="speechxl")
    urls = media_urls(media, out.parent)
    eaf.add_linked_file(urls["MEDIA_URL"], relpath=urls["RELATIVE_MEDIA_URL"],
                        mimetype=MIME_TYPES.get(media.suffix.lower(), "audio/*"))
    eaf.remove_tier("default")
    return eaf


def _refuse_existing(names, wanted: list[str], base: Path | None) -> None:
    taken = [t for t in wanted if t in names]
    if taken:
        raise ValueError(f"{base}: it already has a tier {taken[0]!r}; give another --tier")


def write_eaf(out: Path, media: Path, tiers: dict[str, list[Aligned]], unit_kind: str,
              base: Path | None = None, origin: float = 0.0) -> Path:
    """``tiers`` (utterance tier name -> its utterances) into a copy of ``base`` (or a new ELAN file);
    ``origin``: the file's TIME_ORIGIN, the second of the recording its time 0 is."""
    eaf = open_eaf(media, out, base)
    kinds = {"words": "speechxl-word", unit_kind: "speechxl-unit", "conf": "speechxl-confidence"}
    _refuse_existing(eaf.get_tier_names(), [t for tier in tiers for t in
                                            [tier] + [derived_tier(tier, k) for k in kinds]], base)
    for lt, constraint in (("speechxl-utterance", None), ("speechxl-word", "Included_In"),
                           ("speechxl-unit", "Included_In"), ("speechxl-confidence", "Included_In")):
        if lt not in eaf.get_linguistic_type_names():
            eaf.add_linguistic_type(lt, constraints=constraint)
    ms = lambda s: int(round((s - origin) * 1000))  # noqa: E731
    for tier, utterances in tiers.items():
        words, units, conf = (derived_tier(tier, k) for k in ("words", unit_kind, "conf"))
        eaf.add_tier(tier, ling="speechxl-utterance")
        eaf.add_tier(words, ling="speechxl-word", parent=tier)
        eaf.add_tier(units, ling="speechxl-unit", parent=words)
        eaf.add_tier(conf, ling="speechxl-confidence", parent=tier)
        for u in utterances:
            if ms(u.start) < 0 or ms(u.end) <= ms(u.start):  # before the file's time 0: not in its timeline
                continue
            eaf.add_annotation(tier, ms(u.start), ms(u.end), u.text)
            for w in u.words:
                if ms(w.start) < 0 or ms(w.end) <= ms(w.start):
                    continue
                eaf.add_annotation(words, ms(w.start), ms(w.end), w.text)
                eaf.add_annotation(conf, ms(w.start), ms(w.end), f"{w.confidence:.2f}")
                for p in w.units:
                    if ms(p.end) > ms(p.start):
                        eaf.add_annotation(units, ms(p.start), ms(p.end), p.text)
    with atomic_path(out) as tmp:
        eaf.to_file(str(tmp))
    return out


def _no_overlaps(spans: list[tuple[float, float, str]]) -> list[tuple[float, float, str]]:
    """Spans in time order, each starting no earlier than the one before ends (an interval tier's rule)."""
    out, end = [], 0.0
    for a, b, text in sorted(spans):
        if b > max(a, end):
            out.append((max(a, end), b, text))
            end = b
    return out


def write_textgrid(out: Path, tiers: dict[str, list[Aligned]], unit_kind: str, seconds: float,
                   base: Path | None = None) -> Path:
    """``tiers`` as interval tiers added to a copy of ``base`` (or a new TextGrid)."""
    from praatio import textgrid

    if base:
        try:
            tg = textgrid.openTextgrid(str(base), includeEmptyIntervals=True, reportingMode="silence")
        except Exception as e:  # praatio raises what its parser raises
            raise ValueError(f"{base}: not a TextGrid praatio can read: {e}") from None
    else:
        tg = textgrid.Textgrid(0.0, seconds)
    _refuse_existing(tg.tierNames, [t for tier in tiers for t in
                                    [tier] + [derived_tier(tier, k) for k in ("words", unit_kind, "conf")]], base)
    hi = max(tg.maxTimestamp, seconds)
    for name in tg.tierNames:  # the user's tiers reach to the end of the recording, as the new ones do
        tg.replaceTier(name, tg.getTier(name).new(maxTimestamp=hi), reportingMode="silence")
    for tier, utterances in tiers.items():
        words = [w for u in utterances for w in u.words]
        spans = {tier: [(u.start, u.end, u.text) for u in utterances],
                 derived_tier(tier, "words"): [(w.start, w.end, w.text) for w in words],
                 derived_tier(tier, unit_kind): [(p.start, p.end, p.text) for w in words for p in w.units],
                 derived_tier(tier, "conf"): [(w.start, w.end, f"{w.confidence:.2f}") for w in words]}
        for name, entries in spans.items():
            tg.addTier(textgrid.IntervalTier(name, _no_overlaps(entries), tg.minTimestamp, hi), reportingMode="silence")
    with atomic_path(out) as tmp:
        tg.save(str(tmp), format="long_textgrid", includeBlankSpaces=True)
    return out
