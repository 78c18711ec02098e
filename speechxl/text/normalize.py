"""Transcript normalisation per language, recorded so a data set says how its text was made.

Steps, in order (``describe(lang)`` lists them for one language):
  1. Unicode NFC; typographic apostrophes (’ ʼ ‘ `) become "'".
  2. Language letter variants (Persian: Arabic yeh/kaf to Persian ones).
  3. Lower case, with the language's rules (Turkish/Azerbaijani dotted and dotless i;
     Greek final sigma).
  4. Punctuation and symbols become spaces, except an apostrophe between two letters
     (l'homme, м'ясо); format characters (ZWNJ, soft hyphen) and tatweel are removed.
     Letters, combining marks and digits are kept, whatever their script.
  5. Runs of white space become one space; ends are stripped.

>>> normalize("¿Qué tal, Ana?", "es")
'qué tal ana'
>>> normalize("İSTANBUL'da IŞIK", "tr")
"istanbul'da ışık"
"""

from __future__ import annotations

import re
import unicodedata

VERSION = 1

_APOSTROPHES = str.maketrans({"’": "'", "ʼ": "'", "‘": "'", "`": "'"})
_LETTER_VARIANTS = {
    "fa": str.maketrans({"ي": "ی", "ى": "ی", "ك": "ک"}),
}
_DOTTED_I_LANGS = {"tr", "az", "crh", "tt"}
_REMOVED = {"\u0640"}  # Arabic tatweel (a letter-lengthening stroke, category Lm)
_SPACE = re.compile(r"\s+")


def _lower(text: str, lang: str) -> str:
    if lang in _DOTTED_I_LANGS:
        text = text.replace("I", "ı").replace("İ", "i")
    text = text.lower()
    if lang == "el":  # a sigma that ends a word is final sigma, also when the source was lower
        text = re.sub(r"σ(?=$|[^\w])", "ς", text)
    return text


def _keep(ch: str, prev: str, nxt: str, keep: str = "") -> str:
    """What one character becomes: itself, a space, or nothing; ``keep``: characters that stay."""
    if ch in keep:
        return ch
    if ch in _REMOVED:
        return ""
    cat = unicodedata.category(ch)
    if ch == "'":
        return "'" if prev.isalpha() and nxt.isalpha() else " "
    if cat[0] in "LMN":
        return ch
    if cat == "Cf":
        return ""
    return " "  # punctuation, symbols, separators, controls


def normalize(text: str, lang: str, keep: str = "") -> str:
    """Normalised transcript of ``text`` in language ``lang`` (see the module doc); ``keep``: characters
    step 4 keeps as they are (a corpus's orthography: ``text.orthography``)."""
    base = lang.split("-")[0].lower()
    text = unicodedata.normalize("NFC", text).translate(_APOSTROPHES)
    if base in _LETTER_VARIANTS:
        text = text.translate(_LETTER_VARIANTS[base])
    text = _lower(text, base)
    padded = f" {text} "
    out = "".join(_keep(padded[i], padded[i - 1], padded[i + 1], keep) for i in range(1, len(padded) - 1))
    return _SPACE.sub(" ", out).strip()


def describe(lang: str) -> dict:
    """The rules ``normalize`` applies for ``lang``, for a data set's info.json."""
    base = lang.split("-")[0].lower()
    steps = ["unicode NFC", "typographic apostrophes to '"]
    if base in _LETTER_VARIANTS:
        steps.append("letter variants: " + " ".join(
            f"{chr(a)}>{b}" for a, b in _LETTER_VARIANTS[base].items()))
    steps.append("lower case" + (" (dotted/dotless i)" if base in _DOTTED_I_LANGS else "")
                 + (" (final sigma)" if base == "el" else ""))
    steps += [
        "punctuation and symbols to space, except ' between letters",
        "format characters and tatweel removed",
        "white space collapsed",
    ]
    return {"version": VERSION, "lang": lang, "steps": steps}
