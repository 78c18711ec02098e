"""The trainer every training verb uses.

One update = ``accum_steps`` micro-batches. The model owns its batch: ``model(batch)`` returns
(loss summed over its ``sample_size`` items, sample_size, logs), so the trainer knows no model
family, modality or sample rate (it counts the ``audio_seconds`` a batch says it holds). The sample
size and the figures may be tensors left on the device: an update waits for the device once, after
its last micro-batch (the sample size and the finite check), and turns its figures into numbers then.
Gradients are divided by the total sample size of the update over micro-batches and workers
(fairseq's convention), clipped, and applied with
AdamW under the learning-rate schedule. A non-finite loss or gradient norm skips the update
(parameters and optimizer state untouched), is counted and logged, and after
``nonfinite_patience`` skips in a row the run stops without saving over the last good checkpoint.

A checkpoint holds everything to resume exactly: weights, optimizer, scheduler, every worker's
RNG state, every data stream's place (speechxl/data/streams.py), the step and counters, and the
resolved config.
A run started in an ``out`` directory that has checkpoints resumes from the last one.
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn
from tqdm import tqdm

from speechxl.config import ConfigError, at_least
from speechxl.data.batching import BatchPlan
from speechxl.data.streams import MixedStreams
from speechxl.data.text_batching import TextBatchPlan
from speechxl.errors import SpeechxlError
from speechxl.nn.masking import MaskedFrames
from speechxl import checkpoint as ckpt
from speechxl import cpu_threads
from speechxl.train.allocator import keep_freed_memory
from speechxl.train.strategy import STRATEGIES, make_strategy
from speechxl.train.distributed import Dist, all_gather, all_reduce_sum
from speechxl.train.metrics import Meter, MetricsWriter, as_numbers, by_language
from speechxl.train.schedules import ScheduleConfig, lr_scale

log = logging.getLogger(__name__)

@dataclass(kw_only=True)
class OptimConfig:
    """AdamW and what happens to the gradient before it is applied."""

    lr: float = 5e-4
    """Peak learning rate."""
    betas: tuple[float, float] = (0.9, 0.98)
    eps: float = 1e-6
    weight_decay: float = 0.01
    clip_norm: float = 10.0
    """Gradient norm clipping; 0 = off."""
    accum_steps: int = 1
    """Micro-batches per update (gradient accumulation)."""


@dataclass(kw_only=True)
class TrainConfig:
    """How long to train, how often to log, validate and save."""

    max_steps: int = 400_000
    max_minutes: float = 0.0
    """Stop after this much training time (summed over resumes); 0 = no limit."""
    seed: int = 1
    precision: str = "fp32"
    """fp32; bf16 (autocast; losses and the quantizer stay in fp32); or auto: bf16 where the device computes
    it natively (resolved_precision), else fp32."""
    log_every: int = 50
    valid_every: int = 1000
    save_every: int = 1000
    keep_last: int = 2
    """Step checkpoints kept besides the best."""
    nonfinite_patience: int = 10
    """Non-finite updates in a row before the run stops."""
    threads: int = 0
    """torch CPU threads; 0 = one per core that other processes leave free, followed as the run goes
    (cpu_threads.py); a count fixes it (the count changes a run's last bits)."""
    strategy: str = "ddp"
    """Under torchrun: ddp (the whole model on every worker) or fsdp (parameters sharded; train/strategy.py)."""
    checkpoint_activations: bool = False
    """Recompute each encoder layer's activations in the backward pass instead of keeping them: less
    memory for longer batches or larger models, about a third more compute."""
    compile: bool = False
    """Train through ``torch.compile(model)`` (its default backend, inductor; validation stays eager)."""
    keep_freed_memory: bool = True
    """Reuse freed memory instead of page-faulting it in again each step (glibc; see train/allocator.py)."""

    def validate(self) -> None:
        at_least(self, 0, "max_steps", "max_minutes", "threads")
        at_least(self, 1, "log_every", "valid_every", "save_every", "keep_last", "nonfinite_patience")
        if self.precision not in ("fp32", "bf16", "auto"):
            raise ConfigError(f"precision is fp32, bf16 or auto, not {self.precision!r}")
        if self.strategy not in STRATEGIES:
            raise ConfigError(f"strategy is {' or '.join(STRATEGIES)}, not {self.strategy!r}")


def resolved_precision(precision: str, device: torch.device) -> str:
    """``auto`` is bf16 where the device has bf16 arithmetic (a GPU that supports it, a CPU with AVX-512 BF16 or
    AMX), else fp32: elsewhere bf16 is emulated, slower than fp32. fp32 and bf16 stay as they are."""
    if precision != "auto":
        return precision
    if device.type == "cuda":
        native = torch.cuda.is_bf16_supported()
    else:
        cpu = torch.cpu
        native = device.type == "cpu" and (cpu._is_avx512_bf16_supported() or cpu._is_amx_tile_supported())
    return "bf16" if native else "fp32"


def make_optimizer(params: list[nn.Parameter], cfg: OptimConfig) -> torch.optim.Optimizer:
    """AdamW; the fused kernel (CPU and GPU) is 3-6x faster than the default multi-tensor one."""
    return torch.optim.AdamW(params, lr=cfg.lr, betas=cfg.betas, eps=cfg.eps, weight_decay=cfg.weight_decay,
                             fused=True)


class NonFiniteError(SpeechxlError):
    """Too many non-finite updates in a row."""


def settled_on_host(batch: dict, model: nn.Module) -> dict:
    """The batch with what the host knows settled before it goes to the device, so that the forward pass
    never waits for the device: a batch without padding goes without lengths (the encoders then need no
    padding mask), and the model's random masks are drawn (its ``draw``, where it has one: the count of
    masked frames is known before they are picked)."""
    lengths = batch.get("lengths")
    if lengths is not None and bool((lengths == batch["wav"].shape[1]).all()):
        batch = {**batch, "lengths": None}
    return model.draw(batch) if hasattr(model, "draw") else batch


def to_device(batch: dict, model: nn.Module, device: torch.device) -> dict:
    """The batch settled on the host for ``model`` (``settled_on_host``), then sent to ``device`` without waiting."""
    return {k: v.to(device, non_blocking=True) if torch.is_tensor(v) or isinstance(v, MaskedFrames) else v
            for k, v in settled_on_host(batch, model).items()}


class Trainer:
    def __init__(self, model: nn.Module, train: MixedStreams, valid: BatchPlan | TextBatchPlan | None,
                 out_dir: str | Path, config: Any, optim: OptimConfig, schedule: ScheduleConfig,
                 train_cfg: TrainConfig, dist: Dist, files: dict[str, Path] | None = None, best_metric: str = "loss",
                 saved: set[str] | None = None):
        """``saved``: the weights checkpoints hold (an adapter run's trained ones and the buffers; its frozen
        base is named by a file among ``files``); None: all of them."""
        self.saved = saved
        self.cfg, self.optim_cfg, self.sched_cfg = train_cfg, optim, schedule
        self.out, self.config, self.dist, self.files = Path(out_dir), config, dist, files or {}
        self.ckpt_root = self.out / "checkpoints"
        self.streams, self.valid_plan = train, valid
        self.best_metric = best_metric
        self.raw_model = model.to(dist.device)
        self.strategy = make_strategy(train_cfg.strategy, dist)
        self.precision = resolved_precision(train_cfg.precision, dist.device)
        if train_cfg.precision == "auto":
            log.info("precision auto: %s on this %s", self.precision, dist.device.type)
        if train_cfg.checkpoint_activations:
            checkpointed = [m for m in model.modules() if hasattr(m, "checkpoint_layers")]
            if not checkpointed:
                raise ConfigError("train.checkpoint_activations: this model has no encoder whose layers can be "
                                  "checkpointed (a Transformer or a Conformer)")
            for m in checkpointed:
                m.checkpoint_layers = True
        self.model = self.strategy.wrap(model)
        if train_cfg.compile:
            self.model = torch.compile(self.model)
        self.optimizer = make_optimizer([p for p in self.raw_model.parameters() if p.requires_grad], optim)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, lambda s: lr_scale(s, train_cfg.max_steps, schedule))
        self.step = 0
        self.skipped = self.nonfinite_run = 0
        self.trained_seconds = self.audio_seconds = 0.0
        self.best: float | None = None
        self.writer = MetricsWriter(self.out, enabled=dist.main)

    # -- checkpoints ------------------------------------------------------------------------
    def _state(self) -> dict:
        rng = {"cpu": torch.get_rng_state()}
        if torch.cuda.is_available():
            rng["cuda"] = torch.cuda.get_rng_state()
        return {
            "optimizer": self.strategy.optimizer_state(self.raw_model, self.optimizer),
            "scheduler": self.scheduler.state_dict(),
            "rng": all_gather(rng, self.dist), "step": self.step, "streams": self.streams.state(),
            "skipped": self.skipped, "trained_seconds": self.trained_seconds,
            "audio_seconds": self.audio_seconds, "best": self.best,
        }

    def save(self, valid_score: float | None) -> None:
        """Save this step; ``valid_score``: its own validation's figure (None: not validated at this
        step, so it cannot become best). The stored best already counts this checkpoint, so a
        resumed run chooses as an uninterrupted one would."""
        is_best = (valid_score is not None and math.isfinite(valid_score)
                   and (self.best is None or valid_score <= self.best))
        if is_best:
            self.best = valid_score
            if self.dist.main:
                log.info("step %d: best so far (%s %.4f)", self.step, self.best_metric, valid_score)
        state = self._state()  # every worker takes part in gathering RNG states (and a sharded model's state)
        weights = self.strategy.model_state(self.raw_model)
        if self.saved is not None:
            weights = {k: v for k, v in weights.items() if k in self.saved}
        if not self.dist.main:
            return
        name = f"step_{self.step:08d}"
        ckpt.save_checkpoint(self.ckpt_root, name, weights, state, self.config, self.files)
        ckpt.mark(self.ckpt_root, "last", name)
        if is_best:
            ckpt.mark(self.ckpt_root, "best", name)
        ckpt.prune(self.ckpt_root, self.cfg.keep_last)

    def resume(self) -> bool:
        """Load the last checkpoint of ``out``, if any; True when resumed."""
        last = ckpt.resolve(self.ckpt_root, "last")
        if last is None:
            return False
        state = ckpt.load_trainer_state(last)
        weights = ckpt.load_model_state(last)
        if self.saved is not None:  # the rest is the frozen base, already in the model
            weights = {**self.strategy.model_state(self.raw_model), **weights}
        self.strategy.load(self.raw_model, self.optimizer, weights, state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        rng = state["rng"][self.dist.rank] if self.dist.rank < len(state["rng"]) else state["rng"][0]
        torch.set_rng_state(rng["cpu"])
        if "cuda" in rng and torch.cuda.is_available():
            torch.cuda.set_rng_state(rng["cuda"])
        for k in ("step", "skipped", "trained_seconds", "audio_seconds", "best"):
            setattr(self, k, state[k])
        # a checkpoint from before streams holds the one stream's place as epoch and position
        places = state.get("streams") or {"data": {"epoch": state["epoch"], "position": state["position"], "batches": 0}}
        self.streams.load_state(places)
        self.writer.resume_at(self.step)
        log.info("resumed from %s: step %d; %s", last, self.step, "; ".join(
            f"stream {name} epoch {p['epoch']} batch {p['position']}" for name, p in places.items()))
        return True

    # -- data -------------------------------------------------------------------------------
    def _to_device(self, batch: dict) -> dict:
        return to_device(batch, self.raw_model, self.dist.device)

    def _autocast(self):
        return torch.autocast(self.dist.device.type, dtype=torch.bfloat16, enabled=self.precision == "bf16")

    # -- one update -------------------------------------------------------------------------
    def _update(self, batches, meter: Meter) -> float | None:
        """One optimizer update; returns the seconds of audio it used (all workers), or None
        when it was skipped as non-finite."""
        self.model.train()
        if hasattr(self.raw_model, "set_step"):
            self.raw_model.set_step(self.step)
        loss_sum = torch.zeros((), device=self.dist.device)
        sample_size = 0
        interval_logs = []
        # the forward pass writes buffers (BatchNorm statistics): a skipped update restores them
        buffers = [b.detach().clone() for b in self.raw_model.buffers()]
        for micro in range(self.optim_cfg.accum_steps):
            batch = self._to_device(next(batches))
            last = micro == self.optim_cfg.accum_steps - 1
            sync = contextlib.nullcontext() if last else self.strategy.no_sync(self.model)
            with sync:
                with self._autocast():
                    loss, n, logs = self.model(batch)
                loss.backward()
            loss_sum += loss.detach().float()
            sample_size = sample_size + n
            if len(self.streams.plans) > 1:  # each stream's own loss beside the mixed one
                logs = {**logs, f"loss_{batch['stream']}": loss.detach().float() / torch.as_tensor(n).clamp(min=1)}
            interval_logs.append((logs, n, batch.get("langs"), batch.get("audio_seconds", 0.0)))
        sample_size = torch.as_tensor(sample_size, dtype=torch.float32, device=loss_sum.device)
        totals = all_reduce_sum(torch.stack([loss_sum, sample_size]), self.dist)
        n_total = float(totals[1])  # the update's one wait for the device (and its figures: as_numbers below)
        if n_total > 0:  # DDP averaged the gradients over workers: undo that, divide by the sample size
            for p in self.raw_model.parameters():
                if p.grad is not None:
                    p.grad.mul_(self.dist.world / n_total)
        clip = self.optim_cfg.clip_norm if self.optim_cfg.clip_norm > 0 else float("inf")
        params = [p for p in self.raw_model.parameters() if p.grad is not None]
        norm = torch.nn.utils.clip_grad_norm_(params, clip) if params else torch.zeros(())
        grad_norm = float(norm.full_tensor() if hasattr(norm, "full_tensor") else norm)  # sharded: a DTensor
        loss_value = float(totals[0]) / max(n_total, 1)
        if not (math.isfinite(loss_value) and math.isfinite(grad_norm)) or n_total == 0:
            self.optimizer.zero_grad(set_to_none=True)
            with torch.no_grad():
                for b, saved in zip(self.raw_model.buffers(), buffers):
                    b.copy_(saved)
            self.skipped += 1
            self.nonfinite_run += 1
            log.warning("step %d: non-finite loss %s or gradient norm %s; update skipped (%d in a row)",
                        self.step, loss_value, grad_norm, self.nonfinite_run)
            self.writer.write("train", self.step, {"skipped_updates": self.skipped})
            if self.nonfinite_run >= self.cfg.nonfinite_patience:
                raise NonFiniteError(f"{self.nonfinite_run} non-finite updates in a row at step {self.step}; "
                                     f"stopped, last good checkpoint kept in {self.ckpt_root}")
            return None
        self.optimizer.step()
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.nonfinite_run = 0
        self.step += 1
        for logs, n, langs, _ in as_numbers(interval_logs):
            meter.add(by_language(logs, langs), n)
        meter.add({"loss": loss_value, "grad_norm": grad_norm}, n_total)
        audio = sum(s for *_, s in interval_logs) * self.dist.world
        self.audio_seconds += audio
        return audio

    # -- validation -------------------------------------------------------------------------
    def validate(self) -> dict[str, float] | None:
        if self.valid_plan is None:
            return None
        self.model.eval()
        meter = Meter()
        totals = torch.zeros(2, device=self.dist.device)
        with torch.no_grad(), torch.random.fork_rng(devices=[]), self._autocast(), self.strategy.whole(self.raw_model):
            torch.manual_seed(self.cfg.seed)  # the same masks and distractors every time
            for batch in self.valid_plan.iterate(0):
                loss, n, logs = self.raw_model(self._to_device(batch))
                totals += torch.stack([loss.float(), torch.as_tensor(n, dtype=torch.float32, device=totals.device)])
                n, logs = as_numbers((n, logs))
                meter.add(by_language(logs, batch.get("langs")), n)
        totals = all_reduce_sum(totals, self.dist)
        meter = Meter.combined(all_gather(meter, self.dist))  # every worker's share of the set
        figures = {**meter.result(), "loss": float(totals[0] / totals[1].clamp(min=1))}
        if self.dist.main:
            log.info("step %d valid: %s", self.step, ", ".join(
                f"{k} {figures[k]:.4g}" for k in ("loss", "error_rate", "accuracy") if k in figures))
        if not math.isfinite(figures["loss"]):
            log.warning("step %d: the validation loss is %s: the model's weights or buffers hold non-finite "
                        "values; this checkpoint cannot be best", self.step, figures["loss"])
        self.writer.write("valid", self.step, figures)
        return figures

    # -- the loop ---------------------------------------------------------------------------
    def fit(self) -> dict[str, float]:
        """Train to max_steps (or max_minutes), validating and saving as configured."""
        if self.cfg.threads:
            cpu_threads.fix(self.cfg.threads)
        if self.cfg.keep_freed_memory and self.dist.device.type == "cpu":  # a CPU's activations live in the heap
            keep_freed_memory()
        batches = iter(self.streams)
        meter, interval_start, interval_audio = Meter(), time.time(), 0.0
        valid, valid_at, saved_at, scored = None, -1, -1, False
        bar = tqdm(total=self.cfg.max_steps, initial=self.step, desc="train", unit="step",
                   disable=not self.dist.main, dynamic_ncols=True, mininterval=2.0)
        budget = self.cfg.max_minutes * 60 if self.cfg.max_minutes > 0 else float("inf")
        while self.step < self.cfg.max_steps and self.trained_seconds < budget:
            if self.dist.device.type == "cpu":
                cpu_threads.follow_load()
            t0 = time.time()
            audio = self._update(batches, meter)
            self.trained_seconds += time.time() - t0
            if audio is None:
                continue
            interval_audio += audio
            bar.update()
            if self.step % self.cfg.log_every == 0:
                figures = Meter.combined(all_gather(meter, self.dist)).result()  # every worker's batches
                elapsed = time.time() - interval_start
                figures.update(lr=self.scheduler.get_last_lr()[0], steps_per_s=self.cfg.log_every / elapsed,
                               audio_s_per_s=interval_audio / elapsed, audio_hours=self.audio_seconds / 3600,
                               skipped_updates=self.skipped)
                self.writer.write("train", self.step, figures)
                bar.set_postfix_str(f"loss {figures['loss']:.3f}" + (
                    f" acc {figures['accuracy']:.3f}" if "accuracy" in figures else "") + (
                    f" | {interval_audio / elapsed / 3600:.4f} audio-h/s ({interval_audio / elapsed:.1f} s/s)"
                    if interval_audio else ""))
                meter, interval_start, interval_audio = Meter(), time.time(), 0.0
            if self.step % self.cfg.valid_every == 0:
                valid, valid_at = self.validate(), self.step
            if self.step % self.cfg.save_every == 0:
                scored = valid is not None and valid_at == self.step
                self.save(valid[self.best_metric] if scored else None)
                saved_at = self.step
        bar.close()
        if valid is None or valid_at != self.step:  # the final weights are always validated
            valid, valid_at = self.validate(), self.step
        if saved_at != self.step or (not scored and valid is not None):  # and saved with their own figure
            self.save(valid[self.best_metric] if valid is not None else None)
        self.writer.close()
        best = ckpt.resolve(self.ckpt_root, "best") if self.dist.main else None
        if best is not None:
            log.info("best checkpoint: %s (%s %.4f)", best, self.best_metric, self.best)
        return valid or {}
