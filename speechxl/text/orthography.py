"""A corpus's own transcription conventions, in a small YAML file the user edits.

    speechxl prepare fieldwork --corpus recordings/ --rules rules.yaml ...

Fieldwork transcripts are written in an orthography with markers the language's normalisation
(``text.normalize``) knows nothing of: bracketed tags for sounds that are not words (``[laughs]``),
a sign after a word cut off (``pel~``), parentheses around an uncertain word, ``xxx`` for what
could not be heard, letters that are punctuation elsewhere (Catalan's ``·`` in ``col·lecció``).
The rules say what each is, and are applied in this order, before the language's normalisation:

    drop: ['xxx']              # regexes: an annotation that matches one is not used (a reject saying which)
    tags: ['\\[[^\\]]*\\]']      # regexes: what they match is removed (sounds that are not words)
    remove: "~()"              # characters removed; the word around them stays
    split: "-="                # characters that become a space between words
    keep: "·"                  # characters kept inside words (punctuation otherwise becomes a space)

Every key may be left out. ``character_table`` lists every character the transcripts hold with what
becomes of it, and names the ones that are neither letters, marks, digits, spaces nor sentence
punctuation and that no rule names (the normalisation turns them into spaces): the characters a
user should decide about.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

from speechxl.text.normalize import normalize

KEYS = ("drop", "tags", "remove", "split", "keep")
SENTENCE_PUNCTUATION = set('.,;:?!¿¡"«»“”„…–—')  # a space, as the normalisation makes them: nothing to decide


@dataclass(frozen=True)
class Orthography:
    """The rules of one corpus (see the module doc); the default has none."""

    drop: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    remove: str = ""
    split: str = ""
    keep: str = ""
    source: str = ""
    """The file the rules came from."""
    _patterns: dict = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self):
        for key in ("drop", "tags"):
            for p in getattr(self, key):
                try:
                    self._patterns[p] = re.compile(p)
                except re.error as e:
                    raise ValueError(f"{self.source or 'rules'}: {key}: {p!r} is not a regular expression ({e})") \
                        from None

    def dropped_by(self, text: str) -> str | None:
        """The ``drop`` pattern ``text`` matches, if any."""
        return next((p for p in self.drop if self._patterns[p].search(text)), None)

    def clean(self, text: str) -> str:
        """``text`` with tags removed, ``remove`` characters removed and ``split`` characters spaced."""
        for p in self.tags:
            text = self._patterns[p].sub(" ", text)
        text = text.translate({ord(c): None for c in self.remove})
        return text.translate({ord(c): " " for c in self.split})

    def normalize(self, text: str, lang: str) -> str:
        """The transcript as the units and the scores see it: the rules, then the language's normalisation
        (``keep`` characters protected from it)."""
        return normalize(self.clean(text), lang, keep=self.keep)

    def describe(self) -> dict:
        return {k: v for k, v in asdict(self).items() if not k.startswith("_")}


def load_orthography(path: str | Path | None) -> Orthography:
    """The rules in ``path`` (YAML), or none; an unknown key or a wrong type is an error naming the file."""
    if not path:
        return Orthography()
    import yaml

    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as e:
        raise ValueError(f"{path}: cannot read the orthography rules: {e}") from None
    if not isinstance(raw, dict) or set(raw) - set(KEYS):
        unknown = sorted(set(raw) - set(KEYS)) if isinstance(raw, dict) else raw
        raise ValueError(f"{path}: the rules' keys are {', '.join(KEYS)}; not {unknown}")
    values = {}
    for key in KEYS:
        value = raw.get(key, [] if key in ("drop", "tags") else "")
        if key in ("drop", "tags"):
            value = [value] if isinstance(value, str) else value
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise ValueError(f"{path}: {key} is a list of regular expressions")
            values[key] = tuple(value)
        else:
            if not isinstance(value, str):
                raise ValueError(f"{path}: {key} is a string of characters, e.g. {key}: \"~()\"")
            values[key] = value
    return Orthography(**values, source=str(path))


def _kind(ch: str) -> str:
    cat = unicodedata.category(ch)
    return {"L": "letter", "M": "mark", "N": "digit", "Z": "space"}.get(cat[0], "other")


def character_table(texts: list[str], rules: Orthography) -> list[dict]:
    """Every character of the raw ``texts``: its count, Unicode name and what becomes of it; ``covered`` is
    False for one that is neither a letter, mark, digit nor space and that no rule names (the
    normalisation reads it as a space)."""
    seen, in_tags = Counter(), Counter()
    for t in texts:
        seen.update(t)
        for p in rules.tags:
            for m in rules._patterns[p].finditer(t):
                in_tags.update(m.group())
    rows = []
    for ch, n in sorted(seen.items(), key=lambda kv: (-kv[1], kv[0])):
        kind = _kind(ch)
        if ch in rules.keep:
            fate, covered = "kept (keep)", True
        elif ch in rules.remove:
            fate, covered = "removed (remove)", True
        elif ch in rules.split:
            fate, covered = "a space (split)", True
        elif kind != "other":
            fate, covered = kind, True
        elif in_tags[ch] == n:
            fate, covered = "inside tags only (tags)", True
        elif ch == "'":
            fate, covered = "kept between letters, else a space", True
        elif ch in SENTENCE_PUNCTUATION:
            fate, covered = "a space (sentence punctuation)", True
        else:
            fate, covered = "a space (no rule names it)", False
        rows.append({"char": ch, "name": unicodedata.name(ch, f"U+{ord(ch):04X}"), "count": n, "becomes": fate,
                     "covered": covered})
    return rows
