"""Part of a data set (Kaldi's subset_data_dir.sh, lhotse's ``subset``): the utterances of some
languages, and about so many minutes of each, drawn at random.

>>> from speechxl.data.manifest import Utterance
>>> utts = [Utterance(id=f"{l}{i}", audio="a.flac", duration=30.0, lang=l, speaker="s")
...         for l in ("es", "ru") for i in range(4)]
>>> [u.id for u in subset(utts, langs=["ru"], minutes=1.0)]
['ru0', 'ru2']
"""

from __future__ import annotations

import random

from speechxl.data.manifest import Utterance


def subset(utts: list[Utterance], langs: list[str] | None = None, minutes: float = 0.0,
           seed: int = 0, exclude: set[str] = frozenset()) -> list[Utterance]:
    """The utterances of ``langs`` (None: all) whose ids are not in ``exclude``; with ``minutes``, each
    language's first utterances in an order shuffled by ``seed`` until it has that much speech (its
    last one may pass it; with one seed, a smaller subset is part of a larger one); sorted by id. A
    language the set lacks is an error."""
    have = sorted({u.lang for u in utts})
    missing = sorted(set(langs or ()) - set(have))
    if missing:
        raise ValueError(f"no utterances of {', '.join(missing)}; the set's languages: {', '.join(have)}")
    kept = [u for u in utts if (langs is None or u.lang in langs) and u.id not in exclude]
    if minutes > 0:
        random.Random(seed).shuffle(kept)
        seconds: dict[str, float] = {}
        drawn = []
        for u in kept:
            if seconds.get(u.lang, 0.0) < minutes * 60:
                drawn.append(u)
                seconds[u.lang] = seconds.get(u.lang, 0.0) + u.duration
        kept = drawn
    return sorted(kept, key=lambda u: u.id)
