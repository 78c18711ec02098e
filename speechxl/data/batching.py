"""Batches by total audio samples, with length bucketing and random cropping.

An epoch is planned up front, deterministically from (seed, epoch): which utterances (after
language resampling), grouped into batches of similar length, which crop of each, in which
order. A batch is then loaded by index, so a run resumes at the exact batch where it stopped,
and data-parallel workers take disjoint slices of the same plan.

Two ways to fill a batch of at most ``max_samples`` samples:
  crop_to_shortest   every utterance is cropped to the batch's shortest (no padding; wav2vec 2.0
                     pretraining), a random window of each
  padding            utterances keep their length, padded to the batch's longest (fine-tuning)

A plan with ``frame_labels`` (a frame store of k-means labels, HuBERT's targets) crops at whole
label frames, so the labels cut from a window are those of the model's frames of that window
(``batch["frame_labels"]`` (B, L), padded with IGNORE); utterances without labels are left out.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from typing import Callable, Iterator

import numpy as np
import torch

from speechxl.data.audio import SAMPLE_RATE, load_audio
from speechxl.data.augment import AugmentConfig, augment
from speechxl.data.frame_store import FrameStore
from speechxl.data.manifest import Utterance
from speechxl.data.sampling import SamplingConfig, epoch_indices
from speechxl.config import ConfigError

log = logging.getLogger(__name__)

IGNORE = -100
"""A frame label that is no target (padding; past an utterance's labels)."""
AUGMENT_STREAM = 0xA06
"""Keeps the augmentation's draws apart from the plan's own (seed, epoch) generator."""


@dataclass(kw_only=True)
class BatchConfig:
    """Batch size and cropping."""

    max_samples: int = 1_400_000
    """Audio samples per batch, padding included (fairseq's max_tokens); 16000 = 1 s."""
    max_seconds: float = 15.6
    """Longer utterances are cropped to a random window (crop mode) or left out (padding mode)."""
    min_seconds: float = 0.0
    """Shorter utterances are left out."""
    crop_to_shortest: bool = True
    """Crop a batch to its shortest utterance (no padding) instead of padding to its longest."""
    max_utterances: int = 0
    """Utterances per batch at most (fairseq's max_sentences); 0 = as many as max_samples holds."""
    num_workers: int = 2
    """Processes loading audio."""

    def validate(self) -> None:
        if self.max_samples < self.max_seconds * SAMPLE_RATE:
            raise ConfigError(f"max_samples {self.max_samples} holds less than one utterance of max_seconds")


@dataclass(frozen=True)
class Piece:
    """One utterance's window in a batch, in samples."""

    index: int
    start: int
    length: int


class BatchPlan:
    """The batches of one set of utterances, planned per epoch (see the module doc)."""

    def __init__(self, utts: list[Utterance], cfg: BatchConfig, seed: int, sampling: SamplingConfig | None = None,
                 shuffle: bool = True, rank: int = 0, world: int = 1,
                 labels: Callable[[Utterance], list[int]] | None = None, frame_labels: FrameStore | None = None,
                 augment: AugmentConfig | None = None):
        if frame_labels is not None and augment is not None and augment.speed:
            raise ConfigError("augment.speed changes durations: the frame labels would no longer line up with the audio")
        if frame_labels is not None:
            unlabelled = [u.id for u in utts if u.id not in frame_labels]
            if unlabelled:
                log.info("batching: left out %d of %d utterances that %s has no labels for, e.g. %s", len(unlabelled),
                         len(utts), frame_labels.path, unlabelled[:3])
                utts = [u for u in utts if u.id in frame_labels]
        kept = [u for u in utts if cfg.min_seconds <= u.duration and (cfg.crop_to_shortest or u.duration <= cfg.max_seconds)]
        if len(kept) < len(utts):
            log.info("batching: left out %d of %d utterances %s", len(utts) - len(kept), len(utts),
                     f"shorter than {cfg.min_seconds:.1f} s (longer ones are cropped)" if cfg.crop_to_shortest
                     else f"outside [{cfg.min_seconds:.1f}, {cfg.max_seconds:.1f}] s")
        if not kept:
            raise ValueError("no utterance fits the batch limits")
        self.utts, self.cfg, self.seed = kept, cfg, seed
        self.sampling, self.shuffle, self.rank, self.world, self.labels = sampling, shuffle, rank, world, labels
        self.frame_labels, self.augment = frame_labels, augment
        self.hop = round(frame_labels.frame_shift_ms * SAMPLE_RATE / 1000) if frame_labels is not None else 1
        """Crops start at multiples of this many samples (a label frame)."""
        self.samples = np.array([int(round(u.duration * SAMPLE_RATE)) for u in kept])
        self.langs = [u.lang for u in kept]
        rows = "\n".join(f"{u.id}\t{u.offset}\t{u.duration}" for u in kept)  # not the path: a data dir may move
        self.fingerprint = f"{len(kept)} utterances, {hashlib.sha256(rows.encode()).hexdigest()[:16]}"
        if frame_labels is not None:
            self.fingerprint += f", labels {frame_labels.info['fingerprint']}"
        """What the plan is made of: equal fingerprints, equal plans (resume checks it)."""

    def epoch(self, epoch: int) -> list[list[Piece]]:
        """This worker's batches of ``epoch``, in order."""
        rng = np.random.default_rng([self.seed, epoch])
        if self.sampling is not None:
            sampling = self.sampling.at_epoch(epoch)
            if epoch in {e for e, _ in self.sampling.alpha_stages} and self.rank == 0:
                log.info("epoch %d: sampling alpha %g from here on (alpha_stages)", epoch, sampling.alpha)
            idx = epoch_indices(self.langs, self.samples / SAMPLE_RATE, sampling, rng)
        else:
            idx = rng.permutation(len(self.utts)) if self.shuffle else np.arange(len(self.utts))
        cap = min(int(self.cfg.max_seconds * SAMPLE_RATE), self.cfg.max_samples)
        lengths = np.minimum(self.samples[idx], cap)
        order = idx[np.argsort(-lengths, kind="stable")]  # longest first; ties keep the random order
        batches: list[list[int]] = []
        current: list[int] = []
        for i in order:
            size = min(self.samples[i], cap)
            width = size if self.cfg.crop_to_shortest or not current else min(self.samples[current[0]], cap)
            full = self.cfg.max_utterances and len(current) >= self.cfg.max_utterances
            if current and ((len(current) + 1) * width > self.cfg.max_samples or full):
                batches.append(current)
                current = []
            current.append(int(i))
        if current:
            batches.append(current)
        planned = []
        for batch in batches:
            shortest = min(min(self.samples[i], cap) for i in batch)
            pieces = []
            for i in batch:
                length = shortest if self.cfg.crop_to_shortest else min(self.samples[i], cap)
                start = self.hop * int(rng.integers(0, (self.samples[i] - length) // self.hop + 1))
                pieces.append(Piece(i, start, length))
            planned.append(pieces)
        if self.shuffle:
            planned = [planned[j] for j in rng.permutation(len(planned))]
        per_worker = len(planned) // self.world
        return planned[self.rank::self.world][:per_worker] if self.world > 1 else planned

    def iterate(self, epoch: int, start: int = 0) -> Iterator[dict]:
        """Loaded batches of ``epoch`` from batch ``start`` on, by ``cfg.num_workers`` processes, with the
        plan's ``labels`` (a function of an utterance) when it has them."""
        return iterate(self, epoch, start, self.cfg.num_workers)

    def load(self, pieces: list[Piece], epoch: int = 0, position: int = 0) -> dict:
        """One planned batch (the ``position``-th of ``epoch``), loaded, augmented when the plan augments:
        the draws depend on the seed, the epoch and the position alone (exact resume)."""
        rng = np.random.default_rng([self.seed, AUGMENT_STREAM, epoch, position]) if self.augment else None
        return load_batch(self.utts, pieces, self.labels, self.frame_labels, self.hop, self.augment, rng)


def pad_waves(waves: list[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor]:
    """Samples of several utterances as one zero-padded batch: wav (B, S), lengths (B,)."""
    lengths = torch.tensor([x.size for x in waves])
    wav = torch.zeros(len(waves), int(lengths.max()))
    for j, x in enumerate(waves):
        wav[j, : x.size] = torch.from_numpy(x)
    return wav, lengths


def load_batch(utts: list[Utterance], pieces: list[Piece], labels: Callable[[Utterance], list[int]] | None = None,
               frame_labels: FrameStore | None = None, hop: int = 1, augmentation: AugmentConfig | None = None,
               rng: np.random.Generator | None = None) -> dict:
    """Audio of a planned batch: wav (B, S) zero-padded, lengths (B,), audio_seconds, ids, langs
    [, labels and the transcripts, texts] [, frame_labels (B, L): each piece's labels from its first
    frame (start / hop), as many as frames of ``hop`` samples start in it, IGNORE past its end];
    with ``augmentation``, each piece augmented with draws from ``rng`` (speed changes its length)."""
    waves = []
    for p in pieces:
        u = utts[p.index]
        x = load_audio(u.audio, offset=u.offset + p.start / SAMPLE_RATE, duration=p.length / SAMPLE_RATE)
        x = np.pad(x[: p.length], (0, max(0, p.length - x.size)))
        waves.append(augment(x, augmentation, rng, SAMPLE_RATE) if augmentation else x)
    wav, lengths = pad_waves(waves)  # each exactly its piece's length, unless augmented
    batch = {"wav": wav, "lengths": lengths, "audio_seconds": float(lengths.sum()) / SAMPLE_RATE,
             "ids": [utts[p.index].id for p in pieces],
             "langs": [utts[p.index].lang for p in pieces]}
    if labels is not None:
        batch["labels"] = [labels(utts[p.index]) for p in pieces]
        batch["texts"] = [utts[p.index].text or "" for p in pieces]
    if frame_labels is not None:
        rows = [frame_labels[utts[p.index].id][p.start // hop: p.start // hop - (-p.length // hop)] for p in pieces]
        batch["frame_labels"] = torch.full((len(rows), max(len(r) for r in rows)), IGNORE, dtype=torch.long)
        for j, r in enumerate(rows):
            batch["frame_labels"][j, : len(r)] = torch.from_numpy(np.asarray(r, dtype=np.int64).reshape(-1))
    return batch


class _PlannedBatches(torch.utils.data.Dataset):
    def __init__(self, plan: BatchPlan, batches: list[list[Piece]], epoch: int):
        self.plan, self.batches, self.epoch = plan, batches, epoch

    def __len__(self) -> int:
        return len(self.batches)

    def __getitem__(self, i: int) -> dict:
        return self.plan.load(self.batches[i], self.epoch, i)


def iterate(plan: BatchPlan, epoch: int, start: int = 0, num_workers: int = 0) -> Iterator[dict]:
    """Loaded batches of ``epoch`` from batch ``start`` on, read by ``num_workers`` processes."""
    batches = plan.epoch(epoch)
    ds = _PlannedBatches(plan, batches, epoch)
    # its own generator: creating the loader must not draw from the global RNG (exact resume); with a
    # GPU, batches in page-locked memory, so that the trainer's non-blocking copies overlap its compute
    loader = torch.utils.data.DataLoader(ds, batch_size=None, sampler=range(start, len(batches)),
                                         num_workers=num_workers, prefetch_factor=4 if num_workers else None,
                                         generator=torch.Generator().manual_seed(epoch),
                                         pin_memory=torch.cuda.is_available())
    yield from loader
