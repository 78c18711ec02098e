"""The pretrain verb: exact resume, non-finite updates, init from checkpoints, torchrun."""

import contextlib
import json
import os
import shutil
import subprocess
import sys

import pytest
import torch
import yaml

from speechxl import checkpoint as ckpt
from speechxl.config import ConfigError
from speechxl.train.pretrain import load_pretrain_config, pretrain
from speechxl.train.trainer import NonFiniteError, TrainConfig, Trainer, resolved_precision
from tests.conftest import TINY_CONFORMER, TINY_CTC, TINY_W2V, TINY_W2V_BERT, write_audio_set


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


def test_outputs_and_continued_pretraining_from_a_checkpoint(data, tmp_path):
    out = tmp_path / "first"
    figures = pretrain(config(data, out, "train.max_steps=3"))
    assert {"loss", "accuracy", "code_perplexity", "prob_perplexity"} <= set(figures)
    assert (out / "config.yaml").is_file() and (out / "sampling.json").is_file()
    assert list((out / "tensorboard").iterdir())
    state = ckpt.load_trainer_state(ckpt.resolve(out / "checkpoints", "last"))  # weights_only=True
    assert state["step"] == 3 and len(state["rng"]) == 1
    # continued pretraining takes the architecture of the initial model, whatever the preset says
    cont = tmp_path / "cont"
    pretrain(config(data, cont, "train.max_steps=1", f"init={out}", "model.encoder.num_layers=5"))
    saved = load_pretrain_config(cont / "config.yaml")
    assert saved.model.encoder.num_layers == 2 and saved.init == {"speech": str(out)}
    # init.<part> names the part; init=<path> is the speech part; a part the family lacks is refused
    assert load_pretrain_config(None, TINY_W2V + [f"init.speech={out}", "data=d", "out=o"]).init == saved.init
    with pytest.raises(ConfigError, match=r"^init.text: a wav2vec2 model has no text part; its parts: speech$"):
        load_pretrain_config(None, TINY_W2V + [f"init={out}", f"init.text={out}", "data=d", "out=o"])
    # a run saved before parts (init: <path>) resumes
    old = yaml.safe_load((cont / "config.yaml").read_text())
    (cont / "config.yaml").write_text(yaml.safe_dump({**old, "init": str(out)}))
    pretrain(config(data, cont, "train.max_steps=2", f"init={out}"))
    assert ckpt.resolve(cont / "checkpoints", "last").name == "step_00000002"


def test_continued_pretraining_from_a_hugging_face_directory(data, tmp_path):
    transformers = pytest.importorskip("transformers")
    hf_cfg = transformers.Wav2Vec2Config(
        hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=48,
        conv_dim=(16, 16, 16, 16), conv_kernel=(10, 3, 3, 2), conv_stride=(5, 2, 2, 2), conv_bias=True,
        feat_extract_norm="layer", do_stable_layer_norm=True, num_conv_pos_embeddings=16,
        num_conv_pos_embedding_groups=2, num_codevectors_per_group=8, codevector_dim=16, proj_codevector_dim=16)
    torch.manual_seed(0)
    hf = transformers.Wav2Vec2ForPreTraining(hf_cfg)
    hf.save_pretrained(tmp_path / "hf")
    out = tmp_path / "cont"
    pretrain(config(data, out, "train.max_steps=2", f"init={tmp_path / 'hf'}"))
    cfg = load_pretrain_config(out / "config.yaml")
    assert cfg.model.encoder.pre_norm and cfg.model.frontend.norm == "layer"
    # the weights started from the Hugging Face model: the frontend barely moved in 2 updates
    w = final_weights(out)["backbone.frontend.conv_layers.0.conv.weight"]
    ref = hf.state_dict()["wav2vec2.feature_extractor.conv_layers.0.conv.weight"]
    assert (w - ref).abs().max() < 0.05


