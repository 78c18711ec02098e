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
