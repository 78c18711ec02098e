import pytest

from speechxl.text.normalize import describe, normalize


@pytest.mark.parametrize("lang, raw, want", [
    ("es", "¿Qué tal, Ana?", "qué tal ana"),
    ("en", "It’s 4:30 — “fine”!", "it's 4 30 fine"),
    ("fr", "L'homme  est\tlà.", "l'homme est là"),
    ("tr", "İSTANBUL'da IŞIK", "istanbul'da ışık"),
    ("el", "ΟΔΟΣ ΚΑΙ όπωσ.", "οδος και όπως"),
    ("hi", "नमस्ते, दुनिया।", "नमस्ते दुनिया"),
    ("fa", "می‌خواهم كتاب ـ يك", "میخواهم کتاب یک"),
    ("uk", "М’ясо — 'так'", "м'ясо так"),
    ("ru", "Привет, Мир! OK", "привет мир ok"),
    ("es", "e\u0301l", "él"),  # NFC: decomposed e + acute becomes é
    ("es", "", ""),
    ("es", "¡¿…!?", ""),
])
def test_normalize(lang, raw, want):
    assert normalize(raw, lang) == want


def test_region_subtags_use_the_base_language():
    assert normalize("IŞIK", "tr-TR") == "ışık"


def test_describe_records_the_rules():
    d = describe("tr")
    assert d["version"] >= 1 and any("dotless" in s for s in d["steps"])
    assert any("ی" in s for s in describe("fa")["steps"])
