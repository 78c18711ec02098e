"""Tokenizers: normalised text to unit tokens (characters, IPA phones or BPE pieces) and back.

Each kind reads what the units stage wrote in ``data/lang_<kind>/`` (``load_tokenizer``):
chars need nothing, phones read the G2P cache ``g2p/<lang>.tsv`` (phonemising new text on
demand), BPE reads ``bpe.model``.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

from speechxl.data.manifest import Utterance
from speechxl.text.units import BLANK, UNK, WORD


class Tokenizer:
    """Base: ``tokens`` for one text, ``tokenize`` for many utterances, ``text`` to go back."""

    kind = ""

    def tokens(self, text: str, lang: str) -> list[str]:
        raise NotImplementedError

    def text(self, tokens: list[str]) -> str:
        """Words from tokens, for word error rates."""
        raise NotImplementedError

    def tokenize(self, utts: list[Utterance]) -> list[list[str]]:
        return [self.tokens(u.text or "", u.lang) for u in utts]


class CharTokenizer(Tokenizer):
    """Unicode code points; a space becomes the word boundary ``|``."""

    kind = "chars"

    def tokens(self, text: str, lang: str) -> list[str]:
        return [WORD if c == " " else c for c in text]

    def text(self, tokens: list[str]) -> str:
        return "".join(" " if t == WORD else t for t in tokens if t not in (BLANK, UNK)).strip()


class PhoneTokenizer(Tokenizer):
    """IPA phones from the G2P cache of a lang dir; a corpus's own phones win where given."""

    kind = "phones"

    def __init__(self, g2p_dir: str | Path | None, voices: dict[str, str] | None = None, jobs: int = 1):
        self.g2p_dir = Path(g2p_dir) if g2p_dir else None
        self.voices = voices or {}
        self.jobs = jobs
        self._g2p = {}

    def g2p(self, lang: str):
        from speechxl.text.g2p import G2P

        if lang not in self._g2p:
            self._g2p[lang] = G2P(lang, self.g2p_dir, voice=self.voices.get(lang), jobs=self.jobs)
        return self._g2p[lang]

    def tokens(self, text: str, lang: str) -> list[str]:
        return self.g2p(lang)([text])[0]

    def tokenize(self, utts: list[Utterance]) -> list[list[str]]:
        by_lang = defaultdict(list)
        for i, u in enumerate(utts):
            if not u.phones:
                by_lang[u.lang].append(i)
        out: list[list[str]] = [list(u.phones) if u.phones else [] for u in utts]
        for lang, idx in by_lang.items():
            for i, phones in zip(idx, self.g2p(lang)([utts[i].text or "" for i in idx])):
                out[i] = phones
        return out

    def text(self, tokens: list[str]) -> str:
        return " ".join(t for t in tokens if t not in (BLANK, UNK))


class BpeTokenizer(Tokenizer):
    """sentencepiece pieces; ``▁`` marks the start of a word."""

    kind = "bpe"

    def __init__(self, model: str | Path):
        import sentencepiece as spm

        self.sp = spm.SentencePieceProcessor(model_file=str(model))

    def tokens(self, text: str, lang: str) -> list[str]:
        return self.sp.encode(text, out_type=str)

    def text(self, tokens: list[str]) -> str:
        return "".join(t for t in tokens if t not in (BLANK, UNK)).replace("▁", " ").strip()

    def pieces(self) -> list[str]:
        """All pieces but sentencepiece's own unknown, in the model's order."""
        return [self.sp.id_to_piece(i) for i in range(self.sp.get_piece_size()) if not self.sp.is_unknown(i)]


def load_tokenizer(lang_dir: str | Path) -> Tokenizer:
    """The tokenizer a units stage wrote into ``lang_dir`` (its info.json names the kind)."""
    lang_dir = Path(lang_dir)
    info_path = lang_dir / "info.json"
    if not info_path.is_file():
        raise FileNotFoundError(f"{info_path}: missing; run the units stage for {lang_dir} first")
    info = json.loads(info_path.read_text(encoding="utf-8"))
    kind = info["kind"]
    if kind == "chars":
        return CharTokenizer()
    if kind == "phones":
        return PhoneTokenizer(lang_dir / "g2p", voices=info.get("voices"))
    if kind == "bpe":
        return BpeTokenizer(lang_dir / "bpe.model")
    raise ValueError(f"{info_path}: unknown unit kind {kind!r}")
