"""The Python API: a fine-tuned model, ready to transcribe audio files or arrays.

    import speechxl

    asr = speechxl.load("exp/ctc_chars", lm="data/lang_word")       # device="cuda" for a GPU
    asr.transcribe("clip.mp3", lang="es")                            # -> "hola a todos"
    asr.transcribe(["a.wav", "b.flac"], lang="es")                   # -> ["...", "..."]
    asr.transcribe(samples, sample_rate=48000, lang="es")            # a numpy array (S,) or (S, C)

Files are read in any format soundfile reads and arrays at any rate: both become 16 kHz mono.
Inputs go through the model in batches of similar length (one at a time for a model whose
frontend sees the padding: wav2vec 2.0 BASE's GroupNorm); the text comes back in input order
and never depends on the other inputs.
With ``lang``, the output keeps to that language's units (the model's training inventory of
it) and beam search uses that language's LM; ``speechxl transcribe`` is this object.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator, Sequence, Union

import numpy as np
import soxr
import torch

from speechxl.data.audio import SAMPLE_RATE, AudioError, load_audio
from speechxl.data.batching import pad_waves
from speechxl.data.validate import REASONS
from speechxl.decode.beam import BeamConfig
from speechxl.decode.model import LoadedModel, load_model
from speechxl.decode.run import Searcher, keep_units, own_units

Audio = Union[str, Path, np.ndarray, torch.Tensor]
ONE_PASS = 300.0
"""Seconds of a file ``transcribe`` runs through the model at once (attention's memory grows with the square
of the length); a longer one is refused with a pointer to ``transcribe-long``."""


class Recognizer:
    """A loaded model with its search (greedy, or beam search with an n-gram LM)."""

    def __init__(self, model: LoadedModel, lm: str | Path | None = None, beam: BeamConfig = BeamConfig(),
                 all_units: bool = False, batch_samples: int = 960_000):
        self.model, self.all_units, self.batch_samples = model, all_units, batch_samples
        self.searcher = Searcher(model, lm, beam)

    def transcribe(self, audio: Audio | Sequence[Audio], sample_rate: int | None = None,
                   lang: str | None = None) -> str | list[str]:
        """The text of one input (a path, or an array at ``sample_rate``), or of each of a list."""
        single = isinstance(audio, (str, Path, np.ndarray, torch.Tensor))
        items = [audio] if single else list(audio)
        self._check_lm(lang)
        waves = [self._samples(x, sample_rate) for x in items]
        texts = self._texts(waves, lang)
        return texts[0] if single else texts

    def transcribe_files(self, paths: Sequence[str | Path], lang: str | None = None
                         ) -> Iterator[tuple[str | Path, str | AudioError]]:
        """(path, text) for each file as soon as it is done; a file that cannot be used gives
        (path, its AudioError) and the others go on."""
        self._check_lm(lang)
        for p in paths:
            try:
                wave = self._samples(p, None)
            except AudioError as e:
                yield p, e
                continue
            yield p, self._texts([wave], lang)[0]

    def _samples(self, x: Audio, sample_rate: int | None) -> np.ndarray:
        """16 kHz mono float32 samples (S,) of a path or an array."""
        if isinstance(x, (str, Path)):
            try:
                samples = load_audio(x, max_seconds=ONE_PASS)
            except AudioError as e:
                if e.reason != "too_long":
                    raise
                raise AudioError(x, f"{e.detail}: use speechxl transcribe-long, which cuts a recording into "
                                    "utterances", "too_long") from None
            where = x
        else:
            if sample_rate is None:
                raise ValueError("sample_rate: give the rate of the audio array")
            samples = np.asarray(x.cpu() if isinstance(x, torch.Tensor) else x, dtype=np.float32)
            if samples.ndim == 2:  # (S, C), as soundfile reads it
                samples = samples.mean(axis=1)
            if samples.ndim != 1:
                raise ValueError(f"an audio array is (samples,) or (samples, channels), not {samples.shape}")
            if sample_rate != SAMPLE_RATE and samples.size:
                samples = soxr.resample(samples, sample_rate, SAMPLE_RATE, quality="HQ").astype(np.float32)
            where = "the audio array"
        if not np.isfinite(samples).all():
            raise AudioError(where, REASONS["non_finite"], "non_finite")
        return samples

    def _check_lm(self, lang: str | None) -> None:
        if self.searcher.lm is not None:
            self.searcher.decoder_for(lang or "")  # a missing LM is an error before any audio is read

    def restrict(self, log_probs: torch.Tensor, lang: str | None) -> torch.Tensor:
        """log_probs (T, V) kept to ``lang``'s own units (all of them with ``all_units`` or no ``lang``)."""
        mask = None if self.all_units or not lang else own_units(self.model, [lang]).get(lang)
        return keep_units(log_probs, mask) if mask is not None else log_probs

    def search(self, log_probs: torch.Tensor, lang: str | None) -> tuple[list[int], str]:
        """(unit ids, text) of one input's log_probs (T, V), kept to ``lang``'s units."""
        return self.searcher(self.restrict(log_probs, lang), lang or "")

    def _texts(self, waves: list[np.ndarray], lang: str | None) -> list[str]:
        self._check_lm(lang)
        texts: list[str] = [""] * len(waves)
        for batch in self._batches(waves):
            wav, lengths = pad_waves([waves[i] for i in batch])
            lp, frames = self.model.log_probs(wav, lengths, lang)
            for row, i in enumerate(batch):
                texts[i] = self.search(lp[row, : int(frames[row])].cpu(), lang)[1]
        return texts

    def _batches(self, waves: list[np.ndarray]) -> Iterator[list[int]]:
        """Indices of ``waves``, longest first, in batches of at most ``batch_samples`` padded samples
        (one at a time when the frontend's output depends on padding: a text never depends on the
        other inputs)."""
        order = sorted(range(len(waves)), key=lambda i: -waves[i].size)
        exact = self.model.net.backbone.frontend.padding_exact
        batch: list[int] = []
        for i in order:
            if batch and (not exact or (len(batch) + 1) * max(waves[batch[0]].size, 1) > self.batch_samples):
                yield batch
                batch = []
            batch.append(i)
        if batch:
            yield batch


def load(model: str | Path, lm: str | Path | None = None, device: str = "cpu", beam: BeamConfig | None = None,
         all_units: bool = False, lang_dir: str | Path | None = None, average: int = 1,
         precision: str = "fp32") -> Recognizer:
    """A Recognizer of a fine-tuned experiment dir (its best checkpoint, or with ``average`` N the
    mean of its newest N) or checkpoint dir; ``lm``: an n-gram LM (a lang dir of one per
    language, or an ARPA file) for beam search; ``precision``: fp32, bf16 or int8 (decode.model.PRECISIONS)."""
    return Recognizer(load_model(model, lang_dir, device, average, precision), lm, beam or BeamConfig(), all_units)
