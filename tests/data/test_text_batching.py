"""Text batches: at most max_tokens with padding, the same plan for the same seed and epoch, every
language's share set by the sampling, workers' slices disjoint."""

from collections import Counter

import pytest

from speechxl.config import ConfigError
from speechxl.data.sampling import SamplingConfig
from speechxl.data.text_batching import Sentence, TextBatchConfig, TextBatchPlan


def sentences():
    small = [Sentence("aa", tuple([0] + [5] * (3 + i % 7) + [2])) for i in range(40)]
    big = [Sentence("bb", tuple([0] + [6] * (2 + i % 20) + [2])) for i in range(400)]
    return small + big


def test_batches_hold_at_most_max_tokens_and_replan_the_same():
    plan = TextBatchPlan(sentences(), TextBatchConfig(max_tokens=64, max_length=32), seed=3, pad_id=1)
    batches = plan.epoch(0)
    assert sorted(i for b in batches for i in b) == list(range(440))  # every sentence once
    for b in batches:
        built = plan.batch(b)
        assert built["text"].numel() <= 64 and built["tokens"] == int((built["text"] != 1).sum())
    assert plan.epoch(0) == batches and plan.epoch(1) != batches
    assert [b["tokens"] for b in plan.iterate(0, start=2)] == [plan.batch(b)["tokens"] for b in batches[2:]]


def test_sampling_gives_the_small_language_its_share_and_workers_disjoint_slices():
    cfg = TextBatchConfig(max_tokens=64, max_length=32)
    plan = TextBatchPlan(sentences(), cfg, seed=0, pad_id=1, sampling=SamplingConfig(alpha=0.0))  # uniform
    langs = Counter(plan.sentences[i].lang for b in plan.epoch(0) for i in b)
    tokens = {lang: sum(len(plan.sentences[i].ids) for b in plan.epoch(0) for i in b if plan.sentences[i].lang == lang)
              for lang in langs}
    assert abs(tokens["aa"] - tokens["bb"]) < 0.1 * sum(tokens.values())  # equal shares of tokens
    workers = [TextBatchPlan(sentences(), cfg, seed=0, pad_id=1, rank=r, world=2).epoch(0) for r in (0, 1)]
    assert len(workers[0]) == len(workers[1]) and not {tuple(b) for b in workers[0]} & {tuple(b) for b in workers[1]}


def test_limits_that_cannot_hold_a_sentence_are_refused():
    with pytest.raises(ConfigError, match="max_tokens 16 holds less than one sentence"):
        TextBatchConfig(max_tokens=16, max_length=32).validate()
    with pytest.raises(ValueError, match="no sentence"):
        TextBatchPlan([], TextBatchConfig(), seed=0, pad_id=1)
