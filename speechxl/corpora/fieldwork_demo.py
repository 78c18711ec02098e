"""The built-in fieldwork demo corpus: long conversations in a language the CommonVoice demo does
not train on, annotated the way documentation projects annotate.

    speechxl prepare fieldwork-demo --out downloads/fieldwork [--lang ca] [--recordings 10]

What it holds, each part shaped like what ``prepare fieldwork``, ``transcribe-long`` and ``align``
meet in real corpora:

- ``recordings/``: WAV recordings of 2-6 minutes (the untranscribed ones 5-8) at 22.05 kHz, each a
  conversation of two or three speakers (espeak-ng voice variants, each with its own pitch, rate
  and distance to the microphone) taking turns of one to three utterances, with pauses of
  0.2-1.5 s, some turns starting before the last one ended, background noise (15-35 dB below
  the speech) and mains hum, and coughs and laughs inside some utterances.
- Speakers belong to communities and talk only within theirs, so that a split can keep dev and
  test speakers out of training (``prepare fieldwork`` splits by speaker where it can).
- One speaker is not espeak-ng but Debian's festival (for Catalan its HTS voice ``upc_ca_ona_hts``,
  from a human speaker's recordings; ``--no_festival`` leaves it out): the second speaker (SP9) of the fourth community,
  whose recordings are the test recording and an untranscribed one. No transcribed training
  utterance has that voice; only continued pretraining on the target's audio hears it before the
  test, as a fieldwork team's own speakers are heard only in their untranscribed recordings.
- ``annotations/``: ELAN files for most recordings: a tier ``tx@<speaker>`` per speaker with its
  PARTICIPANT, a free-translation tier as its symbolic child (no times of its own) and a
  ``notes`` tier; the media linked by an absolute URL on the fieldworker's own machine (absent
  here) and a relative one (found); one file with a TIME_ORIGIN. TextGrids for two recordings
  (an interval tier per speaker, a point tier of events; one saved in UTF-16, as Praat saves
  text that is not ASCII). The last two recordings have none: the untranscribed ones.
- Transcripts as a person writes them: boundaries 50-250 ms outside the speech; the
  orthography's conventions: tags for sounds ``[riu]`` (laughs) and ``[tos]`` (coughs), ``~``
  after a word cut off, parentheses round an uncertain word, ``xxx`` for a stretch that could
  not be made out (spoken, but not written), Catalan's ``·`` (``col·lecció``) and apostrophes of
  elision (``l'home``). ``rules.yaml`` says how to read them (``text.orthography``).
- Slips, for the rejects path: one empty annotation and one that ends after its recording.
- ``text/<lang>.txt``: sentences of the language nobody recorded (text for the language model).
- ``truth/<recording>.tsv``: every utterance, annotated or not: speaker, true start and end (its
  first and last sample within 40 dB of its loudest) and the words spoken. The recipe scores
  transcription and alignment against it; no speechxl verb reads it.

Everything is seeded: the same arguments give the same corpus.
"""

from __future__ import annotations

import io
import json
import logging
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf

from speechxl.atomic import atomic_path, atomic_write
from speechxl.corpora import festival
from speechxl.corpora.demo import VARIANTS, _vocabulary
from speechxl.errors import SpeechxlError
from speechxl.options import option
from speechxl.workers import process_map

log = logging.getLogger(__name__)

HELP = "synthesise the built-in fieldwork demo corpus (long recordings, ELAN and TextGrid annotation)"
RATE = 22050
COMMUNITIES = (3, 2, 2, 2, 2)  # speakers in each
FESTIVAL_COMMUNITY = 3  # its last speaker is voiced by festival: its recordings are session04 (test) and session09
# annotation of recording i: eaf, textgrid or none (the untranscribed ones last)
ANNOTATION = ("eaf", "eaf", "textgrid", "eaf", "eaf", "eaf", "textgrid", "eaf", "none", "none")
RULES = """\
# How to read this corpus's transcripts (speechxl prepare fieldwork --rules); text.orthography.
drop: ['xxx']            # a stretch nobody could make out: the annotation is not used
tags: ['\\[[^\\]]*\\]']    # [riu], [tos]: sounds, not words
remove: "~()"            # pel~ (a word cut off), (casa) (uncertain): the letters stay
split: "-"               # fer-ho: two words
keep: "·"                # col·lecció: one word
"""
TRANSLATION = "(free translation pending)"


