"""The Kaldi-dir recipe (egs/kaldi/run.sh: a corpus module and a 24-line run.sh) end to end:
speechxl's own data dirs are Kaldi dirs, so a tiny prepared demo corpus is its input."""

import os
import subprocess
import sys
from pathlib import Path

from speechxl.corpora.demo import Sizes
from speechxl.data.manifest import read_manifest
from tests.conftest import prepared_demo
from tests.egs.test_commonvoice_recipe import TINY_FINETUNE, TINY_PRETRAIN

RUN = Path(__file__).resolve().parents[2] / "egs" / "kaldi" / "run.sh"


def test_kaldi_dirs_through_every_stage(tmp_path):
    sizes = Sizes(train=12, dev=3, test=3, unlabelled=0, heldout_test=0, heldout_unlabelled=0, text_only=5,
                  speakers=(2, 1, 1))
    kaldi = prepared_demo(tmp_path / "src", ("es", "ru"), sizes, seed=2)
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    cmd = ["bash", RUN, "--train", kaldi / "train", "--dev", kaldi / "dev", "--test", kaldi / "test",
           "--data", tmp_path / "data", "--exp", tmp_path / "exp", "--finetune_units", "chars",
           "--scratch_units", "", "--units_from", "", "--pretrain_args", " ".join(TINY_PRETRAIN),
           "--finetune_args", " ".join(TINY_FINETUNE), "--decode_args", "--beam 4 --beam_tokens 4"]
    r = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr[-3000:]
    data = tmp_path / "data"
    assert [u.id for u in read_manifest(data / "train")] == [u.id for u in read_manifest(kaldi / "train")]
    assert [u.id for u in read_manifest(data / "pretrain")] == [u.id for u in read_manifest(data / "train")]
    assert "WER" in (tmp_path / "exp" / "ctc_chars_w2v_bert_tiny" / "decode_test_lm" / "report.md").read_text()
