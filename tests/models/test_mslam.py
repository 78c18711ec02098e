"""The joint speech-text family: each stream's loss reaches the parts it should, a run with three
streams resumes bit-identically, fine-tuning starts from its speech encoder, and streams a family
does not read are refused."""

from pathlib import Path

import pytest
import yaml
import torch

from speechxl import checkpoint as ckpt
from speechxl.config import ConfigError
from speechxl.data.manifest import Utterance, read_manifest, write_manifest
from speechxl.models.mslam import MslamConfig, build
from speechxl.nn.conformer import ConformerConfig
from speechxl.text.lang_dir import make_lang_dir
from speechxl.train.pretrain import load_pretrain_config, pretrain
from tests.conftest import TINY_W2V_BERT, write_audio_set
from tests.train.runs import assert_same_run, killed_after_step_3_then_resumed

ROOT = Path(__file__).resolve().parents[2]
BATCH = ["batch.max_samples=64000", "batch.max_seconds=2.0", "batch.min_seconds=0.5", "batch.num_workers=0",
         "train.log_every=1", "train.valid_every=100", "train.save_every=100", "schedule.warmup_steps=1",
         "text_batch.max_tokens=200", "text_batch.max_length=40"]


def tiny(**kw) -> MslamConfig:
    from speechxl.nn.gumbel_quantizer import GumbelQuantizerConfig
    from speechxl.objectives.contrastive import ContrastiveConfig

    return MslamConfig(encoder=ConformerConfig(hidden_size=32, num_layers=2, num_heads=2, intermediate_size=64,
                                               conv_kernel=5, position="relative_key", conv_norm="layer",
                                               final_norm=False),
                       quantizer=GumbelQuantizerConfig(groups=1, entries=16, dim=16),
                       objective=ContrastiveConfig(final_dim=16, num_negatives=5, feature_penalty_weight=0.0),
                       contrastive_layers=1, vocabulary=12, **kw)


def grads(model, loss) -> set[str]:
    model.zero_grad()
    loss.backward()
    return {n.split(".")[0] + ("." + n.split(".")[2] + "." + n.split(".")[3] if n.startswith("backbone.encoder.layers")
                               else "") for n, p in model.named_parameters() if p.grad is not None and p.grad.abs().sum() > 0}


def test_each_stream_trains_its_own_parts():
    torch.manual_seed(0)
    model = build(tiny())
    ids = torch.tensor([[3, 4, 5, 2, 6, 7, 8, 9, 4, 5, 2, 3], [5, 6, 7, 8, 9, 10, 4, 3, 0, 0, 0, 0]])
    loss, n, logs = model({"text": ids})
    assert n > 0 and torch.isfinite(loss) and "text_ce" in logs
    reached = grads(model, loss)
    assert {"text_embed", "text_head", "backbone.layers.1"} <= reached  # text enters the upper (shared) block
    assert "backbone.layers.0" not in reached and "ctc_head" not in reached and "target" not in reached
    wav = torch.randn(2, 16000)
    loss, tokens, logs = model({"wav": wav, "lengths": torch.tensor([16000, 12000]), "labels": [[3, 4, 5], [6, 7]]})
    assert tokens == 5 and torch.isfinite(loss)
    reached = grads(model, loss)
    assert {"ctc_head", "backbone.layers.0", "backbone.layers.1"} <= reached and "text_head" not in reached
    loss, _, logs = model({"wav": wav, "lengths": torch.tensor([16000, 16000])})  # speech: w2v-BERT's losses
    assert {"contrastive", "mlm_ce"} <= set(logs) and "text_embed" not in grads(model, loss)
    everything = build(tiny(text_layer=0))  # text through every block, as mSLAM
    assert "backbone.layers.0" in grads(everything, everything({"text": ids})[0])


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """Audio (untranscribed and transcribed), text, and the char units of both."""
    root = tmp_path_factory.mktemp("joint")
    audio, valid = write_audio_set(root / "audio", n=12), write_audio_set(root / "valid", n=4, seed=1)
    paired = root / "paired"
    write_manifest([Utterance(**{**u.__dict__, "text": ["ab ba", "a b", "ba"][i % 3]})
                    for i, u in enumerate(read_manifest(audio))], paired)
    (root / "text").mkdir()
    for lang in ("aa", "bb"):
        (root / "text" / f"{lang}.txt").write_text("".join(f"{'ab ' * (1 + i % 4)}ba\n" for i in range(30)))
    make_lang_dir("chars", paired, root / "lang_char")
    return root, audio, valid, paired


def config(corpus, out, *extra):
    root, audio, valid, paired = corpus
    return load_pretrain_config(ROOT / "recipes/pretrain/mslam_tiny.yaml", TINY_W2V_BERT + BATCH + [
        "units=chars", f"lang_dir={root / 'lang_char'}", f"streams.speech.data={audio}", f"streams.text.data={root / 'text'}",
        f"streams.paired.data={paired}", f"valid_data={valid}", f"out={out}", *extra])


