"""label-quality: MFCC k-means labels of a set scored against a phone model's forced alignment."""

import json

import pytest

from speechxl.decode.label_quality import frame_phones
from speechxl.errors import SpeechxlError


def test_a_frame_gets_the_phone_that_holds_its_centre():
    spans = [(0.0, 0.05, 3), (0.05, 0.09, 4), (0.2, 0.3, 5)]
    # centres of 20 ms frames: 0.0125, 0.0325, 0.0525, 0.0725, 0.0925, ... 0.2125
    assert frame_phones(spans, 12, 0.02).tolist() == [3, 3, 4, 4, -1, -1, -1, -1, -1, -1, 5, 5]


def test_label_quality_of_mfcc_clusters_against_a_phone_model(trained, tmp_path, run_cli):
    from speechxl.train.finetune import finetune, load_finetune_config
    from tests.conftest import TINY_CTC

    root, data, _ = trained
    finetune(load_finetune_config(None, TINY_CTC + [f"data={data / 'train'}", f"valid_data={data / 'dev'}",
                                                    f"out={tmp_path / 'phones'}", "units=phones", "train.max_steps=2"]))
    run_cli("dump-features", "mfcc", data / "test", "--out", tmp_path / "feats")
    for k in (4, 16):
        run_cli("kmeans", tmp_path / "feats", "--clusters", k, "--out", tmp_path / f"km{k}")
    run_cli("label-quality", tmp_path / "km4", tmp_path / "km16", "--data", data / "test",
            "--aligner", tmp_path / "phones", "--out", tmp_path / "q")
    rows = json.loads((tmp_path / "q.json").read_text())
    a, b = rows[str(tmp_path / "km4")], rows[str(tmp_path / "km16")]
    assert a["frames"] == b["frames"] > 0 and a["clusters"] == 4 and b["clusters"] == 16
    for r in (a, b):
        assert 0 < r["phone_purity"] <= 1 and 0 < r["cluster_purity"] <= 1 and 0 <= r["pnmi"] <= 1
    # (a model trained for 2 updates aligns each word to a frame or so: the figures' plumbing, not their values)
    assert "| labels | clusters |" in (tmp_path / "q.md").read_text()
    with pytest.raises(SpeechxlError, match="give a phone CTC model"):
        from speechxl.decode.label_quality import label_quality

        label_quality([tmp_path / "km4"], data / "test", root / "ctc", tmp_path / "q2")
