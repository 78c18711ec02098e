import pytest

from speechxl.text.g2p import G2P, clean_word, espeak_voice


def test_voices_for_commonvoice_locales():
    assert espeak_voice("es") == "es"
    assert espeak_voice("en") == "en-us"
    assert espeak_voice("zh-CN") == "cmn"
    assert espeak_voice("sv-SE") == "sv"
    with pytest.raises(ValueError, match="no espeak-ng voice for language 'xx'.*--voice"):
        espeak_voice("xx")


@pytest.mark.parametrize("tokens, want", [
    (["t", "j", "e", "n", "e"], ["t", "j", "e", "n", "e"]),
    (["q", "1", "a"], ["q", "a"]),                    # tone/stress digits dropped
    (["ɪ^", "u\"", "r."], ["ɪ", "u", "r"]),           # espeak marks dropped
    (["s", "ss", "cʰcʰ"], ["s", "sː", "cʰː"]),        # doubled tokens are geminates
    (["ja", "ju", "wa"], ["j", "a", "j", "u", "w", "a"]),  # fused glides split
    (["tʃ", "aɪ", "ẽː"], ["tʃ", "aɪ", "ẽː"]),          # affricates, diphthongs, nasal long vowels kept
    (["??"], []),
])
def test_clean_word(tokens, want):
    assert clean_word(tokens) == want


def test_g2p_gives_ipa_phones_with_word_boundaries_and_caches(tmp_path):
    g = G2P("es", cache_dir=tmp_path)
    (out,) = g(["hola mundo"])
    assert out == ["o", "l", "a", "|", "m", "u", "n", "d", "o"]
    assert (tmp_path / "es.tsv").read_text(encoding="utf-8") == "hola mundo\to l a | m u n d o\n"
    # a second phonemiser reads the cache: it must not call espeak-ng again
    g2 = G2P("es", cache_dir=tmp_path)
    g2.backend = None
    assert g2(["hola mundo"]) == [out]


def test_half_written_cache_line_is_ignored(tmp_path):
    (tmp_path / "es.tsv").write_text("hola\to l a\nmund", encoding="utf-8")
    g = G2P("es", cache_dir=tmp_path)
    assert g.cache == {"hola": ["o", "l", "a"]}


@pytest.mark.parametrize("lang, text, some", [
    ("ru", "привет", "rʲ"), ("hi", "नमस्ते", "ə"), ("el", "θάλασσα", "θ"), ("fa", "کتاب", "k"),
    ("tr", "ışık", "ɯ"),
])
def test_several_scripts(lang, text, some):
    (out,) = G2P(lang, cache_dir=None)([text])
    assert some in out and "|" not in out
