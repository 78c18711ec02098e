"""The text encoder against transformers' XLM-RoBERTa: the same hidden states and logits both ways,
and the same token ids as XLMRobertaTokenizer."""

import pytest
import torch

from speechxl.interop.hf_xlmr import load_xlmr, save_xlmr
from speechxl.models.text_encoder import TextMLM, TextMLMConfig
from speechxl.text.xlmr_tokenizer import XlmrTokenizer, train_xlmr_tokenizer

TINY = dict(vocab_size=120, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
            max_position_embeddings=40, type_vocab_size=1, layer_norm_eps=1e-5)
TEXT = {"ca": ["bon dia a tothom", "la col·lecció de la casa", "què tal estàs avui"] * 20,
        "es": ["buenos días a todos", "la colección de la casa", "qué tal estás hoy"] * 20}


def batch():
    """Two sentences of other lengths, the shorter padded with <pad> (1)."""
    ids = torch.tensor([[0, 5, 17, 99, 42, 8, 2], [0, 33, 64, 2, 1, 1, 1]])
    return ids, (ids != 1).long()


def test_an_xlmr_dir_loads_with_transformers_hidden_states_and_logits(tmp_path):
    from transformers import XLMRobertaConfig, XLMRobertaForMaskedLM

    torch.manual_seed(0)
    hf = XLMRobertaForMaskedLM(XLMRobertaConfig(**TINY)).eval()
    hf.save_pretrained(tmp_path / "hf")
    cfg, state = load_xlmr(tmp_path / "hf")
    ours = TextMLM(cfg).eval()
    ours.load_state_dict(state)  # every weight, nothing left over
    ids, attention = batch()
    with torch.no_grad():
        theirs = hf(input_ids=ids, attention_mask=attention, output_hidden_states=True)
        hidden, layers = ours.encoder(ids, return_layers=True)
        logits = ours.head(hidden, ours.encoder.embed.words.weight)
    real = attention.bool()
    for mine, them in zip(layers, theirs.hidden_states, strict=True):
        torch.testing.assert_close(mine[real], them[real], rtol=0, atol=1e-5)
    torch.testing.assert_close(logits[real], theirs.logits[real], rtol=0, atol=1e-5)


def test_a_bare_encoder_dir_loads_without_a_head(tmp_path):
    from transformers import XLMRobertaConfig, XLMRobertaModel

    XLMRobertaModel(XLMRobertaConfig(**TINY)).save_pretrained(tmp_path / "base")  # with a pooler, no LM head
    cfg, state = load_xlmr(tmp_path / "base")
    missing, unexpected = TextMLM(cfg).load_state_dict(state, strict=False)
    assert sorted(missing) == ["head.bias", "head.dense.bias", "head.dense.weight", "head.layer_norm.bias",
                               "head.layer_norm.weight"] and not unexpected


def test_a_speechxl_text_model_exports_to_what_transformers_loads(tmp_path):
    from transformers import AutoModelForMaskedLM, AutoTokenizer

    tokenizer = train_xlmr_tokenizer(TEXT, tmp_path / "tok", vocab_size=60)
    torch.manual_seed(1)
    cfg = TextMLMConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, num_layers=2, num_heads=4,
                        intermediate_size=64, max_positions=40, mask_id=tokenizer.mask)
    ours = TextMLM(cfg).eval()
    save_xlmr(ours.state_dict(), cfg, tokenizer.path, tmp_path / "out")
    hf = AutoModelForMaskedLM.from_pretrained(tmp_path / "out").eval()
    hf_tokenizer = AutoTokenizer.from_pretrained(tmp_path / "out")
    for text in ("bon dia a tothom", "la colección de la casa?", "ẞ unknown"):
        assert hf_tokenizer(text)["input_ids"] == tokenizer.encode(text), text
    assert hf_tokenizer.mask_token_id == tokenizer.mask == cfg.mask_id
    long, short = tokenizer.encode("què tal estàs avui"), tokenizer.encode("bon dia")
    ids = torch.tensor([long, short + [tokenizer.pad] * (len(long) - len(short))])
    attention = (ids != 1).long()
    with torch.no_grad():
        theirs = hf(input_ids=ids, attention_mask=attention).logits
        mine = ours.head(ours.encoder(ids), ours.encoder.embed.words.weight)
    torch.testing.assert_close(mine[attention.bool()], theirs[attention.bool()], rtol=0, atol=1e-5)


def test_the_tokenizer_numbers_pieces_as_fairseq_does(tmp_path):
    tokenizer = train_xlmr_tokenizer(TEXT, tmp_path, vocab_size=60)
    ids = tokenizer.encode("bon dia a tothom")
    assert ids[0] == 0 and ids[-1] == 2 and all(i >= 4 for i in ids[1:-1])
    assert tokenizer.decode(ids) == "bon dia a tothom"
    assert tokenizer.encode("ẞ")[1:-1].count(3) >= 1  # a character it never saw: <unk>
    assert tokenizer.vocab_size == tokenizer.mask + 1 == XlmrTokenizer(tokenizer.path).vocab_size
    assert len(tokenizer.encode("bon dia a tothom " * 50, max_length=16)) == 16
    with pytest.raises(ValueError, match="no text"):
        train_xlmr_tokenizer({"ca": []}, tmp_path / "x", 60)
