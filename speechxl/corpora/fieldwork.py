"""Fieldwork recordings: a folder of long recordings, some annotated in ELAN (.eaf) or Praat (.TextGrid).

    speechxl prepare fieldwork --corpus recordings/ --tiers "tx@*" --lang ain --out data

Annotation files are read with pympi-ling (ELAN) and praatio (TextGrid). The tiers to learn from
are chosen by name (``--tiers``: shell globs, or ``re:<regex>``), and optionally by ELAN
linguistic type (``--tier_types``) and participant (``--participants``); several tiers per file
are fine. Each annotation of a chosen tier becomes a segment of its recording: its speaker is
the tier's participant, else the part of the tier name after ``@`` (``tx@SP1`` -> SP1), else the
tier name. An EAF's media is found through its media descriptors (absolute URL, relative URL,
then a file of that name next to the EAF) and its ``TIME_ORIGIN`` is added to the annotation
times; a TextGrid's media is the audio file of the same name beside it. Audio files that no
annotation file names are the untranscribed recordings.

Writes ``train``, ``dev`` and ``test`` disjoint by recording (a share of the annotated
recordings each; with fewer than three, each recording's segments are split by time instead,
and info.json says so), and ``pretrain`` (the segments of every set, transcripts unused;
whole untranscribed recordings join it once long-form segmentation exists). Every annotation
that cannot be used is a line of rejects.tsv: its file, tier and time, and why (no media, empty,
end before start, past the end of the audio, a point tier, overlapping another speaker's with
``--overlaps drop``) in ``<out>/rejects.tsv``, or, for what the audio checks refuse, in the set's own
rejects.tsv. Overlaps between speakers are counted in info.json either way.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import hashlib
import logging
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

from speechxl.corpora.prepare import (Source, add_limit_arguments, convert, limits_of, prepare_set,
                                      report_overlaps)
from speechxl.data.validate import Limits, Reject, write_rejects
from speechxl.options import option, words

log = logging.getLogger(__name__)

HELP = "fieldwork recordings with ELAN (.eaf) or Praat (.TextGrid) annotation"
AUDIO = (".wav", ".flac", ".mp3", ".ogg")


@dataclass(frozen=True)
class Annotation:
    """One annotation of a chosen tier, in seconds of its recording."""

    file: Path
    tier: str
    speaker: str
    start: float
    end: float
    text: str


@dataclass
class TierChoice:
    """Which tiers to learn from: names (globs or re:<regex>), ELAN types, participants."""

    names: list[str]
    types: list[str] = dataclasses.field(default_factory=list)
    participants: list[str] = dataclasses.field(default_factory=list)

    def chosen(self, name: str, tier_type: str | None = None, participant: str | None = None) -> bool:
        named = any(re.fullmatch(p[3:], name) if p.startswith("re:") else fnmatch.fnmatchcase(name, p)
                    for p in self.names)
        return (named and (not self.types or tier_type in self.types)
                and (not self.participants or participant in self.participants))


def speaker_of(tier: str, participant: str | None) -> str:
    return participant or (tier.split("@", 1)[1] if "@" in tier else tier)


def _eaf_media(eaf_path: Path, linked: list[dict]) -> tuple[Path | None, float, list[str]]:
    """(the audio file an EAF names, its TIME_ORIGIN in seconds, the paths tried)."""
    tried = []
    for d in linked:  # video descriptors too: their audio may sit beside them under an audio name
        urls = [d.get("MEDIA_URL"), d.get("RELATIVE_MEDIA_URL")]
        candidates = [Path(unquote(urlparse(u).path)) for u in urls if u]
        candidates = [c if c.is_absolute() else eaf_path.parent / c for c in candidates]
        candidates += [eaf_path.parent / c.name for c in candidates]
        for c in candidates:
            tried.append(str(c))
            if c.is_file() and c.suffix.lower() in AUDIO:
                return c, float(d.get("TIME_ORIGIN") or 0) / 1000, tried
    return None, 0.0, tried


def time_origin(path: Path) -> float:
    """The TIME_ORIGIN (seconds into the audio where the ELAN file's time 0 is) of its media."""
    import pympi

    return _eaf_media(path, pympi.Elan.Eaf(str(path)).get_linked_files())[1]


def read_eaf(path: Path, choice: TierChoice) -> tuple[Path | None, list[Annotation], list[Reject], list[str]]:
    """(media, annotations of the chosen tiers, rejects, every tier name) of an ELAN file."""
    import pympi

    try:
        eaf = pympi.Elan.Eaf(str(path))
    except Exception as e:  # pympi raises what its XML parser raises
        raise ValueError(f"{path}: not an ELAN file pympi-ling can read: {e}") from None
    media, origin, tried = _eaf_media(path, eaf.get_linked_files())
    annotations, rejects = [], []
    tiers = list(eaf.get_tier_names())
    for tier in tiers:
        params = eaf.get_parameters_for_tier(tier)
        participant = params.get("PARTICIPANT") or None
        if not choice.chosen(tier, params.get("LINGUISTIC_TYPE_REF"), participant):
            continue
        try:
            data = eaf.get_annotation_data_for_tier(tier)
        except KeyError:  # a symbolic (time-less) tier
            rejects.append(Reject(f"{path.stem}:{tier}", str(path), "no_times", f"tier {tier} has no time alignment"))
            continue
        for start_ms, end_ms, value, *_ in data:
            annotations.append(Annotation(path, tier, speaker_of(tier, participant), start_ms / 1000 + origin,
                                          end_ms / 1000 + origin, value or ""))
    if media is None and annotations:
        rejects += [_reject(a, "unreadable", f"no media file: tried {', '.join(tried) or 'none (no descriptor)'}")
                    for a in annotations]
        annotations = []
    return media, annotations, rejects, tiers


def read_textgrid(path: Path, choice: TierChoice) -> tuple[Path | None, list[Annotation], list[Reject], list[str]]:
    """(media, annotations of the chosen interval tiers, rejects, every tier name) of a TextGrid."""
    from praatio import textgrid

    try:
        tg = textgrid.openTextgrid(str(path), includeEmptyIntervals=False, reportingMode="silence")
    except Exception as e:  # praatio raises what its parser raises
        raise ValueError(f"{path}: not a TextGrid praatio can read: {e}") from None
    media = next((m for m in (path.with_suffix(s) for s in AUDIO) if m.is_file()), None)
    annotations, rejects = [], []
    for tier in tg.tierNames:
        if not choice.chosen(tier):
            continue
        t = tg.getTier(tier)
        if t.entryType.__name__ != "Interval":
            rejects.append(Reject(f"{path.stem}:{tier}", str(path), "no_times", f"tier {tier} is a point tier"))
            continue
        annotations += [Annotation(path, tier, speaker_of(tier, None), e.start, e.end, e.label) for e in t.entries]
    if media is None and annotations:
        rejects += [_reject(a, "unreadable", f"no media file named {path.stem} with one of {', '.join(AUDIO)}")
                    for a in annotations]
        annotations = []
    return media, annotations, rejects, list(tg.tierNames)


def _uid(a: Annotation) -> str:
    return f"{a.speaker}-{a.file.stem}-{int(round(a.start * 1000)):08d}"


def _reject(a: Annotation, reason: str, detail: str) -> Reject:
    return Reject(_uid(a), f"{a.file} [{a.tier} {a.start:.3f}-{a.end:.3f}]", reason, detail)


def overlapping(annotations: list[Annotation]) -> set[Annotation]:
    """Annotations that overlap one of another speaker in the same recording."""
    found = set()
    ordered = sorted(annotations, key=lambda a: a.start)
    for i, a in enumerate(ordered):
        for b in ordered[i + 1:]:
            if b.start >= a.end:
                break
            if b.speaker != a.speaker:
                found |= {a, b}
    return found


def split_recordings(names: list[str], share: float) -> tuple[set[str], set[str]]:
    """(dev, test) recordings: each about ``share`` of them and at least one, chosen by a hash of the
    name (stable when recordings are added)."""
    ordered = sorted(names, key=lambda n: hashlib.sha1(n.encode()).hexdigest())
    n = max(1, round(share * len(ordered)))
    return set(ordered[:n]), set(ordered[n:2 * n])


def prepare_fieldwork(corpus: Path, out: Path, lang: str, choice: TierChoice, share: float = 0.1,
                      overlaps: str = "keep", jobs: int = 2, limits=None, strict: bool = False) -> dict:
    """Read every annotation file of ``corpus``, write the data sets; returns info.json's summary."""
    files = sorted(p for p in corpus.rglob("*") if p.suffix.lower() in (".eaf", ".textgrid"))
    if not files:
        raise ValueError(f"--corpus {corpus}: no .eaf or .TextGrid files in it")
    by_media: dict[Path, list[Annotation]] = {}
    rejects: list[Reject] = []
    tiers_seen: Counter = Counter()
    for f in files:
        media, annotations, bad, tiers = (read_eaf if f.suffix.lower() == ".eaf" else read_textgrid)(f, choice)
        tiers_seen.update(tiers)
        rejects += bad
        if media is not None and annotations:
            by_media.setdefault(media.resolve(), []).extend(annotations)
    if not by_media and not rejects:
        raise ValueError(f"no tier matches --tiers {' '.join(choice.names)}"
                         f"{' --tier_types ' + ' '.join(choice.types) if choice.types else ''}"
                         f"{' --participants ' + ' '.join(choice.participants) if choice.participants else ''}; "
                         f"the tiers in {corpus}: {', '.join(sorted(tiers_seen))}")
    overlap_counts: dict[str, int] = {}
    kept: dict[Path, list[Annotation]] = {}
    for media, annotations in by_media.items():
        both = overlapping(annotations)
        overlap_counts[media.stem] = len(both)
        good = []
        for a in annotations:
            if a.end <= a.start:
                rejects.append(_reject(a, "bad_times", f"ends at {a.end:.3f} s, before it starts"))
            elif overlaps == "drop" and a in both:
                rejects.append(_reject(a, "overlap", "overlaps another speaker's annotation (--overlaps drop)"))
            else:
                good.append(a)
        kept[media] = good
    store = out / "audio" / lang
    sources = {media: [Source(id=_uid(a), path=str(media), store=str(store / f"{media.stem}.flac"), lang=lang,
                              speaker=a.speaker, raw_text=a.text.strip(), offset=a.start, duration=a.end - a.start,
                              recording=media.stem) for a in anns] for media, anns in kept.items()}
    names = sorted(m.stem for m in sources)
    if len(names) >= 3:
        dev, test = split_recordings(names, share)
        sets = {"train": [s for m, ss in sources.items() if m.stem not in dev | test for s in ss],
                "dev": [s for m, ss in sources.items() if m.stem in dev for s in ss],
                "test": [s for m, ss in sources.items() if m.stem in test for s in ss]}
        how = f"by recording: dev {sorted(dev)}, test {sorted(test)}"
    else:  # too few recordings to keep the sets apart: each recording's last stretches go to dev and test
        sets = {"train": [], "dev": [], "test": []}
        for ss in sources.values():
            ss = sorted(ss, key=lambda s: s.offset)
            n = max(1, round(share * len(ss)))
            sets["train"] += ss[:-2 * n]
            sets["dev"] += ss[-2 * n:-n]
            sets["test"] += ss[-n:]
        how = "by time within each recording (fewer than three annotated recordings)"
        log.warning("only %d annotated recordings: dev and test are the last segments of each, not other "
                    "recordings (results will flatter the model)", len(names))
    sets["pretrain"] = [s for name in ("train", "dev", "test") for s in sets[name]]
    limits = limits or Limits()
    write_rejects(rejects, out / "rejects.tsv")  # annotations that never became a segment
    report_overlaps(out, {k: v for k, v in sets.items() if k != "pretrain"})
    checked = convert([s for ss in sources.values() for s in ss], limits, jobs=jobs, desc="decode recordings")
    summary = {"source": "fieldwork", "corpus": str(corpus.resolve()), "files": len(files),
               "recordings": names, "split": how, "tiers": {"names": choice.names, "types": choice.types,
                                                              "participants": choice.participants},
               "overlapping_annotations": overlap_counts, "overlaps": overlaps}
    for name, set_sources in sets.items():
        prepare_set(out / name, set_sources, checked, limits, {**summary, "set": name},
                    require_text=name != "pretrain", strict=strict)
    return summary


def add_arguments(p) -> None:
    """``speechxl prepare fieldwork`` options."""
    option(p, "--corpus", required=True, help="folder of recordings and their .eaf / .TextGrid files (searched deeply)")
    option(p, "--tiers", nargs="+", required=True, help='tier names to learn from: globs ("tx@*") or re:<regex>')
    option(p, "--tier_types", nargs="+", help="ELAN linguistic types the tiers must have")
    option(p, "--participants", nargs="+", help="ELAN participants the tiers must belong to")
    option(p, "--lang", required=True, help="language code of the recordings")
    option(p, "--out", required=True, help="data directory")
    option(p, "--share", type=float, default=0.1, help="share of the annotated recordings for dev, and for test")
    option(p, "--overlaps", choices=["keep", "drop"], default="keep",
           help="annotations overlapping another speaker's: keep (they train as their own speaker's) or drop")
    add_limit_arguments(p)


def run(args) -> None:
    corpus = Path(args.corpus)
    if not corpus.is_dir():
        raise ValueError(f"--corpus {corpus}: not a directory")
    choice = TierChoice(list(args.tiers), words(args.tier_types), words(args.participants))
    prepare_fieldwork(corpus, Path(args.out), args.lang, choice, args.share, args.overlaps, args.jobs,
                      limits_of(args), args.strict)
