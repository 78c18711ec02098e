"""tools/pretraining_table.py: the comparison's table holds each seed and their mean, per condition."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def results(dir: Path, model: str, test: float, voices: float) -> None:
    dir.mkdir(parents=True)
    rates = {"test es": test, "test all": test, "test_voices all": voices}
    (dir / "results_x.json").write_text(json.dumps({f"{model} greedy": {"PER": rates},
                                                    f"{model} LM": {"PER": {"test all": test / 2}}}))


def test_each_configuration_gets_its_seeds_and_their_mean(tmp_path):
    results(tmp_path / "w2v-bert_voices" / "seed1", "ctc_phones_w2v_bert_tiny", 0.20, 0.60)
    results(tmp_path / "w2v-bert_voices" / "seed2", "ctc_phones_w2v_bert_tiny", 0.22, 0.50)
    results(tmp_path / "scratch" / "seed1", "ctc_phones_scratch", 0.16, 0.80)
    out = tmp_path / "table.md"
    subprocess.run([sys.executable, str(ROOT / "tools" / "pretraining_table.py"), str(tmp_path), "--out", str(out)],
                   check=True, capture_output=True)
    head, _, scratch, voices = out.read_text().splitlines()
    assert head == ("| configuration | seeds | PER test greedy | PER test_voices greedy | PER test LM | "
                    "PER test_voices LM | PER mean of both, greedy |")
    assert scratch == "| scratch | 1 | 16.0 | 80.0 | 8.0 |  | 48.0 |"  # the baselines first
    assert voices == "| w2v-bert_voices | 1 2 | 21.0 (20.0, 22.0) | 55.0 (60.0, 50.0) | 10.5 (10.0, 11.0) |  | 38.0 (40.0, 36.0) |"
