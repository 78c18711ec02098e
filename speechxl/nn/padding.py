"""Padding masks, kept only where some frame is padding."""

from __future__ import annotations

import torch

READ_FREELY = {"cpu"}
"""Devices whose values the host reads without waiting (the tests take the CPU out to act as an accelerator)."""


def padding_mask(valid: torch.Tensor | None) -> torch.Tensor | None:
    """``valid`` (B, T), True = a real frame, or None when no frame is padding (the faster attention path).
    On the CPU an all-True mask is found and dropped here; on an accelerator that would make the host wait for
    the device, so a caller with a batch without padding gives no mask (the trainer gives such a batch no
    lengths); a traced or exported graph keeps the mask (its shapes vary)."""
    if valid is None or valid.device.type not in READ_FREELY or torch.compiler.is_compiling():
        return valid
    return None if bool(valid.all()) else valid
