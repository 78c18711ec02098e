"""Articulatory features of IPA phones (panphon's 24 features, each -1, 0 or +1), and distances.

A phone panphon reads as one segment (with its diacritics, length, aspiration, nasality,
palatalisation...) takes that segment's features. Otherwise it is decomposed, and the note says
how:
  affricate      two segments read as one with a tie bar: "tʃ" as "t͡ʃ"
  tone           tone letters (˥˦˧˨˩) give their tone features to the other segment: "a˥"
  sequence       other sequences ("aɪ", "ja") take the mean of their segments' features
  unknown        nothing panphon knows ("1", "??"): no features; the caller must report it
Distance is the weighted feature difference with panphon's feature weights (syllabic, sonorant
and consonantal weigh most; see _weights), summed over features.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

TIE = "\u0361"
TONE_LETTERS = set("˥˦˧˨˩")


@dataclass(frozen=True)
class Features:
    vector: np.ndarray | None
    """(24,) values in [-1, 1]; None when panphon knows nothing of the phone."""
    note: str
    """'segment', 'affricate', 'tone', 'sequence' or 'unknown'."""
    segments: tuple[str, ...] = ()


@functools.lru_cache(maxsize=1)
def _table():
    import panphon

    return panphon.FeatureTable()


@functools.lru_cache(maxsize=1)
def _weights() -> np.ndarray:
    """panphon's feature weights, in the feature table's order, with two changes: tenseness
    weighs as little as length (panphon weighs it as vowel height, so e would be as near i as
    ɛ), and the two tone features, which its file lacks, get 0.25."""
    import csv
    from importlib.resources import files

    with open(files("panphon") / "data" / "feature_weights.csv", encoding="utf-8") as f:
        names, values = list(csv.reader(f))[:2]
    given = dict(zip(names, map(float, values)))
    given["tense"] = given["long"]
    return np.array([given.get(n, 0.25) for n in _table().names])


def feature_names() -> list[str]:
    return list(_table().names)


@functools.lru_cache(maxsize=4096)
def phone_features(phone: str) -> Features:
    """Features of one IPA phone (see the module doc)."""
    ft = _table()
    segs = ft.ipa_segs(phone)
    vectors = [np.asarray(v, dtype=np.float64) for v in ft.word_to_vector_list(phone, numeric=True)]
    if not segs:
        return Features(None, "unknown")
    if len(segs) == 1:
        return Features(vectors[0], "segment", tuple(segs))
    if len(segs) == 2:
        tied = ft.word_to_vector_list(segs[0] + TIE + segs[1], numeric=True)
        if len(tied) == 1:
            return Features(np.asarray(tied[0], dtype=np.float64), "affricate", tuple(segs))
    tones = [i for i, s in enumerate(segs) if s in TONE_LETTERS]
    if tones and len(tones) < len(segs):
        base = np.mean([v for i, v in enumerate(vectors) if i not in tones], axis=0)
        tone = np.mean([vectors[i] for i in tones], axis=0)
        names = ft.names
        for f in ("hitone", "hireg"):
            base[names.index(f)] = tone[names.index(f)]
        return Features(base, "tone", tuple(segs))
    return Features(np.mean(vectors, axis=0), "sequence", tuple(segs))


def distance(a: str, b: str) -> float:
    """Weighted articulatory distance between two phones; inf when either has no features."""
    fa, fb = phone_features(a), phone_features(b)
    if fa.vector is None or fb.vector is None:
        return float("inf")
    return float((_weights() * np.abs(fa.vector - fb.vector)).sum() / 2)


def differing(a: str, b: str) -> list[str]:
    """Names of the features on which two phones differ (for a mapping table a person reads)."""
    fa, fb = phone_features(a), phone_features(b)
    if fa.vector is None or fb.vector is None:
        return []
    return [f"{'+' if y > x else '-'}{n}" for n, x, y in zip(_table().names, fa.vector, fb.vector) if abs(x - y) > 0.25]