def test_a_joint_run_with_three_streams_resumes_bit_identically_and_fine_tunes(corpus, tmp_path, monkeypatch):
    import json

    run = lambda out: pretrain(config(corpus, out, "train.max_steps=8", "train.save_every=3"))  # noqa: E731
    run(tmp_path / "a")
    killed_after_step_3_then_resumed(run, tmp_path / "b", monkeypatch)
    assert_same_run(tmp_path / "a", tmp_path / "b")
    rows = [json.loads(line) for line in open(tmp_path / "a" / "log.jsonl")]
    logged = {k for r in rows if r["split"] == "train" for k in r}
    assert {"loss_speech", "loss_text", "loss_paired", "text_ce", "ctc", "contrastive"} <= logged
    places = ckpt.load_trainer_state(ckpt.resolve(tmp_path / "a" / "checkpoints", "last"))["streams"]
    assert (places["speech"]["batches"], places["text"]["batches"], places["paired"]["batches"]) == (5, 2, 1)
    assert set(json.loads((tmp_path / "a" / "sampling.json").read_text())["text"]["aa"]) >= {"tokens", "share"}
    # fine-tuning takes the joint model's speech encoder
    from speechxl.train.finetune import finetune, load_finetune_config

    root, _, valid, paired = corpus
    ft = load_finetune_config(ROOT / "recipes/finetune/ctc_tiny.yaml", BATCH[:4] + [
        f"init={tmp_path / 'a'}", "units=chars", f"lang_dir={root / 'lang_char'}", f"data={paired}",
        f"valid_data={paired}", f"out={tmp_path / 'ctc'}", "ctc.freeze_encoder_steps=0", "ctc.mask_channel.length=4",
        "require_learning=false", "train.max_steps=1"])
    assert ft.family == "mslam"
    finetune(ft)
    tuned = ckpt.load_model_state(ckpt.resolve(tmp_path / "ctc" / "checkpoints", "last"))
    assert "backbone.feature_projection.projection.weight" in tuned and "text_head.weight" not in tuned


def test_streams_a_family_does_not_read_and_a_joint_run_without_units_are_refused(corpus, tmp_path):
    root, audio, valid, paired = corpus
    with pytest.raises(ConfigError, match="a w2v-bert model reads speech streams, not text"):
        pretrain(load_pretrain_config(ROOT / "recipes/pretrain/w2v_bert_tiny.yaml", TINY_W2V_BERT + BATCH + [
            f"streams.a.data={audio}", f"streams.b.data={root / 'text'}", "streams.b.kind=text", f"out={tmp_path / 'x'}"]))
    with pytest.raises(ConfigError, match="units: a mslam model reads transcripts and text"):
        pretrain(config(corpus, tmp_path / "y", "units=''"))
    with pytest.raises(ConfigError, match="kind is one of speech, paired, text"):
        config(corpus, tmp_path / "z", "streams.text.kind=video")


def test_a_text_encoder_distils_into_the_speech_side_and_stays_out_of_the_checkpoint(corpus, tmp_path, monkeypatch):
    """init.text= a pretrain-text model: SAMU-XLSR-style distillation on the paired stream."""
    import json

    from speechxl.train.pretrain_text import load_text_pretrain_config, pretrain_text

    root = corpus[0]
    pretrain_text(load_text_pretrain_config(None, [
        f"data={root / 'text'}", f"out={tmp_path / 'text'}", "tokenizer.vocab_size=20", "model.hidden_size=24",
        "model.num_layers=1", "model.num_heads=2", "model.intermediate_size=32", "model.max_positions=40",
        "batch.max_tokens=400", "batch.max_length=32", "train.max_steps=1", "valid_share=0.2"]))
    run = lambda out: pretrain(config(corpus, out, f"init.text={tmp_path / 'text'}", "train.max_steps=8",  # noqa: E731
                                      "train.save_every=3"))
    run(tmp_path / "a")
    saved = yaml.safe_load((tmp_path / "a" / "config.yaml").read_text())
    assert saved["model"]["distill_dim"] == 24 and saved["init"]["text"] == str(tmp_path / "text")
    weights = ckpt.load_model_state(ckpt.resolve(tmp_path / "a" / "checkpoints", "last"))
    assert weights["distill.weight"].shape == (24, 32) and not any(k.startswith("teacher") for k in weights)
    rows = [json.loads(line) for line in open(tmp_path / "a" / "log.jsonl")]
    assert any("distill" in r for r in rows if r["split"] == "train")
    killed_after_step_3_then_resumed(run, tmp_path / "b", monkeypatch)  # the teacher comes back on resume
    assert_same_run(tmp_path / "a", tmp_path / "b")
