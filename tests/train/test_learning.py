"""The guard against a demo that learns nothing: the demo's fine-tuning preset, on the demo's
default architecture (w2v-BERT's Conformer, made small), learns from a few minutes of demo speech
in two languages, on speakers it never heard."""

from pathlib import Path

import pytest

from speechxl.corpora.demo import Sizes
from speechxl.text.lang_dir import make_lang_dir
from speechxl.train.finetune import finetune, load_finetune_config
from tests.conftest import prepared_demo

ROOT = Path(__file__).resolve().parents[2]
STEPS = 300
SMALL = ["model.encoder.hidden_size=64", "model.encoder.num_layers=2", "model.encoder.num_heads=2",
         "model.encoder.intermediate_size=256", "model.contrastive_layers=1", "batch.num_workers=0",
         f"train.max_steps={STEPS}", f"train.valid_every={STEPS // 2}", f"train.save_every={STEPS}",
         "schedule.warmup_steps=30", "schedule.hold_steps=150", "schedule.decay_steps=120"]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    sizes = Sizes(train=35, dev=8, test=1, unlabelled=0, heldout_test=1, heldout_unlabelled=1, text_only=5,
                  speakers=(2, 1, 1))
    data = prepared_demo(tmp_path_factory.mktemp("learn"), ("es", "ru"), sizes, seed=2)
    make_lang_dir("phones", data / "train", data / "lang_phone")
    return data


def run(data: Path, out: Path, overrides: list[str]) -> dict[str, float]:
    cfg = load_finetune_config(ROOT / "recipes/finetune/ctc_tiny.yaml", [
        f"architecture={ROOT / 'recipes/pretrain/w2v_bert_tiny.yaml'}", "units=phones", f"data={data / 'train'}",
        f"valid_data={data / 'dev'}", f"out={out}", *SMALL, *overrides])
    return finetune(cfg)


def test_the_demo_fine_tuning_learns(data, tmp_path):
    before = run(data, tmp_path / "untrained", ["train.max_steps=0", "require_learning=false"])["error_rate"]
    after = run(data, tmp_path / "trained", [])["error_rate"]
    print(f"dev phone error rate: {before:.3f} untrained, {after:.3f} after {STEPS} updates")
    assert after < 0.75, f"dev phone error rate {after:.3f} after {STEPS} updates: the fine-tuning learnt too little"
    assert after < before - 0.25, (before, after)
