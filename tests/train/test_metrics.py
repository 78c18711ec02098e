import json

import pytest

from speechxl.train.metrics import Meter, MetricsWriter


def test_meter_weights_each_figure_by_its_own_sample_sizes():
    m = Meter()
    m.add({"ctc": 2.0, "correct": 3, "count": 10}, n=10)
    m.add({"ctc": 4.0, "correct": 1, "count": 30}, n=30)
    m.add({"loss": 1.5}, n=40)  # logged once per update, beside the per-batch figures
    r = m.result()
    assert r["ctc"] == pytest.approx(3.5) and r["loss"] == pytest.approx(1.5)
    assert (r["correct"], r["count"], r["accuracy"]) == (4, 40, pytest.approx(0.1))


def test_meters_of_several_workers_combine_into_one():
    a, b = Meter(), Meter()
    a.add({"errors": 3, "ref_tokens": 10, "ctc": 1.0}, n=10)
    b.add({"errors": 1, "ref_tokens": 30, "ctc": 3.0}, n=30)
    r = Meter.combined([a, b]).result()
    assert (r["errors"], r["ref_tokens"], r["error_rate"]) == (4, 40, pytest.approx(0.1))
    assert r["ctc"] == pytest.approx(2.5)


def test_writer_appends_json_lines_and_tensorboard_events(tmp_path):
    w = MetricsWriter(tmp_path)
    w.write("train", 5, {"loss": 1.25, "error_rate": 0.5})
    w.close()
    row = json.loads((tmp_path / "log.jsonl").read_text())
    assert row["split"] == "train" and row["step"] == 5 and row["loss"] == 1.25
    assert any((tmp_path / "tensorboard").iterdir())


def test_figures_by_language_come_from_each_utterances_share():
    import torch

    from speechxl.train.metrics import as_numbers, by_language

    per_utterance = {"loss": torch.tensor([2.0, 6.0, 1.0]), "sample_size": torch.tensor([1.0, 3.0, 1.0]),
                     "correct": torch.tensor([1.0, 0.0, 1.0]), "count": torch.tensor([2.0, 6.0, 2.0])}
    logs = by_language(as_numbers({"contrastive": 1.8, "correct": 2, "count": 10, "per_utterance": per_utterance}),
                       ["es", "ru", "es"])
    assert "per_utterance" not in logs and logs["contrastive"] == 1.8
    m = Meter()
    m.add(logs, n=5)
    m.add(by_language(as_numbers({"per_utterance": {k: v[:1] for k, v in per_utterance.items()}}), ["ru"]), n=1)
    r = m.result()
    assert r["loss/es"] == pytest.approx(3.0 / 2) and r["accuracy/es"] == pytest.approx(2 / 4)
    assert r["loss/ru"] == pytest.approx(8.0 / 4) and r["accuracy/ru"] == pytest.approx(1 / 8)
    assert not any(k.startswith("lang:") for k in r)  # the sums stay inside the meter
    assert by_language(as_numbers({"per_utterance": per_utterance}), None) == {}  # a batch without languages
    # several workers' meters: the languages' sums add up
    assert Meter.combined([m, m]).result()["loss/ru"] == pytest.approx(2.0)


def test_figures_left_on_the_device_become_numbers_in_one_go():
    import torch

    from speechxl.train.metrics import as_numbers

    logs = [({"ce": torch.tensor(0.5), "correct": torch.tensor(3), "count": 8,
              "per_utterance": {"loss": torch.tensor([1.0, 2.0])}}, torch.tensor(8), ["es", "ru"], 1.5)]
    out = as_numbers(logs)
    assert out == [({"ce": 0.5, "correct": 3.0, "count": 8, "per_utterance": {"loss": [1.0, 2.0]}}, 8.0,
                    ["es", "ru"], 1.5)]
    json.dumps(out)  # numbers only
    assert as_numbers({"a": 1}) == {"a": 1}
