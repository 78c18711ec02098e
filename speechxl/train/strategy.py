"""How the model is spread over the workers under torchrun (``train.strategy``): its wrapping, the
gradient exchange, and the whole-model state that checkpoints hold.

  ddp   every worker holds the whole model; DistributedDataParallel all-reduces the gradients (default)
  fsdp  every worker holds a shard of each parameter (FSDP2's ``fully_shard``: each encoder layer, then
        the rest of the model): a layer's weights are gathered for its forward and backward and freed
        after, its gradients reduce-scattered, so the memory for weights, gradients and AdamW's state
        falls with the worker count (the 1B and 2B presets on GPUs). Every worker must run every layer
        at every step: layer drop is refused.

One process (no torchrun) runs the model as it is. Checkpoints hold the whole model's weights under
either strategy (the same files, exported and decoded alike); the optimizer's state is kept in the
strategy's own layout, so a run resumes under the strategy it started with (the resume check refuses
another).
"""

from __future__ import annotations

import contextlib
from typing import Iterator

import torch
from torch import nn

from speechxl.config import ConfigError
from speechxl.train.distributed import Dist

STRATEGIES = ("ddp", "fsdp")


class DataParallel:
    """Whole model on every worker (or one process)."""

    def __init__(self, dist: Dist):
        self.dist = dist

    def wrap(self, model: nn.Module) -> nn.Module:
        """The module the training forward calls."""
        if self.dist.world == 1:
            return model
        return nn.parallel.DistributedDataParallel(
            model, device_ids=[self.dist.device.index] if self.dist.device.type == "cuda" else None,
            find_unused_parameters=True)

    def no_sync(self, wrapped: nn.Module) -> contextlib.AbstractContextManager:
        """A micro-batch whose gradients are kept for the next one instead of exchanged."""
        return wrapped.no_sync() if self.dist.world > 1 else contextlib.nullcontext()

    def model_state(self, model: nn.Module) -> dict[str, torch.Tensor]:
        """The whole model's weights and buffers (every worker calls it; rank 0's is the one saved)."""
        return model.state_dict()

    def optimizer_state(self, model: nn.Module, optimizer: torch.optim.Optimizer) -> dict:
        return optimizer.state_dict()

    def load(self, model: nn.Module, optimizer: torch.optim.Optimizer, model_state: dict, optimizer_state: dict
             ) -> None:
        model.load_state_dict(model_state)
        optimizer.load_state_dict(optimizer_state)

    @contextlib.contextmanager
    def whole(self, model: nn.Module) -> Iterator[None]:
        """Inside, a forward needs no other worker (validation, where workers' batch counts differ)."""
        yield


class FullySharded(DataParallel):
    """FSDP2: parameters sharded over two or more workers, each encoder layer its own unit."""

    def wrap(self, model: nn.Module) -> nn.Module:
        from torch.distributed.fsdp import fully_shard

        if any(getattr(getattr(m, "cfg", None), "layerdrop", 0) > 0 for m in model.modules()):
            raise ConfigError("train.strategy=fsdp: set the encoder's layerdrop to 0 (a layer that one worker "
                              "skips and another runs would leave the exchange of its shards waiting)")
        for layers in [m for name, m in model.named_modules() if name.endswith("layers") and
                       isinstance(m, nn.ModuleList)]:
            for layer in layers:
                fully_shard(layer)
        fully_shard(model)
        return model

    @contextlib.contextmanager
    def no_sync(self, wrapped: nn.Module) -> Iterator[None]:
        wrapped.set_requires_gradient_sync(False)
        try:
            yield
        finally:
            wrapped.set_requires_gradient_sync(True)

    def _options(self):
        from torch.distributed.checkpoint.state_dict import StateDictOptions

        return StateDictOptions(full_state_dict=True, cpu_offload=True)

    def model_state(self, model: nn.Module) -> dict[str, torch.Tensor]:
        from torch.distributed.checkpoint.state_dict import get_model_state_dict

        return get_model_state_dict(model, options=self._options())

    def optimizer_state(self, model: nn.Module, optimizer: torch.optim.Optimizer) -> dict:
        from torch.distributed.checkpoint.state_dict import get_optimizer_state_dict

        return get_optimizer_state_dict(model, optimizer, options=self._options())

    def load(self, model: nn.Module, optimizer: torch.optim.Optimizer, model_state: dict, optimizer_state: dict
             ) -> None:
        from torch.distributed.checkpoint.state_dict import (StateDictOptions, set_model_state_dict,
                                                             set_optimizer_state_dict)

        options = StateDictOptions(full_state_dict=True)  # every worker read the whole state from the files
        set_model_state_dict(model, model_state, options=options)
        set_optimizer_state_dict(model, optimizer, optimizer_state, options=options)

    @contextlib.contextmanager
    def whole(self, model: nn.Module) -> Iterator[None]:
        from torch.distributed.fsdp import FSDPModule

        units = [m for m in model.modules() if isinstance(m, FSDPModule)]
        for m in units:  # gathered once (every worker together); no forward then waits for another
            m.set_reshard_after_forward(False, recurse=False)
            m.unshard()
        try:
            yield
        finally:
            for m in units:
                m.reshard()
                m.set_reshard_after_forward(True, recurse=False)


def make_strategy(name: str, dist: Dist) -> DataParallel:
    """``name``: one of STRATEGIES (TrainConfig.validate checks it); one process runs the model as it is."""
    return FullySharded(dist) if name == "fsdp" and dist.world > 1 else DataParallel(dist)
