"""Several named data streams in one run, interleaved by weight.

A run trains on one stream (``data=``) or on named ones (``streams.<name>.data=``, each with a
``weight``): e.g. a few hours of the target language beside a related language's larger set,
with the target given 70 % of the batches whatever the two sets' sizes. Each stream has its
own batch plan (language-balanced inside it; audio, ``data.batching``, or text,
``data.text_batching``) and its own place in it (epoch, batch).

Which stream gives the next batch is not drawn at random: stream i goes next when it has the
earliest deadline (n_i + 1/2) / w_i, n_i being the batches it has given. After any number N of
batches every stream has given w_i N of them to within one batch (a random draw strays by
sqrt(N)), the same on every worker, and the choice depends on the counts alone, so the
counts and each stream's place are the whole state that exact resume needs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator

from speechxl.config import ConfigError
from speechxl.data.batching import BatchPlan
from speechxl.data.sampling import SamplingConfig
from speechxl.data.text_batching import TextBatchPlan


KINDS = ("speech", "paired", "text")


@dataclass(kw_only=True)
class StreamConfig:
    """One named source of training batches."""

    data: list[str] = field(default_factory=list)
    """Data dirs of this stream."""
    weight: float = 1.0
    """Its share of the batches, relative to the other streams' weights."""
    sampling: SamplingConfig | None = None
    """Language balance inside this stream; default: the run's ``sampling``."""
    kind: str = "speech"
    """speech (audio), paired (transcribed audio, its transcripts read as the run's units) or text
    (dirs of <lang>.txt, or data sets' transcripts): the model family says which it reads."""

    def validate(self) -> None:
        if not self.data:
            raise ConfigError("data: give the stream's data dirs")
        if not self.weight > 0:
            raise ConfigError(f"weight is positive, not {self.weight!r}")
        if self.kind not in KINDS:
            raise ConfigError(f"kind is one of {', '.join(KINDS)}, not {self.kind!r}")


class MixedStreams:
    """Loaded batches of several named plans, interleaved by weight (see the module doc); each
    batch says which stream gave it (``batch["stream"]``)."""

    def __init__(self, plans: dict[str, BatchPlan | TextBatchPlan], weights: dict[str, float]):
        self.plans, self.weights = plans, weights
        self.places = {name: {"epoch": 0, "position": 0, "batches": 0} for name in plans}

    def state(self) -> dict:
        """Every stream's place (epoch, batch within it, batches given in all) and its plan's fingerprint."""
        return {name: {**place, "fingerprint": self.plans[name].fingerprint} for name, place in self.places.items()}

    def load_state(self, state: dict) -> None:
        """Go on from ``state``; refused when a stream's data is not what its place was counted in."""
        if set(state) != set(self.places):
            raise ConfigError(f"the checkpoint holds streams {sorted(state)}, this run has {sorted(self.places)}")
        for name, place in state.items():
            then, now = place.get("fingerprint", self.plans[name].fingerprint), self.plans[name].fingerprint
            if then != now:
                raise ConfigError(f"stream {name}: its data changed since the checkpoint ({then}; now {now}), so its "
                                  "place would be in another plan; give another out, or restart=true")
        self.places = {name: {k: v for k, v in place.items() if k != "fingerprint"} for name, place in state.items()}

    def next_stream(self) -> str:
        """The stream with the earliest deadline; ties go to the first named."""
        return min(self.places, key=lambda s: (self.places[s]["batches"] + 0.5) / self.weights[s])

    def _stream(self, name: str) -> Iterator[dict]:
        place = self.places[name]
        while True:
            for batch in self.plans[name].iterate(place["epoch"], place["position"]):
                place["position"] += 1
                yield batch
            place["epoch"], place["position"] = place["epoch"] + 1, 0

    def __iter__(self) -> Iterator[dict]:
        running: dict[str, Iterator[dict]] = {}
        while True:
            name = self.next_stream()
            if name not in running:  # a stream's loader starts when it is first asked (at its stored place)
                running[name] = self._stream(name)
            batch = next(running[name])
            self.places[name]["batches"] += 1
            yield {**batch, "stream": name}
