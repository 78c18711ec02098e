"""fairseq wav2vec 2.0 checkpoints in: tiny ones written in fairseq's layout here (module names from
fairseq's wav2vec2.py and wav2vec2_asr.py, config as fairseq saves it), imported without fairseq,
and compared with the same weights in transformers."""

import argparse
import fractions
import re

import numpy as np
import pytest
import torch

transformers = pytest.importorskip("transformers")

from speechxl.checkpoint import CheckpointError  # noqa: E402
from speechxl.decode.model import load_model  # noqa: E402
from speechxl.interop.fairseq_wav2vec2 import import_fairseq  # noqa: E402
from speechxl.interop.hf_wav2vec2 import load_hf  # noqa: E402
from speechxl.models.wav2vec2 import build  # noqa: E402

LETTERS = ["|", "E", "T", "A", "O", "N"]


def fairseq_model_cfg(norm: str) -> dict:
    """fairseq's Wav2Vec2Config keys for the tiny transformers config below."""
    return {"_name": "wav2vec2", "extractor_mode": "layer_norm" if norm == "layer" else "default",
            "conv_feature_layers": "[(24, 10, 5)] + [(24, 3, 2)] * 2", "conv_bias": norm == "layer",
            "encoder_embed_dim": 32, "encoder_layers": 2, "encoder_attention_heads": 4, "encoder_ffn_embed_dim": 48,
            "layer_norm_first": norm == "layer", "conv_pos": 16, "conv_pos_groups": 4, "latent_vars": 12,
            "latent_groups": 2, "latent_dim": 16, "final_dim": 20, "activation_fn": "gelu", "encoder_layerdrop": 0.0}


def tiny_hf(norm: str, ctc: bool):
    cfg = transformers.Wav2Vec2Config(
        hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=48,
        conv_dim=(24, 24, 24), conv_kernel=(10, 3, 3), conv_stride=(5, 2, 2), conv_bias=norm == "layer",
        feat_extract_norm=norm, do_stable_layer_norm=norm == "layer", num_conv_pos_embeddings=16,
        num_conv_pos_embedding_groups=4, num_codevector_groups=2, num_codevectors_per_group=12,
        codevector_dim=16, proj_codevector_dim=20, layerdrop=0.0, vocab_size=4 + len(LETTERS))
    torch.manual_seed(0)
    return (transformers.Wav2Vec2ForCTC if ctc else transformers.Wav2Vec2ForPreTraining)(cfg).eval()


def fairseq_state(hf, norm: str, ctc: bool) -> dict[str, torch.Tensor]:
    """transformers' weights under the names fairseq's modules give them."""
    conv_norm = r"feature_extractor.conv_layers.\1.2.1." if norm == "layer" else r"feature_extractor.conv_layers.\1.2."
    rules = [(r"wav2vec2\.feature_extractor\.conv_layers\.(\d+)\.conv\.", r"feature_extractor.conv_layers.\1.0."),
             (r"wav2vec2\.feature_extractor\.conv_layers\.(\d+)\.layer_norm\.", conv_norm),
             (r"wav2vec2\.feature_projection\.projection\.", "post_extract_proj."),
             (r"wav2vec2\.feature_projection\.layer_norm\.", "layer_norm."),
             (r"wav2vec2\.masked_spec_embed", "mask_emb"),
             (r"wav2vec2\.encoder\.pos_conv_embed\.conv\.parametrizations\.weight\.original0", "encoder.pos_conv.0.weight_g"),
             (r"wav2vec2\.encoder\.pos_conv_embed\.conv\.parametrizations\.weight\.original1", "encoder.pos_conv.0.weight_v"),
             (r"wav2vec2\.encoder\.pos_conv_embed\.conv\.", "encoder.pos_conv.0."),
             (r"wav2vec2\.encoder\.layers\.(\d+)\.attention\.", r"encoder.layers.\1.self_attn."),
             (r"wav2vec2\.encoder\.layers\.(\d+)\.layer_norm\.", r"encoder.layers.\1.self_attn_layer_norm."),
             (r"wav2vec2\.encoder\.layers\.(\d+)\.feed_forward\.intermediate_dense\.", r"encoder.layers.\1.fc1."),
             (r"wav2vec2\.encoder\.layers\.(\d+)\.feed_forward\.output_dense\.", r"encoder.layers.\1.fc2."),
             (r"wav2vec2\.encoder\.layers\.(\d+)\.final_layer_norm\.", r"encoder.layers.\1.final_layer_norm."),
             (r"wav2vec2\.encoder\.layer_norm\.", "encoder.layer_norm."),
             (r"quantizer\.codevectors", "quantizer.vars"), (r"quantizer\.weight_proj\.", "quantizer.weight_proj."),
             (r"project_q\.", "project_q."), (r"project_hid\.", "final_proj."), (r"lm_head\.", "proj.")]
    out = {}
    for name, tensor in hf.state_dict().items():
        for pattern, to in rules:
            if m := re.match(pattern, name):
                fs = m.expand(to) + name[m.end():]
                break
        else:
            raise AssertionError(f"no fairseq name for {name}")
        out[("w2v_encoder." if fs.startswith("proj.") else "w2v_encoder.w2v_model.") + fs if ctc else fs] = tensor
    return out


