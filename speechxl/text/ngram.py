"""N-gram language models: estimated from text with interpolated modified Kneser-Ney, saved as ARPA.

KenLM's estimator (lmplz) is not installable from PyPI, so speechxl estimates its own models,
following Chen & Goodman (1998) as KenLM does: the highest order uses counts, lower orders use
continuation counts (how many distinct words precede an n-gram), except n-grams that start
with <s>; three discounts per order from the counts of counts; every order interpolated with
the next lower one, the unigrams with the uniform distribution (which gives <unk> its mass).
The ARPA file holds log10 probabilities and backoff weights; KenLM (and so flashlight-text's
decoder) reads it.

    write_arpa(train_ngram(sentences, order=3), "lm.arpa")

Sentences are lists of tokens: words for a word LM, characters or pieces for a token LM.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from speechxl.atomic import atomic_path

BOS, EOS, UNK = "<s>", "</s>", "<unk>"


@dataclass
class NgramModel:
    order: int
    vocab: list[str]
    prob: list[dict[tuple[str, ...], float]] = field(default_factory=list)
    """prob[n - 1][ngram] = interpolated probability of the n-gram's last word given the rest."""
    backoff: list[dict[tuple[str, ...], float]] = field(default_factory=list)
    """backoff[n - 1][context] = weight given to order n - 1 after this context."""

    def log10(self, word: str, context: tuple[str, ...]) -> float:
        """log10 p(word | context), backing off as an ARPA reader does."""
        context = context[-(self.order - 1):] if self.order > 1 else ()
        penalty = 0.0
        while True:
            ngram = context + (word,)
            p = self.prob[len(ngram) - 1].get(ngram)
            if p is not None:
                return penalty + math.log10(p)
            if not context:
                return penalty + math.log10(self.prob[0][(UNK,)])
            penalty += math.log10(self.backoff[len(context) - 1].get(context, 1.0))
            context = context[1:]


def _discounts(counts: Counter) -> tuple[float, float, float]:
    """Modified Kneser-Ney discounts D1, D2, D3+ from counts of counts (clamped for tiny data)."""
    n = Counter(min(c, 4) for c in counts.values())
    n1, n2, n3, n4 = (n.get(i, 0) for i in (1, 2, 3, 4))
    if min(n1, n2, n3, n4) == 0:
        return 0.5, 1.0, 1.5
    y = n1 / (n1 + 2 * n2)
    ds = (1 - 2 * y * n2 / n1, 2 - 3 * y * n3 / n2, 3 - 4 * y * n4 / n3)
    return tuple(min(max(d, 0.05), i + 1.0) for i, d in enumerate(ds))  # type: ignore[return-value]


def train_ngram(sentences: Iterable[list[str]], order: int = 3) -> NgramModel:
    """Interpolated modified Kneser-Ney model of ``order`` from tokenised sentences."""
    if order < 1:
        raise ValueError("order >= 1")
    raw: list[Counter] = [Counter() for _ in range(order)]
    for sent in sentences:
        toks = [BOS] * (1 if order > 1 else 0) + list(sent) + [EOS]
        for n in range(1, order + 1):
            for i in range(len(toks) - n + 1):
                ngram = tuple(toks[i:i + n])
                if ngram == (BOS,):
                    continue
                raw[n - 1][ngram] += 1
    if not raw[0]:
        raise ValueError("no text to estimate a language model from")
    # adjusted counts: continuation counts for lower orders, raw counts at the top and after <s>
    counts: list[Counter] = [Counter() for _ in range(order)]
    counts[order - 1] = raw[order - 1]
    for n in range(order - 1, 0, -1):
        for ngram in raw[n]:
            counts[n - 1][ngram[1:]] += 1
        for ngram, c in raw[n - 1].items():
            if ngram[0] == BOS:
                counts[n - 1][ngram] = c
    vocab = sorted({w for (w,) in counts[0]} | {UNK})
    model = NgramModel(order=order, vocab=vocab, prob=[{} for _ in range(order)],
                       backoff=[{} for _ in range(order)])
    # unigrams: discounted, interpolated with uniform over the vocabulary (<s> gets none)
    d = _discounts(counts[0])
    total = sum(counts[0].values())
    gamma = sum(d[min(c, 3) - 1] for c in counts[0].values()) / total
    words = [w for w in vocab if w != BOS]
    for w in words:
        c = counts[0].get((w,), 0)
        model.prob[0][(w,)] = max(c - d[min(c, 3) - 1], 0) / total + gamma / len(words) if c else gamma / len(words)
    if order > 1:
        model.prob[0][(BOS,)] = 1.0  # never predicted; ARPA convention writes it with a backoff
    for n in range(2, order + 1):
        d = _discounts(counts[n - 1])
        by_context: dict[tuple[str, ...], list[tuple[str, int]]] = defaultdict(list)
        for ngram, c in counts[n - 1].items():
            by_context[ngram[:-1]].append((ngram[-1], c))
        for context, followers in by_context.items():
            total = sum(c for _, c in followers)
            gamma = sum(d[min(c, 3) - 1] for _, c in followers) / total
            model.backoff[n - 2][context] = gamma
            for w, c in followers:
                lower = 10 ** model.log10(w, context[1:]) if n > 1 else 0.0
                model.prob[n - 1][context + (w,)] = (c - d[min(c, 3) - 1]) / total + gamma * lower
    return model


def write_arpa(model: NgramModel, path: str | Path) -> Path:
    """Write ``model`` in ARPA format (atomically)."""
    path = Path(path)
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as f:
        f.write("\\data\\\n")
        for n in range(1, model.order + 1):
            f.write(f"ngram {n}={len(model.prob[n - 1])}\n")
        for n in range(1, model.order + 1):
            f.write(f"\n\\{n}-grams:\n")
            backoffs = model.backoff[n - 1] if n < model.order else {}
            for ngram, p in sorted(model.prob[n - 1].items()):
                logp = -99.0 if ngram == (BOS,) else math.log10(p)
                line = f"{logp:.6f}\t{' '.join(ngram)}"
                if n < model.order:
                    line += f"\t{math.log10(backoffs.get(ngram, 1.0)):.6f}"
                f.write(line + "\n")
        f.write("\n\\end\\\n")
    return path
