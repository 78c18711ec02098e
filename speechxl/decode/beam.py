"""CTC beam search with an n-gram LM, through flashlight-text's decoders (C++).

  LexiconBeamDecoder   words: only words of the lexicon, each spelled in units, scored by a
                       word n-gram LM (for WER); out-of-lexicon words are never produced
  TokenBeamDecoder     lexicon-free: any unit sequence, scored by a unit n-gram LM

Scores: acoustic log-probability + lm_weight x LM log-probability + word_score per word
(``word_score`` < 0 penalises insertions). log_probs are (T, V) float32 CTC outputs, blank = 0.

Both are deterministic: the same log_probs and settings give the same hypothesis in any process.
flashlight orders hypotheses of equal score by their memory address, so the best one is chosen
here by score and then by content (``_search``), and an utterance whose search ends with no
hypothesis at all (every score -inf) is searched again without the closing boundary frame
(``LexiconBeamDecoder``) instead of returning whichever dead end came first.
"""

from __future__ import annotations

import copy
import itertools
import math
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import torch

from speechxl.text.units import WORD, Units


@dataclass(kw_only=True)
class BeamConfig:
    """Beam search settings."""

    beam: int = 50
    """Hypotheses kept per frame."""
    beam_tokens: int = 16
    """Units tried per frame: the most likely ones (0 = all)."""
    beam_threshold: float = 25.0
    """Hypotheses scoring this far below the best are pruned."""
    lm_weight: float = 0.5
    word_score: float = 0.0
    """Added per word (lexicon) or per word boundary (lexicon-free); negative penalises insertions."""
    sil_score: float = 0.0


