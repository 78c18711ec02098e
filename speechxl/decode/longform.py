"""Long recordings transcribed with times: utterances, words, units and confidences, back as tiers.

    speechxl transcribe-long exp/ctc_chars recordings/*.wav --out transcribed/ --lang ain [--lm data/lang_word]
        [--eaf_dir recordings/] [--textgrid_dir recordings/] [--segments "tx@*"] [--vad silero|energy]

A recording of any length is read once and goes through the model in windows with context on
both sides (``decode.emissions``), stitched into one (T, V) matrix of log-probabilities: memory is
bounded by one window whatever the recording's length, and every frame is computed with
seconds of audio around it, across the cuts between regions. The utterances are then found:

- by voice activity detection (``decode.vad``: silero-vad, or ``--vad energy``), pauses
  bridged and regions cut to at most ``--max_region`` seconds, into the tier ``--tier``
  (default ``asr@speechxl``);
- or, with ``--segments`` (tier names: globs or ``re:<regex>``), from the user's own
  segmentation: the annotations of those tiers of the recording's ELAN file (or TextGrid),
  transcribed or not, each speaker's into a tier of their own (``asr@SP1`` for ``tx@SP1``).

Each utterance's frames are searched (greedy, or beam search with the LM), and the hypothesis is
aligned back into them (``decode.align``) for its words' and units' times and confidences.
Writes ``<out>/<name>.tsv``, ``.eaf`` (a copy of the recording's own ELAN file from
``--eaf_dir``, or a new one linking the recording) and ``.TextGrid`` (a copy of its own from
``--textgrid_dir``, or a new one), as ``decode.timed_text`` writes them; the user's files are
never written.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from pathlib import Path

import numpy as np

from speechxl.corpora.fieldwork import TierChoice, read_eaf, read_textgrid, time_origin
from speechxl.data.audio import SAMPLE_RATE, load_audio
from speechxl.decode.align import align_log_probs
from speechxl.decode.emissions import windowed_log_probs
from speechxl.decode.recognizer import Recognizer
from speechxl.decode.timed_text import Aligned, write_eaf, write_textgrid, write_tsv
from speechxl.decode.vad import speech_regions
from speechxl.text.units import UNK, WORD

log = logging.getLogger(__name__)


def hypothesis_words(asr: Recognizer, ids: list[int], text: str) -> tuple[list[str], list[list[int]]]:
    """(the words of a hypothesis, each word's unit ids): its ids split at the word boundary unit
    (or before each ``▁`` piece), <unk> left out, each word's text from ``text`` where the counts agree (a lexicon
    search's words), else from the units."""
    symbols, sep = asr.model.units.symbols, asr.model.units.index.get(WORD)
    groups: list[list[int]] = [[]]
    for i in ids:
        if i == sep or (sep is None and symbols[i].startswith("▁") and groups[-1]):
            groups.append([])
        if i not in (sep, asr.model.units.index[UNK]):  # <unk> is no text
            groups[-1].append(i)
    groups = [g for g in groups if g]
    words = text.split()
    if len(words) != len(groups):
        words = [asr.searcher.text(g) for g in groups]
    return words, groups


def transcribe_regions(asr: Recognizer, samples: np.ndarray, regions: dict[str, list[tuple[float, float]]],
                       lang: str | None = None) -> dict[str, list[Aligned]]:
    """Each tier's regions (start, end seconds) of 16 kHz ``samples`` (S,), transcribed and timed."""
    model = asr.model
    shift = model.card.frame_shift_ms / 1000
    lp = asr.restrict(windowed_log_probs(model.net, samples, model.card.frame_shift_ms), lang)  # (T, V)
    sep = model.units.index.get(WORD)
    out: dict[str, list[Aligned]] = {}
    for tier, spans in regions.items():
        out[tier] = []
        for start, end in spans:
            a, b = max(0, int(start / shift)), min(lp.shape[0], int(np.ceil(end / shift)))
            if b <= a:
                continue
            ids, text = asr.search(lp[a:b], lang)
            words, groups = hypothesis_words(asr, ids, text)
            if words:
                out[tier].append(align_log_probs(lp[a:b], [words], [groups], model.units.symbols, sep, shift,
                                                 offset=a * shift)[0])
    return out


def own_file(folder: Path | None, audio: Path, suffix: str) -> Path | None:
    """The recording's own annotation file in ``folder`` (same name, ``suffix``), if there is one."""
    if folder is None:
        return None
    found = [p for p in folder.glob(f"{audio.stem}.*") if p.suffix.lower() == suffix.lower() and p.is_file()]
    return found[0] if found else None


def user_segments(base: Path, choice: TierChoice, tier: str) -> dict[str, list[tuple[float, float]]]:
    """The annotations of the chosen tiers of an ELAN file or TextGrid, as regions per output tier
    (``tier``'s name before ``@``, then the speaker: asr@SP1)."""
    _, annotations, _, names = (read_eaf if base.suffix.lower() == ".eaf" else read_textgrid)(base, choice)
    if not annotations:
        raise ValueError(f"{base}: no annotation in a tier matching --segments {' '.join(choice.names)} "
                         f"(its tiers: {', '.join(names)})")
    regions = defaultdict(list)
    for a in sorted(annotations, key=lambda a: a.start):
        if a.end > a.start:
            regions[f"{tier.split('@')[0]}@{a.speaker}"].append((a.start, a.end))
    return dict(regions)


def transcribe_recordings(asr: Recognizer, paths: list[str], out: Path, lang: str | None = None,
                          eaf_dir: Path | None = None, tier: str = "asr@speechxl", textgrid_dir: Path | None = None,
                          segments: list[str] | None = None, vad: str = "silero", max_region: float = 20.0
                          ) -> list[Path]:
    """Each recording -> <out>/<name>.tsv, .eaf and .TextGrid; returns the ELAN files written."""
    written = []
    for p in map(Path, paths):
        eaf, grid = own_file(eaf_dir, p, ".eaf"), own_file(textgrid_dir, p, ".TextGrid")
        samples = load_audio(p)
        if segments:
            base = eaf or grid
            if base is None:
                raise ValueError(f"{p}: --segments needs its own .eaf or .TextGrid (in --eaf_dir or --textgrid_dir)")
            regions = user_segments(base, TierChoice(list(segments)), tier)
        else:
            regions = {tier: speech_regions(samples, vad, max_region=max_region)}
        tiers = transcribe_regions(asr, samples, regions, lang)
        origin = time_origin(eaf) if eaf else 0.0
        write_tsv(out / f"{p.stem}.tsv", tiers)
        write_textgrid(out / f"{p.stem}.TextGrid", tiers, asr.model.kind, samples.size / SAMPLE_RATE, grid)
        written.append(write_eaf(out / f"{p.stem}.eaf", p, tiers, asr.model.kind, eaf, origin))
        log.info("%s: %d utterances in %d tiers transcribed -> %s", p, sum(map(len, tiers.values())), len(tiers),
                 written[-1])
    return written
