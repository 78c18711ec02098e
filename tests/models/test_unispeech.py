"""UniSpeech: a speech batch trains wav2vec 2.0's task, a paired one also CTC through output frames
partly replaced by quantized targets; a two-stream run resumes exactly and fine-tunes; parity of
its encoder with transformers' UniSpeechModel."""

import dataclasses
from pathlib import Path

import pytest
import torch

from speechxl.models.unispeech import UniSpeechConfig, build
from speechxl.nn.conv_frontend import ConvFrontendConfig
from speechxl.nn.gumbel_quantizer import GumbelQuantizerConfig
from speechxl.nn.transformer import TransformerConfig
from speechxl.objectives.contrastive import ContrastiveConfig
from speechxl.train.pretrain import load_pretrain_config, pretrain
from tests.conftest import TINY_W2V_BERT
from tests.models.test_mslam import BATCH, corpus, grads  # noqa: F401  (corpus: the fixture)
from tests.train.runs import assert_same_run, killed_after_step_3_then_resumed

ROOT = Path(__file__).resolve().parents[2]


def tiny(**kw) -> UniSpeechConfig:
    return UniSpeechConfig(
        frontend=ConvFrontendConfig(conv_dim=[16, 16, 16], conv_kernel=[10, 3, 3], conv_stride=[5, 2, 2]),
        encoder=TransformerConfig(hidden_size=32, num_layers=2, num_heads=2, intermediate_size=64, pos_conv_kernel=16,
                                  pos_conv_groups=2),
        quantizer=GumbelQuantizerConfig(groups=2, entries=8, dim=16),
        objective=ContrastiveConfig(final_dim=16, num_negatives=5), vocabulary=12, **kw)


def test_a_paired_batch_trains_ctc_through_quantized_frames_and_a_speech_batch_does_not():
    torch.manual_seed(0)
    model = build(tiny(replace_prob=1.0))  # CTC sees only the quantized targets
    wav = torch.randn(2, 8000)
    paired = {"wav": wav, "lengths": torch.tensor([8000, 6000]), "labels": [[3, 4, 5], [6, 7]]}
    loss, tokens, logs = model(paired)
    assert tokens == 5 and torch.isfinite(loss) and {"ctc", "paired_contrastive"} <= set(logs)
    assert {"ctc_head", "quantized_to_hidden", "target"} <= grads(model, loss)
    loss, n, logs = model({"wav": wav, "lengths": torch.tensor([8000, 8000])})  # wav2vec 2.0's loss alone
    assert "contrastive" in logs and not {"ctc_head", "quantized_to_hidden"} & grads(model, loss)
    never = build(tiny(replace_prob=0.0))
    assert "quantized_to_hidden" not in grads(never, never(paired)[0])


def unispeech_config(corpus, out, *extra):
    root, audio, valid, paired = corpus
    return load_pretrain_config(ROOT / "recipes/pretrain/unispeech_tiny.yaml", TINY_W2V_BERT[:-1] + BATCH[:4] + [
        "train.log_every=1", "units=chars", f"lang_dir={root / 'lang_char'}", f"streams.speech.data={audio}",
        f"streams.paired.data={paired}", f"valid_data={valid}", f"out={out}", *extra])


def test_a_two_stream_run_resumes_bit_identically_and_fine_tunes(corpus, tmp_path, monkeypatch):  # noqa: F811
    import json

    from speechxl import checkpoint as ckpt
    from speechxl.train.finetune import finetune, load_finetune_config

    run = lambda out: pretrain(unispeech_config(corpus, out, "train.max_steps=8", "train.save_every=3"))  # noqa: E731
    run(tmp_path / "a")
    killed_after_step_3_then_resumed(run, tmp_path / "b", monkeypatch)
    assert_same_run(tmp_path / "a", tmp_path / "b")
    rows = [json.loads(line) for line in open(tmp_path / "a" / "log.jsonl")]
    assert {"loss_speech", "loss_paired", "ctc", "contrastive"} <= {k for r in rows if r["split"] == "train" for k in r}
    places = ckpt.load_trainer_state(ckpt.resolve(tmp_path / "a" / "checkpoints", "last"))["streams"]
    assert (places["speech"]["batches"], places["paired"]["batches"]) == (6, 2)  # weights 3:1
    root, _, valid, paired = corpus
    ft = load_finetune_config(ROOT / "recipes/finetune/ctc_tiny.yaml", BATCH[:4] + [
        f"init={tmp_path / 'a'}", "units=chars", f"lang_dir={root / 'lang_char'}", f"data={paired}",
        f"valid_data={paired}", f"out={tmp_path / 'ctc'}", "ctc.freeze_encoder_steps=0", "ctc.mask_channel.length=4",
        "require_learning=false", "train.max_steps=1"])
    assert ft.family == "unispeech" and finetune(ft)["loss"] > 0


def test_same_hidden_states_as_transformers_unispeech_both_ways(tmp_path):
    transformers = pytest.importorskip("transformers")
    from speechxl.interop.hf_wav2vec2 import load_hf, save_hf

    torch.manual_seed(0)
    hf = transformers.UniSpeechModel(transformers.UniSpeechConfig(
        hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=48, conv_dim=(24, 24, 24),
        conv_kernel=(10, 3, 3), conv_stride=(5, 2, 2), num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=4,
        layerdrop=0.0)).eval()
    hf.save_pretrained(tmp_path / "hf")
    family, cfg, state = load_hf(tmp_path / "hf")
    assert family == "unispeech"
    ours = build(dataclasses.replace(cfg, vocabulary=5)).eval()
    missing, unexpected = ours.load_state_dict(state, strict=False)
    assert not unexpected and all(not k.startswith("backbone.") for k in missing)
    wav = torch.randn(2, 6000)
    with torch.no_grad():
        torch.testing.assert_close(ours.backbone(wav).hidden, hf(wav).last_hidden_state, atol=1e-5, rtol=0)
    save_hf({k: v for k, v in ours.state_dict().items() if k.startswith("backbone.")}, cfg, tmp_path / "out",
            "UniSpeechModel")
    back, info = transformers.UniSpeechModel.from_pretrained(tmp_path / "out", output_loading_info=True)
    assert not info["missing_keys"] and not info["unexpected_keys"], info
    with torch.no_grad():
        torch.testing.assert_close(back.eval()(wav).last_hidden_state, ours.backbone(wav).hidden, atol=1e-5, rtol=0)