def save_fairseq(path, hf, norm: str, ctc: bool, hydra: bool = True):
    """Hydra's configs in torch's zip format (mapped when read); before Hydra, in torch's legacy format, which
    cannot be mapped (read whole)."""
    model, task = fairseq_model_cfg(norm), {"_name": "audio_pretraining", "normalize": norm == "layer"}
    if ctc:
        model = {"_name": "wav2vec_ctc", "w2v_args": {"model": model, "task": task} if hydra else
                 argparse.Namespace(**model, normalize=task["normalize"])}
    state = {"model": fairseq_state(hf, norm, ctc), "optimizer_history": [{"num_updates": 1234}],
             "extra_state": {"best": np.float64(0.25), "epoch": 3}}  # fairseq keeps numpy scalars here
    if hydra:
        state.update(cfg={"model": model, "task": task}, args=None)
    else:  # before fairseq's Hydra configs: one flat Namespace
        state.update(args=argparse.Namespace(**(model if ctc else {**model, "normalize": task["normalize"]})))
    torch.save(state, path, _use_new_zipfile_serialization=hydra)


@pytest.mark.parametrize("norm,hydra", [("group", False), ("layer", True)])
def test_pretrained_checkpoint_gives_the_transformers_model(tmp_path, norm, hydra):
    hf = tiny_hf(norm, ctc=False)
    save_fairseq(tmp_path / "xlsr.pt", hf, norm, ctc=False, hydra=hydra)
    out = import_fairseq(tmp_path / "xlsr.pt", tmp_path / "xlsr")
    back = transformers.Wav2Vec2ForPreTraining.from_pretrained(out).eval()
    wav = torch.randn(2, 6000)
    with torch.no_grad():
        ref = hf.wav2vec2(wav).last_hidden_state
        torch.testing.assert_close(back.wav2vec2(wav).last_hidden_state, ref, atol=1e-6, rtol=0)
        _, cfg, state = load_hf(out)  # what init= reads
        ours = build(cfg).eval()
        ours.load_state_dict(state, strict=True)
        # speechxl normalises the waveform inside the model (fairseq's task.normalize), transformers
        # in its feature extractor, which the import configures
        fe = transformers.Wav2Vec2FeatureExtractor.from_pretrained(out)
        assert fe.do_normalize is cfg.frontend.normalize_waveform is (norm == "layer")
        seen = fe(list(wav.numpy()), sampling_rate=16000, return_tensors="pt").input_values
        torch.testing.assert_close(ours.backbone(wav).hidden, hf.wav2vec2(seen).last_hidden_state, atol=1e-5, rtol=0)