@dataclass(frozen=True)
class Voice:
    name: str
    voice: str
    pitch: int
    speed: int
    gain: float
    festival: festival.Speaker | None = None
    """Voiced by festival as this speaker (``voice``, ``pitch`` and ``speed`` then unused)."""

    def describe(self) -> str:
        return f"festival {self.festival.describe()}" if self.festival else f"{self.voice} p{self.pitch} s{self.speed}"


@dataclass
class Utterance:
    speaker: str
    spoken: list[str]
    """Words as spoken (a cut-off word as its spoken part)."""
    written: str
    """The annotation, in the corpus's conventions."""
    sound: str | None = None
    """A cough or laugh inside it, after ``at`` words."""
    at: int = 0
    start: float = 0.0
    end: float = 0.0


@dataclass
class Recording:
    name: str
    annotation: str
    speakers: list[Voice]
    seed: int
    utterances: list[Utterance] = field(default_factory=list)


def _sentence(words: list[str], p: np.ndarray, rng: np.random.Generator) -> list[str]:
    """3-10 words drawn by frequency, with elisions (l'home, d'aigua)."""
    out = list(rng.choice(words, size=int(rng.integers(3, 11)), p=p))
    elided = {"el": "l'", "la": "l'", "de": "d'"}
    for i in range(len(out) - 1):
        if out[i] in elided and len(out[i + 1]) > 3 and out[i + 1][0] in "aeiouàèéíòóúh":
            out[i + 1] = elided[out[i]] + out[i + 1]
            out[i] = ""
    return [w for w in out if w]


