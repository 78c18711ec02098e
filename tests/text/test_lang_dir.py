import json

import pytest

from speechxl.data.manifest import Utterance, write_manifest
from speechxl.text.lang_dir import make_lang_dir
from speechxl.text.tokenize import BpeTokenizer, CharTokenizer, PhoneTokenizer, load_tokenizer
from speechxl.text.units import Units


def utt(i, lang, text, **kw):
    return Utterance(id=f"{lang}-{i:03d}", audio=f"/x/{lang}{i}.flac", duration=2.0, lang=lang,
                     speaker=f"{lang}s", text=text, **kw)


@pytest.fixture
def sets(tmp_path):
    train = [utt(0, "es", "hola mundo"), utt(1, "es", "el perro"), utt(2, "ru", "привет мир"),
             utt(3, "hi", "नमस्ते दुनिया"), utt(4, "es", None)]
    write_manifest(train, tmp_path / "train")
    write_manifest([utt(5, "es", "hola gato"), utt(6, "it", "ciao")], tmp_path / "test")
    return tmp_path


def test_chars(sets):
    d = make_lang_dir("chars", sets / "train", sets / "lang_char", eval_dirs=[sets / "test"])
    units = Units.load(d / "units.txt")
    assert units.symbols[:3] == ["<blank>", "<unk>", "|"]
    assert {"h", "п", "न", "्"} <= set(units.symbols)
    assert set(Units.load(d / "units_ru.txt").symbols[3:]) == set("приветмир") - {" "}
    info = json.loads((d / "info.json").read_text())
    cov = info["coverage"][str((sets / "test").resolve())]
    assert cov["es"]["unknown_units"] == {"g": 1, "t": 1}
    assert cov["it"]["unknown_rate"] == pytest.approx(2 / 4)  # "c", "i" of ciao; a, o are known
    counts = (d / "unit_counts.tsv").read_text().splitlines()
    assert counts[0] == "unit\tcount\tes\thi\tru"
    assert "o\t3\t3\t0\t0" in counts  # hola mundo, el perro
    tok = load_tokenizer(d)
    assert isinstance(tok, CharTokenizer) and tok.tokens("a b", "es") == ["a", "|", "b"]
    assert tok.text(["a", "|", "b", "<unk>"]) == "a b"


def test_phones(sets):
    d = make_lang_dir("phones", sets / "train", sets / "lang_phone", eval_dirs=[sets / "test"])
    units = Units.load(d / "units.txt")
    assert {"o", "l", "rʲ", "|"} <= set(units.symbols)
    info = json.loads((d / "info.json").read_text())
    assert info["voices"] == {"es": "es", "hi": "hi", "it": "it", "ru": "ru"}
    assert (d / "g2p" / "it.tsv").is_file()  # eval sets are phonemised into the cache
    tok = load_tokenizer(d)
    assert isinstance(tok, PhoneTokenizer)
    assert tok.tokenize([utt(0, "es", "hola mundo")]) == [["o", "l", "a", "|", "m", "u", "n", "d", "o"]]
    # a corpus's own phones win over G2P
    assert tok.tokenize([utt(9, "es", "hola", phones=["h", "o"])]) == [["h", "o"]]


def test_bpe(sets):
    d = make_lang_dir("bpe", sets / "train", sets / "lang_bpe", bpe_size=40)
    units = Units.load(d / "units.txt")
    assert units.symbols[:2] == ["<blank>", "<unk>"] and "|" not in units.symbols
    tok = load_tokenizer(d)
    assert isinstance(tok, BpeTokenizer)
    pieces = tok.tokens("hola mundo", "es")
    assert all(p in units for p in pieces)
    assert tok.text(pieces) == "hola mundo"


def test_errors(sets, tmp_path):
    with pytest.raises(ValueError, match="unknown unit kind"):
        make_lang_dir("words", sets / "train", sets / "x")
    write_manifest([utt(0, "es", None)], tmp_path / "untranscribed")
    with pytest.raises(ValueError, match="no transcribed utterances"):
        make_lang_dir("chars", tmp_path / "untranscribed", sets / "x")
    with pytest.raises(FileNotFoundError, match="run the units stage"):
        load_tokenizer(tmp_path / "nothing")
