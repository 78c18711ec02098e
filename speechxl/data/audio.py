"""Audio I/O: every input becomes 16 kHz mono float32.

Reading is soundfile's (WAV, FLAC, OGG/Vorbis/Opus, MP3 through libsndfile); resampling is
soxr's (band-limited, 'HQ' quality), never naive interpolation.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from speechxl.atomic import atomic_path
from speechxl.errors import SpeechxlError

SAMPLE_RATE = 16000


class AudioError(SpeechxlError):
    """An audio file that cannot be used; the message names the file and the reason.

    ``reason`` is "unreadable" or "empty_audio" (a file of 0 bytes); ``detail`` is the
    message without the path.
    """

    def __init__(self, path: str | Path, detail: str, reason: str = "unreadable"):
        super().__init__(f"{path}: {detail}")
        self.detail = detail
        self.reason = reason


def load_audio(
    path: str | Path,
    offset: float = 0.0,
    duration: float | None = None,
    sample_rate: int = SAMPLE_RATE,
) -> np.ndarray:
    """Read ``path`` (or the segment [offset, offset + duration) of it) as mono float32.

    Returns samples (S,) at ``sample_rate``. Channels are averaged; other rates are resampled.
    Raises AudioError for a missing, unreadable or truncated file.
    """
    if not Path(path).exists():
        raise AudioError(path, "no such file")
    if Path(path).is_file() and Path(path).stat().st_size == 0:
        raise AudioError(path, "empty file (0 bytes)", "empty_audio")
    try:
        with sf.SoundFile(str(path)) as f:
            src_rate = f.samplerate
            start = int(round(offset * src_rate))
            frames = -1 if duration is None else int(round(duration * src_rate))
            if start:
                f.seek(start)
            x = f.read(frames, dtype="float32", always_2d=True)  # (S, C)
    except (sf.LibsndfileError, RuntimeError, OSError, ValueError) as e:
        said = str(e)
        if "does not exist" in said:  # libsndfile's words for a file it found but could not parse
            said = f"a corrupt file or a format libsndfile does not decode (it said: {said})"
        raise AudioError(path, f"cannot read audio: {said}") from None
    x = x.mean(axis=1) if x.shape[1] > 1 else x[:, 0]
    if src_rate != sample_rate and x.size:
        x = soxr.resample(x, src_rate, sample_rate, quality="HQ").astype(np.float32, copy=False)
    return x


def write_audio(path: str | Path, samples: np.ndarray, sample_rate: int = SAMPLE_RATE) -> None:
    """Write mono samples (S,) atomically; the format follows the suffix (.flac, .wav, .mp3).

    FLAC and WAV are written as 16-bit PCM; samples are clipped to [-1, 1].
    """
    path = Path(path)
    samples = np.clip(samples, -1.0, 1.0)
    subtype = "PCM_16" if path.suffix.lower() in (".flac", ".wav") else None
    with atomic_path(path) as tmp:
        sf.write(str(tmp), samples, sample_rate, subtype=subtype)
