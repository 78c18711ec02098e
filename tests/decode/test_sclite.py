"""sclite, the NIST scorer, counts what speechxl's reports count, for every metric of word,
character and phone models (runs where sctk is installed; tools/install.sh installs it)."""

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from speechxl.decode.run import decode
from speechxl.eval.report import score
from speechxl.train.finetune import finetune, load_finetune_config
from tests.conftest import TINY_CTC

SCLITE = shutil.which("sclite") or next((p for p in ["/usr/lib/sctk/bin/sclite"] if Path(p).is_file()), None)
pytestmark = pytest.mark.skipif(SCLITE is None, reason="sclite (Debian package sctk) is not installed")


def sclite_sum(score_dir: Path) -> tuple[int, int, float, float]:
    """(sentences, reference tokens, Err %, S.Err %) of sclite's Sum/Avg row."""
    out = subprocess.run([SCLITE, "-r", str(score_dir / "ref.trn"), "trn", "-h", str(score_dir / "hyp.trn"), "trn",
                          "-i", "rm", "-o", "sum", "stdout"], capture_output=True, text=True, check=True).stdout
    row = re.search(r"\|\s*Sum/Avg\s*\|\s*(\d+)\s+(\d+)\s*\|([^|]*)\|", out)
    figures = row.group(3).split()  # Corr Sub Del Ins Err S.Err
    return int(row.group(1)), int(row.group(2)), float(figures[4]), float(figures[5])


def assert_sclite_agrees(decode_dir: Path, metrics: set[str]):
    (decode_dir.parent / "versions.json").write_text("[]\n")  # an exp dir's mark: score writes RESULTS.md there
    report = score(decode_dir)
    assert set(report["scores"]) == metrics
    results = (decode_dir.parent / "RESULTS.md").read_text()
    for metric, s in report["scores"].items():
        snt, tokens, err, sentence_err = sclite_sum(decode_dir / f"score_{metric.lower()}")
        assert (snt, tokens) == (s["overall"]["utterances"], s["overall"]["ref"]), metric
        assert err == pytest.approx(100 * s["overall"]["rate"], abs=0.051), metric
        # RESULTS.md's row: sclite's Snt, Wrd, Err and S.Err (the S/D/I split may differ by a tie)
        table = results.split(f"### {metric}")[1].split("###")[0]
        row = next(line for line in table.splitlines() if line.startswith(f"|{decode_dir.name}/"))
        cells = row.strip("|").split("|")
        assert (int(cells[1]), int(cells[2])) == (snt, tokens), metric
        assert (float(cells[7]), float(cells[8])) == pytest.approx((err, sentence_err), abs=0.051), metric
    first = "PER" if "PER" in metrics else "WER"  # ref.trn beside hyp.jsonl: the report's first metric
    assert (decode_dir / "ref.trn").read_text() == (decode_dir / f"score_{first.lower()}" / "ref.trn").read_text()


def test_word_and_character_trn_files(trained, tmp_path):
    root, data, _ = trained
    assert_sclite_agrees(decode(root / "ctc", data / "test", out_dir=tmp_path / "chars"), {"WER", "CER"})


def test_phone_trn_files(trained, tmp_path):
    """A phone model's trn files hold phones on both sides (they once held words against phones:
    sclite said 403 % where the report said 15.6 %)."""
    root, data, _ = trained
    finetune(load_finetune_config(None, TINY_CTC + [f"data={data / 'train'}", f"valid_data={data / 'dev'}",
                                                    f"out={tmp_path / 'phones'}", "units=phones", "train.max_steps=2"]))
    out = decode(tmp_path / "phones", data / "test")
    assert_sclite_agrees(out, {"PER"})
    assert json.loads((out / "decode.json").read_text())["versions"]["speechxl"]
