"""Zero-shot phone recognition: map a phone model's units onto a target language's inventory.

  articulatory  every phone of the model goes to the nearest phone of the inventory by weighted
                articulatory distance (speechxl.text.articulatory; ties go to the phone listed
                first, the most frequent in generated inventories); several may share a target.
                A phone farther than ``max_distance`` from every inventory phone (by default,
                one that differs in more than minor features such as length, aspiration,
                voicing or tenseness) is dropped instead: its mass then goes, on renormalising,
                to the model's own next choices, which beat a far feature neighbour (the
                Spanish/Greek lenited ð is an allophone of d, but its nearest phone is z)
  exact         phones of the model that are in the inventory are kept, the others dropped
Decoding merges, per frame, the probability of all model phones mapped to a target phone
(log-sum-exp), renormalises, and runs the CTC search over the inventory. The blank and the word
boundary map to themselves; <unk> and phones with no features are dropped, and reported.

The mapping table (phone_map.tsv: model phone, target phone or "-", distance, features that
differ, how the model phone's features were found, nearest inventory phone) is written next to
the results; a linguist can edit it and give it back (--map <table.tsv>).
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass, field
from pathlib import Path

import torch

from speechxl.atomic import atomic_write
from speechxl.text.articulatory import differing, distance, phone_features
from speechxl.text.units import BLANK, UNK, WORD, Units

DROPPED = "-"
MAX_DISTANCE = 0.2
"""Default for articulatory maps: one minor feature (weight 0.125 in speechxl.text.articulatory)."""


def inventory_from_text(lines: list[str], lang: str, voice: str | None = None, min_count: int = 1
                        ) -> list[tuple[str, int]]:
    """(phone, count) of the IPA phones espeak-ng gives for normalised ``lines``, most frequent first."""
    from collections import Counter

    from speechxl.text.g2p import G2P
    from speechxl.text.normalize import normalize

    texts = [t for t in (normalize(line, lang) for line in lines) if t]
    counts = Counter(p for phones in G2P(lang, cache_dir=None, voice=voice)(texts) for p in phones if p != WORD)
    return [(p, n) for p, n in counts.most_common() if n >= min_count]


def read_inventory(path: str | Path) -> list[str]:
    """One IPA phone per line; blank lines and '#' comments are skipped; order kept, duplicates not."""
    phones: list[str] = []
    for n, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        phone = line.split("#", 1)[0].strip()
        if not phone:
            continue
        if any(c.isspace() for c in phone):
            raise ValueError(f"{path}:{n}: one phone per line, got {phone!r}")
        if phone not in phones:
            phones.append(phone)
    if not phones:
        raise ValueError(f"{path}: no phones in the inventory")
    return phones


@dataclass
class PhoneMap:
    """Model phone -> target phone (None: dropped), and why."""

    target: list[str]
    pairs: dict[str, str | None] = field(default_factory=dict)
    distances: dict[str, float] = field(default_factory=dict)
    nearest: dict[str, str] = field(default_factory=dict)
    """Nearest inventory phone of each model phone not in the inventory (articulatory maps)."""
    method: str = "articulatory"

    @classmethod
    def build(cls, model_phones: list[str], inventory: list[str], method: str,
              max_distance: float = MAX_DISTANCE) -> PhoneMap:
        if method not in ("articulatory", "exact"):
            raise ValueError(f"map is articulatory, exact or a table file, not {method!r}")
        m = cls(target=list(inventory), method=method)
        usable = [t for t in inventory if phone_features(t).vector is not None]
        for p in model_phones:
            if p in inventory:
                m.pairs[p], m.distances[p] = p, 0.0
            elif method == "exact" or phone_features(p).vector is None or not usable:
                m.pairs[p], m.distances[p] = None, math.inf
            else:
                best = min(usable, key=lambda t: (distance(p, t), inventory.index(t)))
                m.nearest[p], m.distances[p] = best, distance(p, best)
                m.pairs[p] = best if m.distances[p] <= max_distance else None
        return m

    def save(self, path: str | Path) -> None:
        buf = io.StringIO()
        w = csv.writer(buf, delimiter="\t", lineterminator="\n")
        w.writerow(["model_phone", "target_phone", "distance", "differs_in", "features", "nearest"])
        for p, t in self.pairs.items():
            near = self.nearest.get(p, t)
            w.writerow([p, t or DROPPED, "" if math.isinf(self.distances[p]) else f"{self.distances[p]:.3f}",
                        " ".join(differing(p, near)) if near else "", phone_features(p).note, near or ""])
        atomic_write(path, f"# {self.method} map onto: {' '.join(self.target)}\n" + buf.getvalue())

    @classmethod
    def load(cls, path: str | Path, inventory: list[str]) -> PhoneMap:
        """An edited table; every target must be in the inventory."""
        m = cls(target=list(inventory), method=f"table {path}")
        lines = [x for x in Path(path).read_text(encoding="utf-8").splitlines() if x and not x.startswith("#")]
        for n, row in enumerate(csv.DictReader(lines, delimiter="\t"), 2):
            t = row["target_phone"].strip()
            if t != DROPPED and t not in inventory:
                raise ValueError(f"{path}:{n}: target phone {t!r} is not in the inventory")
            m.pairs[row["model_phone"]] = None if t == DROPPED else t
            m.distances[row["model_phone"]] = 0.0 if t == row["model_phone"] else math.nan
        return m

    def units(self) -> Units:
        """The output units of restricted decoding: specials, then the inventory."""
        return Units([BLANK, UNK, WORD] + [t for t in self.target if t not in (BLANK, UNK, WORD)])

    def matrix(self, source: Units) -> torch.Tensor:
        """(V_source, V_target) 0/1: which target unit each source unit's mass goes to."""
        target = self.units()
        m = torch.zeros(len(source), len(target))
        m[source.blank_id, target.blank_id] = 1
        if WORD in source:
            m[source.index[WORD], target.index[WORD]] = 1
        for p, t in self.pairs.items():
            if t is not None and p in source:
                m[source.index[p], target.index[t]] = 1
        return m

    def dropped(self) -> list[str]:
        return [p for p, t in self.pairs.items() if t is None]


def restrict(log_probs: torch.Tensor, matrix: torch.Tensor) -> torch.Tensor:
    """(T, V_source) log-probs -> (T, V_target): mass merged per target, renormalised. Targets
    with no source get -inf."""
    merged = torch.logsumexp(log_probs[:, :, None] + torch.log(matrix)[None], dim=1)  # (T, V_target)
    return merged.log_softmax(-1)
