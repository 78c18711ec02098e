"""What training reads besides audio: transcripts as unit ids, and text.

``label_utterances``: the unit ids of transcribed utterances (CTC fine-tuning, a joint family's
paired stream); ``read_texts``: sentences per language from text dirs (``<lang>.txt``) or data
sets' transcripts (``pretrain-text``, a joint family's text stream); ``unit_sentences``: those
sentences in a lang dir's units (characters, or phones through its G2P cache).
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from pathlib import Path

from speechxl.data.manifest import Utterance, read_manifest
from speechxl.data.text_batching import Sentence
from speechxl.data.validate import ctc_min_frames
from speechxl.text.tokenize import load_tokenizer
from speechxl.text.units import Units

log = logging.getLogger(__name__)


def label_utterances(utts: list[Utterance], lang_dir: Path, units: Units,
                     frames_of=None) -> tuple[list[Utterance], dict[str, list[int]], dict]:
    """Token ids per utterance; left out: untranscribed ones and (given ``frames_of``, samples ->
    frames) those too short for their labels. Returns (kept, labels by id, per-language counts)."""
    tokenizer = load_tokenizer(lang_dir)
    utts = [u for u in utts if u.text or u.phones]
    tokens = tokenizer.tokenize(utts)
    unknown: Counter = Counter()
    infeasible: Counter = Counter()
    kept, labels = [], {}
    for u, toks in zip(utts, tokens):
        ids = units.encode(toks)
        unknown[u.lang] += sum(i == units.unk_id for i in ids)
        if not ids or (frames_of is not None and frames_of(int(u.duration * 16000)) < ctc_min_frames(ids)):
            infeasible[u.lang] += 1
            continue
        kept.append(u)
        labels[u.id] = ids
    report = {"unknown_tokens": dict(unknown), "left_out_too_short": dict(infeasible),
              "kept": dict(Counter(u.lang for u in kept))}
    for lang in sorted(set(unknown) | set(infeasible)):
        if unknown[lang] or infeasible[lang]:
            log.info("labels %s: %d tokens outside the units (trained as <unk>), %d utterances too short "
                     "for their labels left out", lang, unknown[lang], infeasible[lang])
    return kept, labels, report


def read_texts(dirs: list[str]) -> dict[str, list[str]]:
    """Per language, the sentences of ``dirs`` (<lang>.txt files, or a data set's transcripts)."""
    out: dict[str, list[str]] = defaultdict(list)
    for d in map(Path, dirs):
        if (d / "utts.jsonl").is_file():
            for u in read_manifest(d):
                if u.text:
                    out[u.lang].append(u.text)
            continue
        files = sorted(d.glob("*.txt"))
        if not files:
            raise ValueError(f"data {d}: neither a data set (utts.jsonl) nor a dir of <lang>.txt files")
        for f in files:
            try:
                out[f.stem] += [line.strip() for line in f.read_text(encoding="utf-8").splitlines() if line.strip()]
            except UnicodeDecodeError as e:
                raise ValueError(f"{f}: not UTF-8 text ({e.reason} at byte {e.start})") from None
    return dict(out)


def unit_sentences(texts: dict[str, list[str]], lang_dir: Path, units: Units, max_length: int) -> list[Sentence]:
    """Each sentence as the ids of its units (no boundary tokens), cut to ``max_length``; empty ones left out."""
    tokenizer = load_tokenizer(lang_dir)
    out = []
    for lang, lines in sorted(texts.items()):
        utts = [Utterance(id=f"{lang}-{i}", audio="", duration=0.0, lang=lang, speaker="", text=t)
                for i, t in enumerate(lines)]
        for toks in tokenizer.tokenize(utts):
            ids = units.encode(toks)[:max_length]
            if ids:
                out.append(Sentence(lang, tuple(ids)))
    return out
