"""How a pretraining run runs: torchrun with DDP or FSDP, activation checkpointing, precision, torch.compile."""

import json
import os
import subprocess
import sys

import pytest
import torch

from speechxl import checkpoint as ckpt
from speechxl.config import ConfigError
from speechxl.train.pretrain import load_pretrain_config, pretrain
from speechxl.train.trainer import TrainConfig, resolved_precision
from tests.conftest import TINY_CONFORMER, TINY_CTC, TINY_W2V
from tests.train.runs import assert_same_run, config, data, final_weights, losses  # noqa: F401  (data: the fixture)


def torchrun(verb, args, out, *extra):
    """``speechxl <verb>`` in two worker processes (torchrun), one thread each."""
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--standalone",
           "-m", "speechxl", verb, *args, f"out={out}", *extra]
    r = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"}, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]


def test_torchrun_two_processes(data, tmp_path):
    train, valid = data
    out = tmp_path / "ddp"
    torchrun("pretrain", [*TINY_W2V, f"data={train}", f"valid_data={valid}"], out, "train.max_steps=3")
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
    torchrun("finetune", [*TINY_CTC, "units=chars", f"lang_dir={tmp_path / 'lang_char'}", f"data={labelled}",
                          f"valid_data={labelled}"], out, "train.max_steps=1")
    valid_rows = [json.loads(x) for x in (out / "log.jsonl").read_text().splitlines() if '"valid"' in x]
    assert valid_rows[-1]["ref_tokens"] == 5 * len(read_manifest(labelled))  # "ab ba": a b | b a


def test_torchrun_fsdp_trains_as_ddp_does_saves_whole_weights_and_resumes(data, tmp_path):
    train, valid = data
    args = [*TINY_W2V, f"data={train}", f"valid_data={valid}", "model.encoder.layerdrop=0.0", "train.save_every=2"]
    torchrun("pretrain", args, tmp_path / "ddp", "train.max_steps=3")
    torchrun("pretrain", args, tmp_path / "fsdp", "train.max_steps=2", "train.strategy=fsdp")
    torchrun("pretrain", args, tmp_path / "fsdp", "train.max_steps=3", "train.strategy=fsdp")  # resumed at step 2
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