def test_torchrun_two_processes(data, tmp_path):
    train, valid = data
    out = tmp_path / "ddp"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--standalone",
           "-m", "speechxl", "pretrain", *TINY_W2V, f"data={train}", f"valid_data={valid}", f"out={out}",
           "train.max_steps=3"]
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    state = ckpt.load_trainer_state(ckpt.resolve(out / "checkpoints", "last"))
    assert state["step"] == 3 and len(state["rng"]) == 2
    assert not torch.equal(state["rng"][0]["cpu"], state["rng"][1]["cpu"])  # workers draw different masks
    # figures by language (aa and bb alternate in the set), the workers' meters combined: validation's
    # line has both, and the training lines between them
    rows = [json.loads(line) for line in open(out / "log.jsonl")]
    for split in ("train", "valid"):
        keys = {k for r in rows if r["split"] == split for k in r}
        assert {"loss/aa", "loss/bb", "accuracy/aa", "accuracy/bb"} <= keys, (split, sorted(keys))



def test_torchrun_validation_counts_every_workers_share(data, tmp_path):
    """The best checkpoint is chosen on all of dev, not on rank 0's half."""
    from speechxl.data.manifest import Utterance, read_manifest, write_manifest
    from speechxl.text.lang_dir import make_lang_dir

    train, valid = data
    labelled = tmp_path / "labelled"
    write_manifest([Utterance(**{**u.__dict__, "text": "ab ba"}) for u in read_manifest(valid)], labelled)
    make_lang_dir("chars", labelled, tmp_path / "lang_char")
    out = tmp_path / "ddp"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--standalone",
           "-m", "speechxl", "finetune", *TINY_CTC, "units=chars", f"lang_dir={tmp_path / 'lang_char'}",
           f"data={labelled}", f"valid_data={labelled}", f"out={out}", "train.max_steps=1"]
    r = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"}, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    valid_rows = [json.loads(x) for x in (out / "log.jsonl").read_text().splitlines() if '"valid"' in x]
    assert valid_rows[-1]["ref_tokens"] == 5 * len(read_manifest(labelled))  # "ab ba": a b | b a


FAMILY_PRESETS = {  # preset: (family, encoder type, overrides)
    "bestrq_conformer_tiny": ("bestrq", "conformer", TINY_CONFORMER + ["model.quantizer.codebook_size=64"]),
    "w2v_bert_tiny": ("w2v-bert", "conformer", TINY_W2V_BERT),
    "wav2vec2_conformer_tiny": ("wav2vec2", "conformer", TINY_CONFORMER + [
        "model.frontend.conv_dim=[32,32,32,32]", "model.frontend.conv_kernel=[10,3,3,2]",
        "model.frontend.conv_stride=[5,2,2,2]", "model.quantizer.entries=8", "model.quantizer.dim=16",
        "model.objective.final_dim=16", "model.objective.num_negatives=5"]),
}


@pytest.mark.parametrize("preset", sorted(FAMILY_PRESETS))
def test_other_families_pretrain_then_finetune(preset, data, tmp_path):
    from pathlib import Path

    from speechxl.data.manifest import Utterance, write_manifest
    from speechxl.text.lang_dir import make_lang_dir
    from speechxl.train.finetune import finetune, load_finetune_config

    root = Path(__file__).resolve().parents[2]
    family, encoder, overrides = FAMILY_PRESETS[preset]
    train, valid = data
    batch = ["batch.max_samples=64000", "batch.max_seconds=2.0", "batch.min_seconds=0.5", "batch.num_workers=0",
             "train.log_every=1", "train.valid_every=100", "train.save_every=100", "train.max_steps=2",
             "schedule.warmup_steps=1"]
    out = tmp_path / "pre"
    figures = pretrain(load_pretrain_config(root / f"recipes/pretrain/{preset}.yaml", overrides + batch + [
        f"data={train}", f"valid_data={valid}", f"out={out}"]))
    assert figures["loss"] > 0 and "accuracy" in figures
    saved = load_pretrain_config(out / "config.yaml")
    assert saved.family == family and saved.model.encoder.type == encoder
    # fine-tuning takes the family and architecture from init
    from speechxl.data.manifest import read_manifest

    labelled = tmp_path / "labelled"
    write_manifest([Utterance(**{**u.__dict__, "text": "ab ba"}) for u in read_manifest(train)], labelled)
    make_lang_dir("chars", labelled, tmp_path / "lang_char")
    ft = load_finetune_config(root / "recipes/finetune/ctc_tiny.yaml", batch + [
        f"init={out}", "units=chars", f"lang_dir={tmp_path / 'lang_char'}", f"data={labelled}", f"valid_data={labelled}",
        f"out={tmp_path / 'ctc'}", "batch.crop_to_shortest=false", "ctc.freeze_encoder_steps=0",
        "ctc.mask_channel.length=4", "require_learning=false"])
    assert ft.family == family and ft.model.encoder.type == encoder  # the part types come from init too
    assert finetune(ft)["loss"] > 0


