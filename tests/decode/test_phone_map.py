import math

import pytest
import torch

from speechxl.decode.phone_map import PhoneMap, read_inventory, restrict
from speechxl.models.ctc import greedy_ids
from speechxl.text.units import Units

MODEL = ["a", "e", "i", "o", "u", "ɯ", "t", "tʃ", "s", "ʃ", "n", "ɲ", "1"]


def test_hand_checked_articulatory_map():
    # a Polish-like inventory: ɨ and tɕ are new; ɯ, ʃ, ɲ, u-less
    inventory = ["a", "e", "i", "o", "ɨ", "t", "tɕ", "s", "ɕ", "n"]
    m = PhoneMap.build(MODEL, inventory, "articulatory", max_distance=math.inf)
    assert m.pairs["a"] == "a" and m.distances["a"] == 0
    assert m.pairs["ɯ"] == "ɨ"          # high unrounded vowel: central instead of back
    assert m.pairs["tʃ"] == "tɕ"        # postalveolar affricate -> alveolo-palatal one
    assert m.pairs["ʃ"] == "s"           # 0.375 (anterior, distributed) < 0.5 to ɕ (panphon: +delrel, +hi)
    assert m.pairs["ɲ"] == "n"
    assert m.pairs["1"] is None          # no features: dropped, and reported
    # by default only phones one minor feature away are mapped; the others keep their nearest
    near = PhoneMap.build(MODEL, inventory, "articulatory")
    assert near.pairs["ɯ"] == "ɨ" and near.distances["ɯ"] == 0.125
    assert near.pairs["ʃ"] is None and near.nearest["ʃ"] == "s" and near.pairs["ɲ"] is None
    exact = PhoneMap.build(MODEL, inventory, "exact")
    assert exact.pairs["a"] == "a" and exact.pairs["ɯ"] is None and exact.dropped()[0] == "u"


def test_ties_go_to_the_phone_listed_first_and_tenseness_weighs_little():
    assert PhoneMap.build(["e"], ["ɛ", "i"], "articulatory").pairs["e"] == "ɛ"  # tense, not height
    assert PhoneMap.build(["ə"], ["ɛ", "ɔ"], "articulatory", max_distance=math.inf).pairs["ə"] == "ɛ"
    assert PhoneMap.build(["ə"], ["ɔ", "ɛ"], "articulatory", max_distance=math.inf).pairs["ə"] == "ɔ"


def test_table_round_trip_and_edits(tmp_path):
    inventory = ["a", "i", "t"]
    m = PhoneMap.build(["a", "e", "t", "d"], inventory, "articulatory", max_distance=math.inf)
    m.save(tmp_path / "map.tsv")
    text = (tmp_path / "map.tsv").read_text().replace("e\ti\t", "e\ta\t")  # a linguist's edit
    (tmp_path / "edited.tsv").write_text(text)
    edited = PhoneMap.load(tmp_path / "edited.tsv", inventory)
    assert edited.pairs == {**m.pairs, "e": "a"}
    (tmp_path / "bad.tsv").write_text(text.replace("e\ta\t", "e\tx\t"))
    with pytest.raises(ValueError, match="not in the inventory"):
        PhoneMap.load(tmp_path / "bad.tsv", inventory)


def test_restricted_decoding_merges_mass_onto_the_inventory():
    source = Units.build(["a", "e", "o"], word_boundary=True)  # <blank> <unk> | a e o
    m = PhoneMap.build(["a", "e", "o"], ["a", "o"], "articulatory", max_distance=math.inf)
    assert m.pairs == {"a": "a", "e": "a", "o": "o"}
    target = m.units()
    probs = torch.tensor([[0.1, 0.0, 0.0, 0.3, 0.35, 0.25],   # e wins alone, but a+e beat o
                          [0.9, 0.0, 0.0, 0.05, 0.0, 0.05]])
    out = restrict(probs.clamp(min=1e-9).log(), m.matrix(source))
    assert out.shape == (2, len(target))
    assert torch.allclose(out.exp().sum(-1), torch.ones(2))
    ids = greedy_ids(out[None], torch.tensor([2]))[0]
    assert target.decode(ids) == ["a"]
    assert math.isinf(float(out[0, target.unk_id]))  # nothing maps to <unk>


def test_inventory_files(tmp_path):
    (tmp_path / "inv.txt").write_text("# Polish\na\t# 120\nɨ\n\na\ntɕ # affricate\n")
    assert read_inventory(tmp_path / "inv.txt") == ["a", "ɨ", "tɕ"]
    (tmp_path / "bad.txt").write_text("a b\n")
    with pytest.raises(ValueError, match="one phone per line"):
        read_inventory(tmp_path / "bad.txt")
