"""A slim release checkpoint decodes as its experiment does, without the training state."""

import json

import pytest

from speechxl.checkpoint import find_checkpoint
from speechxl.decode.release import release
from speechxl.decode.run import decode


def test_release_decodes_as_the_experiment(trained, tmp_path, run_cli):
    root, data, _ = trained
    out = tmp_path / "release"
    run_cli("release", root / "ctc", out)
    best = find_checkpoint(root / "ctc")
    assert not (out / "trainer.pt").exists() and (out / "card.json").is_file() and (out / "units.txt").is_file()
    size = lambda d: sum(f.stat().st_size for f in d.iterdir())  # noqa: E731
    assert size(out) < 0.5 * size(best)  # Adam's two moments per weight stay behind
    record = json.loads((out / "release.json").read_text())
    assert record["checkpoint"] == str(best.resolve()) and record["step"] > 0
    hyps = lambda d: [json.loads(x)["hyp"] for x in (d / "hyp.jsonl").read_text().splitlines()]  # noqa: E731
    ours = decode(out, data / "test", out_dir=tmp_path / "d_release")
    assert hyps(ours) == hyps(decode(root / "ctc", data / "test", out_dir=tmp_path / "d_exp"))
    assert json.loads((ours / "decode.json").read_text())["model"]["step"] == record["step"]


def test_release_refuses_to_write_over_a_training_checkpoint(trained):
    root, _, _ = trained
    with pytest.raises(ValueError, match="a training checkpoint"):
        release(root / "ctc", find_checkpoint(root / "ctc"))
