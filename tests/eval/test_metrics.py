import pytest

from speechxl.eval.metrics import Counts, align, confusions, pra, score_rows


def test_hand_counted_alignment():
    # ref: a b c d ; hyp: a x c d e -> 1 substitution (b->x), 1 insertion (e)
    c, ops = align(list("abcd"), list("axcde"))
    assert (c.ref, c.sub, c.dele, c.ins, c.errors, c.wrong) == (4, 1, 0, 1, 2, 1) and c.rate == 0.5
    assert confusions(ops) == {("b", "x"): 1, ("", "e"): 1}
    assert ops == [("a", "a", "C"), ("b", "x", "S"), ("c", "c", "C"), ("d", "d", "C"), ("", "e", "I")]
    c, ops = align(["tʃ", "a", "ʃ"], ["a"])
    assert (c.sub, c.dele, c.ins) == (0, 2, 0) and confusions(ops) == {("tʃ", ""): 1, ("ʃ", ""): 1}
    assert align(list("ab"), list("ab"))[0].wrong == 0


def test_empty_sides():
    c, _ = align([], ["x", "y"])
    assert (c.ref, c.ins) == (0, 2)
    c, _ = align(["x"], [])
    assert (c.ref, c.dele) == (1, 1)


def test_wer_cer_per_language_and_overall():
    rows = [
        {"lang": "es", "ref": "hola mundo", "hyp": "hola mundos", "ref_units": [], "hyp_units": []},
        {"lang": "ru", "ref": "да нет", "hyp": "да", "ref_units": [], "hyp_units": []},
    ]
    s = score_rows(rows, "chars")
    assert s["WER"]["languages"]["es"]["rate"] == 0.5 and s["WER"]["languages"]["ru"]["rate"] == 0.5
    assert s["WER"]["overall"]["errors"] == 2 and s["WER"]["overall"]["ref"] == 4
    # CER: es 1 insertion in 10 chars; ru deletes " нет" (4 chars) of 6
    assert s["CER"]["languages"]["es"] == pytest.approx(
        {"utterances": 1, "ref": 10, "sub": 0, "dele": 0, "ins": 1, "wrong": 1, "errors": 1, "rate": 0.1})
    assert s["CER"]["languages"]["ru"]["dele"] == 4
    assert s["CER"]["per_utterance"] == [1, 4]


def test_per_ignores_word_boundaries():
    rows = [{"lang": "el", "ref": "", "hyp": "", "ref_units": ["k", "a", "|", "l", "o"],
             "hyp_units": ["k", "|", "l", "u"]}]
    s = score_rows(rows, "phones")
    assert set(s) == {"PER"} and s["PER"]["overall"]["ref"] == 4
    assert (s["PER"]["overall"]["sub"], s["PER"]["overall"]["dele"]) == (1, 1)
    total = Counts()
    total.add(Counts(utterances=1, ref=3, sub=1))
    assert total.as_dict()["rate"] == pytest.approx(1 / 3, abs=1e-5)


def test_pra_lines_up_each_aligned_token_in_a_column():
    """sclite's pra layout: a column per aligned token, * where a side is missing, the operation
    under it; a space token made visible, as in the trn files."""
    rows = [{"id": "u1", "lang": "es", "ref": "ab cd", "hyp": "xb cde", "ref_units": [], "hyp_units": []}]
    s = score_rows(rows, "chars")
    text = pra(rows, s["CER"]["alignments"])
    assert text.splitlines() == ["id: (u1)", "Scores: (#C #S #D #I) 4 1 0 1",
                                 "REF:  a b ▁ c d *", "HYP:  x b ▁ c d e", "Eval: S         I"]
    words = pra(rows, s["WER"]["alignments"]).splitlines()
    assert words[2:5] == ["REF:  ab cd", "HYP:  xb cde", "Eval: S  S"]
