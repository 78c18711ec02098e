"""A corpus's orthography rules: tags, markers and characters, and the report of what no rule covers."""

import pytest

from speechxl.text.orthography import Orthography, character_table, load_orthography

RULES = """\
drop: ['xxx']
tags: ['\\[[^\\]]*\\]']
remove: "~()"
split: "-"
keep: "·"
"""


def test_rules_are_applied_before_the_languages_normalisation(tmp_path):
    (tmp_path / "rules.yaml").write_text(RULES, encoding="utf-8")
    rules = load_orthography(tmp_path / "rules.yaml")
    assert rules.normalize("La col·lecció [riu] de pel~ (Pere), fer-ho.", "ca") == "la col·lecció de pel pere fer ho"
    assert rules.dropped_by("no ho sé xxx") == "xxx" and rules.dropped_by("no ho sé") is None
    # without the rules, the middle dot splits the word and the tag's letters become a word
    assert Orthography().normalize("La col·lecció [riu]", "ca") == "la col lecció riu"
    assert rules.describe()["keep"] == "·" and rules.describe()["source"].endswith("rules.yaml")


def test_the_character_table_names_what_no_rule_covers(tmp_path):
    rules = Orthography(tags=(r"\[[^\]]*\]",), remove="~", keep="·")
    table = {r["char"]: r for r in character_table(["Col·lecció [riu] pel~ 3 + 4?", "ok * ok."], rules)}
    assert table["·"]["becomes"] == "kept (keep)" and table["~"]["becomes"] == "removed (remove)"
    assert table["["]["becomes"] == "inside tags only (tags)" and table["?"]["covered"]
    assert table["C"]["becomes"] == "letter" and table["3"]["becomes"] == "digit"
    assert {c for c, r in table.items() if not r["covered"]} == {"+", "*"}
    assert table["o"]["count"] == 3 and table["+"]["name"] == "PLUS SIGN"


@pytest.mark.parametrize("text, message", [
    ("drop: ['(']\n", r"drop: '\(' is not a regular expression"),
    ("tags: 3\n", "tags is a list of regular expressions"),
    ("keep: [a, b]\n", "keep is a string of characters"),
    ("markers: [x]\n", r"the rules' keys are drop, tags, remove, split, keep; not \['markers'\]"),
    ("drop: [\n", "cannot read the orthography rules"),
])
def test_bad_rules_are_one_line_naming_the_file(tmp_path, text, message):
    path = tmp_path / "rules.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ValueError, match=message):
        load_orthography(path)


def test_no_rules_file_means_no_rules():
    assert load_orthography(None) == Orthography()
