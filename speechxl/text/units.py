"""Unit inventories: the output symbols of a CTC model, saved as ``units.txt``.

``units.txt`` is plain UTF-8 text, one unit per line; a unit's id is its line number counted
from 0. The first lines are fixed:

  line 0  ``<blank>``  the CTC blank. Exported to Hugging Face as the pad token ``<pad>``,
                      which is what transformers' Wav2Vec2 CTC uses as blank.
  line 1  ``<unk>``    any symbol outside the inventory; counted and reported when met.
  line 2  ``|``        the word boundary, for characters and phones (a space in the text).
                      BPE marks word starts inside its pieces (``▁``) and has no ``|``.

The remaining units follow in Unicode order (BPE: in the sentencepiece model's order).
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

from speechxl.atomic import atomic_write

BLANK = "<blank>"
UNK = "<unk>"
WORD = "|"


class Units:
    """An ordered inventory of units with the fixed specials first.

    >>> u = Units.build(["a", "b", "|"], word_boundary=True)
    >>> u.symbols
    ['<blank>', '<unk>', '|', 'a', 'b']
    >>> u.encode(["a", "|", "c"])
    [3, 2, 1]
    """

    def __init__(self, symbols: list[str]):
        if symbols[:2] != [BLANK, UNK]:
            raise ValueError(f"a unit inventory starts with {BLANK}, {UNK}; got {symbols[:2]}")
        if len(set(symbols)) != len(symbols):
            raise ValueError("a unit inventory lists each unit once")
        for s in symbols:
            if not s or any(c.isspace() for c in s):
                raise ValueError(f"unit {s!r} is empty or holds white space")
        self.symbols = list(symbols)
        self.index = {s: i for i, s in enumerate(symbols)}

    @classmethod
    def build(cls, units: Iterable[str], word_boundary: bool) -> Units:
        """Inventory of the distinct ``units`` in Unicode order, specials first."""
        rest = sorted(set(units) - {BLANK, UNK, WORD})
        return cls([BLANK, UNK] + ([WORD] if word_boundary else []) + rest)

    @classmethod
    def load(cls, path: str | Path) -> Units:
        lines = Path(path).read_text(encoding="utf-8").split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        try:
            return cls(lines)
        except ValueError as e:
            raise ValueError(f"{path}: {e}") from None

    def save(self, path: str | Path) -> None:
        atomic_write(path, "".join(s + "\n" for s in self.symbols))

    def __len__(self) -> int:
        return len(self.symbols)

    def __contains__(self, unit: str) -> bool:
        return unit in self.index

    @property
    def blank_id(self) -> int:
        return 0

    @property
    def unk_id(self) -> int:
        return 1

    def encode(self, tokens: list[str]) -> list[int]:
        """Ids of ``tokens``; a token outside the inventory becomes ``<unk>``."""
        return [self.index.get(t, 1) for t in tokens]

    def decode(self, ids: Iterable[int]) -> list[str]:
        return [self.symbols[i] for i in ids]

    def unknown(self, tokens: list[str]) -> list[str]:
        """The tokens that are outside the inventory."""
        return [t for t in tokens if t not in self.index]
