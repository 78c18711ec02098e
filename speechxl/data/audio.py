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

    ``reason`` is "unreadable", "empty_audio" (a file of 0 bytes) or "too_long"; ``detail`` is the
    message without the path.
    """

    def __init__(self, path: str | Path, detail: str, reason: str = "unreadable"):
        super().__init__(f"{path}: {detail}")
        self.detail = detail
        self.reason = reason


MAX_HOURS = 12.0
"""The longest recording speechxl decodes (2.8 GB of 16 kHz float32); longer ones are cut first."""
BLOCK = 1 << 20
"""Frames read at a time from a long file: memory follows the 16 kHz mono result, not the file's
rate and channels (a 10-hour 48 kHz stereo file read whole is 14 GB of float32)."""


def load_audio(
    path: str | Path,
    offset: float = 0.0,
    duration: float | None = None,
    sample_rate: int = SAMPLE_RATE,
    max_seconds: float = MAX_HOURS * 3600,
) -> np.ndarray:
    """Read ``path`` (or the segment [offset, offset + duration) of it) as mono float32.

    Returns samples (S,) at ``sample_rate``. Channels are averaged; other rates are resampled.
    Raises AudioError for a missing, unreadable or truncated file, and (reason "too_long") for one
    longer than ``max_seconds``: told by its header before anything is read, or by the samples
    read (a header may lie: an 11 KB file that claims 2^36 samples allocates nothing).
    """
    if not Path(path).exists():
        raise AudioError(path, "no such file")
    if Path(path).is_file() and Path(path).stat().st_size == 0:
        raise AudioError(path, "empty file (0 bytes)", "empty_audio")
    try:
        with sf.SoundFile(str(path)) as f:
            src_rate = f.samplerate
            start = int(round(offset * src_rate))
            wanted = max(f.frames - start, 0) if duration is None else int(round(duration * src_rate))
            if f.frames > 0 and wanted / src_rate > max_seconds:
                raise AudioError(path, f"{_length(wanted / src_rate)} by its header, longer than the "
                                       f"{_length(max_seconds)} read here", "too_long")
            if start:
                f.seek(start)
            x = _read_mono(f, wanted, int(max_seconds * src_rate) + 1, path)
    except (sf.LibsndfileError, RuntimeError, OSError, ValueError) as e:
        said = str(e)
        if "does not exist" in said:  # libsndfile's words for a file it found but could not parse
            said = f"a corrupt file or a format libsndfile does not decode (it said: {said})"
        raise AudioError(path, f"cannot read audio: {said}") from None
    except MemoryError:
        raise AudioError(path, "out of memory while decoding it", "too_long") from None
    if src_rate != sample_rate and x.size:
        x = soxr.resample(x, src_rate, sample_rate, quality="HQ").astype(np.float32, copy=False)
    return x


def _read_mono(f: sf.SoundFile, frames: int, most: int, path) -> np.ndarray:
    """Up to ``frames`` frames of an open file from where it stands, channels averaged (S,); at most
    ``most``, else AudioError. A file of one block (about 2^20 samples of all channels) is read in one
    call; a longer one block by block, so that no more than a block of all channels is ever held."""
    block = max(1024, BLOCK // f.channels)  # a header may claim any number of channels
    if frames <= block:
        x = f.read(frames, dtype="float32", always_2d=True)  # (S, C)
        return x.mean(axis=1) if x.shape[1] > 1 else x[:, 0]
    blocks, total = [], 0
    while total < frames:
        x = f.read(min(block, frames - total), dtype="float32", always_2d=True)
        if not len(x):
            break
        total += len(x)
        if total > most:
            raise AudioError(path, f"more than {_length(most / f.samplerate)} of audio", "too_long")
        blocks.append(x.mean(axis=1) if x.shape[1] > 1 else x[:, 0].copy())
    return np.concatenate(blocks) if blocks else np.zeros(0, np.float32)


def _length(seconds: float) -> str:
    return f"{seconds / 3600:.1f} h" if seconds >= 3600 else f"{seconds:.1f} s"


def write_audio(path: str | Path, samples: np.ndarray, sample_rate: int = SAMPLE_RATE) -> None:
    """Write mono samples (S,) atomically; the format follows the suffix (.flac, .wav, .mp3).

    FLAC and WAV are written as 16-bit PCM; samples are clipped to [-1, 1].
    """
    path = Path(path)
    samples = np.clip(samples, -1.0, 1.0)
    subtype = "PCM_16" if path.suffix.lower() in (".flac", ".wav") else None
    with atomic_path(path) as tmp:
        sf.write(str(tmp), samples, sample_rate, subtype=subtype)