def load_lm(kenlm: type, arpa: str | Path, dictionary):
    """KenLM over ``dictionary``, without the "Loading the LM will be faster if you build a binary
    file" notice and progress bar that KenLM writes to the process's stderr for every ARPA file
    (its errors still come back as exceptions)."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
        return kenlm(str(arpa), dictionary)
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _collapse(path: list[int], blank: int, sil: int) -> list[int]:
    """Frame path -> unit ids: repeats merged, blanks dropped, word boundaries at the ends dropped."""
    ids = [i for i, _ in itertools.groupby(path) if i != blank]
    while ids and ids[0] == sil:
        ids.pop(0)
    while ids and ids[-1] == sil:
        ids.pop()
    return ids


def _dictionary(entries: list[str]):
    """flashlight Dictionary with entry i at index i (create_word_dict reorders)."""
    from flashlight.lib.text.dictionary import Dictionary

    d = Dictionary()
    for e in entries:
        d.add_entry(e)
    return d


def _search(decoder, log_probs: torch.Tensor):
    """The highest-scoring flashlight DecodeResult of ``decoder`` for log_probs (T, V); among equal
    scores the one with the smallest (words, tokens), never the one that memory order put first."""
    lp = log_probs.detach().to(torch.float32).contiguous().cpu()
    results = decoder.decode(lp.data_ptr(), lp.shape[0], lp.shape[1])
    return min(results, key=lambda r: (-r.score, list(r.words), list(r.tokens)))


class LexiconBeamDecoder:
    """Word-level beam search; ``lexicon`` maps each word to its spellings in units.
    ``with_config`` gives a decoder with other weights that shares the LM and lexicon trie."""

    def __init__(self, units: Units, lexicon: dict[str, list[list[str]]], arpa: str | Path, cfg: BeamConfig):
        from flashlight.lib.text.decoder import SmearingMode, Trie
        from flashlight.lib.text.decoder.kenlm import KenLM

        self.units = units
        # word boundary: '|' for characters and phones; BPE marks word starts inside pieces
        self.sil = units.index[WORD] if WORD in units else units.blank_id
        spellings = {w: [s for s in sp if units.unknown(s) == []] for w, sp in lexicon.items()}
        spellings = {w: sp for w, sp in spellings.items() if sp}
        self.words = _dictionary(sorted(set(spellings) | {"<unk>"}))
        self.lm = load_lm(KenLM, arpa, self.words)
        trie = Trie(len(units), self.sil)
        start = self.lm.start(False)
        for word, sps in spellings.items():
            idx = self.words.get_index(word)
            _, score = self.lm.score(start, idx)
            for sp in sps:
                trie.insert(units.encode(sp), idx, score)
        trie.smear(SmearingMode.MAX)
        self.trie, self.lexicon_size = trie, len(spellings)
        self.unfinished = 0
        """Utterances whose last word could not end at the closing boundary (searched again without it)."""
        self._configure(cfg)

    def _configure(self, cfg: BeamConfig) -> None:
        from flashlight.lib.text.decoder import CriterionType, LexiconDecoder, LexiconDecoderOptions

        opts = LexiconDecoderOptions(beam_size=cfg.beam, beam_size_token=cfg.beam_tokens or len(self.units),
                                     beam_threshold=cfg.beam_threshold, lm_weight=cfg.lm_weight,
                                     word_score=cfg.word_score, unk_score=-math.inf, sil_score=cfg.sil_score,
                                     log_add=False, criterion_type=CriterionType.CTC)
        self.decoder = LexiconDecoder(opts, self.trie, self.lm, self.sil, self.units.blank_id,
                                      self.words.get_index("<unk>"), [], False)

    def with_config(self, cfg: BeamConfig) -> LexiconBeamDecoder:
        other = copy.copy(self)
        other.unfinished = 0
        other._configure(cfg)
        return other

    def __call__(self, log_probs: torch.Tensor) -> tuple[list[int], list[str]]:
        """(unit ids, words) of the best hypothesis for log_probs (T, V)."""
        if self.sil == self.units.blank_id:  # BPE: words end where the next one starts
            best = _search(self.decoder, log_probs)
        else:
            # spellings end with a word boundary, which transcripts lack after their last word:
            # one more frame, certain to be a boundary, lets the last word end (else it is dropped)
            end = torch.full((1, log_probs.shape[1]), -math.inf, dtype=log_probs.dtype, device=log_probs.device)
            end[0, self.sil] = 0.0
            best = _search(self.decoder, torch.cat([log_probs, end]))
            if best.score == -math.inf:  # every hypothesis left was inside a word that cannot end
                self.unfinished += 1
                best = _search(self.decoder, log_probs)  # the words completed before the end
        words = [self.words.get_entry(i) for i in best.words if i >= 0]
        return _collapse(list(best.tokens), self.units.blank_id, self.sil), words


class TokenBeamDecoder:
    """Lexicon-free beam search with an n-gram LM over the units themselves."""

    def __init__(self, units: Units, arpa: str | Path, cfg: BeamConfig):
        from flashlight.lib.text.decoder.kenlm import KenLM

        self.units = units
        self.sil = units.index[WORD] if WORD in units else units.blank_id
        self.tokens = _dictionary(units.symbols)
        self.lm = load_lm(KenLM, arpa, self.tokens)
        self._configure(cfg)

    def _configure(self, cfg: BeamConfig) -> None:
        from flashlight.lib.text.decoder import CriterionType, LexiconFreeDecoder, LexiconFreeDecoderOptions

        opts = LexiconFreeDecoderOptions(beam_size=cfg.beam, beam_size_token=cfg.beam_tokens or len(self.units),
                                         beam_threshold=cfg.beam_threshold, lm_weight=cfg.lm_weight,
                                         sil_score=cfg.sil_score + cfg.word_score, log_add=False,
                                         criterion_type=CriterionType.CTC)
        self.decoder = LexiconFreeDecoder(opts, self.lm, self.sil, self.units.blank_id, [])

    def with_config(self, cfg: BeamConfig) -> TokenBeamDecoder:
        other = copy.copy(self)
        other._configure(cfg)
        return other

    def __call__(self, log_probs: torch.Tensor) -> list[int]:
        """Unit ids of the best hypothesis for log_probs (T, V)."""
        best = _search(self.decoder, log_probs)
        return _collapse(list(best.tokens), self.units.blank_id, self.sil)
