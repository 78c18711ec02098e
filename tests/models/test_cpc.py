"""CPC: the future-prediction objective, the causal LSTM encoder, a pretraining run, and the
frozen-encoder probe, whose encoder never changes."""

from pathlib import Path

import torch

from speechxl import checkpoint as ckpt
from speechxl.objectives.future_prediction import FuturePrediction, FuturePredictionConfig
from speechxl.train.finetune import finetune, load_finetune_config
from speechxl.train.pretrain import load_pretrain_config, pretrain
from tests.models.test_mslam import BATCH, corpus  # noqa: F401  (corpus: the fixture)

ROOT = Path(__file__).resolve().parents[2]
TINY = ["model.frontend.n_mels=20", "model.encoder.hidden_size=16", "model.objective.final_dim=8",
        "model.objective.num_negatives=4", "model.objective.steps=3"]


def test_predictions_count_every_real_step_ahead_and_train_every_predictor():
    torch.manual_seed(0)
    objective = FuturePrediction(FuturePredictionConfig(steps=3, num_negatives=4, final_dim=8), 6, 5)
    context, targets = torch.randn(2, 10, 6, requires_grad=True), torch.randn(2, 10, 5)
    loss, n, logs = objective(context, targets, torch.tensor([10, 6]))
    assert n == (9 + 8 + 7) + (5 + 4 + 3) and 0 <= logs["correct"] <= n and torch.isfinite(loss)
    loss.backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in objective.parameters())
    assert context.grad[1, 6:].abs().sum() == 0  # padding predicts nothing


def accuracy_after_training(future_in_context: bool) -> float:
    torch.manual_seed(0)
    objective = FuturePrediction(FuturePredictionConfig(steps=1, num_negatives=8, final_dim=8), 8, 8)
    opt = torch.optim.Adam(objective.parameters(), lr=1e-2)
    for _ in range(200):
        z = torch.randn(4, 30, 8)  # independent frames
        context = z.roll(-1, dims=1) if future_in_context else z  # c_t holds z_{t+1}, or only z_t
        loss, n, logs = objective(context, z, torch.full((4,), 30))
        opt.zero_grad()
        (loss / n).backward()
        opt.step()
    return logs["correct"] / n


def test_the_next_frame_is_found_when_the_context_holds_it_and_not_otherwise():
    assert accuracy_after_training(True) > 0.9
    assert accuracy_after_training(False) < 0.4  # chance: 1 in 9


def test_cpc_pretrains_and_the_probe_trains_its_head_alone(corpus, tmp_path):  # noqa: F811
    root, audio, valid, paired = corpus
    figures = pretrain(load_pretrain_config(ROOT / "recipes/pretrain/cpc_tiny.yaml", TINY + BATCH[:4] + [
        f"data={audio}", f"valid_data={valid}", f"out={tmp_path / 'cpc'}", "train.max_steps=3"]))
    assert figures["loss"] > 0 and 0 <= figures["accuracy"] <= 1
    ft = load_finetune_config(ROOT / "recipes/finetune/ctc_probe_tiny.yaml", BATCH[:4] + [
        f"init={tmp_path / 'cpc'}", "units=chars", f"lang_dir={root / 'lang_char'}", f"data={paired}",
        f"valid_data={paired}", f"out={tmp_path / 'probe'}", "require_learning=false", "train.max_steps=2"])
    assert ft.family == "cpc" and ft.model.encoder.type == "lstm"
    finetune(ft)
    before = ckpt.load_model_state(ckpt.resolve(tmp_path / "cpc" / "checkpoints", "last"))
    after = ckpt.load_model_state(ckpt.resolve(tmp_path / "probe" / "checkpoints", "last"))
    encoder = [k for k in after if k.startswith("backbone.")]
    assert encoder and all(torch.equal(after[k], before[k]) for k in encoder)  # frozen: the features as they are
    assert "head.weight" in after