def test_a_second_trainer_in_one_experiment_dir_is_refused_naming_the_first(data, tmp_path):
    import os

    from speechxl.errors import SpeechxlError
    from speechxl.train.exp_lock import lock_experiment

    held = lock_experiment(tmp_path / "busy")  # what a running trainer holds
    with pytest.raises(SpeechxlError, match=rf"busy is in use by pid {os.getpid()} on "):
        pretrain(config(data, tmp_path / "busy", "train.max_steps=1"))
    held.close()  # the first one ends (a kill releases it too)
    pretrain(config(data, tmp_path / "busy", "train.max_steps=1"))


def test_best_is_always_a_validated_checkpoint_that_knows_its_own_score(data, tmp_path):
    """Saves between validations cannot become best with a stale score; the end-of-run validation
    counts; the stored best includes the checkpoint's own score (so a resume chooses the same)."""
    out = tmp_path / "best"
    pretrain(config(data, out, "train.max_steps=5", "train.save_every=1", "train.valid_every=2",
                    "train.keep_last=10"))
    valid = {r["step"]: r["loss"] for r in map(json.loads, (out / "log.jsonl").read_text().splitlines())
             if r["split"] == "valid"}
    assert sorted(valid) == [2, 4, 5]
    best = ckpt.resolve(out / "checkpoints", "best")
    step = int(best.name.split("_")[1])
    assert valid[step] == min(valid.values())
    assert ckpt.load_trainer_state(best)["best"] == pytest.approx(valid[step], abs=1e-5)


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


def test_train_log_holds_the_validations_and_names_the_best_checkpoint(data, tmp_path):
    out = tmp_path / "run"
    pretrain(config(data, out, "train.max_steps=4", "train.valid_every=2", "train.save_every=2"))
    text = (out / "train.log").read_text(encoding="utf-8")
    assert "step 2 valid: loss" in text and "step 4 valid: loss" in text and "\r" not in text
    best = ckpt.resolve(out / "checkpoints", "best")
    assert f"best checkpoint: {best} (loss " in text


@pytest.mark.parametrize("encoder", ["transformer", "conformer"])
def test_activation_checkpointing_trains_the_same_model(data, tmp_path, encoder):
    from pathlib import Path

    preset = Path(__file__).resolve().parents[2] / "recipes/pretrain/bestrq_conformer_tiny.yaml"
    small = ["train.max_steps=3", "model.encoder.layerdrop=0.0", "model.encoder.dropout=0.1"]
    conformer = TINY_CONFORMER + ["model.quantizer.codebook_size=64", f"data={data[0]}", "batch.max_samples=64000",
                                  "batch.max_seconds=2.0", "batch.min_seconds=0.5", "batch.num_workers=0",
                                  "train.log_every=1"]

    def run(out, *more):
        pretrain(config(data, out, *small, *more) if encoder == "transformer" else
                 load_pretrain_config(preset, conformer + small + [f"out={out}", *more]))
    run(tmp_path / "plain")
    run(tmp_path / "checkpointed", "train.checkpoint_activations=true")
    a, b = final_weights(tmp_path / "plain"), final_weights(tmp_path / "checkpointed")
    assert all(torch.allclose(a[k], b[k], atol=1e-6) for k in a)  # same dropout masks, statistics counted once
    assert len(losses(tmp_path / "checkpointed")) == 3


def test_activation_checkpointing_of_a_model_without_layers_to_checkpoint_is_refused(data, tmp_path):
    from tests.models.test_cpc import ROOT

    cfg = load_pretrain_config(ROOT / "recipes/pretrain/cpc_tiny.yaml", [
        f"data={data[0]}", f"out={tmp_path}", "train.checkpoint_activations=true", "batch.num_workers=0",
        "batch.max_samples=64000", "batch.max_seconds=2.0", "batch.min_seconds=0.5"])
    with pytest.raises(ConfigError, match="no encoder whose layers can be checkpointed"):
        pretrain(cfg)


