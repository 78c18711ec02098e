"""Subword ids of text as XLM-R counts them: a SentencePiece model with fairseq's special ids.

XLM-R (and InfoXLM) tokenize with a SentencePiece model (``sentencepiece.bpe.model`` in their
Hugging Face dirs) and number its pieces as fairseq does: ``<s>`` 0, ``<pad>`` 1, ``</s>`` 2,
``<unk>`` 3, then SentencePiece's own pieces shifted by one (its ids 0-2 are its ``<unk>``,
``<s>``, ``</s>``, which the four above replace), and ``<mask>`` last. A sentence is
``<s> pieces </s>``. This module does the same with the sentencepiece package alone, so that a
real XLM-R directory's tokenizer and one speechxl trains (``train_xlmr_tokenizer``: a unigram
model over language-balanced text, XLM-R's recipe) give the ids transformers'
``XLMRobertaTokenizer`` gives (a test compares them).
"""

from __future__ import annotations

import random
from pathlib import Path

MODEL_FILE = "sentencepiece.bpe.model"  # the name XLM-R's Hugging Face dirs use
SPECIALS = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3}
OFFSET = 1  # fairseq's ids are SentencePiece's plus one


class XlmrTokenizer:
    """Text -> ids (``<s> ... </s>``) and back, over a SentencePiece model file."""

    def __init__(self, model_file: str | Path):
        import sentencepiece as spm

        self.path = Path(model_file)
        self.sp = spm.SentencePieceProcessor(model_file=str(self.path))
        self.bos, self.pad, self.eos, self.unk = (SPECIALS[t] for t in ("<s>", "<pad>", "</s>", "<unk>"))
        self.mask = self.sp.get_piece_size() + OFFSET
        self.vocab_size = self.mask + 1

    def _id(self, piece_id: int) -> int:
        return self.unk if piece_id == self.sp.unk_id() else piece_id + OFFSET

    def encode(self, text: str, max_length: int = 0) -> list[int]:
        """``<s>`` + the pieces' ids + ``</s>``, cut to ``max_length`` in all (0: no limit)."""
        ids = [self._id(i) for i in self.sp.encode(text)]
        if max_length:
            ids = ids[: max_length - 2]
        return [self.bos, *ids, self.eos]

    def decode(self, ids: list[int]) -> str:
        specials = {self.bos, self.pad, self.eos, self.mask}
        return self.sp.decode([i - OFFSET if i != self.unk else self.sp.unk_id() for i in ids if i not in specials])


def train_xlmr_tokenizer(texts: dict[str, list[str]], out: str | Path, vocab_size: int, alpha: float = 0.3,
                         sentences: int = 1_000_000, seed: int = 0) -> XlmrTokenizer:
    """A unigram SentencePiece model over ``texts`` (language -> lines), each language's share of the
    training sentences proportional to its share of the lines to the power ``alpha`` (XLM-R: 0.3),
    at most ``sentences`` in all; written to ``out/sentencepiece.bpe.model``."""
    import io

    import sentencepiece as spm

    from speechxl.atomic import atomic_path

    langs = sorted(lang for lang, lines in texts.items() if lines)
    if not langs:
        raise ValueError("no text to train the tokenizer on")
    counts = [len(texts[lang]) for lang in langs]
    weights = [(c / sum(counts)) ** alpha for c in counts]
    budget = min(sentences, sum(counts))
    rng = random.Random(seed)
    sample = []
    for lang, w in zip(langs, weights):
        n = max(1, round(budget * w / sum(weights)))
        lines = texts[lang]
        sample += [lines[rng.randrange(len(lines))] for _ in range(n)]  # with replacement: small ones upsampled
    rng.shuffle(sample)
    model = io.BytesIO()
    spm.set_random_generator_seed(seed)
    spm.SentencePieceTrainer.train(sentence_iterator=iter(sample), model_writer=model, vocab_size=vocab_size,
                                   model_type="unigram", character_coverage=0.9999, hard_vocab_limit=False,
                                   unk_id=0, bos_id=1, eos_id=2, pad_id=-1, num_threads=2, minloglevel=2)
    path = Path(out) / MODEL_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        tmp.write_bytes(model.getvalue())
    return XlmrTokenizer(path)
