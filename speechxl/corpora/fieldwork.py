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

Every tier of every file is listed in ``tiers.tsv`` (file, tier, type, participant, parent,
annotations, chosen or not): the folder's inventory, to choose ``--tiers`` from.
The transcripts are read in the corpus's own orthography (``--rules``: tags, markers and
characters, ``text.orthography``) before the language's normalisation; ``characters.tsv`` lists
every character the chosen tiers hold and what becomes of it, and the log names those no rule
covers. ``--text`` files become ``lm_text/<lang>.txt``, normalised the same way.

Writes ``train``, ``dev`` and ``test`` disjoint by recording, and by speaker where the recordings
fall into three or more groups that share no speaker (dev and test take the smallest groups);
with fewer than three annotated recordings, each recording's segments are split by time instead,
and info.json says which. ``pretrain`` holds the training segments (transcripts unused) and every
stretch of speech that no chosen annotation covers, found by a voice activity detector
(``--vad``), in the untranscribed recordings and the training ones: dev and test recordings stay
out, so that their figures say what a model does on audio it has never heard. Every annotation
that cannot be used is a line of rejects.tsv: its file, tier and time, and why (no media, empty,
end before start, past the end of the audio, a point tier, a marker the rules drop, overlapping
another speaker's with ``--overlaps drop``) in ``<out>/rejects.tsv``, or, for what the audio
checks refuse, in the set's own rejects.tsv. Overlaps between speakers are counted in info.json
either way.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import hashlib
import logging
import math
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

from tqdm import tqdm

from speechxl.atomic import atomic_write
from speechxl.corpora.prepare import (Source, add_limit_arguments, convert, limits_of, prepare_set,
                                      report_overlaps, store_for)
from speechxl.data.validate import Limits, Reject, write_rejects
from speechxl.options import option, words
from speechxl.text.orthography import Orthography, character_table, load_orthography
from speechxl.untrusted import inside

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


def open_elan(path: Path):
    """An ELAN file as pympi-ling's Eaf. The XML is parsed by defusedxml first, which refuses entity
    definitions (a billion-laughs file) and external entities whatever Python's expat would do; a file
    either parser cannot read is a ValueError naming it."""
    import defusedxml.ElementTree
    import pympi

    try:
        defusedxml.ElementTree.parse(str(path))
        return pympi.Elan.Eaf(str(path))
    except Exception as e:  # defusedxml's and pympi's parsers raise what they raise
        raise ValueError(f"{path}: not an ELAN file pympi-ling can read: {type(e).__name__}: {e}") from None


def _origin(value: str | None, path: Path) -> float:
    """A media descriptor's TIME_ORIGIN (milliseconds) in seconds; one that is not a time is a ValueError."""
    try:
        ms = float(value or 0)
    except ValueError:
        ms = math.nan
    if not math.isfinite(ms) or ms < 0:
        raise ValueError(f"{path}: TIME_ORIGIN {value!r} of its media is not a time in milliseconds")
    return ms / 1000


def media_candidates(folder: Path, descriptor: dict) -> list[Path]:
    """Where the file of an ELAN media descriptor may be, in the order ELAN looks: its MEDIA_URL, its
    RELATIVE_MEDIA_URL from ``folder`` (the EAF's), then a file of either's name in ``folder``."""
    urls = [descriptor.get("MEDIA_URL"), descriptor.get("RELATIVE_MEDIA_URL")]
    candidates = [Path(unquote(urlparse(u).path)) for u in urls if u]
    candidates = [c if c.is_absolute() else folder / c for c in candidates]
    return candidates + [folder / c.name for c in candidates]


def _eaf_media(eaf_path: Path, linked: list[dict]) -> tuple[Path | None, float, list[str]]:
    """(the audio file an EAF names, its TIME_ORIGIN in seconds, the paths tried)."""
    tried = []
    for d in linked:  # video descriptors too: their audio may sit beside them under an audio name
        for c in media_candidates(eaf_path.parent, d):
            tried.append(str(c))
            if c.is_file() and c.suffix.lower() in AUDIO:
                return c, _origin(d.get("TIME_ORIGIN"), eaf_path), tried
    return None, 0.0, tried


def time_origin(path: Path) -> float:
    """The TIME_ORIGIN (seconds into the audio where the ELAN file's time 0 is) of its media."""
    return _eaf_media(path, open_elan(path).get_linked_files())[1]


def read_eaf(path: Path, choice: TierChoice) -> tuple[Path | None, list[Annotation], list[Reject], list[str]]:
    """(media, annotations of the chosen tiers, rejects, every tier name) of an ELAN file."""
    eaf = open_elan(path)
    try:
        media, origin, tried = _eaf_media(path, eaf.get_linked_files())
    except ValueError as e:  # a TIME_ORIGIN that is not a time: the file's annotations cannot be placed
        return None, [], [Reject(path.stem, str(path), "bad_times", str(e))], list(eaf.get_tier_names())
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
    except UnicodeDecodeError as e:
        raise ValueError(f"{path}: neither UTF-8 nor UTF-16 text (byte {e.start}); open it in Praat and save it again, "
                         "or convert it (iconv -f latin1 -t utf-8)") from None
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


def tier_table(path: Path, choice: TierChoice) -> list[dict]:
    """Every tier of an ELAN file or TextGrid: its name, type (ELAN's linguistic type, or Praat's
    interval / point), participant, parent, count of annotations and whether ``choice`` takes it."""
    rows = []
    if path.suffix.lower() == ".eaf":
        eaf = open_elan(path)
        for tier, (aligned, referring, params, _) in eaf.tiers.items():
            kind, participant = params.get("LINGUISTIC_TYPE_REF", ""), params.get("PARTICIPANT") or ""
            rows.append({"file": str(path), "tier": tier, "type": kind, "participant": participant,
                         "parent": params.get("PARENT_REF", ""), "annotations": len(aligned) + len(referring),
                         "chosen": choice.chosen(tier, kind, participant or None)})
    else:
        from praatio import textgrid

        tg = textgrid.openTextgrid(str(path), includeEmptyIntervals=False, reportingMode="silence")
        for tier in tg.tierNames:
            t = tg.getTier(tier)
            rows.append({"file": str(path), "tier": tier, "type": t.entryType.__name__.lower(), "participant": "",
                         "parent": "", "annotations": len(t.entries), "chosen": choice.chosen(tier)})
    return rows


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


def speaker_groups(speakers: dict[str, set[str]]) -> list[list[str]]:
    """Recordings grouped so that no speaker is in two groups (recordings that share a speaker,
    directly or through others, are one group); each group sorted, the groups by name."""
    parent = {r: r for r in speakers}

    def root(r: str) -> str:
        while parent[r] != r:
            parent[r] = parent[parent[r]]
            r = parent[r]
        return r

    first_with: dict[str, str] = {}
    for r in sorted(speakers):
        for s in speakers[r]:
            if s in first_with:
                parent[root(r)] = root(first_with[s])
            else:
                first_with[s] = r
    groups: dict[str, list[str]] = {}
    for r in sorted(speakers):
        groups.setdefault(root(r), []).append(r)
    return sorted(groups.values())


def split_recordings(speakers: dict[str, set[str]], share: float) -> tuple[set[str], set[str], str]:
    """(dev, test, how) recordings, each about ``share`` of them and at least one. Disjoint by speaker
    where the recordings fall into three or more groups without a shared speaker: dev and test take
    the smallest groups (ties broken by a hash of the names, stable when recordings are added), train
    keeps the rest; else by recording, chosen by a hash of the name."""
    digest = lambda names: hashlib.sha1(" ".join(names).encode()).hexdigest()  # noqa: E731
    groups = speaker_groups(speakers)
    by_speaker = len(groups) >= 3
    units = sorted(groups, key=lambda g: (len(g), digest(g))) if by_speaker else sorted(
        ([r] for r in speakers), key=digest)
    want = max(1, round(share * len(speakers)))
    chosen: list[set[str]] = [set(), set()]
    for k in range(2):
        while len(chosen[k]) < want and len(units) > 1 + (1 - k):  # leave a unit for test, and one for train
            chosen[k] |= set(units.pop(0))
    how = "by recording and speaker" if by_speaker else (
        f"by recording (their speakers form {len(groups)} group(s): dev and test share speakers with train)")
    return chosen[0], chosen[1], f"{how}: dev {sorted(chosen[0])}, test {sorted(chosen[1])}"


HELD_OUT_FLOOR = (20, 120.0)
"""Utterances or seconds (whichever comes first) that a dev or test set cut by time should hold."""


def _enough(sources: list[Source]) -> bool:
    return len(sources) >= HELD_OUT_FLOOR[0] or sum(s.duration or 0.0 for s in sources) >= HELD_OUT_FLOOR[1]


def _minutes(sources: list[Source]) -> str:
    return f"{sum(s.duration or 0.0 for s in sources) / 60:.1f} min"


def split_by_time(recordings: list[list[Source]], share: float) -> dict[str, list[Source]]:
    """Train, dev and test of a corpus of one or two annotated recordings: test the last stretch of each
    recording, dev the stretch before it, taken an utterance from each recording in turn until each holds
    ``share`` of the utterances and HELD_OUT_FLOOR (20 utterances or 2 minutes), as long as each keeps to a
    quarter of the corpus (train keeps at least half)."""
    tails = [sorted(ss, key=lambda s: s.offset) for ss in recordings]
    total = sum(map(len, tails))
    want, most = max(1, round(share * total)), max(1, total // 4)
    sets: dict[str, list[Source]] = {}
    for name in ("test", "dev"):
        taken: list[Source] = []
        while len(taken) < most and (len(taken) < want or not _enough(taken)) and any(len(t) > 1 for t in tails):
            for t in tails:
                if len(t) > 1 and len(taken) < most:  # each recording keeps an utterance for train
                    taken.append(t.pop())
        sets[name] = taken
    sets["train"] = [s for t in tails for s in t]
    return {k: sets[k] for k in ("train", "dev", "test")}


def _outside(regions: list[tuple[float, float]], taken: list[tuple[float, float]],
             shortest: float) -> list[tuple[float, float]]:
    """The parts of ``regions`` outside every span of ``taken``, none shorter than ``shortest`` seconds."""
    out = []
    for a, b in regions:
        pieces = [(a, b)]
        for s, e in taken:
            pieces = [p for x, y in pieces for p in ((x, min(y, s)), (max(x, e), y)) if p[1] > p[0]]
        out += [(round(x, 3), round(y, 3)) for x, y in pieces if y - x >= shortest]
    return out


def untranscribed_speech(media: Path, store: str, lang: str, annotated: list[tuple[float, float]], vad: str,
                         limits: Limits) -> list[Source]:
    """Segments of a recording where a voice activity detector hears speech that no chosen annotation
    covers (all of it, for a recording without annotation): pretraining audio. Writes the recording's
    16 kHz copy on the way, if it is not there."""
    from speechxl.data.audio import load_audio, write_audio
    from speechxl.data.vad import speech_regions

    samples = load_audio(store if Path(store).is_file() else media)
    if not Path(store).is_file():
        write_audio(store, samples)
    regions = speech_regions(samples, vad, max_region=min(20.0, limits.max_duration))
    return [Source(id=f"{media.stem}-untranscribed-{int(round(a * 1000)):08d}", path=str(media), store=store,
                   lang=lang, speaker="unknown", offset=a, duration=round(b - a, 3), recording=media.stem)
            for a, b in _outside(regions, annotated, limits.min_duration)]


def read_lines(texts: list[Path]) -> list[str]:
    """The lines of the ``--text`` files; one that is not UTF-8 text is an error naming it."""
    lines = []
    for path in texts:
        try:
            lines += path.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as e:
            raise ValueError(f"--text {path}: cannot read it as UTF-8 text: {e}") from None
    return lines


def lm_text(lines: list[str], rules: Orthography, lang: str, held_out: set[str]) -> list[str]:
    """``lines`` normalised as the transcripts are, less the ones the rules drop and the ones that are a
    dev or test transcript."""
    normalised = (rules.normalize(line, lang) for line in lines if not rules.dropped_by(line))
    return [t for t in normalised if t and t not in held_out]


def prepare_fieldwork(corpus: Path, out: Path, lang: str, choice: TierChoice, share: float = 0.1,
                      overlaps: str = "keep", jobs: int = 2, limits=None, strict: bool = False,
                      rules: Orthography = Orthography(), texts: list[Path] = (), vad: str = "silero") -> dict:
    """Read every annotation file of ``corpus``, write the data sets; returns info.json's summary."""
    files = sorted(p for p in corpus.rglob("*") if p.suffix.lower() in (".eaf", ".textgrid"))
    if not files:
        raise ValueError(f"--corpus {corpus}: no .eaf or .TextGrid files in it")
    limits = limits or Limits()
    extra_text = read_lines(list(texts))
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
    tiers = [row for f in files for row in tier_table(f, choice)]
    atomic_write(out / "tiers.tsv", "file\ttier\ttype\tparticipant\tparent\tannotations\tchosen\n" + "".join(
        f"{r['file']}\t{r['tier']}\t{r['type']}\t{r['participant']}\t{r['parent']}\t{r['annotations']}\t"
        f"{'yes' if r['chosen'] else 'no'}\n" for r in tiers))
    log.info("%d files, %d tiers (%d chosen: %d annotations); every tier in %s", len(files), len(tiers),
             sum(r["chosen"] for r in tiers), sum(r["annotations"] for r in tiers if r["chosen"]), out / "tiers.tsv")
    characters = character_table([a.text for anns in by_media.values() for a in anns], rules)
    write_characters(out / "characters.tsv", characters)
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
            elif rules.dropped_by(a.text):
                rejects.append(_reject(a, "marker", f"matches the rules' drop pattern {rules.dropped_by(a.text)!r}"))
            else:
                good.append(a)
        kept[media] = good
    store = out / "audio"
    sources = {media: [Source(id=_uid(a), path=str(media), store=store_for(store, lang, media, media.stem), lang=lang,
                              speaker=a.speaker, raw_text=a.text.strip(), offset=a.start, duration=a.end - a.start,
                              recording=media.stem) for a in anns] for media, anns in kept.items()}
    if len(sources) >= 3:
        dev, test, how = split_recordings({m.stem: {s.speaker for s in ss} for m, ss in sources.items()}, share)
        sets = {"train": [s for m, ss in sources.items() if m.stem not in dev | test for s in ss],
                "dev": [s for m, ss in sources.items() if m.stem in dev for s in ss],
                "test": [s for m, ss in sources.items() if m.stem in test for s in ss]}
    else:  # too few recordings to keep the sets apart: each recording's last stretches go to dev and test
        dev, test = set(), set()
        sets = split_by_time(list(sources.values()), share)
        how = (f"by time within each of the {len(sources)} annotated recordings (fewer than three): test the last "
               f"{len(sets['test'])} utterances ({_minutes(sets['test'])}), dev the {len(sets['dev'])} before them "
               f"({_minutes(sets['dev'])}), train the other {len(sets['train'])}")
        log.warning("%s. dev and test share recordings and speakers with train, so their figures flatter the model%s",
                    how, "" if all(_enough(sets[k]) for k in ("dev", "test")) else
                    f"; and they rest on fewer than {HELD_OUT_FLOOR[0]} utterances or {HELD_OUT_FLOOR[1] / 60:.0f} "
                    "minutes each: read them as a rough guide")
    # pretraining audio: the training annotations' and every stretch of speech no annotation covers, in
    # every recording but dev's and test's (their figures then say what the model does on unheard audio)
    recordings = sorted({p.resolve() for p in corpus.rglob("*") if p.suffix.lower() in AUDIO} | set(kept))
    untranscribed = [] if vad == "none" else [
        s for m in tqdm(recordings, desc="find speech", unit="recording", dynamic_ncols=True, mininterval=1.0)
        if m.stem not in dev | test
        for s in untranscribed_speech(m, store_for(store, lang, m, m.stem), lang,
                                      [(a.start, a.end) for a in by_media.get(m, [])], vad, limits)]
    sets["pretrain"] = sets["train"] + untranscribed
    write_rejects(rejects, out / "rejects.tsv")  # annotations that never became a segment
    report_overlaps(out, {k: v for k, v in sets.items() if k != "pretrain"})
    checked = convert([s for ss in sets.values() for s in ss], limits, jobs=jobs, desc="decode recordings")
    summary = {"source": "fieldwork", "corpus": str(corpus.resolve()), "files": len(files),
               "recordings": sorted(m.stem for m in sources), "untranscribed_recordings":
                   sorted(m.stem for m in recordings if m not in kept), "split": how,
               "tiers": {"names": choice.names, "types": choice.types, "participants": choice.participants},
               "orthography": rules.describe(), "vad": vad,
               "overlapping_annotations": overlap_counts, "overlaps": overlaps}
    for name, set_sources in sets.items():
        prepare_set(out / name, set_sources, checked, limits, {**summary, "set": name},
                    require_text=name != "pretrain", strict=strict, normalize=rules.normalize)
    held_out = {u for name in ("dev", "test") for u in (rules.normalize(s.raw_text, lang) for s in sets[name]) if u}
    text = lm_text(extra_text, rules, lang, held_out)
    if texts:
        atomic_write(inside(out / "lm_text", f"{lang}.txt"), "".join(t + "\n" for t in text))
        log.info("%s: %d sentences of language-model text", out / "lm_text" / f"{lang}.txt", len(text))
    return summary


def write_characters(path: Path, rows: list[dict]) -> None:
    """The character table (``text.orthography.character_table``) as TSV; the uncovered ones logged."""
    atomic_write(path, "char\tname\tcount\tbecomes\n" + "".join(
        f"{r['char']}\t{r['name']}\t{r['count']}\t{r['becomes']}\n" for r in rows))
    uncovered = [r for r in rows if not r["covered"]]
    if uncovered:
        log.warning("characters no orthography rule covers, read as spaces: %s (%s; --rules says what they are)",
                    " ".join(f"{r['char']!r}×{r['count']}" for r in uncovered), path)


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
    option(p, "--rules", help="the corpus's orthography rules (YAML: drop, tags, remove, split, keep; "
                              "see speechxl/text/orthography.py)")
    option(p, "--text", nargs="+", default=[], help="text files in the language (a line a sentence): language-model "
                                                    "text, normalised as the transcripts -> <out>/lm_text/<lang>.txt")
    option(p, "--vad", choices=["silero", "energy", "none"], default="silero",
           help="detector that finds the untranscribed speech for the pretrain set (none: annotations only)")
    add_limit_arguments(p)


def run(args) -> None:
    corpus = Path(args.corpus)
    if not corpus.is_dir():
        raise ValueError(f"--corpus {corpus}: not a directory")
    choice = TierChoice(list(args.tiers), words(args.tier_types), words(args.participants))
    prepare_fieldwork(corpus, Path(args.out), args.lang, choice, args.share, args.overlaps, args.jobs,
                      limits_of(args), args.strict, load_orthography(args.rules), [Path(t) for t in args.text],
                      args.vad)
