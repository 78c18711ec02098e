"""A model built on the meta device and made real as its checkpoint is read: the same weights, buffers and
log-probabilities as one built, initialised and then loaded, for every architecture; in bf16 and int8 the
same as converting that one; only the final weights ever held, and torch._dynamo never imported."""

import subprocess
import sys
from pathlib import Path

import pytest
import torch

from speechxl.checkpoint import save_release
from speechxl.decode.model import built_with_weights, in_precision
from speechxl.models.card import ModelCard
from speechxl.train.finetune import load_finetune_config

RECIPES = Path(__file__).resolve().parents[2] / "recipes"
ARCHITECTURES = sorted(p.stem for p in (RECIPES / "pretrain").glob("*_tiny.yaml"))


def _saved(architecture: str, out: Path, overrides: tuple[str, ...] = ()) -> tuple[ModelCard, torch.nn.Module]:
    cfg = load_finetune_config(RECIPES / "finetune" / "ctc_tiny.yaml",
                               ["data=x", "out=x", f"architecture={RECIPES / 'pretrain' / architecture}.yaml",
                                *overrides])
    card = ModelCard(family="wav2vec2", model=cfg.model, ctc=cfg.ctc, vocabulary=12, units="chars")
    torch.manual_seed(0)
    net = card.build().eval()
    out.mkdir()
    save_release(out, net.state_dict(), "test", 0)
    return card, net


@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_built_on_meta_and_read_is_the_model_built_and_loaded(architecture, tmp_path):
    card, reference = _saved(architecture, tmp_path / "ck")
    wav, lengths = 0.1 * torch.randn(2, 8000), torch.tensor([8000, 6000])
    with torch.inference_mode():
        expected = reference.log_probs(wav, lengths)[0]
        net = built_with_weights(card, tmp_path / "ck").eval()
        theirs = dict(reference.named_buffers()) | dict(reference.named_parameters())
        ours = dict(net.named_buffers()) | dict(net.named_parameters())
        assert ours.keys() == theirs.keys() and all(torch.equal(ours[k], theirs[k]) for k in ours)  # computed too
        assert torch.equal(net.log_probs(wav, lengths)[0], expected)
        for precision in ("bf16", "int8"):
            converted = in_precision(_saved(architecture, tmp_path / precision)[1], precision)
            net = built_with_weights(card, tmp_path / "ck", precision).eval()
            with torch.autocast("cpu", torch.bfloat16, enabled=precision == "bf16"):
                assert torch.equal(net.log_probs(wav, lengths)[0], converted.log_probs(wav, lengths)[0]), precision


def test_loading_in_int8_never_holds_the_fp32_model(tmp_path):
    """Built in fp32 and then quantized, loading peaked above the fp32 model (BASE: 379 MiB, then 145 held);
    and torch's meta kernels for normal_ and norm import torch._dynamo (76 MiB) unless initialisation is
    skipped on the meta device."""
    size = ["model.encoder.hidden_size=512", "model.encoder.intermediate_size=2048", "model.encoder.num_layers=8",
            "model.encoder.num_heads=8"]
    card, net = _saved("wav2vec2_tiny", tmp_path / "ck", tuple(size))
    card.save(tmp_path / "ck" / "card.json")
    fp32_mib = sum(p.numel() for p in net.parameters()) * 4 / 2**20  # 101 MiB; in int8 about 50 with torch's packing
    script = f"""
import os, sys
import torch.ao.nn.quantized.dynamic, torch.ao.quantization  # their import is not the model's memory
from speechxl.decode.model import built_with_weights
from speechxl.models.card import ModelCard
mib = lambda field: int([x for x in open("/proc/self/status") if x.startswith(field)][0].split()[1]) / 1024
card, before = ModelCard.load({str(tmp_path / 'ck')!r}), mib("VmRSS:")
built_with_weights(card, {str(tmp_path / 'ck')!r}, "int8")
print(mib("VmHWM:") - before, mib("VmRSS:") - before, "torch._dynamo" in sys.modules)  # not ru_maxrss: the parent's
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout.split()
    peak, held, dynamo = float(out[0]), float(out[1]), out[2] == "True"
    assert not dynamo
    # the int8 model and one module's fp32 weights, as glibc's heap keeps them: 46-78 MiB in 15 runs; before, 115
    assert peak < fp32_mib, f"loading peaked {peak:.0f} MiB above imports (holding {held:.0f}); fp32 {fp32_mib:.0f}"
