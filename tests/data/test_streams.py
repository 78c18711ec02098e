"""Named data streams: weights honoured, exact resume, one stream as before, config errors."""

import pytest

from speechxl.config import ConfigError
from speechxl.data.batching import BatchConfig, BatchPlan, iterate
from speechxl.data.manifest import read_manifest
from speechxl.data.streams import MixedStreams
from speechxl.train.pretrain import load_pretrain_config
from tests.conftest import write_audio_set

ONE_PER_BATCH = BatchConfig(max_samples=16000, max_seconds=0.5, num_workers=0)  # one 0.5 s crop per batch


@pytest.fixture(scope="module")
def sets(tmp_path_factory):
    root = tmp_path_factory.mktemp("streams")
    return {name: read_manifest(write_audio_set(root / name, n=n, seconds=(0.5, 0.8), seed=seed))
            for name, n, seed in (("big", 12, 0), ("small", 3, 1))}


def mixed(sets, weights):
    return MixedStreams({name: BatchPlan(sets[name], ONE_PER_BATCH, seed=1) for name in weights}, weights)


def test_weights_are_honoured_within_2_percent_over_1000_batches_whatever_the_set_sizes(sets):
    batches = iter(mixed(sets, {"big": 0.3, "small": 0.7}))
    streams = [next(batches)["stream"] for _ in range(1000)]
    assert abs(streams.count("small") / 1000 - 0.7) <= 0.02
    assert abs(streams.count("big") / 1000 - 0.3) <= 0.02
    # and at every point on the way, to within one batch
    assert all(abs(streams[:n].count("small") - 0.7 * n) <= 1 for n in range(1, 1001))


def test_each_stream_goes_on_from_its_own_place_after_a_resume(sets):
    weights = {"big": 1.0, "small": 2.0}
    whole = mixed(sets, weights)
    it = iter(whole)
    expected = [next(it) for _ in range(60)]
    first = mixed(sets, weights)
    it = iter(first)
    head = [next(it) for _ in range(37)]
    state = first.state()
    resumed = mixed(sets, weights)
    resumed.load_state(state)
    it = iter(resumed)
    tail = [next(it) for _ in range(23)]
    assert [(b["stream"], b["ids"]) for b in head + tail] == [(b["stream"], b["ids"]) for b in expected]
    assert all((a["wav"] == b["wav"]).all() for a, b in zip(head + tail, expected))
    assert state["small"]["batches"] == 2 * state["big"]["batches"] + 1  # 37 batches at 2:1
    assert state["small"]["epoch"] > 0  # the small stream went round its 3 utterances several times


def test_one_stream_gives_the_batches_a_plain_plan_gives(sets):
    plan = BatchPlan(sets["big"], ONE_PER_BATCH, seed=1)
    it = iter(MixedStreams({"data": plan}, {"data": 1.0}))
    plain = [b for epoch in (0, 1) for b in iterate(plan, epoch)]
    assert [next(it)["ids"] for _ in plain] == [b["ids"] for b in plain]


def test_a_checkpoint_with_other_streams_is_refused_by_name(sets):
    with pytest.raises(ConfigError, match=r"streams \['big'\], this run has \['big', 'small'\]"):
        mixed(sets, {"big": 1.0, "small": 1.0}).load_state({"big": {"epoch": 0, "position": 0, "batches": 0}})


def test_stream_config(tmp_path):
    cfg = load_pretrain_config(None, ["out=x", "streams.target.data=a,b", "streams.target.weight=0.7",
                                      "streams.related.data=c", "streams.related.weight=0.3",
                                      "streams.related.sampling.alpha=1.0"])
    streams = cfg.training_streams()
    assert list(streams) == ["target", "related"]
    assert streams["target"].data == ["a", "b"] and streams["target"].weight == 0.7
    assert streams["target"].sampling == cfg.sampling and streams["related"].sampling.alpha == 1.0
    assert list(load_pretrain_config(None, ["out=x", "data=a"]).training_streams()) == ["data"]
    for overrides, message in ((["data=a", "streams.s.data=b"], "give one of them"),
                               (["streams.s.data=b", "streams.s.weight=0"], "streams.s: weight is positive"),
                               (["streams.s.weight=1"], "streams.s: data: give the stream's data dirs"),
                               (["streams.s.data=b", "streams.s.wieght=1"], "streams.s.wieght: unknown key"),
                               (["streams.s=b"], "streams.s: expected a mapping")):
        with pytest.raises(ConfigError, match=message):
            load_pretrain_config(None, ["out=x", *overrides])
