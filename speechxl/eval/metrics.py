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
    wrong: int = 0  # utterances with at least one error (sclite's S.Err)

    @property
    def errors(self) -> int:
        return self.sub + self.dele + self.ins

    @property
    def rate(self) -> float:
        return self.errors / self.ref if self.ref else 0.0

    def add(self, other: Counts) -> None:
        for k in ("utterances", "ref", "sub", "dele", "ins", "wrong"):
            setattr(self, k, getattr(self, k) + getattr(other, k))

    def as_dict(self) -> dict:
        return {**asdict(self), "errors": self.errors, "rate": round(self.rate, 5)}


# (reference token, hypothesis token, operation): C correct, S substituted, D deleted (hypothesis
# token ""), I inserted (reference token "")
Aligned = list[tuple[str, str, str]]


def alignment(ref: list[str], hyp: list[str]) -> Aligned:
    """The minimum-edit alignment of ``hyp`` to ``ref``, token by token (jiwer's)."""
    if not ref or not hyp:
        return [(r, "", "D") for r in ref] + [("", h, "I") for h in hyp]
    # jiwer aligns lists of strings when each token is given as one "word"
    out = jiwer.process_words(" ".join(_safe(ref)), " ".join(_safe(hyp)))
    ops: Aligned = []
    for chunk in out.alignments[0]:
        r = ref[chunk.ref_start_idx:chunk.ref_end_idx]
        h = hyp[chunk.hyp_start_idx:chunk.hyp_end_idx]
        if chunk.type in ("equal", "substitute"):
            ops += [(a, b, "C" if chunk.type == "equal" else "S") for a, b in zip(r, h)]
        elif chunk.type == "delete":
            ops += [(x, "", "D") for x in r]
        else:
            ops += [("", x, "I") for x in h]
    return ops


def align(ref: list[str], hyp: list[str]) -> tuple[Counts, Aligned]:
    """Counts and alignment of one hypothesis against its reference. An empty reference
    counts the whole hypothesis as insertions."""
    ops = alignment(ref, hyp)
    n = Counter(op for _, _, op in ops)
    return Counts(utterances=1, ref=len(ref), sub=n["S"], dele=n["D"], ins=n["I"], wrong=int(n["C"] < len(ops))), ops


def confusions(ops: Aligned) -> Counter:
    """(reference, hypothesis) pairs of the errors: substitutions, deletions (hypothesis ""),
    insertions (reference "")."""
    return Counter((r, h) for r, h, op in ops if op != "C")


def _visible(token: str) -> str:
    """A token with white space made visible (jiwer and sclite split on it); "" stays "" (a
    missing side of an alignment)."""
    return token.replace(" ", "▁")


def _safe(tokens: list[str]) -> list[str]:
    """Tokens as one "word" each: white space made visible, an empty token written ∅."""
    return [_visible(t) or "∅" for t in tokens]


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


def pra(rows: list[dict], alignments: list[Aligned]) -> str:
    """sclite's per-utterance alignment report (its ``-o pra`` layout): for each utterance its id,
    the counts (#C #S #D #I) and the REF, HYP and Eval lines, a column per aligned token ("*" fills
    a missing side; tokens keep their case, which sclite's upper-casing of errors would change)."""
    out = []
    for row, ops in zip(rows, alignments):
        n = Counter(op for _, _, op in ops)
        cols = [(r or "*" * len(h), h or "*" * len(r), "" if op == "C" else op)
                for r, h, op in ((_visible(r), _visible(h), op) for r, h, op in ops)]
        width = [max(len(r), len(h), len(e)) for r, h, e in cols]
        line = lambda i: " ".join(c[i].ljust(w) for c, w in zip(cols, width)).rstrip()  # noqa: E731
        out += [f"id: ({row['id']})", f"Scores: (#C #S #D #I) {n['C']} {n['S']} {n['D']} {n['I']}",
                f"REF:  {line(0)}", f"HYP:  {line(1)}", f"Eval: {line(2)}", ""]
    return "\n".join(out)


def score_rows(rows: list[dict], kind: str) -> dict:
    """Per metric: overall and per-language counts, top confusions, each row's errors and
    alignment."""
    out = {}
    for metric in views(rows[0], kind) if rows else ():
        total, confused, per_utt, aligned, by_lang = Counts(), Counter(), [], [], {}
        for r in rows:
            c, ops = align(*views(r, kind)[metric])
            total.add(c)
            by_lang.setdefault(r["lang"], Counts()).add(c)
            confused.update(confusions(ops))
            per_utt.append(c.errors)
            aligned.append(ops)
        out[metric] = {
            "overall": total.as_dict(),
            "languages": {lang: c.as_dict() for lang, c in sorted(by_lang.items())},
            "confusions": [{"ref": a, "hyp": b, "count": n} for (a, b), n in confused.most_common(25)],
            "per_utterance": per_utt,
            "alignments": aligned,
        }
    return out
