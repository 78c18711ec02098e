"""A recording's CTC log-probabilities, whatever its length, in bounded memory.

The recording goes through the model in windows of ``window`` seconds of output frames, each with
``context`` seconds of audio on both sides that the model sees and whose frames are thrown away;
the kept frames are stitched in order. Memory is bounded by one window (attention grows with the
square of its input), the result is (T, V) for the whole recording with T = the frames the model
would give it in one pass, and with ``window`` at least the recording's length it is that pass.
Windows start on frame boundaries, so frame t of a window is frame t of the recording.
"""

from __future__ import annotations

import numpy as np
import torch

from speechxl.data.audio import SAMPLE_RATE
from speechxl.decode.model import LoadedModel


def windowed_log_probs(model: LoadedModel, samples: np.ndarray, window: float = 20.0,
                       context: float = 2.0, lang: str | None = None) -> torch.Tensor:
    """log_probs (T, V) on the CPU of 16 kHz ``samples`` (S,) through a CTC model (``lang``: the language
    of the recording, for a model with language adapters)."""
    net, frame_shift_ms = model.net, model.card.frame_shift_ms
    hop = round(frame_shift_ms * SAMPLE_RATE / 1000)  # samples per output frame
    total = int(net.backbone.frontend.output_lengths(torch.tensor([samples.size]))[0])
    per_window, ctx = max(1, round(window * 1000 / frame_shift_ms)), round(context * 1000 / frame_shift_ms)
    pieces = []
    for first in range(0, total, per_window):
        last = min(first + per_window, total)  # output frames [first, last) are kept
        a = max(0, first - ctx)
        chunk = samples[a * hop: min(samples.size, (last + ctx) * hop + 2 * hop)]  # + the frontend's window overhang
        wav = torch.from_numpy(np.ascontiguousarray(chunk, dtype=np.float32))[None]
        lp, frames = model.log_probs(wav, torch.tensor([chunk.size]), lang)
        pieces.append(lp[0, first - a: min(last - a, int(frames[0]))].cpu())
    out = torch.cat(pieces) if pieces else torch.zeros(0, net.head.out_features)
    if out.shape[0] != total:
        raise RuntimeError(f"windowed emissions gave {out.shape[0]} frames for {total}: the frontend's frames "
                           f"are not {hop} samples apart")
    return out
