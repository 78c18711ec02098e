"""pretrain-text: a tiny XLM-R learns masked tokens, resumes bit-identically, starts from an XLM-R dir
or its own checkpoint, exports to what transformers' fill-mask pipeline loads."""

import json

import pytest
import torch

from speechxl import checkpoint as ckpt
from speechxl.config import ConfigError
from speechxl.train.pretrain_text import held_out, load_text_pretrain_config, pretrain_text
from tests.train.runs import assert_same_run, killed_after_step_3_then_resumed

TINY = ["tokenizer.vocab_size=80", "model.hidden_size=32", "model.num_layers=2", "model.num_heads=4",
        "model.intermediate_size=64", "model.max_positions=34", "batch.max_tokens=512", "batch.max_length=32",
        "schedule.warmup_steps=0", "schedule.kind=constant", "optim.lr=2e-3", "train.log_every=1",
        "train.valid_every=100", "train.save_every=100", "valid_share=0.1"]


@pytest.fixture(scope="module")
def text(tmp_path_factory):
    """Two languages of short sentences with a clear pattern: a word that always follows another."""
    d = tmp_path_factory.mktemp("lm_text")
    rng = torch.Generator().manual_seed(0)
    words = {"ca": ["casa", "gat", "porta", "llibre", "aigua", "foc"], "es": ["casa", "gato", "puerta", "libro"]}
    for lang, vocab in words.items():
        lines = []
        for _ in range(300):
            picks = [vocab[int(i)] for i in torch.randint(len(vocab), (4,), generator=rng)]
            lines.append(" ".join(f"el {w} de {w}" for w in picks[:2]) + " " + " ".join(picks[2:]))
        (d / f"{lang}.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return d


def config(text, out, *extra):
    return load_text_pretrain_config(None, TINY + [f"data={text}", f"out={out}", *extra])


def test_a_tiny_text_encoder_learns_the_masked_words(text, tmp_path):
    first = pretrain_text(config(text, tmp_path / "a", "train.max_steps=1"))
    last = pretrain_text(config(text, tmp_path / "b", "train.max_steps=150"))
    assert last["loss"] < 0.6 * first["loss"] and last["accuracy"] > 0.3, (first, last)
    out = tmp_path / "b"
    assert (out / "tokenizer" / "sentencepiece.bpe.model").is_file()
    best = ckpt.resolve(out / "checkpoints", "best")
    assert (best / "sentencepiece.bpe.model").is_file()  # a checkpoint carries its tokenizer
    counts = json.loads((out / "text.json").read_text())
    assert set(counts["train"]) == {"ca", "es"} and counts["valid"] > 0


def test_a_killed_run_resumes_bit_identically(text, tmp_path, monkeypatch):
    run = lambda out: pretrain_text(config(text, out, "train.max_steps=6", "train.save_every=3"))  # noqa: E731
    run(tmp_path / "a")
    killed_after_step_3_then_resumed(run, tmp_path / "b", monkeypatch)
    assert_same_run(tmp_path / "a", tmp_path / "b")
    with pytest.raises(ConfigError, match="model.num_layers 2 -> 3"):  # other settings are refused, by name
        pretrain_text(config(text, tmp_path / "b", "train.max_steps=8", "model.num_layers=3"))


def test_init_from_an_xlmr_dir_and_from_a_speechxl_checkpoint(text, tmp_path):
    from speechxl.interop.hf_xlmr import load_xlmr

    pretrain_text(config(text, tmp_path / "own", "train.max_steps=2"))
    from speechxl.cli import main

    main(["export-hf", str(tmp_path / "own"), str(tmp_path / "hf")])
    _, exported = load_xlmr(tmp_path / "hf")
    for init in (tmp_path / "hf", tmp_path / "own"):
        out = tmp_path / f"from_{init.name}"
        pretrain_text(config(text, out, f"init={init}", "train.max_steps=1", "optim.lr=0", "model.dropout=0.0"))
        weights = ckpt.load_model_state(ckpt.resolve(out / "checkpoints", "last"))
        assert all(torch.equal(weights[k], v) for k, v in exported.items())  # lr 0: the initial weights
        assert (ckpt.resolve(out / "checkpoints", "last") / "sentencepiece.bpe.model").read_bytes() == (
            tmp_path / "hf" / "sentencepiece.bpe.model").read_bytes()  # and its tokenizer


def test_the_export_loads_in_the_fill_mask_pipeline(text, tmp_path, run_cli):
    from transformers import pipeline

    pretrain_text(config(text, tmp_path / "t", "train.max_steps=2"))
    run_cli("export-hf", tmp_path / "t", tmp_path / "hf")
    fill = pipeline("fill-mask", model=str(tmp_path / "hf"))
    assert len(fill("el gat de <mask>")) == 5
    assert "pipeline_tag: fill-mask" in (tmp_path / "hf" / "README.md").read_text()


def test_validation_sentences_are_chosen_by_their_text_and_bad_data_is_one_line(text, tmp_path):
    assert held_out("el gat de gat", 0.5) == held_out("el gat de gat", 0.5)
    share = sum(held_out(f"frase {i}", 0.1) for i in range(2000)) / 2000
    assert 0.07 < share < 0.13
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="neither a data set .* nor a dir of <lang>.txt files"):
        pretrain_text(config(tmp_path / "empty", tmp_path / "x"))
    (tmp_path / "latin").mkdir()
    (tmp_path / "latin" / "ca.txt").write_bytes("què tal\n".encode("latin-1"))
    with pytest.raises(ValueError, match="ca.txt: not UTF-8 text"):
        pretrain_text(config(tmp_path / "latin", tmp_path / "y"))
    with pytest.raises(ConfigError, match="data: give dirs"):
        load_text_pretrain_config(None, ["out=x"])


def test_masking_chooses_real_tokens_only_and_at_least_one_per_sentence():
    from speechxl.models.text_encoder import TokenMaskingConfig, mask_tokens

    torch.manual_seed(0)
    ids = torch.tensor([[0, 7, 8, 9, 2, 1, 1], [0, 5, 2, 1, 1, 1, 1]])
    for _ in range(20):
        masked, chosen = mask_tokens(ids, TokenMaskingConfig(prob=0.15), pad_id=1, mask_id=20, specials=4,
                                     vocab_size=21)
        assert chosen.sum(1).min() >= 1 and not chosen[ids < 4].any()
        assert torch.equal(masked[~chosen], ids[~chosen])
    big = torch.randint(4, 100, (64, 128))
    masked, chosen = mask_tokens(big, TokenMaskingConfig(), pad_id=1, mask_id=100, specials=4, vocab_size=101)
    assert 0.13 < chosen.float().mean() < 0.17
    assert 0.75 < (masked[chosen] == 100).float().mean() < 0.85  # 80 % become <mask>
