"""Parity with transformers' Wav2Vec2Conformer (relative, rotary) and Wav2Vec2Bert, both directions."""

import numpy as np
import pytest
import torch

transformers = pytest.importorskip("transformers")

from speechxl.interop.hf_wav2vec2 import load_hf, save_hf  # noqa: E402
from speechxl.models.ctc import CTCConfig, CTCModel  # noqa: E402
from speechxl.models.registry import FAMILIES  # noqa: E402
from speechxl.models.speech_encoder import build_encoder  # noqa: E402
from speechxl.nn.fbank_frontend import FbankFrontend, FbankFrontendConfig  # noqa: E402

TINY = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=48,
            conv_depthwise_kernel_size=5, layerdrop=0.0, num_codevectors_per_group=8, codevector_dim=16,
            proj_codevector_dim=16)


def randomise_norm_stats(model):
    """BatchNorm's running statistics start at 0 and 1: make them count in the comparison."""
    g = torch.Generator().manual_seed(1)
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm1d):
            m.running_mean.copy_(torch.randn(m.num_features, generator=g) * 0.1)
            m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)


@pytest.fixture(params=["relative", "rotary"])
def conformer(request, tmp_path):
    cfg = transformers.Wav2Vec2ConformerConfig(**TINY, conv_dim=(16, 16, 16), conv_kernel=(10, 3, 3),
                                               conv_stride=(5, 2, 2), position_embeddings_type=request.param,
                                               num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=4)
    torch.manual_seed(0)
    hf = transformers.Wav2Vec2ConformerForPreTraining(cfg).eval()
    randomise_norm_stats(hf)
    hf.save_pretrained(tmp_path / "hf")
    family, ours_cfg, state = load_hf(tmp_path / "hf")
    ours = FAMILIES[family].build(ours_cfg).eval()
    ours.load_state_dict(state, strict=True)
    return hf, ours, ours_cfg, tmp_path


def test_conformer_hidden_states_match(conformer):
    hf, ours, cfg, _ = conformer
    wav = torch.randn(2, 5000)
    with torch.no_grad():
        ref = hf.wav2vec2_conformer(wav, output_hidden_states=True)
        out = ours.backbone(wav)
        _, layers = ours.backbone.encoder(ours.backbone.feature_projection(out.features)[0], None, return_layers=True)
        q_ref, _ = hf.quantizer(ref.extract_features)
        q, _, _ = ours.target(out.normed.reshape(-1, out.normed.shape[-1]))
    torch.testing.assert_close(out.hidden, ref.last_hidden_state, atol=1e-5, rtol=0)
    for mine, theirs in zip(layers, ref.hidden_states):
        torch.testing.assert_close(mine, theirs, atol=1e-5, rtol=0)
    torch.testing.assert_close(q.view_as(q_ref), q_ref, atol=1e-6, rtol=0)


def test_conformer_padded_batch(conformer):
    """Real frames of a padded utterance are what it gives alone, as in transformers alone.
    (transformers' Wav2Vec2Conformer lets padded frames into the last real ones through its
    convolution module; speechxl zeroes them first, as ESPnet and Wav2Vec2Bert do.)"""
    hf, ours, cfg, _ = conformer
    wav = torch.randn(1, 3000)
    with torch.no_grad():
        features, _ = ours.backbone.frontend(wav)  # (1, T, C)
        t = features.shape[1]
        padded = torch.cat([features, torch.randn(1, 6, features.shape[2])], dim=1)
        valid = torch.arange(t + 6)[None] < t
        out = ours.backbone.encode(padded, valid).hidden[0, :t]
        alone = ours.backbone(wav).hidden[0]
        ref = hf.wav2vec2_conformer(wav).last_hidden_state[0]
    torch.testing.assert_close(out, alone, atol=1e-5, rtol=0)
    torch.testing.assert_close(alone, ref, atol=1e-5, rtol=0)


def test_conformer_export_loads_back(conformer):
    hf, ours, cfg, tmp_path = conformer
    save_hf(ours.state_dict(), cfg, tmp_path / "export")
    back, info = transformers.Wav2Vec2ConformerForPreTraining.from_pretrained(tmp_path / "export",
                                                                             output_loading_info=True)
    assert not info["missing_keys"] and not info["unexpected_keys"], info
    wav = torch.randn(1, 4000)
    with torch.no_grad():
        torch.testing.assert_close(back.eval().wav2vec2_conformer(wav).last_hidden_state, ours.backbone(wav).hidden,
                                   atol=1e-5, rtol=0)


@pytest.mark.parametrize("position", ["relative_key", "rotary"])
def test_bert_hidden_states_match_and_export(position, tmp_path):
    cfg = transformers.Wav2Vec2BertConfig(**TINY, feature_projection_input_dim=160, position_embeddings_type=position,
                                          left_max_position_embeddings=6, right_max_position_embeddings=3)
    torch.manual_seed(0)
    hf = transformers.Wav2Vec2BertModel(cfg).eval()
    hf.save_pretrained(tmp_path / "hf")
    family, ours_cfg, state = load_hf(tmp_path / "hf")
    assert family == "w2v-bert"
    ours = FAMILIES[family].build(ours_cfg).eval()
    missing, unexpected = ours.load_state_dict(state, strict=False)
    assert not unexpected and all(k.startswith(("target.", "objective.", "mlm.")) for k in missing)
    feats = torch.randn(2, 30, 160)
    mask = torch.ones(2, 30, dtype=torch.bool)
    mask[1, 20:] = False
    with torch.no_grad():
        ref = hf(feats, attention_mask=mask.long()).last_hidden_state
        out = ours.backbone.encode(feats, mask)
    torch.testing.assert_close(out.hidden[mask], ref[mask], atol=1e-5, rtol=0)
    # a CTC model of this family exports as Wav2Vec2BertForCTC
    ctc = CTCModel(build_encoder(ours_cfg), 9, CTCConfig()).eval()
    ctc.backbone.load_state_dict({k[len("backbone."):]: v for k, v in state.items() if k.startswith("backbone.")})
    save_hf(ctc.state_dict(), ours_cfg, tmp_path / "ctc", "Wav2Vec2BertForCTC", {"vocab_size": 9})
    back, info = transformers.Wav2Vec2BertForCTC.from_pretrained(tmp_path / "ctc", output_loading_info=True)
    assert not info["missing_keys"] and not info["unexpected_keys"], info
    with torch.no_grad():
        torch.testing.assert_close(back.eval()(feats[:1]).logits, ctc.head(ctc.backbone.encode(feats[:1], None).hidden),
                                   atol=1e-5, rtol=0)


def test_log_mel_frontend_matches_seamless_m4t_features():
    extractor = transformers.SeamlessM4TFeatureExtractor(num_mel_bins=80, stride=2)
    rng = np.random.default_rng(0)
    t = np.arange(20000) / 16000
    wav = (0.3 * np.sin(2 * np.pi * 300 * t) + 0.05 * rng.standard_normal(t.size)).astype(np.float32)
    ref = extractor(wav, sampling_rate=16000, return_tensors="pt", padding=False).input_features[0]
    fe = FbankFrontend(FbankFrontendConfig(stack=2, normalize="utterance"))
    ours, mask = fe(torch.from_numpy(wav)[None])
    assert ours.shape[1:] == ref.shape and mask is None  # no lengths: no padding to mask
    torch.testing.assert_close(ours[0], ref, atol=2e-3, rtol=1e-3)
