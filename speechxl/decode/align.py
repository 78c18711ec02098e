"""CTC alignment of transcripts to a recording: each utterance's and each word's times, with confidences.

    speechxl align exp/ctc_chars recording.wav transcript.txt --out aligned/ --lang ain [--eaf recording.eaf]

The transcript is untimed (.txt: the recording's utterances in order, one a line) or timed (.tsv:
start, end, text, as transcribe-long writes it). Untimed utterances are found in the whole
recording by CTC segmentation (Kürzinger et al. 2020, the ctc-segmentation package ESPnet uses):
audio between them that the text does not cover (other talk, noise, silence) is skipped. Each
utterance is then aligned again inside its span, widened by ``margin`` seconds, as a timed one
(.tsv) is from the start: on an hour of the demo's speech this second pass took the mean
boundary error from 122 to 85 ms (``tools/measure_align.py``). The model's log-probabilities
come from ``decode.emissions`` in windows, so a recording of any length fits in memory (the
segmentation table is ``min_window_size`` frames by the transcript's units, 4 bytes each).

A word spans the frames from its first unit's to the next word's; of those, it keeps the first to
the last where one of its own units is more probable than blank, so the pauses and other talk
around it are not part of it. An utterance spans its words. Confidences are the geometric mean
probability of the alignment path over the frames of the word, and for an utterance
ctc-segmentation's score (its worst mean over 30 frames), both as probabilities in [0, 1]. Characters outside the model's units are left out of the alignment (the
words keep their text) and counted in one log line; a word with none left has no times.

A unit (character or phone) spans the frames from where the path enters it to where it enters
the next, inside its word's.

Writes ``<out>/<name>.tsv``, ``.eaf`` (a copy of ``--eaf``, or a new ELAN file linking the
recording) and ``.TextGrid`` (a copy of ``--textgrid``, or a new one) with the utterance tier
``align@speechxl``, its words, their units and their confidences, as ``decode.timed_text``
writes them; the user's files are never written.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from speechxl.corpora.fieldwork import Annotation, TierChoice, read_eaf, read_textgrid, time_origin
from speechxl.data.audio import SAMPLE_RATE, load_audio
from speechxl.data.validate import REJECTS_SUFFIX, Reject, write_rejects
from speechxl.decode.emissions import windowed_log_probs
from speechxl.decode.model import LoadedModel
from speechxl.decode.run import keep_units, own_units
from speechxl.decode.timed_text import Aligned, Outputs, Word, write_eaf, write_textgrid, write_tsv
from speechxl.data.vad import energy_regions
from speechxl.text.normalize import normalize as normalize_text
from speechxl.text.orthography import Orthography
from speechxl.text.units import WORD

log = logging.getLogger(__name__)


def word_units(model: LoadedModel, text: str, lang: str, unknown: Counter) -> tuple[list[str], list[list[int]]]:
    """(the words of ``text``, each word's unit ids); units outside the model's are counted in ``unknown``."""
    words = text.split()
    ids = []
    for toks in model.word_tokens(words, lang):
        unknown.update(t for t in toks if t not in model.units)
        ids.append([model.units.index[t] for t in toks if t in model.units and t != WORD])
    return words, ids


def _ctc_segments(log_probs: np.ndarray, utterances: list[list[list[int]]], sep: int | None, shift: float,
                  symbols: list[str]):
    """CTC segmentation of ``utterances`` (each a list of words' unit ids) in ``log_probs`` (T, V):
    per utterance (start, end, score) and, for each word, (first frame, end frame, each unit's
    (first, end) frames, the path's log-probability per frame) (None for a word without units)."""
    from ctc_segmentation import (CtcSegmentationParameters, ctc_segmentation, determine_utterance_segments,
                                  prepare_token_list)

    config = CtcSegmentationParameters(index_duration=shift, blank=0, char_list=symbols)
    flat, where = [], []  # each utterance's ids, and the positions of each word's units in it
    for words in utterances:
        ids, spans = [], []
        for w in words:
            if ids and w and sep is not None:
                ids.append(sep)
            spans.append((len(ids), len(w)) if w else None)
            ids += w
        flat.append(np.array(ids, dtype=np.int64))
        where.append(spans)
    ground_truth, begins = prepare_token_list(config, flat)
    timings, char_probs, _ = ctc_segmentation(config, log_probs, ground_truth)
    segments = determine_utterance_segments(config, begins, char_probs, timings, [""] * len(flat))
    starts = np.round(timings / shift).astype(int)  # the frame each ground-truth position is entered
    out = []
    for u, (spans, begin) in enumerate(zip(where, begins)):
        words = []
        for span in spans:
            if span is None:
                words.append(None)
                continue
            first = begin + 1 + span[0]  # ground truth: a blank before each utterance
            bounds = [int(starts[k]) if k < len(starts) else log_probs.shape[0]
                      for k in range(first, first + span[1] + 1)]  # where each unit is entered, and the next thing
            units = utterances[u][len(words)]
            a, b = bounds[0], bounds[-1]
            spoken = np.flatnonzero(log_probs[a:b, units].max(-1) > log_probs[a:b, 0])
            lo, hi = (a + int(spoken[0]), a + int(spoken[-1]) + 1) if spoken.size else (a, a + 1)
            cuts = [lo] + [min(max(c, lo), hi) for c in bounds[1:-1]] + [hi]  # the units inside the spoken part
            words.append((lo, hi, [(cuts[k], cuts[k + 1]) for k in range(len(units))], char_probs))
        out.append((segments[u], words))
    return out


def align_log_probs(log_probs: torch.Tensor, texts: list[list[str]], ids: list[list[list[int]]], symbols: list[str],
                    sep: int | None, shift: float, offset: float = 0.0) -> list[Aligned]:
    """The utterances (``texts``: their words, ``ids``: each word's ids in ``symbols``, the units)
    aligned in ``log_probs`` (T, V), frames ``shift`` seconds apart, the first at ``offset`` seconds."""
    lp = log_probs.double().clamp(min=-1e4).numpy()  # units kept out (-inf) stay impossible, without NaNs
    needed = sum(sum(len(w) for w in u) for u in ids)
    if needed > lp.shape[0]:
        raise ValueError(f"the transcript has {needed} units for {lp.shape[0]} frames of audio: it is longer "
                         "than the audio can say")

    def timed_span(a: int, b: int, text: str, probs: np.ndarray, units: tuple[Word, ...] = ()) -> Word:
        return Word(round(float(offset + a * shift), 3), round(float(offset + b * shift), 3), text,
                    round(float(np.exp(probs[a:b].mean())), 4), units)

    out = []
    for words, ids_of_words, ((seg_start, seg_end, score), spans) in zip(texts, ids,
                                                                          _ctc_segments(lp, ids, sep, shift, symbols)):
        timed = []
        for w, word_ids, span in zip(words, ids_of_words, spans):
            if span is not None:
                a, b, unit_spans, probs = span
                units = tuple(timed_span(x, y, symbols[i], probs) for i, (x, y) in zip(word_ids, unit_spans) if y > x)
                timed.append(timed_span(a, b, w, probs, units))
        start = timed[0].start if timed else round(offset + max(seg_start, 0.0), 3)
        end = timed[-1].end if timed else round(offset + seg_end, 3)
        out.append(Aligned(start, end, " ".join(words), round(float(np.exp(min(score, 0.0))), 4), tuple(timed)))
    return out


def _silence_is_blank(lp: torch.Tensor, samples: np.ndarray, shift: float) -> torch.Tensor:
    """log_probs (T, V) with the frames outside the recording's speech regions (``vad.energy_regions``)
    made certain blanks: a model that hears units in noise cannot pull a word into a pause."""
    speech = torch.zeros(lp.shape[0], dtype=torch.bool)
    for a, b in energy_regions(samples, max_region=samples.size / SAMPLE_RATE + 1):
        speech[int(a / shift): int(np.ceil(b / shift))] = True
    silent = torch.full_like(lp[0], -1e4)
    silent[0] = 0.0
    return torch.where(speech[:, None], lp, silent)


def read_transcript(path: Path) -> list[tuple[float | None, float | None, str]]:
    """(start, end, text) of each utterance of a .txt (untimed) or .tsv (start, end, text; or the
    utterance rows of the timed text transcribe-long and align write) transcript."""
    rows = []
    lines = path.read_text(encoding="utf-8").splitlines()
    if path.suffix == ".tsv":
        timed_text = bool(lines) and lines[0].split("\t")[:3] == ["level", "tier", "start"]
        for n, line in enumerate(lines, 1):
            cols = line.split("\t")
            if n == 1 and (timed_text or cols[:2] == ["start", "end"]):
                continue
            if timed_text:
                if cols[0] != "utterance":
                    continue
                cols = [cols[2], cols[3], *cols[5:]]
            try:
                start, end, text = float(cols[0]), float(cols[1]), "\t".join(cols[2:])
            except (ValueError, IndexError):
                raise ValueError(f"{path}:{n}: a timed transcript's lines are start<TAB>end<TAB>text, "
                                 f"not {line[:60]!r}") from None
            if not start < end:
                raise ValueError(f"{path}:{n}: start {start} is not before end {end}")
            rows.append((start, end, text))
    else:
        rows = [(None, None, line) for line in lines]
    rows = [r for r in rows if r[2].strip()]
    if not rows:
        raise ValueError(f"{path}: no utterance to align (the transcript is empty)")
    return rows


def recording_log_probs(model: LoadedModel, samples: np.ndarray, lang: str) -> torch.Tensor:
    """log_probs (T, V) of 16 kHz ``samples`` (S,) for alignment: in windows (``decode.emissions``), kept to
    ``lang``'s units, the pauses made certain blanks."""
    lp = windowed_log_probs(model, samples, lang=lang)
    mask = own_units(model, [lang]).get(lang)
    if mask is not None:
        lp = keep_units(lp, mask)
    return _silence_is_blank(lp, samples, model.card.frame_shift_ms / 1000)


def align(model: LoadedModel, samples: np.ndarray | torch.Tensor,
          transcript: list[tuple[float | None, float | None, str]], lang: str, margin: float = 0.5, where: str = "",
          normalize: Callable[[str], str] | None = None,
          unaligned: list[tuple[tuple[float, float, str], str]] | None = None) -> list[Aligned]:
    """Each utterance of ``transcript`` aligned in 16 kHz ``samples`` (S,) (or in their
    ``recording_log_probs``). Its words are those of the text normalised as training text is
    (``normalize``, default the language's: ``text.normalize``); each utterance keeps its text as given.
    A timed utterance that cannot be aligned in its span (past the end of the audio, more units than its
    frames) is an error, or with ``unaligned`` given, left out and added to it as (its row, why)."""
    shift = model.card.frame_shift_ms / 1000
    lp = samples if isinstance(samples, torch.Tensor) else recording_log_probs(model, samples, lang)
    normalize = normalize or (lambda text: normalize_text(text, lang))
    wordless = [row for row in transcript if not normalize(row[2])]
    if wordless:
        log.warning("%s: %d utterances without a word once normalised left out, e.g. %r", where or "transcript",
                    len(wordless), wordless[0][2])
        transcript = [row for row in transcript if normalize(row[2])]
    if not transcript:
        return []
    unknown: Counter = Counter()
    units = [word_units(model, normalize(text), lang, unknown) for _, _, text in transcript]
    if unknown:
        log.warning("%s: %d characters outside the model's units left out of the alignment: %s", where or "transcript",
                    sum(unknown.values()), " ".join(f"{c!r}×{n}" for c, n in unknown.most_common(10)))
    sep = model.units.index[WORD] if WORD in model.units else None
    symbols = model.units.symbols
    end_of_audio = lp.shape[0] * shift
    if transcript[0][0] is not None:
        out, kept = [], []
        for row, (words, ids) in zip(transcript, units):
            start, end, _ = row
            try:
                if start >= end_of_audio:
                    raise ValueError(f"the utterance at {start:.2f}-{end:.2f} s is past the end of the audio "
                                     f"({end_of_audio:.2f} s)")
                out.append(_within(lp, start - margin, end + margin, words, ids, symbols, sep, shift))
                kept.append(row)
            except ValueError as e:
                if unaligned is None:
                    raise ValueError(f"{where}: {e}") from None
                unaligned.append((row, str(e)))
        transcript = kept
    else:
        # untimed: found in the whole recording, then each again between its neighbours, so that they keep
        # their order and never overlap
        found = align_log_probs(lp, [w for w, _ in units], [i for _, i in units], symbols, sep, shift)
        out = []
        for k, (u, (words, ids)) in enumerate(zip(found, units)):
            lo = max(u.start - margin, out[-1].end if out else 0.0)
            hi = min(u.end + margin, found[k + 1].start if k + 1 < len(found) else end_of_audio)
            room = sum(len(w) for w in ids) <= (hi - lo) / shift
            out.append(_within(lp, lo, hi, words, ids, symbols, sep, shift) if room else u)
    return [replace(a, text=text) for a, (_, _, text) in zip(out, transcript)]


def _within(lp: torch.Tensor, lo: float, hi: float, words: list[str], ids: list[list[int]], symbols: list[str],
            sep: int | None, shift: float) -> Aligned:
    """One utterance aligned in the frames of [lo, hi) seconds."""
    a, b = max(0, int(lo / shift)), min(lp.shape[0], int(np.ceil(hi / shift)))
    return align_log_probs(lp[a:b], [words], [ids], symbols, sep, shift, offset=a * shift)[0]


def align_recording(model: LoadedModel, audio: Path, transcript: Path, out: Path | Outputs, lang: str,
                    eaf: Path | None = None, tier: str = "align@speechxl",
                    textgrid: Path | None = None) -> tuple[Path, Path, Path]:
    """``<out>/<name>.tsv``, ``.eaf`` and ``.TextGrid`` of ``transcript`` aligned to ``audio``."""
    out = out if isinstance(out, Outputs) else Outputs(out)
    paths = out.claim(audio.stem, [audio, transcript, eaf, textgrid])
    samples = load_audio(audio)
    aligned = align(model, samples, read_transcript(transcript), lang, where=str(transcript))
    tiers = {tier: aligned}
    tsv = write_tsv(paths[0], tiers)
    written = write_eaf(paths[1], audio, tiers, model.kind, eaf, time_origin(eaf) if eaf else 0.0)
    grid = write_textgrid(paths[2], tiers, model.kind, samples.size / SAMPLE_RATE, textgrid)
    out.wrote(paths)
    log.info("%s: %d utterances, %d words aligned -> %s, %s", audio, len(aligned),
             sum(len(u.words) for u in aligned), written, grid)
    return tsv, written, grid


def align_annotations(model: LoadedModel, annotation: Path, choice: TierChoice, out: Path | Outputs, lang: str,
                      rules: Orthography = Orthography(), tier: str = "align") -> tuple[Path, Path, Path]:
    """The annotations of the chosen tiers of an ELAN file or TextGrid aligned inside their own spans, each
    speaker's into a tier ``<tier>@<speaker>`` of a copy of the file (and of a new file of the other kind):
    ``<out>/<recording>.tsv``, ``.eaf`` and ``.TextGrid``. Annotations the ``rules`` drop, and empty
    ones, are left out."""
    eaf = annotation.suffix.lower() == ".eaf"
    media, annotations, rejects, names = (read_eaf if eaf else read_textgrid)(annotation, choice)
    if media is None:
        raise ValueError(rejects[0].detail if rejects else f"{annotation}: its recording was not found")
    if not annotations:
        raise ValueError(f"{annotation}: no annotation in a tier matching --tiers {' '.join(choice.names)} "
                         f"(its tiers: {', '.join(names)})")
    out = out if isinstance(out, Outputs) else Outputs(out)
    paths = out.claim(media.stem, [annotation, media], REJECTS_SUFFIX)
    usable = [a for a in annotations if a.text.strip() and not rules.dropped_by(a.text) and a.end > a.start]
    log.info("%s: %d of %d annotations to align (the others empty or dropped by the rules)", annotation,
             len(usable), len(annotations))
    samples = load_audio(media)
    lp = recording_log_probs(model, samples, lang)
    by_speaker: dict[str, list[Annotation]] = {}
    for a in sorted(usable, key=lambda a: a.start):
        by_speaker.setdefault(a.speaker, []).append(a)
    tiers, rejects = {}, []
    for speaker, anns in by_speaker.items():
        unaligned: list = []
        tiers[f"{tier}@{speaker}"] = align(model, lp, [(a.start, a.end, a.text) for a in anns], lang,
                                           where=f"{annotation} {speaker}", unaligned=unaligned,
                                           normalize=lambda text: rules.normalize(text, lang))
        of_row = {(a.start, a.end, a.text): a for a in anns}
        rejects += [Reject(f"{annotation.stem}:{of_row[row].tier}:{row[0]:.3f}",
                           f"{annotation} [{of_row[row].tier} {row[0]:.3f}-{row[1]:.3f}]", "not_aligned", why)
                    for row, why in unaligned]
    write_rejects(rejects, paths[3])
    for r in rejects:
        log.warning("%s: not aligned: %s", annotation, r)
    tsv = write_tsv(paths[0], tiers)
    written = write_eaf(paths[1], media, tiers, model.kind, annotation if eaf else None,
                        time_origin(annotation) if eaf else 0.0)
    grid = write_textgrid(paths[2], tiers, model.kind, samples.size / SAMPLE_RATE, None if eaf else annotation)
    out.wrote(paths)
    log.info("%s: %d utterances of %d speakers aligned -> %s, %s", annotation, len(usable), len(tiers), written, grid)
    return tsv, written, grid
