"""Corpus-independent preparation: decode sources once, check every utterance, write data sets.

A corpus module (``corpora/commonvoice.py``, ``corpora/fieldwork.py``) lists ``Source`` items;
``convert`` decodes each distinct source file once, on all workers, into a store of 16 kHz
mono FLAC files (re-runs reuse what is there, so a killed run resumes), and checks the audio
of every utterance; ``build_set`` adds the transcript checks and ``write_set`` writes
``data/<set>/`` with its rejects.
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import json
import logging
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator

from tqdm import tqdm

from speechxl import __version__
from speechxl.data.audio import MAX_HOURS, SAMPLE_RATE, AudioError, load_audio, write_audio
from speechxl.atomic import atomic_write
from speechxl.data.manifest import Utterance, write_manifest
from speechxl.options import option
from speechxl.text import normalize as norm
from speechxl.untrusted import MAX_NAME, file_name, inside, lang_problem, name_problem, shown, undecodable
from speechxl.workers import process_map
from speechxl.data.validate import (Limits, Reject, RejectError, check_audio, check_transcript,
                                    summarize, write_rejects)

log = logging.getLogger(__name__)
END_SLACK = 0.05  # seconds a segment may end past its file's end (rounded durations): it ends at the end
WHOLE_FILE_SLACK = 60.0
"""Seconds past the longest utterance a whole-file utterance's header may claim before it is rejected
as too long without being read (a 10-hour file is never decoded only to be rejected)."""


@dataclass(frozen=True)
class Source:
    """One utterance a corpus offers: an audio file, or a segment of one, with its metadata."""

    id: str
    path: str
    """Source audio file (any format soundfile reads)."""
    store: str
    """Where the 16 kHz FLAC copy of ``path`` goes; sources of one file share it."""
    lang: str
    speaker: str
    raw_text: str | None = None
    offset: float = 0.0
    duration: float | None = None
    """Segment length in seconds; None for the whole file."""
    recording: str | None = None
    """Id of the recording a segment belongs to (Kaldi's segments file); None for whole files."""
    stated_duration: float | None = None
    """Duration the corpus states (e.g. CommonVoice clip_durations.tsv), checked if given."""
    phones: tuple[str, ...] | None = None


@dataclass
class _Job:
    path: str
    store: str
    segments: list[tuple[str, float, float | None, float | None]] = field(default_factory=list)
    """(utterance id, offset, duration or None, stated duration or None)"""


# utterance id -> (duration in seconds, (reason, detail) or None)
_Checked = dict[str, tuple[float, tuple[str, str] | None]]


def _run_job(job: _Job, limits: Limits) -> _Checked:
    """Decode (or reuse) one source file and check each of its utterances."""
    store = Path(job.store)
    whole_files = all(offset == 0 and duration is None for _, offset, duration, _ in job.segments)
    most = limits.max_duration + WHOLE_FILE_SLACK if whole_files else MAX_HOURS * 3600  # told by the header
    try:
        audio = load_audio(store if store.is_file() else job.path, max_seconds=most)
    except AudioError as e:
        return {uid: (0.0, (e.reason, e.detail)) for uid, *_ in job.segments}
    except MemoryError:
        return {uid: (0.0, ("decoder_crashed", "out of memory while decoding it")) for uid, *_ in job.segments}
    whole = check_audio(audio, SAMPLE_RATE, Limits(min_duration=0.0, max_duration=float("inf")))
    if whole is None and not store.is_file():
        write_audio(store, audio)
    out: _Checked = {}
    for uid, offset, duration, stated in job.segments:
        start = int(round(offset * SAMPLE_RATE))
        stop = None if duration is None else start + int(round(duration * SAMPLE_RATE))
        seg = audio[start:stop]
        seconds = seg.size / SAMPLE_RATE
        problem = whole
        if problem is None and duration is not None and stop > audio.size + END_SLACK * SAMPLE_RATE:
            problem = ("duration_mismatch", f"segment ends at {stop / SAMPLE_RATE:.2f} s, "
                       f"file has {audio.size / SAMPLE_RATE:.2f} s")
        problem = problem or check_audio(seg, SAMPLE_RATE, limits)
        if problem is None and stated is not None and abs(stated - seconds) > limits.duration_tolerance:
            problem = ("duration_mismatch", f"decoded {seconds:.2f} s, stated {stated:.2f} s")
        out[uid] = (seconds, problem)
    return out


def _run_job_star(args: tuple[_Job, Limits]) -> _Checked:
    return _run_job(*args)


def convert(sources: Iterable[Source], limits: Limits, jobs: int = 2, desc: str = "decode") -> _Checked:
    """Decode every distinct source file once into its FLAC store and check each utterance.

    Returns utterance id -> (duration, problem or None). Uses ``jobs`` processes.
    """
    by_file: dict[str, _Job] = {}
    results: _Checked = {}
    for s in sources:
        if bad := bad_name(s):  # before anything is written for it
            results[s.id] = (0.0, bad)
            continue
        job = by_file.setdefault(s.path, _Job(s.path, s.store))
        job.segments.append((s.id, s.offset, s.duration, s.stated_duration))
    work = [(job, limits) for job in by_file.values()]
    for store_dir in {Path(job.store).parent for job in by_file.values()}:
        for stale in store_dir.glob(".*.tmp*"):  # left by a killed run
            stale.unlink()
    bar = tqdm(total=len(work), desc=desc, unit="file", dynamic_ncols=True, mininterval=1.0)
    for _, r in process_map(_run_job_star, work, jobs, on_crash=_crashed):
        results.update(r)
        bar.update()
    bar.close()
    return results


def bad_name(s: Source) -> tuple[str, str] | None:
    """("bad_name", which value and why) if a name the corpus gives ``s`` cannot be one, else None."""
    for what, value in (("utterance id", s.id), ("speaker", s.speaker), ("recording", s.recording)):
        if value is not None and (problem := name_problem(value)):
            return "bad_name", f"{what} {shown(value)}: {problem}"
    if problem := lang_problem(s.lang):
        return "bad_name", f"language {shown(s.lang)}: {problem}"
    if s.raw_text is not None and undecodable(s.raw_text):
        return "bad_name", f"transcript {shown(s.raw_text)}: not valid UTF-8"
    return None


def store_for(store: Path, lang: str, path: Path, name: str) -> str:
    """Where the one 16 kHz FLAC copy of a recording file goes: store/<lang>/<name>-<hash of its
    path>.flac (the hash keeps files of one name in other folders apart; the names from the corpus
    made file-name-safe: a language or name that is not one is a reject before anything is written)."""
    try:
        where = str(path.resolve())
    except (ValueError, OSError):  # a NUL in a path from data: the file cannot be read, and is rejected as such
        where = str(path)
    key = hashlib.sha1(where.encode("utf-8", "surrogateescape")).hexdigest()[:12]
    return str(inside(store, file_name(lang, 64), f"{file_name(name)}-{key}.flac"))


@dataclass
class SetSources:
    """What a manifest importer reads of one set, before decoding."""

    sources: list[Source]
    rejects: list[Reject] = field(default_factory=list)
    """Found while reading (e.g. an entry that is not a file)."""
    info: dict = field(default_factory=dict)
    """What the set's info.json says of where it came from."""

    @property
    def transcribed(self) -> bool:
        """A set with any transcript is transcribed: its utterances without one are rejects."""
        return any(s.raw_text is not None for s in self.sources)


def read_jsonl(path: Path) -> Iterator[tuple[int, dict]]:
    """(line number, record) of a JSON-lines file, gzipped or not; a bad line is an error naming it."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8", errors="surrogateescape") as f:  # a bad byte: a bad name, below
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as e:
                raise ValueError(f"{path}:{n}: not a JSON object ({e.msg} at column {e.colno})") from None
            if not isinstance(record, dict):
                raise ValueError(f"{path}:{n}: not a JSON object")
            yield n, record


def add_set_arguments(p, inputs: str, what: str) -> None:
    """The options of an importer of sets (Kaldi dirs, NeMo or lhotse manifests, folders): the
    inputs, one set each, their names, the language, the output and the limits."""
    option(p, inputs, nargs="+", required=True, help=f"{what}; each becomes <out>/<its name>")
    option(p, "--names", nargs="+", help="set names for them, in order (default: each one's name, less its suffixes)")
    option(p, "--lang", help="language of the utterances the input does not give one")
    option(p, "--out", required=True, help="data directory")
    add_limit_arguments(p)


def run_sets(args, inputs: list[str], read: Callable[[Path, str | None, Path], SetSources], source: str) -> None:
    """Read each input as a set (``read(input, lang, store)``), decode all of them once, write each
    (the ``run`` of an importer of sets)."""
    paths = [Path(x) for x in inputs]
    names = args.names or [p.name.split(".")[0] for p in paths]
    if len(names) != len(paths) or len(set(names)) != len(names):
        raise ValueError(f"--names: one distinct name per input, got {names} for {len(paths)} inputs "
                         "(give --names when two inputs have one name)")
    out, limits = Path(args.out), limits_of(args)
    sets = {name: read(p, args.lang, out / "audio") for name, p in zip(names, paths)}
    report_overlaps(out, {name: s.sources for name, s in sets.items()})
    checked = convert([x for s in sets.values() for x in s.sources], limits, jobs=args.jobs, desc="decode recordings")
    for (name, s), path in zip(sets.items(), paths):
        prepare_set(out / name, s.sources, checked, limits, {"set": name, "source": source, "input": str(path.resolve()),
                                                              **s.info},
                    require_text=s.transcribed, strict=args.strict, rejects=s.rejects)


def add_limit_arguments(p) -> None:
    """The options every corpus shares: workers, strictness and the usability limits."""
    option(p, "--jobs", type=int, default=2, help="decoding processes")
    option(p, "--strict", action="store_true", help="any rejected input is an error")
    option(p, "--min_duration", type=float, default=0.5, help="seconds; shorter utterances are rejected")
    option(p, "--max_duration", type=float, default=30.0, help="seconds; longer utterances are rejected")
    option(p, "--frame_shift_ms", type=float, default=20.0, help="model frame shift for the transcript-length check")


def limits_of(args) -> Limits:
    return Limits(min_duration=args.min_duration, max_duration=args.max_duration, frame_shift_ms=args.frame_shift_ms)


def report_overlaps(out_dir: str | Path, sets: dict[str, list[Source]]) -> dict[str, dict[str, list[str]]]:
    """Clips and speakers that two labelled sets share (leakage: a test set that shares them with
    train overstates accuracy): each pair is logged, and all are written to out_dir/overlaps.json
    beside what an earlier import into out_dir found between other sets."""
    path = Path(out_dir) / "overlaps.json"
    try:
        earlier = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
        earlier = earlier if isinstance(earlier, dict) else {}
    except (OSError, ValueError) as e:
        log.warning("%s: not read (%s); it is written afresh", path, e)
        earlier = {}
    found = {pair: v for pair, v in earlier.items() if not set(pair.split(" ")) & set(sets)}
    names = sorted(sets)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            clips = sorted({s.path for s in sets[a]} & {s.path for s in sets[b]})
            speakers = sorted({s.speaker for s in sets[a]} & {s.speaker for s in sets[b]})
            if clips or speakers:
                found[f"{a} {b}"] = {"clips": clips, "speakers": speakers}
                log.warning("%s and %s share %d clips%s and %d speakers: figures on one of them overstate what "
                            "the model does on unseen speech", a, b, len(clips),
                            f" (e.g. {clips[0]})" if clips else "", len(speakers))
    atomic_write(path, json.dumps(found, indent=1) + "\n")
    return found


def _crashed(args: tuple[_Job, Limits]) -> _Checked:
    """Every utterance of a file whose decoding killed its process (a decoder crash, or out of memory)."""
    return {uid: (0.0, ("decoder_crashed", f"decoding {args[0].path} killed its process"))
            for uid, *_ in args[0].segments}


def build_set(
    sources: list[Source],
    checked: _Checked,
    limits: Limits,
    normalize: Callable[[str, str], str],
    require_text: bool = True,
) -> tuple[list[Utterance], list[Reject]]:
    """Utterances that pass every check, and a Reject for each that does not.

    ``require_text=False`` is for untranscribed sets (pretraining): transcripts are kept when
    the corpus has them but not checked.
    """
    utts: list[Utterance] = []
    rejects: list[Reject] = []
    seen: set[str] = set()
    for s in sources:
        if s.id in seen:
            rejects.append(Reject(shown(s.id, MAX_NAME), shown(s.path, 4096), "duplicate", "utterance id already used"))
            continue
        seen.add(s.id)
        seconds, problem = checked[s.id]
        text = normalize(s.raw_text, s.lang) if s.raw_text is not None else None
        if require_text and not text and (problem is None or problem[0] != "bad_name"):
            problem = ("empty_transcript", "")  # whatever its audio: an empty annotation is not a short clip
        elif problem is None and require_text:
            problem = check_transcript(text, seconds, limits)
        if problem is not None:
            rejects.append(Reject(shown(s.id, MAX_NAME), shown(s.path, 4096), *problem))
            continue
        utts.append(Utterance(
            id=s.id, audio=s.store, duration=round(seconds, 4), lang=s.lang, speaker=s.speaker,
            offset=s.offset, recording=s.recording,
            sample_rate=SAMPLE_RATE, text=text, raw_text=s.raw_text,
            phones=list(s.phones) if s.phones else None,
        ))
    return utts, rejects


def prepare_set(out_dir: str | Path, sources: list[Source], checked: _Checked, limits: Limits, info: dict,
                require_text: bool = True, strict: bool = False, rejects: list[Reject] = (),
                normalize: Callable[[str, str], str] = norm.normalize) -> Path:
    """One data set of a corpus: ``build_set`` with the per-language text normalisation (or the
    corpus's own ``normalize``), then ``write_set`` with what every set's info.json says besides the
    corpus's own ``info`` (transcribed or not, the limits, each language's normalisation);
    ``rejects``: the corpus's own, found before decoding."""
    utts, bad = build_set(sources, checked, limits, normalize, require_text=require_text)
    langs = sorted({u.lang for u in utts})
    write_set(out_dir, utts, list(rejects) + bad,
              {**info, "transcribed": require_text, "limits": dataclasses.asdict(limits),
               "normalization": {lang: norm.describe(lang) for lang in langs}}, strict=strict)
    return Path(out_dir)


def write_set(out_dir: str | Path, utts: list[Utterance], rejects: list[Reject], info: dict,
              strict: bool = False) -> None:
    """Write ``data/<set>/``: manifest, Kaldi view, rejects.tsv and info.json; log the counts.

    In strict mode any reject is an error that names it, and nothing is written.
    """
    out_dir = Path(out_dir)
    if strict and rejects:
        shown = "\n  ".join(str(r) for r in rejects[:20])
        more = f"\n  ... and {len(rejects) - 20} more" if len(rejects) > 20 else ""
        raise RejectError(f"{out_dir}: {len(rejects)} input(s) rejected in strict mode:\n  {shown}{more}")
    write_manifest(utts, out_dir)
    write_rejects(rejects, out_dir / "rejects.tsv")
    per_lang: dict[str, dict] = defaultdict(lambda: {"utterances": 0, "hours": 0.0, "speakers": set()})
    for u in utts:
        d = per_lang[u.lang]
        d["utterances"] += 1
        d["hours"] += u.duration / 3600
        d["speakers"].add(u.speaker)
    stats = {lang: {"utterances": d["utterances"], "hours": round(d["hours"], 4),
                    "speakers": len(d["speakers"])} for lang, d in sorted(per_lang.items())}
    info = {**info, "speechxl_version": __version__, "kept": len(utts),
            "rejected": dict(Counter(r.reason for r in rejects)), "languages": stats}
    atomic_write(out_dir / "info.json", json.dumps(info, ensure_ascii=False, indent=1) + "\n")
    hours = sum(d["hours"] for d in stats.values())
    log.info("%s: %s; %.2f h in %d language(s)", out_dir, summarize(len(utts), rejects), hours, len(stats))
    for r in rejects[:5]:
        log.info("  rejected %s", r)
    if len(rejects) > 5:
        log.info("  ... %d more in %s", len(rejects) - 5, out_dir / "rejects.tsv")
