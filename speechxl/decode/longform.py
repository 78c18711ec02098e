"""Long recordings transcribed with times: utterances, words, units and confidences, back as tiers.

    speechxl transcribe-long exp/ctc_chars recordings/*.wav --out transcribed/ --lang ain [--lm data/lang_word]
        [--eaf_dir recordings/] [--textgrid_dir recordings/] [--segments "tx@*"] [--vad silero|energy]

A recording of any length is read once; its utterances are found:

- by voice activity detection (``data.vad``: silero-vad, or ``--vad energy``), pauses
  bridged and regions cut to at most ``--max_region`` seconds, into the tier ``--tier``
  (default ``asr@speechxl``);
- or, with ``--segments`` (tier names: globs or ``re:<regex>``), from the user's own
  segmentation: the annotations of those tiers of the recording's ELAN file (or TextGrid),
  transcribed or not, each speaker's into a tier of their own (``asr@SP1`` for ``tx@SP1``).

Each utterance goes through the model alone, as the models are trained (on utterances): one pass,
or, when it is longer than 20 s (a user's segment can be), windows with context stitched
(``decode.emissions``); memory is bounded by one utterance or window whatever the recording's
length. Computing a recording's frames in 20 s windows with 2 s of context and cutting the
utterances out of them instead cost 4.5 points of CER on the fieldwork demo's test recording
(18.6 % alone, 23.4 % windowed; 21.2 % with 2 s of context around each utterance): a model trained
on utterances transcribes utterances best. Its frames are searched (greedy, or beam search with
the LM), and the hypothesis is aligned back into them (``decode.align``) for its words' and units'
times and confidences.
Writes ``<out>/<name>.tsv``, ``.eaf`` (a copy of the recording's own ELAN file, the one of its name
in ``--eaf_dir`` or below, or a new one linking the recording) and ``.TextGrid`` (a copy of its
own from ``--textgrid_dir``, or a new one), as ``decode.timed_text`` writes them; the user's files are
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
from speechxl.decode.timed_text import Aligned, Outputs, write_eaf, write_textgrid, write_tsv
from speechxl.data.vad import MAX_REGION, speech_regions
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
    """Each tier's regions (start, end seconds) of 16 kHz ``samples`` (S,), transcribed and timed: each
    region through the model alone, as the model was trained on utterances (in windows with context
    when it is longer than one: ``decode.emissions``), searched, its hypothesis aligned back in it."""
    model = asr.model
    shift = model.card.frame_shift_ms / 1000
    hop = round(shift * SAMPLE_RATE)
    sep = model.units.index.get(WORD)
    out: dict[str, list[Aligned]] = {}
    for tier, spans in regions.items():
        out[tier] = []
        for start, end in spans:
            a, b = max(0, int(start / shift)) * hop, min(samples.size, int(np.ceil(end / shift)) * hop)  # whole frames
            if b - a < hop:
                continue
            lp = asr.restrict(windowed_log_probs(model, samples[a:b], lang=lang), lang)  # (T, V)
            ids, text = asr.search(lp, lang)
            words, groups = hypothesis_words(asr, ids, text)
            if words:
                out[tier].append(align_log_probs(lp, [words], [groups], model.units.symbols, sep, shift,
                                                 offset=a / SAMPLE_RATE)[0])
    return out


def own_file(folder: Path | None, audio: Path, suffix: str) -> Path | None:
    """The recording's own annotation file in ``folder`` or below it (same name, ``suffix``), if there is one."""
    if folder is None:
        return None
    found = sorted(p for p in folder.rglob(f"{audio.stem}.*") if p.suffix.lower() == suffix.lower() and p.is_file())
    if len(found) > 1:
        log.warning("%s: %d files named %s%s below %s; the tiers go into a copy of %s", audio, len(found), audio.stem,
                    suffix, folder, found[0])
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


def transcribe_recordings(asr: Recognizer, paths: list[str], out: Path | Outputs, lang: str | None = None,
                          eaf_dir: Path | None = None, tier: str = "asr@speechxl", textgrid_dir: Path | None = None,
                          segments: list[str] | None = None, vad: str = "silero", max_region: float = MAX_REGION
                          ) -> list[Path]:
    """Each recording -> <out>/<name>.tsv, .eaf and .TextGrid; returns the ELAN files written."""
    out = out if isinstance(out, Outputs) else Outputs(out)
    written = []
    for p in map(Path, paths):
        eaf, grid = own_file(eaf_dir, p, ".eaf"), own_file(textgrid_dir, p, ".TextGrid")
        files = out.claim(p.stem, [p, eaf, grid])
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
        write_tsv(files[0], tiers)
        write_textgrid(files[2], tiers, asr.model.kind, samples.size / SAMPLE_RATE, grid)
        written.append(write_eaf(files[1], p, tiers, asr.model.kind, eaf, origin))
        out.wrote(files)
        log.info("%s: %d utterances in %d tiers transcribed -> %s", p, sum(map(len, tiers.values())), len(tiers),
                 written[-1])
    return written
