"""Faults injected into data preparation through the command line."""

import csv
import os
import signal

from tests.conftest import write_release


def test_a_file_whose_decoder_kills_its_process_is_rejected_and_the_rest_prepared(tmp_path, run_cli, monkeypatch):
    from speechxl.corpora import prepare

    rows = [(f"c{i}", f"clip{i}.mp3", f"hola {i}") for i in range(6)]
    write_release(tmp_path / "cv", "es", {"train": rows, "dev": rows[:1], "test": rows[1:2]})
    load = prepare.load_audio

    def crashing_load(path, *args, **kwargs):
        if str(path).endswith("clip3.mp3"):
            os.kill(os.getpid(), signal.SIGKILL)  # what a decoder segfault or the OOM killer does
        return load(path, *args, **kwargs)

    monkeypatch.setattr(prepare, "load_audio", crashing_load)
    assert run_cli("prepare", "commonvoice", "--cv_root", tmp_path / "cv", "--out", tmp_path / "data",
                   "--langs", "es", "--jobs", "2") in (0, None)
    with open(tmp_path / "data" / "train" / "rejects.tsv", encoding="utf-8") as f:
        rejects = list(csv.DictReader(f, delimiter="\t"))
    assert [(r["reason"], r["source"].endswith("clip3.mp3")) for r in rejects] == [("decoder_crashed", True)]
    assert "killed its process" in rejects[0]["detail"]
    kept = (tmp_path / "data" / "train" / "utts.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(kept) == 5
