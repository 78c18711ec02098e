"""Parity with transformers' HubertModel, both norm variants, both directions; a HuBERT pretraining
run exports as HubertModel and fine-tuning starts from a Hugging Face HuBERT dir."""

import dataclasses

import pytest
import torch

transformers = pytest.importorskip("transformers")

from speechxl.interop.hf_wav2vec2 import load_hf, save_hf  # noqa: E402
from speechxl.models.hubert import build  # noqa: E402


@pytest.fixture(params=["group", "layer"])
def pair(request, tmp_path):
    torch.manual_seed(0)
    norm = request.param
    hf = transformers.HubertModel(transformers.HubertConfig(
        hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=48,
        conv_dim=(24, 24, 24), conv_kernel=(10, 3, 3), conv_stride=(5, 2, 2), conv_bias=norm == "layer",
        feat_extract_norm=norm, do_stable_layer_norm=norm == "layer", num_conv_pos_embeddings=16,
        num_conv_pos_embedding_groups=4, layerdrop=0.0)).eval()
    hf.save_pretrained(tmp_path / "hf")
    family, cfg, state = load_hf(tmp_path / "hf")
    assert family == "hubert"
    ours = build(dataclasses.replace(cfg, clusters=10)).eval()  # the labels' head is not in transformers
    missing, unexpected = ours.load_state_dict(state, strict=False)
    assert not unexpected and all(k.startswith("objective.") for k in missing)
    return hf, ours, cfg, tmp_path


def test_same_hidden_states_as_transformers_hubert(pair):
    hf, ours, _, _ = pair
    wav = torch.randn(2, 6000)
    with torch.no_grad():
        ref = hf(wav, output_hidden_states=True)
        out = ours.backbone(wav, return_layers=True)
    torch.testing.assert_close(out.hidden, ref.last_hidden_state, atol=1e-5, rtol=0)
    assert len(out.layers) == len(ref.hidden_states) == 3
    for mine, theirs in zip(out.layers, ref.hidden_states):
        torch.testing.assert_close(mine, theirs, atol=1e-5, rtol=0)


def test_export_loads_back_as_hubert_model(pair):
    hf, ours, cfg, tmp_path = pair
    state = {k: v for k, v in ours.state_dict().items() if k.startswith("backbone.")}
    save_hf(state, cfg, tmp_path / "export", "HubertModel")
    back, info = transformers.HubertModel.from_pretrained(tmp_path / "export", output_loading_info=True)
    assert not info["missing_keys"] and not info["unexpected_keys"], info
    wav = torch.randn(1, 5000)
    with torch.no_grad():
        torch.testing.assert_close(back.eval()(wav).last_hidden_state, ours.backbone(wav).hidden, atol=1e-5, rtol=0)
