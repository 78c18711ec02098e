"""The fieldwork recipe end to end on a tiny built-in corpus: every stage's output where it belongs."""

import json
import os
import subprocess
import sys
from pathlib import Path


from speechxl import checkpoint as ckpt
from tests.egs.test_commonvoice_recipe import TINY_FINETUNE, TINY_PRETRAIN

ROOT = Path(__file__).resolve().parents[2]
RUN = ROOT / "egs" / "fieldwork" / "run.sh"


def test_the_fieldwork_recipe_stages_0_to_9(tmp_path):
    import pympi

    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    args = ["--demo", tmp_path / "fieldwork", "--demo_related", tmp_path / "related", "--data", tmp_path / "data",
            "--exp", tmp_path / "exp", "--demo_scale", "0.06", "--related_scale", "0.05",
            "--pretrain_args", " ".join(o for o in TINY_PRETRAIN if not o.startswith("train.max_steps")),
            "--source_steps", "2", "--continued_steps", "2", "--finetune_args", " ".join(TINY_FINETUNE),
            "--decode_args", "--beam 4 --beam_tokens 4"]
    r = subprocess.run(["bash", str(RUN), *map(str, args)], capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr[-3000:]
    exp = tmp_path / "exp"
    assert ckpt.resolve(exp / "continued" / "checkpoints", "last").name == "step_00000002"
    for step in ("ctc_given", "ctc_continued", "ctc_continued_related"):
        for decode in ("decode_test", "decode_test_lm"):
            assert (exp / step / decode / "report.json").is_file(), (step, decode)
    related = json.loads((exp / "ctc_continued_related" / "card.json").read_text())["provenance"]["training_data"]
    assert any("related" in d for d in related)  # fine-tuned with the related language's data too
    recordings = sorted(p.stem for p in (tmp_path / "fieldwork" / "recordings").glob("*.wav"))
    assert sorted(p.stem for p in (exp / "transcribed").glob("*.eaf")) == recordings
    copy = pympi.Elan.Eaf(str(exp / "transcribed" / "session01.eaf"))  # the user's tiers and the new ones
    assert {"tx@SP1", "ft@SP1", "notes", "asr@speechxl"} <= set(copy.get_tier_names())
    aligned = pympi.Elan.Eaf(str(exp / "aligned" / "session01.eaf"))
    assert any(t.startswith("align-words@SP") for t in aligned.get_tier_names())
    report = json.loads((exp / "report.json").read_text())
    assert [s["step"] for s in report["steps"]] == ["given", "continued", "continued_related"]
    assert {d["recording"] for d in report["transcribed"]} == set(recordings)
    assert all(d["cer"] is not None for d in report["transcribed"])  # the demo's truth scores every one
    assert report["alignment"]["boundaries"] > 0
    assert (exp / "report.html").is_file() and (exp / "steps.md").is_file()
