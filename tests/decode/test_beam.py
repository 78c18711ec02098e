import pytest
import torch

from speechxl.decode.beam import BeamConfig, LexiconBeamDecoder, TokenBeamDecoder
from speechxl.text.ngram import train_ngram, write_arpa
from speechxl.models.ctc import greedy_ids
from speechxl.text.units import Units

pytest.importorskip("flashlight.lib.text.decoder")
UNITS = Units.build(list("abc"), word_boundary=True)  # <blank> <unk> | a b c


def emissions(frames: list[dict[str, float]]) -> torch.Tensor:
    """(T, V) log-probs; each frame gives probabilities to some units, the rest shared."""
    rows = []
    for f in frames:
        p = torch.full((len(UNITS),), (1 - sum(f.values())) / (len(UNITS) - len(f)))
        for u, v in f.items():
            p[UNITS.index[u]] = v
        rows.append(p.log())
    return torch.stack(rows)


# "ab | c?" where the last letter sounds a bit more like b than a
FRAMES = [{"a": 0.9}, {"b": 0.9}, {"|": 0.9}, {"c": 0.9}, {"b": 0.5, "a": 0.4}, {"<blank>": 0.9}]


def test_lexicon_decoder_keeps_to_words_of_the_lm(tmp_path):
    arpa = write_arpa(train_ngram([["ab", "ca"], ["ca", "ab"], ["ab", "ab", "ca"]], 2), tmp_path / "w.arpa")
    lexicon = {w: [list(w) + ["|"]] for w in ("ab", "ca")}
    lp = emissions(FRAMES)
    greedy = UNITS.decode(greedy_ids(lp[None], torch.tensor([len(FRAMES)]))[0])
    assert "".join(greedy) == "ab|cb"
    ids, words = LexiconBeamDecoder(UNITS, lexicon, arpa, BeamConfig(lm_weight=1.0))(lp)
    assert words == ["ab", "ca"]
    assert "".join(UNITS.decode(ids)) == "ab|ca"


def test_token_decoder_uses_the_unit_lm(tmp_path):
    sentences = [list("ab|ca"), list("ca|ab"), list("ab|ab|ca")]
    arpa = write_arpa(train_ngram(sentences, 3), tmp_path / "t.arpa")
    ids = TokenBeamDecoder(UNITS, arpa, BeamConfig(lm_weight=2.0))(emissions(FRAMES))
    assert "".join(UNITS.decode(ids)) == "ab|ca"
    # without the LM's pull the acoustics win
    ids = TokenBeamDecoder(UNITS, arpa, BeamConfig(lm_weight=0.0))(emissions(FRAMES))
    assert "".join(UNITS.decode(ids)) == "ab|cb"


def test_word_score_penalises_insertions(tmp_path):
    arpa = write_arpa(train_ngram([["a"], ["b"], ["a", "b"]], 2), tmp_path / "w.arpa")
    lexicon = {w: [[w, "|"]] for w in ("a", "b")}
    lp = emissions([{"a": 0.6}, {"|": 0.5}, {"b": 0.35}, {"<blank>": 0.9}])  # is the weak "b" a word?
    assert LexiconBeamDecoder(UNITS, lexicon, arpa, BeamConfig(lm_weight=0.0, word_score=5.0))(lp)[1] == ["a", "b"]
    assert LexiconBeamDecoder(UNITS, lexicon, arpa, BeamConfig(lm_weight=0.0, word_score=-5.0))(lp)[1] == []


def test_lexicon_decoder_keeps_the_last_word_without_a_boundary_after_it(tmp_path):
    # transcripts have no boundary after their last word, so the model gives none there
    arpa = write_arpa(train_ngram([["ab", "ca"], ["ca", "ab"], ["ab", "ab", "ca"]], 2), tmp_path / "w.arpa")
    lexicon = {w: [list(w) + ["|"]] for w in ("ab", "ca")}
    lp = emissions([{"a": 0.98}, {"b": 0.98}, {"|": 0.98}, {"c": 0.98}, {"a": 0.98}])
    assert LexiconBeamDecoder(UNITS, lexicon, arpa, BeamConfig(lm_weight=1.0))(lp)[1] == ["ab", "ca"]


def test_an_utterance_ending_inside_a_word_decodes_the_same_every_time(tmp_path):
    # the last sounds are the start of "abc", which cannot end there: every hypothesis dies at the
    # closing boundary frame; the first word is "ca" or, less likely, "cb". flashlight ranks dead
    # ends of equal score (-inf) by memory address, so this used to give either word by chance.
    arpa = write_arpa(train_ngram([["ca", "abc"], ["cb", "abc"], ["abc", "ca"]], 2), tmp_path / "w.arpa")
    lexicon = {w: [list(w) + ["|"]] for w in ("abc", "ca", "cb")}
    lp = emissions([{"c": 0.9}, {"a": 0.5, "b": 0.4}, {"|": 0.9}, {"a": 0.9}, {"b": 0.9}])
    results = set()
    for i in range(20):
        padding = [torch.randn(1000 * (i + 1)) for _ in range(i)]  # other allocations in between
        decoder = LexiconBeamDecoder(UNITS, lexicon, arpa, BeamConfig(beam=4, lm_weight=1.0))
        ids, words = decoder(lp)
        results.add((tuple(ids), tuple(words)))
        assert decoder.unfinished == 1 and padding is not None
    assert results == {(tuple(UNITS.encode(list("ca|ab"))), ("ca",))}


def test_loading_an_lm_prints_nothing(tmp_path, capfd):
    """KenLM's notice ("Loading the LM will be faster if you build a binary file") and progress bar
    went to the terminal once per language and decode."""
    arpa = write_arpa(train_ngram([["a", "b"], ["b", "a"]], 2), tmp_path / "t.arpa")
    capfd.readouterr()
    TokenBeamDecoder(UNITS, arpa, BeamConfig())
    LexiconBeamDecoder(UNITS, {"a": [["a"]], "b": [["b"]]}, arpa, BeamConfig())
    assert capfd.readouterr().err == ""
    with pytest.raises(Exception):  # errors still come back
        TokenBeamDecoder(UNITS, tmp_path / "missing.arpa", BeamConfig())
