"""Error rates with substitution / deletion / insertion counts (jiwer's alignments), per language.

Three views of the same hypotheses, as the model's units allow:
  WER  words of the text
  CER  characters of the text, spaces included
  PER  phones (the phone model's units), word boundaries left out
Each row: errors / reference length, with S, D, I, the reference length and utterance count;
``confusions`` counts substitution pairs (reference -> hypothesis) and what was deleted/inserted.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass

import jiwer

from speechxl.text.units import WORD


@dataclass
class Counts:
    utterances: int = 0
    ref: int = 0
    sub: int = 0
    dele: int = 0
    ins: int = 0

    @property
    def errors(self) -> int:
        return self.sub + self.dele + self.ins

    @property
    def rate(self) -> float:
        return self.errors / self.ref if self.ref else 0.0

    def add(self, other: Counts) -> None:
        for k in ("utterances", "ref", "sub", "dele", "ins"):
            setattr(self, k, getattr(self, k) + getattr(other, k))

    def as_dict(self) -> dict:
        return {**asdict(self), "errors": self.errors, "rate": round(self.rate, 5)}


def align(ref: list[str], hyp: list[str]) -> tuple[Counts, Counter]:
    """Counts and confusions of one hypothesis against its reference. An empty reference
    counts the whole hypothesis as insertions."""
    counts, confusions = Counts(utterances=1, ref=len(ref)), Counter()
    if not ref or not hyp:
        counts.ins, counts.dele = (len(hyp), 0) if not ref else (0, len(ref))
        confusions.update(("", h) for h in hyp) if not ref else confusions.update((r, "") for r in ref)
        return counts, confusions
    # jiwer aligns lists of strings when each token is given as one "word"
    out = jiwer.process_words(" ".join(_safe(ref)), " ".join(_safe(hyp)))
    counts.sub, counts.dele, counts.ins = out.substitutions, out.deletions, out.insertions
    for chunk in out.alignments[0]:
        r = ref[chunk.ref_start_idx:chunk.ref_end_idx]
        h = hyp[chunk.hyp_start_idx:chunk.hyp_end_idx]
        if chunk.type == "substitute":
            confusions.update(zip(r, h))
        elif chunk.type == "delete":
            confusions.update((x, "") for x in r)
        elif chunk.type == "insert":
            confusions.update(("", x) for x in h)
    return counts, confusions


def _safe(tokens: list[str]) -> list[str]:
    """Tokens with white space made visible (jiwer splits on it)."""
    return [t.replace(" ", "▁") or "∅" for t in tokens]


def views(row: dict, kind: str) -> dict[str, tuple[list[str], list[str]]]:
    """(reference, hypothesis) token lists for each metric this unit kind supports."""
    if kind == "phones":
        strip = lambda xs: [x for x in xs if x != WORD]  # noqa: E731
        return {"PER": (strip(row["ref_units"]), strip(row["hyp_units"]))}
    ref, hyp = row["ref"], row["hyp"]
    return {"WER": (ref.split(), hyp.split()), "CER": (list(ref), list(hyp))}


def trn_files(rows: list[dict], kind: str) -> dict[str, tuple[str, str]]:
    """Per metric, sclite's (ref.trn, hyp.trn) contents: one line per utterance, "tokens (id)",
    with exactly the tokens the metric scores (so sclite counts what the report counts)."""
    out = {}
    for metric in views(rows[0], kind) if rows else ():
        pairs = [(views(r, kind)[metric], r["id"]) for r in rows]
        out[metric] = tuple("".join(f"{' '.join(_safe(tokens[side]))} ({uid})\n" for tokens, uid in pairs)
                            for side in (0, 1))
    return out


def score_rows(rows: list[dict], kind: str) -> dict:
    """Per metric: overall and per-language counts, top confusions, and each row's errors."""
    out = {}
    for metric in views(rows[0], kind) if rows else ():
        total, confusions, per_utt, by_lang = Counts(), Counter(), [], {}
        for r in rows:
            c, conf = align(*views(r, kind)[metric])
            total.add(c)
            by_lang.setdefault(r["lang"], Counts()).add(c)
            confusions.update(conf)
            per_utt.append(c.errors)
        out[metric] = {
            "overall": total.as_dict(),
            "languages": {lang: c.as_dict() for lang, c in sorted(by_lang.items())},
            "confusions": [{"ref": a, "hyp": b, "count": n} for (a, b), n in confusions.most_common(25)],
            "per_utterance": per_utt,
        }
    return out
