"""Pretraining runs that are killed, resumed, fed non-finite losses or changed data, or started twice."""

import json
import shutil

import pytest
import torch

from speechxl import checkpoint as ckpt
from speechxl.config import ConfigError
from speechxl.train.pretrain import load_pretrain_config, pretrain
from speechxl.train.trainer import NonFiniteError, Trainer
from tests.conftest import TINY_CONFORMER, TINY_W2V, write_audio_set
from tests.train.runs import (assert_same_run, config, data, final_weights,  # noqa: F401  (data: the fixture)
                              killed_after_step_3_then_resumed, losses, nan_loss)


def test_killed_run_resumes_bit_identically(data, tmp_path, monkeypatch):
    run = lambda out: pretrain(config(data, out, "train.max_steps=8", "train.save_every=3"))  # noqa: E731
    run(tmp_path / "a")
    killed_after_step_3_then_resumed(run, tmp_path / "b", monkeypatch)
    assert_same_run(tmp_path / "a", tmp_path / "b")
    assert len(losses(tmp_path / "a")) == 8


def test_steps_logged_after_the_last_checkpoint_are_not_logged_twice(data, tmp_path, monkeypatch):
    """Killed after logging step 5 (last checkpoint: 3), half-way through a line: the resumed run
    logs 4 and 5 again, and log.jsonl holds each step once, as an uninterrupted run's does."""
    from speechxl.train.metrics import MetricsWriter

    run = lambda out: pretrain(config(data, out, "train.max_steps=8", "train.save_every=3"))  # noqa: E731
    run(tmp_path / "a")
    write = MetricsWriter.write

    def write_then_die(self, split, step, figures):
        write(self, split, step, figures)
        if split == "train" and step == 5:
            self.jsonl.write('{"split": "train", "st')  # torn by the kill
            self.jsonl.flush()
            raise KeyboardInterrupt("killed after logging step 5")

    with monkeypatch.context() as patch:
        patch.setattr(MetricsWriter, "write", write_then_die)
        with pytest.raises(KeyboardInterrupt):
            run(tmp_path / "b")
    run(tmp_path / "b")
    assert_same_run(tmp_path / "a", tmp_path / "b")
    assert [s for s, _ in losses(tmp_path / "b")] == list(range(1, 9))


def test_a_killed_run_with_two_streams_resumes_bit_identically(data, tmp_path, monkeypatch):
    train, valid = data
    other = write_audio_set(tmp_path / "other", n=5, langs=("cc",), seed=2)
    streams = [f"valid_data={valid}", f"streams.main.data={train}", "streams.main.weight=1",
               f"streams.other.data={other}", "streams.other.weight=2", "train.max_steps=8", "train.save_every=3"]
    run = lambda out: pretrain(load_pretrain_config(None, TINY_W2V + streams + [f"out={out}"]))  # noqa: E731
    run(tmp_path / "a")
    killed_after_step_3_then_resumed(run, tmp_path / "b", monkeypatch)
    assert_same_run(tmp_path / "a", tmp_path / "b")
    places = ckpt.load_trainer_state(ckpt.resolve(tmp_path / "b" / "checkpoints", "last"))["streams"]
    assert (places["main"]["batches"], places["other"]["batches"]) == (3, 5)  # 8 batches at 1:2
    rows = [json.loads(line) for line in open(tmp_path / "a" / "log.jsonl")]
    assert all("loss_main" in r or "loss_other" in r for r in rows if r["split"] == "train" and "loss" in r)
    assert set(json.loads((tmp_path / "a" / "sampling.json").read_text())) == {"main", "other"}


def test_a_checkpoint_from_before_streams_resumes_at_its_place(data, tmp_path):
    pretrain(config(data, tmp_path / "a", "train.max_steps=6", "train.save_every=3"))
    shutil.copytree(tmp_path / "a", tmp_path / "b")  # an experiment dir moved elsewhere resumes there
    root = tmp_path / "b" / "checkpoints"
    shutil.rmtree(root / "step_00000006")
    ckpt.mark(root, "last", "step_00000003")
    last = root / "step_00000003"
    state = ckpt.load_trainer_state(last)
    place = state.pop("streams")["data"]
    torch.save({**state, "epoch": place["epoch"], "position": place["position"]}, last / "trainer.pt")
    pretrain(config(data, tmp_path / "b", "train.max_steps=6", "train.save_every=3"))
    a, b = final_weights(tmp_path / "a"), final_weights(tmp_path / "b")
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_nonfinite_loss_skips_the_update_and_keeps_the_state(data, tmp_path, monkeypatch):
    cfg = config(data, tmp_path / "nan", "train.max_steps=4")
    seen = {}
    update = Trainer._update

    def poisoned(self, batches, meter):
        if self.step == 2 and "before" not in seen:
            seen["before"] = ({k: v.clone() for k, v in self.raw_model.state_dict().items()},
                              {k: {n: t.clone() for n, t in s.items() if torch.is_tensor(t)}
                               for k, s in self.optimizer.state_dict()["state"].items()})
            with nan_loss(self.raw_model):
                result = update(self, batches, meter)
            seen["after"] = ({k: v.clone() for k, v in self.raw_model.state_dict().items()},
                             {k: {n: t.clone() for n, t in s.items() if torch.is_tensor(t)}
                              for k, s in self.optimizer.state_dict()["state"].items()})
            seen["result"], seen["skipped"] = result, self.skipped
            return result
        return update(self, batches, meter)

    monkeypatch.setattr(Trainer, "_update", poisoned)
    pretrain(cfg)
    (w0, o0), (w1, o1) = seen["before"], seen["after"]
    assert seen["result"] is None and seen["skipped"] == 1
    assert all(torch.equal(w0[k], w1[k]) for k in w0)
    assert all(torch.equal(o0[k][n], o1[k][n]) for k in o0 for n in o0[k])
    assert ckpt.resolve(tmp_path / "nan" / "checkpoints", "last").name == "step_00000004"  # training went on
    rows = [json.loads(line) for line in open(tmp_path / "nan" / "log.jsonl")]
    assert any(r.get("skipped_updates") == 1 for r in rows)


