"""Short pretraining runs on a tiny synthetic set, and what tests compare them by: shared by the tests of
resuming, of faults, of run options and of the other families' pretraining."""

import contextlib
import json

import pytest
import torch

from speechxl import checkpoint as ckpt
from speechxl.train.pretrain import load_pretrain_config
from speechxl.train.trainer import Trainer
from tests.conftest import TINY_W2V, write_audio_set


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("audio")
    return write_audio_set(root / "train", n=16), write_audio_set(root / "valid", n=4, seed=1)


def config(data, out, *extra):
    train, valid = data
    return load_pretrain_config(None, TINY_W2V + [f"data={train}", f"valid_data={valid}", f"out={out}", *extra])


def losses(out):
    rows = [json.loads(line) for line in open(out / "log.jsonl")]
    return [(r["step"], r["loss"]) for r in rows if r["split"] == "train" and "loss" in r]


def final_weights(out):
    return ckpt.load_model_state(ckpt.resolve(out / "checkpoints", "last"))


@contextlib.contextmanager
def nan_loss(model):
    """The model's loss turns NaN (its forward is wrapped while inside)."""
    forward = model.forward
    model.forward = lambda batch: (lambda loss, n, logs: (loss * float("nan"), n, logs))(*forward(batch))
    try:
        yield
    finally:
        del model.forward


def killed_after_step_3_then_resumed(run, out, monkeypatch):
    """``run(out)`` killed right after its step-3 checkpoint, then run again (resumed)."""
    save = Trainer.save

    def save_then_die(self, valid_loss):
        save(self, valid_loss)
        if self.step == 3:
            raise KeyboardInterrupt("killed after step 3")

    with monkeypatch.context() as patch:
        patch.setattr(Trainer, "save", save_then_die)
        with pytest.raises(KeyboardInterrupt):
            run(out)
    assert ckpt.resolve(out / "checkpoints", "last").name == "step_00000003"
    run(out)


def assert_same_run(a, b):
    wa, wb = final_weights(a), final_weights(b)
    assert wa.keys() == wb.keys()
    assert all(torch.equal(wa[k], wb[k]) for k in wa), [k for k in wa if not torch.equal(wa[k], wb[k])][:5]
    assert losses(a) == losses(b)
