import pytest

from speechxl.text.units import BLANK, UNK, WORD, Units


def test_build_orders_specials_then_unicode():
    u = Units.build(["b", "a", "|", "a", "ж"], word_boundary=True)
    assert u.symbols == [BLANK, UNK, WORD, "a", "b", "ж"]
    assert (u.blank_id, u.unk_id) == (0, 1)
    assert Units.build(["▁a"], word_boundary=False).symbols == [BLANK, UNK, "▁a"]


def test_encode_maps_unknown_symbols_to_unk():
    u = Units.build(["a", "b"], word_boundary=True)
    assert u.encode(["a", "|", "q", "b"]) == [3, 2, 1, 4]
    assert u.unknown(["a", "q", "ʂ"]) == ["q", "ʂ"]
    assert u.decode([3, 2, 4]) == ["a", "|", "b"]


def test_file_round_trip_is_one_unit_per_line(tmp_path):
    u = Units.build(["tʃ", "aː", "ẽː"], word_boundary=True)
    u.save(tmp_path / "units.txt")
    assert (tmp_path / "units.txt").read_text(encoding="utf-8") == "<blank>\n<unk>\n|\naː\ntʃ\nẽː\n"
    assert Units.load(tmp_path / "units.txt").symbols == u.symbols


@pytest.mark.parametrize("lines, msg", [
    (["a", "<blank>"], "starts with"),
    (["<blank>", "<unk>", "a", "a"], "once"),
    (["<blank>", "<unk>", "a b"], "white space"),
])
def test_bad_inventories_are_refused(tmp_path, lines, msg):
    (tmp_path / "units.txt").write_text("\n".join(lines) + "\n")
    with pytest.raises(ValueError, match=msg):
        Units.load(tmp_path / "units.txt")
