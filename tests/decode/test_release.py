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
    # what is meant to be shared names the checkpoint relative to the project folder, and no local path
    assert record["checkpoint"] == str(best.resolve().relative_to(root.parent.resolve())) and record["step"] > 0
    assert sorted(f.name for f in out.iterdir()) == sorted(
        ["card.json", "model.safetensors", "release.json", "units.txt"] + [f.name for f in best.glob("units_*.txt")])
    for f in out.iterdir():
        if f.suffix in (".json", ".txt"):
            assert str(tmp_path.resolve()) not in f.read_text() and str(root.resolve()) not in f.read_text(), f
    hyps = lambda d: [json.loads(x)["hyp"] for x in (d / "hyp.jsonl").read_text().splitlines()]  # noqa: E731
    ours = decode(out, data / "test", out_dir=tmp_path / "d_release")
    assert hyps(ours) == hyps(decode(root / "ctc", data / "test", out_dir=tmp_path / "d_exp"))
    assert json.loads((ours / "decode.json").read_text())["model"]["step"] == record["step"]


def test_release_refuses_to_write_over_a_training_checkpoint(trained):
    root, _, _ = trained
    with pytest.raises(ValueError, match="a training checkpoint"):
        release(root / "ctc", find_checkpoint(root / "ctc"))
