"""A guard for code meant to run without waiting for the device: on a GPU, reading a tensor's value on
the host (``int(t)``, ``.item()``, ``.tolist()``) or a shape that depends on values (boolean indexing,
``nonzero``) stops the host until the device catches up. On the CPU nothing waits, so the tests look for
the operations themselves."""

from __future__ import annotations

import torch
from torch.utils._python_dispatch import TorchDispatchMode

WAITING = {torch.ops.aten._local_scalar_dense.default, torch.ops.aten.nonzero.default,
           torch.ops.aten.masked_select.default, torch.ops.aten.index.Tensor}


class NoHostReads(TorchDispatchMode):
    """Raises on an operation that would wait for the device (boolean-mask indexing among them)."""

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        if func in WAITING and (func is not torch.ops.aten.index.Tensor
                                or any(i is not None and i.dtype == torch.bool for i in args[1])):
            raise AssertionError(f"{func} waits for the device")
        return func(*args, **(kwargs or {}))
