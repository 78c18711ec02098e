"""Exports users take elsewhere: pretrained models to transformers, the model card and LM of a
fine-tuned one, torch.export programs (BEST-RQ has no transformers class), and files users can read."""

import json
import os
import stat

import pytest
import torch
import yaml

from speechxl.data.audio import load_audio
from speechxl.decode.export_hf import export_hf
from speechxl.decode.export_torch import export_torch, pretrained_encoder
from speechxl.decode.model import load_model
from speechxl.eval.report import score
from speechxl.decode.run import decode
from speechxl import checkpoint as ckpt
from tests.conftest import TINY_CONFORMER, TINY_W2V, write_audio_set

transformers = pytest.importorskip("transformers")


@pytest.fixture(scope="module")
def pretrained(tmp_path_factory):
    """Tiny pretraining runs of two steps: wav2vec 2.0 and BEST-RQ."""
    from pathlib import Path

    from speechxl.train.pretrain import load_pretrain_config, pretrain

    root = tmp_path_factory.mktemp("pre")
    train = write_audio_set(root / "train", n=8)
    steps = ["train.max_steps=2", "train.valid_every=100", "train.save_every=100", "schedule.warmup_steps=1"]
    runs = {"wav2vec2": (None, TINY_W2V),
            "bestrq": (Path(__file__).resolve().parents[2] / "recipes/pretrain/bestrq_conformer_tiny.yaml",
                       TINY_CONFORMER + ["model.quantizer.codebook_size=64", "batch.max_samples=64000",
                                         "batch.max_seconds=2.0", "batch.min_seconds=0.5", "batch.num_workers=0"])}
    for name, (preset, overrides) in runs.items():
        pretrain(load_pretrain_config(preset, overrides + steps + [f"data={train}", f"out={root / name}"]))
    return root


def front_matter(readme):
    text = readme.read_text()
    assert text.startswith("---\n")
    return yaml.safe_load(text.split("---\n")[1]), text


def test_pretrained_model_exports_to_transformers(pretrained, tmp_path):
    out = export_hf(pretrained / "wav2vec2", tmp_path / "hf")
    back, info = transformers.Wav2Vec2ForPreTraining.from_pretrained(out, output_loading_info=True)
    assert not info["missing_keys"] and not info["unexpected_keys"], info
    ours = pretrained_encoder(ckpt.find_checkpoint(pretrained / "wav2vec2")).eval()
    wav = torch.randn(1, 16000)
    with torch.no_grad():
        torch.testing.assert_close(back.eval().wav2vec2(wav).last_hidden_state, ours(wav).hidden, atol=1e-5, rtol=0)
    meta, text = front_matter(out / "README.md")
    assert meta["pipeline_tag"] == "feature-extraction" and meta["language"] == ["aa", "bb"]
    assert "init=hf" in text and "fine-tune it before it can transcribe" in text
    with pytest.raises(ValueError, match="speechxl export-torch"):
        export_hf(pretrained / "bestrq", tmp_path / "no")


def test_bestrq_and_ctc_models_export_as_torch_programs(pretrained, trained, tmp_path):
    path = export_torch(pretrained / "bestrq", tmp_path / "bestrq")
    program = torch.export.load(str(path)).module()
    ours = pretrained_encoder(ckpt.find_checkpoint(pretrained / "bestrq")).eval()
    wav, lengths = torch.randn(2, 40000), torch.tensor([40000, 23000])
    with torch.no_grad():
        hidden, valid = program(wav, lengths)
        want = ours(wav, lengths)
    torch.testing.assert_close(hidden, want.hidden, atol=1e-5, rtol=0)
    assert torch.equal(valid, want.valid)
    root, _, _ = trained
    path = export_torch(root / "ctc", tmp_path / "ctc")
    assert (tmp_path / "ctc" / "units.txt").is_file()
    log_probs, frames = torch.export.load(str(path)).module()(wav, lengths)
    with torch.no_grad():
        torch.testing.assert_close(log_probs, load_model(root / "ctc").net.log_probs(wav, lengths)[0], atol=1e-5, rtol=0)


def test_ctc_export_carries_card_metrics_and_lm_and_the_umask(trained, tmp_path):
    root, data, _ = trained
    d = decode(root / "ctc", data / "test", out_dir=root / "ctc" / "decode_test_card", lm=data / "lang_word")
    score(d)
    old = os.umask(0o022)
    try:
        out = export_hf(root / "ctc", tmp_path / "hf", lm=data / "lang_word", lang="es", license="cc-by-4.0")
    finally:
        os.umask(old)
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in out.rglob("*") if p.is_file()}
    assert set(modes.values()) == {0o644}, modes  # the user's umask, not 0600
    meta, text = front_matter(out / "README.md")
    assert meta["license"] == "cc-by-4.0" and meta["language"] == ["es"]  # a recogniser of es cut from es+ru
    report = json.loads((d / "report.json").read_text())
    metric = next(iter(report["scores"]))
    wer = round(100 * report["scores"][metric]["languages"]["es"]["rate"], 2)
    results = meta["model-index"][0]["results"]
    assert {r["dataset"]["name"] for r in results} == {"test (es)"}
    assert any(r["metrics"][0]["value"] == wer and r["metrics"][0]["type"] == metric.lower() for r in results)
    assert "decode_test_card" in text and "Exported for es alone from a model of es, ru" in text
    labels = json.loads((out / "alphabet.json").read_text())["labels"]
    vocab = json.loads((out / "vocab.json").read_text())
    m = load_model(root / "ctc")
    own = [s for s, keep in zip(m.units.symbols, m.own_units_mask("es")) if keep]
    assert sorted(vocab, key=vocab.get) == ["<pad>"] + own[1:] and len(own) < len(m.units)
    assert len(labels) == len(vocab) and labels[0] == "" and labels[vocab["|"]] == " "
    assert sorted(p.name for p in (out / "language_model").iterdir()) == ["attrs.json", "es.arpa", "unigrams.txt"]
    beam = json.loads((d / "decode.json").read_text())["beam"]
    assert json.loads((out / "language_model" / "attrs.json").read_text())["alpha"] == beam["lm_weight"]
    # transformers' pipeline loads it (greedy where pyctcdecode is not installed, as here)
    # transformers' pipeline loads it (greedy where pyctcdecode is not installed, as here) and, on es
    # speech, says what speechxl's greedy decoding of es says
    asr = transformers.pipeline("automatic-speech-recognition", model=str(out))
    greedy = decode(root / "ctc", data / "test", out_dir=tmp_path / "greedy")
    rows = [json.loads(line) for line in (greedy / "hyp.jsonl").read_text().splitlines()]
    for row in [r for r in rows if r["lang"] == "es"][:3]:
        wav = load_audio(row["audio"], row.get("offset", 0.0), row.get("duration"))
        said = asr(wav)["text"].replace("<unk>", "")  # the pipeline writes <unk> out, speechxl leaves it out
        assert said.split() == row["hyp"].split(), row["id"]
    with pytest.raises(ValueError, match="no unit inventory for xx"):
        export_hf(root / "ctc", tmp_path / "y", lang="xx")
    with pytest.raises(ValueError, match="one LM per language"):
        export_hf(root / "ctc", tmp_path / "x", lm=data / "lang_word")
