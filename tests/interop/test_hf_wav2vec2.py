"""Parity with transformers' Wav2Vec2ForPreTraining, both norm variants, both directions."""

import pytest
import torch

transformers = pytest.importorskip("transformers")

from speechxl.interop.hf_wav2vec2 import load_hf, save_hf  # noqa: E402
from speechxl.models.wav2vec2 import build  # noqa: E402


def tiny_hf_config(norm: str):
    return transformers.Wav2Vec2Config(
        hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=48,
        conv_dim=(24, 24, 24), conv_kernel=(10, 3, 3), conv_stride=(5, 2, 2), conv_bias=norm == "layer",
        feat_extract_norm=norm, do_stable_layer_norm=norm == "layer", num_conv_pos_embeddings=16,
        num_conv_pos_embedding_groups=4, num_codevector_groups=2, num_codevectors_per_group=12,
        codevector_dim=16, proj_codevector_dim=20, layerdrop=0.0)


@pytest.fixture(params=["group", "layer"])
def pair(request, tmp_path):
    torch.manual_seed(0)
    hf = transformers.Wav2Vec2ForPreTraining(tiny_hf_config(request.param)).eval()
    hf.save_pretrained(tmp_path / "hf")
    _, cfg, state = load_hf(tmp_path / "hf")
    ours = build(cfg).eval()
    ours.load_state_dict(state, strict=True)
    return hf, ours, cfg, tmp_path


def test_same_encoder_hidden_states_and_codevectors(pair):
    hf, ours, _, _ = pair
    wav = torch.randn(2, 6000)
    with torch.no_grad():
        ref = hf.wav2vec2(wav, output_hidden_states=True)
        out = ours.backbone(wav)
        _, layers = ours.backbone.encoder(ours.backbone.feature_projection(out.features)[0], None,
                                          return_layers=True)
        torch.testing.assert_close(out.hidden, ref.last_hidden_state, atol=1e-5, rtol=0)
        torch.testing.assert_close(out.normed, ref.extract_features, atol=1e-5, rtol=0)
        assert len(layers) == len(ref.hidden_states) == 3
        for mine, theirs in zip(layers, ref.hidden_states):
            torch.testing.assert_close(mine, theirs, atol=1e-5, rtol=0)
        q_ref, _ = hf.quantizer(ref.extract_features)
        q, codes, _ = ours.target(out.normed.reshape(-1, out.normed.shape[-1]))
        torch.testing.assert_close(q.view_as(q_ref), q_ref, atol=1e-6, rtol=0)
        assert codes.shape == (out.normed.shape[0] * out.normed.shape[1], 2)


def test_padded_batch_matches_on_real_frames(pair):
    hf, ours, cfg, _ = pair
    if cfg.frontend.norm == "group":
        pytest.skip("group-norm models are run without an attention mask (zero padding)")
    wav = torch.randn(2, 6000)
    wav[1, 4000:] = 0
    lengths = torch.tensor([6000, 4000])
    attn = (torch.arange(6000)[None] < lengths[:, None]).long()
    with torch.no_grad():
        ref = hf.wav2vec2(wav, attention_mask=attn).last_hidden_state
        out = ours.backbone(wav, lengths)
    valid = out.valid
    torch.testing.assert_close(out.hidden[valid], ref[valid], atol=1e-5, rtol=0)


def test_export_loads_back_in_transformers(pair):
    hf, ours, cfg, tmp_path = pair
    save_hf(ours.state_dict(), cfg, tmp_path / "export")
    back, info = transformers.Wav2Vec2ForPreTraining.from_pretrained(tmp_path / "export", output_loading_info=True)
    assert not info["missing_keys"] and not info["unexpected_keys"], info
    wav = torch.randn(1, 5000)
    with torch.no_grad():
        torch.testing.assert_close(back.eval().wav2vec2(wav).last_hidden_state, ours.backbone(wav).hidden,
                                   atol=1e-5, rtol=0)
    assert back.config.do_stable_layer_norm == (cfg.frontend.norm == "layer")