@pytest.mark.parametrize("has_bf16", [False, True])
def test_precision_auto_is_bf16_only_where_the_cpu_computes_it(data, tmp_path, monkeypatch, has_bf16):
    """train.precision=auto trains exactly as fp32 on a CPU without AVX-512 BF16 or AMX, as bf16 on one with."""
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: has_bf16)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False)
    assert resolved_precision("auto", torch.device("cpu")) == ("bf16" if has_bf16 else "fp32")
    assert resolved_precision("fp32", torch.device("cpu")) == "fp32"
    assert resolved_precision("auto", torch.device("meta")) == "fp32"
    pretrain(config(data, tmp_path / "auto", "train.max_steps=2", "train.precision=auto"))
    pretrain(config(data, tmp_path / "named", "train.max_steps=2", f"train.precision={'bf16' if has_bf16 else 'fp32'}"))
    assert_same_run(tmp_path / "auto", tmp_path / "named")
    assert f"precision auto: {'bf16' if has_bf16 else 'fp32'} on this cpu" in (tmp_path / "auto/train.log").read_text()


def test_an_unknown_precision_is_refused():
    with pytest.raises(ConfigError, match="precision is fp32, bf16 or auto, not 'fp16'"):
        TrainConfig(precision="fp16").validate()


@pytest.mark.slow
def test_a_compiled_model_trains_like_the_eager_one(data, tmp_path):
    def run(out, *more):
        pretrain(config(data, out, "train.max_steps=3", "model.encoder.layerdrop=0.0", *more))

    run(tmp_path / "eager")
    run(tmp_path / "compiled", "train.compile=true")
    a, b = final_weights(tmp_path / "eager"), final_weights(tmp_path / "compiled")
    assert a.keys() == b.keys() and all(a[k].shape == b[k].shape for k in a)  # without torch.compile's wrapper names
    # the compiled graph draws its masks and Gumbel noise from its own random stream: not the same
    # numbers as eager's, so the runs agree in what they log, not to the bit
    assert [s for s, _ in losses(tmp_path / "compiled")] == [1, 2, 3]
    assert all(0 < loss < 2 * losses(tmp_path / "eager")[0][1] for _, loss in losses(tmp_path / "compiled"))


def torchrun(args, out, *extra):
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--standalone",
           "-m", "speechxl", "pretrain", *args, f"out={out}", *extra]
    r = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"}, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]


def test_torchrun_fsdp_trains_as_ddp_does_saves_whole_weights_and_resumes(data, tmp_path):
    train, valid = data
    args = [*TINY_W2V, f"data={train}", f"valid_data={valid}", "model.encoder.layerdrop=0.0", "train.save_every=2"]
    torchrun(args, tmp_path / "ddp", "train.max_steps=3")
    torchrun(args, tmp_path / "fsdp", "train.max_steps=2", "train.strategy=fsdp")
    torchrun(args, tmp_path / "fsdp", "train.max_steps=3", "train.strategy=fsdp")  # resumed at step 2
    ddp, fsdp = final_weights(tmp_path / "ddp"), final_weights(tmp_path / "fsdp")
    assert ddp.keys() == fsdp.keys() and all(ddp[k].shape == fsdp[k].shape for k in ddp)  # whole, not shards
    assert all(torch.allclose(ddp[k], fsdp[k], atol=1e-5) for k in ddp)
    assert [s for s, _ in losses(tmp_path / "fsdp")] == [1, 2, 3]


def test_fsdp_refuses_layer_drop():
    from speechxl.nn.transformer import TransformerConfig, TransformerEncoder
    from speechxl.train.distributed import Dist
    from speechxl.train.strategy import make_strategy

    encoder = TransformerEncoder(TransformerConfig(hidden_size=8, num_layers=1, num_heads=2, intermediate_size=8,
                                                   pos_conv_kernel=2, pos_conv_groups=1, layerdrop=0.1))
    with pytest.raises(ConfigError, match="layerdrop to 0"):
        make_strategy("fsdp", Dist(rank=0, world=2)).wrap(encoder)