def _utterance(speaker: str, words: list[str], p: np.ndarray, middot: list[str], rng) -> Utterance:
    """One utterance with the corpus's conventions drawn at random."""
    spoken = _sentence(words, p, rng)
    written = list(spoken)
    if middot and rng.random() < 0.2:
        k = int(rng.integers(len(spoken)))
        spoken[k] = written[k] = str(rng.choice(middot))
    r = rng.random()
    if r < 0.08 and len(spoken) > 3:  # a word cut off, then said again
        k = int(rng.integers(1, len(spoken)))
        cut = spoken[k][: max(2, len(spoken[k]) // 2)]
        spoken.insert(k, cut)
        written.insert(k, cut + "~")
    elif r < 0.16:
        k = int(rng.integers(len(spoken)))
        written[k] = f"({written[k]})"
    elif r < 0.20 and len(spoken) > 3:
        k = int(rng.integers(len(spoken) - 1))
        written[k:k + 2] = ["xxx"]
    u = Utterance(speaker, spoken, "")
    if rng.random() < 0.12 and len(spoken) > 2:
        u.sound, u.at = str(rng.choice(["riu", "tos"])), int(rng.integers(1, len(spoken)))
        written.insert(u.at + (len(written) - len(spoken)), f"[{u.sound}]")
    text = " ".join(written)
    u.written = text[0].upper() + text[1:] + ("?" if rng.random() < 0.15 else ".")
    return u


def _plan(lang: str, voice: str, recordings: int, seed: int, scale: float = 1.0,
          with_festival: bool = True) -> tuple[list[Recording], list[str]]:
    """The recordings (speakers and utterances, not yet timed; their lengths times ``scale``) and the
    text nobody recorded; with ``with_festival``, the last speaker of FESTIVAL_COMMUNITY voiced by
    festival."""
    rng = np.random.default_rng([seed, *lang.encode()])
    words, p = _vocabulary(lang, 3000)
    real = np.array([len(w) > 1 or w in "aeio" for w in words])  # not the l, d, s of split elisions
    words, p = [w for w, r in zip(words, real) if r], p[real] / p[real].sum()
    from wordfreq import top_n_list

    middot = [w for w in top_n_list(lang, 5000) if "·" in w]
    variants = rng.permutation(VARIANTS)
    people, communities = [], []
    for c, n in enumerate(COMMUNITIES):
        members = []
        for _ in range(n):
            k = len(people)
            people.append(Voice(f"SP{k + 1}", f"{voice}+{variants[k % len(variants)]}", int(rng.integers(20, 81)),
                                int(rng.integers(130, 200)), float(rng.uniform(0.35, 0.9))))
            members.append(people[-1])
        communities.append(members)
    if with_festival:
        (speaker,) = festival.speakers(lang, 1, np.random.default_rng([seed, FESTIVAL_COMMUNITY]))
        last = communities[FESTIVAL_COMMUNITY][-1]
        communities[FESTIVAL_COMMUNITY][-1] = Voice(last.name, last.voice, last.pitch, last.speed, last.gain, speaker)
    out = []
    for i in range(recordings):
        kind = ANNOTATION[i] if i < len(ANNOTATION) else ("none" if i % 5 == 4 else "eaf")
        members = communities[i % len(communities)]
        if len(members) > 2 and rng.random() < 0.5:
            members = list(rng.choice(members, size=2, replace=False))
        minutes = (rng.uniform(5, 8) if kind == "none" else rng.uniform(2, 6)) * scale
        rec = Recording(f"session{i + 1:02d}", kind, list(members), int(rng.integers(2**31)))
        seconds, last = 0.0, None
        while seconds < minutes * 60:
            speaker = members[int(rng.integers(len(members)))].name
            if speaker == last:
                speaker = next(m.name for m in members if m.name != last)
            last = speaker
            for _ in range(int(rng.integers(1, 4))):
                rec.utterances.append(_utterance(speaker, words, p, middot, rng))
                seconds += 0.22 * len(rec.utterances[-1].spoken) + 0.75  # espeak-ng speaks fast; and the pauses
        out.append(rec)
    text = [" ".join(_sentence(words, p, rng)).capitalize() + "." for _ in range(3000)]
    return out, text


def _levelled(x: np.ndarray, gain: float) -> np.ndarray:
    """``x`` without its leading and trailing silence, its peak at ``gain``."""
    on = np.flatnonzero(np.abs(x) > np.abs(x).max() * 0.01)  # within 40 dB of the loudest
    return x[on[0]: on[-1] + 1] / np.abs(x).max() * gain


def _speak(v: Voice, words: list[str]) -> np.ndarray:
    """espeak-ng audio of ``words`` in voice ``v``, its leading and trailing silence cut off; (S,) at 22.05 kHz."""
    cmd = ["espeak-ng", "-v", v.voice, "-p", str(v.pitch), "-s", str(v.speed), "--stdin", "--stdout"]
    wav = subprocess.run(cmd, input=" ".join(words).encode(), capture_output=True, check=True).stdout
    x, rate = sf.read(io.BytesIO(wav), dtype="float32")
    assert rate == RATE, rate
    return _levelled(x, v.gain)


def _parts(u: Utterance) -> list[list[str]]:
    """The stretches of words ``u`` speaks: two around its cough or laugh, else one."""
    return [u.spoken[: u.at], u.spoken[u.at:]] if u.sound else [u.spoken]


def _festival_parts(rec: Recording) -> dict[tuple[int, int], np.ndarray]:
    """The stretches of ``rec``'s festival speakers, each speaker's in one festival process:
    {(utterance, stretch): (S,) at 22.05 kHz}."""
    out = {}
    for v in (v for v in rec.speakers if v.festival):
        stretches = {(k, j): " ".join(words) for k, u in enumerate(rec.utterances) if u.speaker == v.name
                     for j, words in enumerate(_parts(u))}
        voiced = festival.speak([(v.festival, text) for text in stretches.values()], RATE)
        out |= {key: _levelled(x, v.gain) for key, x in zip(stretches, voiced)}
    return out


def _sound(kind: str, rng: np.random.Generator) -> np.ndarray:
    """A cough (a burst of shaped noise) or a laugh (three pulses of breathy noise), at 22.05 kHz."""
    if kind == "tos":
        n = int(rng.uniform(0.2, 0.35) * RATE)
        env = np.exp(-np.linspace(0, 6, n))
    else:
        n = int(rng.uniform(0.5, 0.8) * RATE)
        env = np.maximum(0, np.sin(np.linspace(0, 3 * np.pi, n))) ** 2
    noise = np.convolve(rng.standard_normal(n), np.ones(8) / 8, mode="same")
    return (noise * env * 0.5).astype(np.float32)


def _render(rec: Recording) -> tuple[Recording, np.ndarray]:
    """The recording's audio (S,) at 22.05 kHz, and its utterances timed."""
    rng = np.random.default_rng(rec.seed)
    voices = {v.name: v for v in rec.speakers}
    voiced = _festival_parts(rec)
    pieces, t, last = [], float(rng.uniform(0.5, 1.5)), None
    for k, u in enumerate(rec.utterances):
        v = voices[u.speaker]
        said = [voiced[k, j] if v.festival else _speak(v, words) for j, words in enumerate(_parts(u))]
        if u.sound:
            gap = np.zeros(int(0.1 * RATE), np.float32)
            x = np.concatenate([said[0], gap, _sound(u.sound, rng) * v.gain, gap, said[1]])
        else:
            x = said[0]
        if last is None:
            start = t
        elif u.speaker == last.speaker:
            start = last.end + rng.uniform(0.2, 0.6)
        elif rng.random() < 0.12:  # the next speaker starts before the last one has finished
            start = max(last.start + 0.5, last.end - rng.uniform(0.2, 0.7))
        else:
            start = last.end + rng.uniform(0.3, 1.5)
        u.start, u.end = round(start, 3), round(start + x.size / RATE, 3)
        pieces.append((int(round(start * RATE)), x))
        last = u
    total = int((last.end + rng.uniform(0.5, 1.5)) * RATE)
    audio = np.zeros(total, np.float32)
    for a, x in pieces:
        audio[a: a + x.size] += x
    speech_rms = float(np.sqrt(np.mean(np.concatenate([x for _, x in pieces]) ** 2)))
    noise = np.convolve(rng.standard_normal(total), np.ones(4) / 4, mode="same")  # a little darker than white
    noise *= speech_rms * 10 ** (-rng.uniform(15, 35) / 20) / max(float(np.std(noise)), 1e-9)
    hum = np.sin(2 * np.pi * 50 * np.arange(total) / RATE) * speech_rms * 10 ** (-rng.uniform(30, 45) / 20)
    return rec, np.clip(audio + noise + hum, -1, 1).astype(np.float32)


def _annotated_spans(rec: Recording, rng: np.random.Generator, seconds: float) -> dict[str, list[tuple[float, float, int]]]:
    """Where a person puts each utterance's boundaries, 50-250 ms outside the speech, per speaker tier:
    (start, end, utterance index), never overlapping the tier's previous one (ELAN and Praat allow no
    overlaps within a tier)."""
    tiers: dict[str, list[tuple[float, float, int]]] = {v.name: [] for v in rec.speakers}
    for k, u in enumerate(rec.utterances):
        spans = tiers[u.speaker]
        a = max(u.start - rng.uniform(0.05, 0.25), spans[-1][1] if spans else 0.0)
        b = min(u.end + rng.uniform(0.05, 0.25), seconds)
        spans.append((round(a, 3), round(b, 3), k))
    return tiers


def _write_eaf(path: Path, rec: Recording, audio_path: Path, seconds: float, rng, slips: bool,
               origin_ms: int = 0) -> None:
    import pympi

    eaf = pympi.Elan.Eaf(author="speechxl fieldwork demo")
    eaf.remove_tier("default")
    # the fieldworker's own path (absent here), and the relative one that is found
    eaf.add_linked_file(f"file:///C:/Users/fieldworker/corpus/{audio_path.name}",
                        relpath=f"../recordings/{audio_path.name}", mimetype="audio/x-wav", time_origin=origin_ms)
    eaf.add_linguistic_type("transcription")
    eaf.add_linguistic_type("translation", constraints="Symbolic_Association", timealignable=False)
    eaf.add_linguistic_type("comment")
    for v in rec.speakers:
        eaf.add_tier(f"tx@{v.name}", ling="transcription", part=v.name)
        eaf.add_tier(f"ft@{v.name}", ling="translation", parent=f"tx@{v.name}", part=v.name)
    eaf.add_tier("notes", ling="comment")
    ms = lambda s: int(round(s * 1000)) - origin_ms  # noqa: E731
    for speaker, spans in _annotated_spans(rec, rng, seconds).items():
        for a, b, k in spans:
            if ms(a) < 0:
                continue  # before the file's time 0: the annotator never saw it
            text = "" if slips and k == 3 else rec.utterances[k].written  # an annotation left empty
            eaf.add_annotation(f"tx@{speaker}", ms(a), ms(b), text)
            if text:
                eaf.add_ref_annotation(f"ft@{speaker}", f"tx@{speaker}", ms(a) + 1, TRANSLATION)
        if slips and speaker == rec.speakers[0].name and spans[-1][1] < seconds - 0.3:
            eaf.add_annotation(f"tx@{speaker}", ms(seconds - 0.3), ms(seconds + 4.0), "I el final.")  # past the end
    first = rec.utterances[0]
    if ms(first.start) >= 0:
        eaf.add_annotation("notes", ms(first.start), ms(first.end), "recorded at the speakers' home")
    with atomic_path(path) as tmp:
        eaf.to_file(str(tmp))


def _write_textgrid(path: Path, rec: Recording, seconds: float, rng, encoding: str) -> None:
    from praatio import textgrid

    grid = textgrid.Textgrid(0.0, seconds)
    for speaker, spans in _annotated_spans(rec, rng, seconds).items():
        grid.addTier(textgrid.IntervalTier(f"tx@{speaker}", [(a, b, rec.utterances[k].written) for a, b, k in spans
                                                             if b > a], 0.0, seconds))
    events = [(round(u.start + 0.05, 3), u.sound) for u in rec.utterances if u.sound]
    grid.addTier(textgrid.PointTier("events", events, 0.0, seconds))
    with atomic_path(path) as tmp:
        grid.save(str(tmp), format="long_textgrid", includeBlankSpaces=True)
        if encoding != "utf-8":
            tmp.write_bytes(tmp.read_text(encoding="utf-8").encode(encoding))


def _truth_rows(rec: Recording) -> str:
    return "speaker\tstart\tend\ttext\n" + "".join(
        f"{u.speaker}\t{u.start:.3f}\t{u.end:.3f}\t{' '.join(u.spoken)}\n" for u in rec.utterances)


def _crashed(rec: Recording):
    raise SpeechxlError(f"synthesising {rec.name} killed its process (espeak-ng, festival or out of memory)")


def make_fieldwork_demo(out: str | Path, lang: str = "ca", recordings: int = len(ANNOTATION), seed: int = 0,
                        jobs: int = 2, scale: float = 1.0, with_festival: bool = True) -> Path:
    """Synthesise the fieldwork demo corpus under ``out`` (see the module doc; ``scale`` multiplies the
    recordings' lengths; ``with_festival`` voices one speaker by festival, which must have a voice for
    ``lang``); returns ``out``."""
    from speechxl.text.g2p import espeak_voice

    root = Path(out)
    if with_festival:
        try:
            voices = festival.voices_of(lang)
        except ValueError as e:
            raise ValueError(f"{e}: --no_festival voices every speaker by espeak-ng") from None
        festival.require_festival(list(voices))
    plans, text = _plan(lang, espeak_voice(lang), recordings, seed, scale, with_festival)
    eafs = [r.name for r in plans if r.annotation == "eaf"]
    grids = [r.name for r in plans if r.annotation == "textgrid"]
    meta = {"lang": lang, "seed": seed, "recordings": {}}
    for _, (rec, audio) in process_map(_render, plans, jobs, on_crash=_crashed):
        wav = root / "recordings" / f"{rec.name}.wav"
        wav.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(wav) as tmp:
            sf.write(str(tmp), audio, RATE, subtype="PCM_16", format="WAV")
        seconds = audio.size / RATE
        rng = np.random.default_rng(rec.seed + 1)
        annotation = None
        if rec.annotation == "eaf":
            annotation = root / "annotations" / f"{rec.name}.eaf"
            annotation.parent.mkdir(parents=True, exist_ok=True)
            # the first ELAN file has the slips; the third's time 0 is 2 s into its recording
            _write_eaf(annotation, rec, wav, seconds, rng, slips=rec.name == eafs[0],
                       origin_ms=2000 if eafs[2:3] == [rec.name] else 0)
        elif rec.annotation == "textgrid":  # beside its recording, as Praat users keep them; the second in UTF-16
            annotation = root / "recordings" / f"{rec.name}.TextGrid"
            _write_textgrid(annotation, rec, seconds, rng, "utf-16" if grids[1:2] == [rec.name] else "utf-8")
        atomic_write(root / "truth" / f"{rec.name}.tsv", _truth_rows(rec))
        meta["recordings"][rec.name] = {
            "seconds": round(seconds, 2), "annotation": str(annotation.relative_to(root)) if annotation else None,
            "speakers": [f"{v.name} ({v.describe()})" for v in rec.speakers],
            "utterances": len(rec.utterances)}
    meta["recordings"] = dict(sorted(meta["recordings"].items()))
    atomic_write(root / "rules.yaml", RULES)
    atomic_write(root / "text" / f"{lang}.txt", "".join(t + "\n" for t in text))
    meta["minutes"] = round(sum(r["seconds"] for r in meta["recordings"].values()) / 60, 1)
    meta["espeak_ng"] = subprocess.run(["espeak-ng", "--version"], capture_output=True, text=True).stdout.strip()
    meta["festival_speakers"] = sorted({f"{v.name} ({v.describe()})" for r in plans for v in r.speakers if v.festival})
    atomic_write(root / "fieldwork_demo.json", json.dumps(meta, ensure_ascii=False, indent=1) + "\n")
    log.info("fieldwork demo corpus %s: %d recordings, %.1f minutes, %d annotated", root, len(plans), meta["minutes"],
             len(eafs) + len(grids))
    return root


def add_arguments(p) -> None:
    """``speechxl prepare fieldwork-demo`` options."""
    option(p, "--out", required=True, help="directory for the corpus")
    option(p, "--lang", default="ca", help="language (an espeak-ng voice and a wordfreq list must exist for it)")
    option(p, "--recordings", type=int, default=len(ANNOTATION), help="how many recordings")
    option(p, "--scale", type=float, default=1.0, help="multiply the recordings' lengths")
    option(p, "--seed", type=int, default=0)
    option(p, "--jobs", type=int, default=2, help="processes")
    option(p, "--no_festival", action="store_true",
           help="voice every speaker by espeak-ng (by default one speaker of the test recording and an untranscribed "
                "one is festival's, which needs festival and its voice for --lang: bash tools/install.sh)")


def run(args) -> None:
    make_fieldwork_demo(args.out, args.lang, args.recordings, args.seed, args.jobs, args.scale,
                        not args.no_festival)
