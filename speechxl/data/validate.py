"""Checks that decide whether an utterance is usable, and the rejects file that keeps the rest.

Nothing is dropped silently: every item that fails a check becomes a ``Reject`` with its id,
its source and a reason from ``REASONS``, written to ``data/<set>/rejects.tsv``.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from speechxl.atomic import atomic_write
from speechxl.errors import SpeechxlError

REASONS = {
    "unreadable": "the audio file is missing or cannot be decoded",
    "decoder_crashed": "decoding the file killed its process (a decoder crash, or out of memory)",
    "empty_audio": "the audio file holds no samples",
    "non_finite": "the audio holds NaN or infinite samples",
    "silent": "the audio is digital silence (peak below -80 dBFS)",
    "too_short": "shorter than the minimum duration",
    "too_long": "longer than the maximum duration",
    "duration_mismatch": "decoded duration differs from the corpus's stated duration",
    "empty_transcript": "the transcript is empty after normalisation",
    "no_transcript": "an audio file of a transcribed set that its transcripts do not list",
    "too_short_for_transcript": "fewer model frames than CTC needs for the transcript",
    "unknown_units": "the transcript has symbols outside the unit set",
    "duplicate": "the same utterance id appears twice in the source",
    "bad_name": "an utterance id, speaker, recording or language code that cannot be a name (a path "
                "separator, whitespace, a control character, too long)",
    "no_times": "an annotation tier without times (a symbolic ELAN tier, a TextGrid point tier)",
    "bad_times": "an annotation that ends before it starts, or whose file's TIME_ORIGIN is not a time",
    "overlap": "an annotation overlapping another speaker's, left out by the overlap policy",
    "not_aligned": "an annotation the model could not align inside its own span (past the end of the recording, "
                   "or more units than its frames)",
    "marker": "an annotation holding a marker the corpus's orthography rules drop (e.g. xxx: not made out)",
}
SILENCE_PEAK = 1e-4  # -80 dBFS
REJECTS_SUFFIX = ".rejects.tsv"
"""``align``'s ``<out>/<recording>.rejects.tsv``: the annotations of a recording it could not align, and why."""


class RejectError(SpeechxlError):
    """Raised in strict mode: an input could not be used."""


@dataclass(frozen=True)
class Reject:
    """An item left out of a data set, and why."""

    id: str
    source: str
    reason: str
    detail: str = ""

    def __post_init__(self):
        if self.reason not in REASONS:
            raise ValueError(f"unknown reject reason {self.reason!r}")

    def __str__(self) -> str:
        return f"{self.id} ({self.source}): {self.reason}: {self.detail or REASONS[self.reason]}"


@dataclass(frozen=True)
class Limits:
    """What makes an utterance usable."""

    min_duration: float = 0.5
    """Seconds; shorter clips are rejected."""
    max_duration: float = 30.0
    """Seconds; longer clips are rejected."""
    frame_shift_ms: float = 20.0
    """Model frame shift used by the transcript-length check (wav2vec 2.0: 20 ms)."""
    duration_tolerance: float = 0.5
    """Seconds of disagreement allowed between decoded and stated durations."""


def check_audio(samples: np.ndarray, sample_rate: int, limits: Limits) -> tuple[str, str] | None:
    """(reason, detail) if the decoded samples (S,) are unusable, else None."""
    if samples.size == 0:
        return "empty_audio", ""
    if not np.isfinite(samples).all():
        return "non_finite", f"{int((~np.isfinite(samples)).sum())} non-finite samples"
    peak = float(np.abs(samples).max())
    if peak < SILENCE_PEAK:
        return "silent", f"peak {peak:.2e}"
    seconds = samples.size / sample_rate
    if seconds < limits.min_duration:
        return "too_short", f"{seconds:.2f} s < {limits.min_duration} s"
    if seconds > limits.max_duration:
        return "too_long", f"{seconds:.2f} s > {limits.max_duration} s"
    return None


def ctc_min_frames(labels: list[str] | str) -> int:
    """Frames CTC needs for a label sequence: one per label, plus a blank between repeats."""
    return len(labels) + sum(a == b for a, b in zip(labels, labels[1:]))


def check_transcript(text: str | None, seconds: float, limits: Limits) -> tuple[str, str] | None:
    """(reason, detail) if the normalised transcript cannot be learned from ``seconds`` of audio.

    The label sequence assumed is the characters with spaces as word boundaries, the longest
    of the usual unit sets; fine-tuning checks again with the real units.
    """
    if not text:
        return "empty_transcript", ""
    frames = int(seconds * 1000 / limits.frame_shift_ms)
    need = ctc_min_frames(text)
    if frames < need:
        return "too_short_for_transcript", f"{frames} frames < {need} labels"
    return None


def write_rejects(rejects: list[Reject], path: str | Path) -> None:
    """rejects.tsv: id, source, reason, detail (a header line, then one reject a line)."""
    buf = io.StringIO()
    w = csv.writer(buf, delimiter="\t", lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
    w.writerow(["id", "source", "reason", "detail"])
    for r in sorted(rejects, key=lambda r: r.id):
        w.writerow([r.id, r.source, r.reason, r.detail])
    atomic_write(path, buf.getvalue())


def read_rejects(path: str | Path) -> list[Reject]:
    with open(path, encoding="utf-8", newline="") as f:
        return [Reject(**row) for row in csv.DictReader(f, delimiter="\t")]


def summarize(kept: int, rejects: list[Reject]) -> str:
    """'kept 812, dropped 3 (silent 2, unreadable 1)'."""
    counts = Counter(r.reason for r in rejects)
    parts = ", ".join(f"{k} {v}" for k, v in counts.most_common())
    return f"kept {kept}, dropped {len(rejects)}" + (f" ({parts})" if parts else "")
