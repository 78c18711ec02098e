"""lhotse manifests in: a CutSet, or a SupervisionSet with its RecordingSet, as lhotse writes them.

    speechxl prepare lhotse --manifests cuts_train.jsonl.gz mini_supervisions_dev.jsonl.gz --lang en --out data

Each manifest (JSON lines, gzipped or not) becomes a set. A cut manifest's every supervision is an
utterance: the segment of its recording the supervision covers (lhotse's supervision times are
relative to the cut, its recording's are not), with the supervision's text, language and speaker;
a cut without supervisions is untranscribed audio, the whole cut. A supervision manifest is read
with the recording manifest beside it (lhotse's names: ``<prefix>_supervisions_<part>`` ->
``<prefix>_recordings_<part>``); a recording manifest alone is untranscribed audio, one utterance
per recording. A recording whose audio is not one file (a command, a URL, audio held in memory or
a Shar archive, one file per channel) and a cut that mixes recordings are rejects that say so.
Multi-channel files are mixed down, as every corpus's are. lhotse itself is not needed.
"""

from __future__ import annotations

from pathlib import Path

from speechxl.corpora.prepare import SetSources, Source, add_set_arguments, read_jsonl, run_sets, store_for
from speechxl.data.validate import Reject

HELP = "lhotse manifests: a CutSet, or a SupervisionSet beside its RecordingSet (JSON lines, .gz or not)"


def _audio_file(recording: dict) -> tuple[str | None, str | None]:
    """(the one file a lhotse recording's audio is in, None) or (None, why it is not one file)."""
    sources = recording.get("sources") or []
    if len(sources) != 1:
        return None, f"{len(sources)} audio sources (one file per channel): speechxl reads one file per recording"
    if sources[0].get("type") != "file":
        return None, f"audio source of type {sources[0].get('type')!r}: write it to a file first"
    return sources[0]["source"], None


class _Reader:
    """Sources and rejects of one manifest, whose relative paths are lhotse's (from the working dir)."""

    def __init__(self, lang: str | None, store: Path):
        self.lang, self.store = lang, store
        self.sources: list[Source] = []
        self.rejects: list[Reject] = []

    def add(self, where: str, uid: str, recording: dict, offset: float, duration: float | None,
            supervision: dict) -> None:
        file, why = _audio_file(recording)
        if why:
            self.rejects.append(Reject(uid, recording.get("id", "?"), "unreadable", why))
            return
        lang = supervision.get("language") or self.lang
        if not lang:
            raise ValueError(f"{where}: {uid} has no language: give --lang")
        path = Path(file)
        self.sources.append(Source(id=uid, path=str(path), store=store_for(self.store, lang, path, recording["id"]),
                                   lang=lang, speaker=str(supervision.get("speaker") or recording["id"]),
                                   raw_text=supervision.get("text"), offset=offset, duration=duration,
                                   recording=recording["id"]))

    def cut(self, where: str, cut: dict) -> None:
        if "recording" not in cut:
            self.rejects.append(Reject(cut.get("id", "?"), where, "unreadable",
                                       f"a {cut.get('type', 'cut')} of several recordings (or none): give MonoCuts"))
            return
        supervisions = cut.get("supervisions") or []
        for s in supervisions:
            self.add(where, s["id"], cut["recording"], cut["start"] + s["start"], s["duration"], s)
        if not supervisions:
            self.add(where, cut["id"], cut["recording"], cut["start"], cut["duration"], {})


def read_lhotse_manifest(manifest: Path, lang: str | None, store: Path) -> SetSources:
    """One lhotse manifest (cuts, supervisions beside their recordings, or recordings) as Sources."""
    records = list(read_jsonl(manifest))
    if not records:
        raise ValueError(f"{manifest}: an empty manifest")
    reader = _Reader(lang, store)
    first = records[0][1]
    if "supervisions" in first or "recording" in first or str(first.get("type", "")).endswith("Cut"):
        kind, recordings_file = "cuts", None
        for n, cut in records:
            reader.cut(f"{manifest}:{n}", cut)
    elif "recording_id" in first:
        kind = "supervisions"
        recordings_file = manifest.with_name(manifest.name.replace("supervisions", "recordings"))
        if recordings_file == manifest or not recordings_file.is_file():
            raise ValueError(f"{manifest}: a supervision manifest needs its recording manifest beside it "
                             f"(looked for {recordings_file.name})")
        recordings = {r["id"]: r for _, r in read_jsonl(recordings_file)}
        for n, s in records:
            if s["recording_id"] not in recordings:
                raise ValueError(f"{manifest}:{n}: recording {s['recording_id']} is not in {recordings_file}")
            reader.add(f"{manifest}:{n}", s["id"], recordings[s["recording_id"]], s["start"], s["duration"], s)
    elif "sources" in first:
        kind, recordings_file = "recordings", None
        for n, r in records:
            reader.add(f"{manifest}:{n}", r["id"], r, 0.0, None, {})
    else:
        raise ValueError(f"{manifest}:{records[0][0]}: not a lhotse cut, supervision or recording "
                         f"(keys: {sorted(first)})")
    return SetSources(reader.sources, reader.rejects,
                      {"lhotse": kind, **({"recordings": str(recordings_file.resolve())} if recordings_file else {})})


def add_arguments(p) -> None:
    """``speechxl prepare lhotse`` options."""
    add_set_arguments(p, "--manifests", "lhotse cut, supervision or recording manifests (.jsonl[.gz])")


def run(args) -> None:
    run_sets(args, args.manifests, read_lhotse_manifest, "lhotse")
