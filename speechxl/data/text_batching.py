"""Batches of tokenized sentences, planned per epoch like the audio batches (``data.batching``).

An epoch is planned up front, deterministically from (seed, epoch): which sentences (after
language-balanced resampling by their token counts, XLM-R's alpha 0.3 by default in its
config), grouped by length into batches of at most ``max_tokens`` tokens, padding included, in
a random order; a batch is then built by index, so a run resumes at the batch where it stopped
and data-parallel workers take disjoint slices. A batch: ``text`` (B, L), the token ids padded
with ``pad_id``, ``langs``, and ``tokens`` (the real ones).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Iterator

import numpy as np
import torch

from speechxl.config import ConfigError
from speechxl.data.sampling import SamplingConfig, epoch_indices


@dataclass(kw_only=True)
class TextBatchConfig:
    """Batch size and sentence length, in tokens."""

    max_tokens: int = 8192
    """Tokens per batch, padding included."""
    max_length: int = 128
    """Longer sentences are cut to this many tokens, <s> and </s> included."""

    def validate(self) -> None:
        if self.max_length < 3:
            raise ConfigError(f"max_length {self.max_length} holds no token between <s> and </s>")
        if self.max_tokens < self.max_length:
            raise ConfigError(f"max_tokens {self.max_tokens} holds less than one sentence of max_length")


@dataclass(frozen=True)
class Sentence:
    lang: str
    ids: tuple[int, ...]
    """<s> ... </s>, cut to max_length."""


class TextBatchPlan:
    """The batches of a list of sentences, planned per epoch (see the module doc)."""

    def __init__(self, sentences: list[Sentence], cfg: TextBatchConfig, seed: int, pad_id: int,
                 sampling: SamplingConfig | None = None, shuffle: bool = True, rank: int = 0, world: int = 1):
        if not sentences:
            raise ValueError("no sentence to train on")
        self.sentences, self.cfg, self.seed, self.pad_id = sentences, cfg, seed, pad_id
        self.sampling, self.shuffle, self.rank, self.world = sampling, shuffle, rank, world
        self.lengths = np.array([len(s.ids) for s in sentences])
        digest = hashlib.sha256("\n".join(f"{s.lang} {' '.join(map(str, s.ids))}" for s in sentences).encode())
        self.fingerprint = f"{len(sentences)} sentences, {digest.hexdigest()[:16]}"

    def epoch(self, epoch: int) -> list[list[int]]:
        """This worker's batches of ``epoch`` (sentence indices), in order."""
        rng = np.random.default_rng([self.seed, epoch])
        if self.sampling is not None:
            idx = epoch_indices([s.lang for s in self.sentences], self.lengths.astype(np.float64),
                                self.sampling.at_epoch(epoch), rng)
        else:
            idx = rng.permutation(len(self.sentences)) if self.shuffle else np.arange(len(self.sentences))
        order = idx[np.argsort(-self.lengths[idx], kind="stable")]  # longest first; ties keep the random order
        batches, current = [], []
        for i in order:
            if current and (len(current) + 1) * self.lengths[current[0]] > self.cfg.max_tokens:
                batches.append(current)
                current = []
            current.append(int(i))
        if current:
            batches.append(current)
        if self.shuffle:
            batches = [batches[j] for j in rng.permutation(len(batches))]
        per_worker = len(batches) // self.world
        return batches[self.rank::self.world][:per_worker] if self.world > 1 else batches

    def batch(self, indices: list[int]) -> dict:
        """text (B, L): token ids, padded; langs; tokens."""
        width = max(self.lengths[i] for i in indices)
        ids = torch.full((len(indices), int(width)), self.pad_id, dtype=torch.long)
        for row, i in enumerate(indices):
            ids[row, : self.lengths[i]] = torch.tensor(self.sentences[i].ids)
        return {"text": ids, "langs": [self.sentences[i].lang for i in indices],
                "tokens": int(sum(self.lengths[i] for i in indices))}

    def iterate(self, epoch: int, start: int = 0) -> Iterator[dict]:
        """Built batches of ``epoch`` from batch ``start`` on (text is built in this process)."""
        for indices in self.epoch(epoch)[start:]:
            yield self.batch(indices)