def test_a_skipped_update_leaves_batchnorm_statistics_as_they_were(data, tmp_path, monkeypatch):
    """A NaN batch writes NaN into BatchNorm's running statistics during the forward pass; the
    skipped update must undo that, or every later validation and fine-tuning inherits NaN."""
    from pathlib import Path

    train, valid = data
    preset = Path(__file__).resolve().parents[2] / "recipes/pretrain/bestrq_conformer_tiny.yaml"
    cfg = load_pretrain_config(preset, TINY_CONFORMER + [
        "model.quantizer.codebook_size=64", "model.encoder.conv_norm=batch", "batch.max_samples=64000",
        "batch.max_seconds=2.0", "batch.min_seconds=0.5", "batch.num_workers=0", "schedule.warmup_steps=1",
        "train.log_every=1", "train.valid_every=3", "train.save_every=3", "train.max_steps=3",
        f"data={train}", f"valid_data={valid}", f"out={tmp_path / 'bn'}"])
    seen = {}
    update = Trainer._update

    def nan_batch_at_step_1(self, batches, meter):
        if self.step != 1 or "before" in seen:
            return update(self, batches, meter)
        seen["before"] = {k: v.clone() for k, v in self.raw_model.named_buffers()}
        poisoned = ({**b, "wav": b["wav"] * float("nan")} for b in batches)
        result = update(self, poisoned, meter)
        seen["after"] = {k: v.clone() for k, v in self.raw_model.named_buffers()}
        seen["result"] = result
        return result

    monkeypatch.setattr(Trainer, "_update", nan_batch_at_step_1)
    figures = pretrain(cfg)
    assert seen["result"] is None  # skipped
    running = [k for k in seen["before"] if "running_mean" in k]
    assert running and all(torch.equal(seen["before"][k], seen["after"][k]) for k in seen["before"])
    assert figures["loss"] == figures["loss"]  # validation after it is finite


def test_nonfinite_patience_stops_without_overwriting_the_checkpoint(data, tmp_path, monkeypatch):
    out = tmp_path / "stop"
    pretrain(config(data, out, "train.max_steps=2", "train.save_every=2"))
    before = final_weights(out)
    update = Trainer._update

    def always_nan(self, batches, meter):
        with nan_loss(self.raw_model):
            return update(self, batches, meter)

    monkeypatch.setattr(Trainer, "_update", always_nan)
    with pytest.raises(NonFiniteError, match="3 non-finite updates in a row"):
        pretrain(config(data, out, "train.max_steps=6", "train.save_every=1", "train.nonfinite_patience=3"))
    after = final_weights(out)
    assert ckpt.resolve(out / "checkpoints", "last").name == "step_00000002"
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_resuming_on_changed_data_is_refused_and_restart_starts_afresh_keeping_the_old_run(data, tmp_path):
    """The checkpoint holds each stream's data fingerprint: the same data dir with other contents
    would resume at a place in another plan. restart=true moves the old run aside, deleting nothing."""
    from speechxl.data.manifest import read_manifest, write_manifest

    train, valid = data
    mine = tmp_path / "train"
    write_manifest(read_manifest(train), mine)
    out = tmp_path / "run"
    run = lambda *extra: pretrain(load_pretrain_config(None, TINY_W2V + [  # noqa: E731
        f"data={mine}", f"valid_data={valid}", f"out={out}", *extra]))
    run("train.max_steps=2")
    write_manifest(read_manifest(train)[:-2], mine)  # two utterances fewer, same dir
    with pytest.raises(ConfigError, match=r"^stream data: its data changed since the checkpoint \(16 utterances, "
                                          r"\w+; now 14 utterances, \w+\).*restart=true$"):
        run("train.max_steps=4")
    old = final_weights(out)
    run("train.max_steps=3", "restart=true")
    assert ckpt.resolve(out / "checkpoints", "last").name == "step_00000003"
    assert [s for s, _ in losses(out)] == [1, 2, 3]  # a run of its own, from step 1
    kept = ckpt.load_model_state(ckpt.resolve(out / "previous_1" / "checkpoints", "last"))
    assert all(torch.equal(old[k], kept[k]) for k in old)
    run("train.max_steps=4")  # and it resumes as any run does
    assert ckpt.resolve(out / "checkpoints", "last").name == "step_00000004"


def test_a_second_trainer_in_one_experiment_dir_is_refused_naming_the_first(data, tmp_path):
    import os

    from speechxl.errors import SpeechxlError
    from speechxl.dir_lock import lock_dir

    held = lock_dir(tmp_path / "busy")  # what a running trainer holds
    with pytest.raises(SpeechxlError, match=rf"busy is in use by pid {os.getpid()} on "):
        pretrain(config(data, tmp_path / "busy", "train.max_steps=1"))
    held.close()  # the first one ends (a kill releases it too)
    pretrain(config(data, tmp_path / "busy", "train.max_steps=1"))
