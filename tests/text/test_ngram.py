import pytest

from speechxl.text.ngram import BOS, EOS, UNK, train_ngram, write_arpa

TEXT = [s.split() for s in [
    "the cat sat on the mat", "the dog sat on the log", "a cat and a dog", "the cat ran",
    "on the mat the cat sat", "a dog ran on the log", "the mat", "cat cat cat",
]]


@pytest.mark.parametrize("order", [1, 2, 3, 4])
def test_every_context_sums_to_one(order):
    lm = train_ngram(TEXT, order)
    words = [w for w in lm.vocab if w != BOS]
    contexts = [()] + [ngram for table in lm.prob[: order - 1] for ngram in table]
    for ctx in contexts:
        total = sum(10 ** lm.log10(w, ctx) for w in words)
        assert total == pytest.approx(1.0, abs=1e-6), ctx


def test_seen_continuations_beat_unseen_ones():
    lm = train_ngram(TEXT, 3)
    assert lm.log10("sat", ("the", "cat")) > lm.log10("log", ("the", "cat"))
    assert lm.log10("zebra", ("the",)) == lm.log10(UNK, ("the",)) < lm.log10(UNK, ())
    assert lm.log10(EOS, ("cat", "ran")) > lm.log10(EOS, ("on", "the"))


def test_arpa_file_reads_back_in_kenlm(tmp_path):
    kenlm = pytest.importorskip("flashlight.lib.text.decoder.kenlm")
    ours = train_ngram(TEXT, 3)
    path = write_arpa(ours, tmp_path / "lm.arpa")
    head = path.read_text().splitlines()
    assert head[:2] == ["\\data\\", f"ngram 1={len(ours.vocab) + 1}"]  # and <s>
    from flashlight.lib.text.dictionary import create_word_dict

    words = create_word_dict({w: [[w]] for w in ours.vocab})
    lm = kenlm.KenLM(str(path), words)
    state = lm.start(False)
    context = (BOS,)
    for w in ["the", "cat", "ran", "zebra", "on"]:
        state, score = lm.score(state, words.get_index(w))
        assert score == pytest.approx(ours.log10(w, context), abs=1e-4), w  # KenLM scores in log10
        context += (w,)