@pytest.mark.parametrize("hydra", [True, False])
def test_ctc_checkpoint_decodes_as_transformers_does(tmp_path, hydra, run_cli):
    hf = tiny_hf("layer", ctc=True)
    save_fairseq(tmp_path / "ctc.pt", hf, "layer", ctc=True, hydra=hydra)
    (tmp_path / "dict.ltr.txt").write_text("".join(f"{s} {100 - i}\n" for i, s in enumerate(LETTERS)))
    run_cli("import-fairseq", tmp_path / "ctc.pt", tmp_path / "ctc", "--dict", tmp_path / "dict.ltr.txt")
    m = load_model(tmp_path / "ctc")
    assert m.units.symbols == ["<blank>", "<unk>", "|", "e", "t", "a", "o", "n"] and m.step == 1234
    wav = torch.randn(2, 6000)
    seen = (wav - wav.mean(1, keepdim=True)) / torch.sqrt(wav.var(1, keepdim=True, unbiased=False) + 1e-7)
    with torch.no_grad():
        ref = hf(seen).logits  # on the normalised waveform (task.normalize); fairseq's rows: <s> (the blank) <pad> </s> <unk> | E T A O N
        ours = m.net.head(m.net.backbone(wav).hidden)
    torch.testing.assert_close(ours, ref[..., [0, 3, 4, 5, 6, 7, 8, 9]], atol=1e-5, rtol=0)


def test_refusals_name_what_is_wrong(tmp_path):
    hf = tiny_hf("layer", ctc=True)
    save_fairseq(tmp_path / "ctc.pt", hf, "layer", ctc=True)
    with pytest.raises(CheckpointError, match="give --dict"):
        import_fairseq(tmp_path / "ctc.pt", tmp_path / "out")
    (tmp_path / "dict.ltr.txt").write_text("| 5\nE 3\n")
    with pytest.raises(CheckpointError, match="2 symbols \\+ fairseq's 4 specials = 6, but the checkpoint's CTC head has 10"):
        import_fairseq(tmp_path / "ctc.pt", tmp_path / "out", tmp_path / "dict.ltr.txt")
    state = torch.load(tmp_path / "ctc.pt", weights_only=False)
    state["extra_state"]["meter"] = fractions.Fraction(1, 3)  # any class outside the allow-list
    for legacy in (False, True):  # torch's zip format, then its legacy one (earlier fairseq releases)
        torch.save(state, tmp_path / "odd.pt", _use_new_zipfile_serialization=not legacy)
        with pytest.raises(CheckpointError, match="holds fractions.Fraction, which speechxl does not unpickle"):
            import_fairseq(tmp_path / "odd.pt", tmp_path / "out")
    for junk in (b"PK\x03\x04 not really a zip", b"neither zip nor pickle"):
        (tmp_path / "junk.pt").write_bytes(junk)
        with pytest.raises(CheckpointError, match="junk.pt: not a torch checkpoint"):
            import_fairseq(tmp_path / "junk.pt", tmp_path / "out")


def test_imported_ctc_model_exports_back_to_transformers(tmp_path, run_cli):
    hf = tiny_hf("layer", ctc=True)
    save_fairseq(tmp_path / "ctc.pt", hf, "layer", ctc=True)
    (tmp_path / "dict.ltr.txt").write_text("".join(f"{s} 1\n" for s in LETTERS))
    run_cli("import-fairseq", tmp_path / "ctc.pt", tmp_path / "ctc", "--dict", tmp_path / "dict.ltr.txt")
    run_cli("export-hf", tmp_path / "ctc", tmp_path / "hf")
    back = transformers.Wav2Vec2ForCTC.from_pretrained(tmp_path / "hf").eval()
    processor = transformers.Wav2Vec2Processor.from_pretrained(tmp_path / "hf")
    wav = torch.randn(1, 6000)
    with torch.no_grad():
        seen = processor(wav[0].numpy(), sampling_rate=16000, return_tensors="pt").input_values
        torch.testing.assert_close(back(seen).logits, hf(seen).logits[..., [0, 3, 4, 5, 6, 7, 8, 9]],
                                   atol=1e-5, rtol=0)
