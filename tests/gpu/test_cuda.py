"""On a GPU: skipped without one (CI has none); tools/gpu_checks.sh runs them on a lent machine. A
pretraining micro-batch (four speech families, XLM-R's masked LM) queues without waiting for the device,
the trainer trains in bf16 compiled and checkpointed there, and the waveform frontend's device path gives
the CPU path's frames."""

from pathlib import Path

import pytest
import torch

from speechxl.models.registry import FAMILIES
from speechxl.train.pretrain import load_pretrain_config, pretrain
from speechxl.train.trainer import to_device
from tests.train.runs import config, data, losses  # noqa: F401  (data: the fixture)

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")
RECIPES = Path(__file__).resolve().parents[2] / "recipes" / "pretrain"
GPU = torch.device("cuda")


def _never_waits(model, batch: dict, precision: str) -> None:
    """A micro-batch of ``model`` (on the GPU) from a host ``batch``, sent as the trainer sends it, raises if
    anything in its forward or backward pass waits for the device."""
    def step():
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=precision == "bf16"):
            loss = model(to_device(batch, model, GPU))[0]
        loss.backward()
        return loss

    step()  # the first step sets up kernels and memory pools
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")  # any wait for the device raises
    try:
        loss = step()
    finally:
        torch.cuda.set_sync_debug_mode("default")
    assert torch.isfinite(loss)


@pytest.mark.parametrize("preset", ["wav2vec2_tiny", "w2v_bert_tiny", "bestrq_conformer_tiny", "hubert_tiny"])
@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_a_pretraining_micro_batch_never_waits_for_the_gpu(preset, precision):
    labels = ["model.clusters=8"] if preset == "hubert_tiny" else []
    cfg = load_pretrain_config(RECIPES / f"{preset}.yaml", ["data=d", "out=o", *labels])
    model = FAMILIES[cfg.family].build(cfg.model).to(GPU).train()
    wav = (torch.randn(4, 64000) * 0.1).pin_memory()  # as the loader gives it to a GPU
    batch = {"wav": wav, "lengths": torch.full((4,), 64000)}
    if labels:
        batch["frame_labels"] = torch.randint(0, 8, (4, 200)).pin_memory()
    _never_waits(model, batch, precision)


def test_a_text_mlm_micro_batch_never_waits_for_the_gpu():
    from speechxl.models.text_encoder import TextMLM, TextMLMConfig

    model = TextMLM(TextMLMConfig(vocab_size=300, hidden_size=64, num_layers=2, num_heads=4, intermediate_size=128,
                                  max_positions=66, mask_id=299)).to(GPU).train()
    text = torch.randint(4, 299, (8, 64))
    text[1, 40:] = 1  # <pad>
    _never_waits(model, {"text": text.pin_memory()}, "bf16")


def test_the_trainer_trains_in_bf16_compiled_and_checkpointed_on_the_gpu(data, tmp_path):
    pretrain(config(data, tmp_path, "train.max_steps=3", "model.encoder.layerdrop=0.0", "train.precision=bf16",
                    "train.compile=true", "train.checkpoint_activations=true"))
    assert [s for s, _ in losses(tmp_path)] == [1, 2, 3]
    assert all(0 < loss < 100 for _, loss in losses(tmp_path))


@pytest.mark.parametrize("norm", ["group", "layer"])
def test_the_waveform_frontends_device_path_gives_the_cpu_paths_frames(norm):
    from speechxl.nn.conv_frontend import ConvFrontend, ConvFrontendConfig

    torch.manual_seed(0)
    frontend = ConvFrontend(ConvFrontendConfig(norm=norm)).train()
    wav = torch.randn(2, 32000)
    on_cpu = frontend(wav)[0]
    tf32 = torch.backends.cudnn.allow_tf32
    torch.backends.cudnn.allow_tf32 = False  # fp32 products on both sides
    try:
        on_gpu = frontend.to(GPU)(wav.to(GPU))[0].cpu()
    finally:
        torch.backends.cudnn.allow_tf32 = tf32
    assert torch.allclose(on_cpu, on_gpu, atol=1e-4, rtol=1e-3)
