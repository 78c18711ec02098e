"""Inference in bf16 and int8: the same log-probabilities as fp32 within rounding, int8 Linear layers,
the decode dir and decode.json saying which, and a precision that is not one refused by name."""

import json

import numpy as np
import pytest
import soundfile as sf
import torch

from speechxl.data.manifest import read_manifest
from speechxl.decode.model import in_precision, load_model


@pytest.mark.parametrize("precision, tolerance", [("bf16", 0.05), ("int8", 0.05)])
def test_log_probs_in_another_precision_are_fp32_ones_within_rounding(trained, precision, tolerance):
    root, data, _ = trained
    waves = [sf.read(u.audio, dtype="float32")[0] for u in read_manifest(data / "test")[:2]]
    size = max(w.size for w in waves)
    wav = torch.from_numpy(np.stack([np.pad(w, (0, size - w.size)) for w in waves]))
    lengths = torch.tensor([w.size for w in waves])
    ref, ref_frames = load_model(root / "ctc").log_probs(wav, lengths)
    model = load_model(root / "ctc", precision=precision)
    lp, frames = model.log_probs(wav, lengths)
    assert lp.dtype == torch.float32 and lp.shape == ref.shape and torch.equal(frames, ref_frames)
    assert torch.allclose(lp.exp().sum(-1), torch.ones(()), atol=1e-4)  # a distribution per frame
    assert (lp.exp() - ref.exp()).abs().max() < tolerance
    assert model.describe()["precision"] == precision
    linears = [m for m in model.net.modules() if isinstance(m, torch.nn.Linear)]
    quantized = [m for m in model.net.modules() if isinstance(m, torch.ao.nn.quantized.dynamic.Linear)]
    assert (not linears and quantized) if precision == "int8" else (linears and not quantized)
    if precision == "bf16":  # stored as autocast would cast them; the norms stay fp32
        assert all(m.weight.dtype == torch.bfloat16 for m in linears)
        assert all(m.weight.dtype == torch.float32 for m in model.net.modules() if isinstance(m, torch.nn.LayerNorm))


def test_an_unknown_precision_is_refused_by_name(trained):
    root, _, _ = trained
    with pytest.raises(ValueError, match="precision 'fp16': not one of fp32, bf16, int8"):
        load_model(root / "ctc", precision="fp16")


def test_decode_in_bf16_says_so_in_its_dir_and_decode_json(trained, run_cli, tmp_path):
    root, data, _ = trained
    run_cli("decode", str(root / "ctc"), str(data / "test"), "--precision", "bf16", "--out", str(tmp_path / "d"))
    info = json.loads((tmp_path / "d" / "decode.json").read_text())
    assert info["model"]["precision"] == "bf16" and info["utterances"] == len(read_manifest(data / "test"))
    run_cli("decode", str(root / "ctc"), str(data / "test"), "--precision", "int8")
    assert (root / "ctc" / "decode_test_int8" / "hyp.jsonl").is_file()


def test_int8_quantizes_the_model_in_place_not_a_copy_beside_it(trained):
    """torch's quantize_dynamic copies the model unless told otherwise: int8 then peaked above fp32."""
    root, _, _ = trained
    net = load_model(root / "ctc").net
    assert in_precision(net, "int8") is net
    assert not any(isinstance(m, torch.nn.Linear) for m in net.modules())


def test_int8_frees_each_layers_fp32_weights_as_it_goes():
    """torch.ao keeps each swapped Linear in a reference cycle: quantizing the whole model in one call held
    every fp32 weight beside every int8 one (a peak of fp32 + int8) until the garbage collector ran."""
    import subprocess
    import sys

    script = """
import os, torch
from speechxl.decode.model import in_precision
net = torch.nn.Sequential(*[torch.nn.Sequential(torch.nn.Linear(1024, 1024), torch.nn.ReLU()) for _ in range(32)])
before = int(open("/proc/self/statm").read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
in_precision(net, "int8")
peak = [line for line in open("/proc/self/status") if line.startswith("VmHWM:")][0].split()[1]
print(int(peak) / 1024 - before)  # VmHWM: ru_maxrss would start at the parent's peak
"""
    grown = float(subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout)
    assert grown < 24, f"{grown:.0f} MiB above the fp32 model while quantizing (its int8 weights are 32 MiB)"
