"""CPC and wav2vec: the future-prediction objective with either loss, the causal encoders, pretraining
runs, the fine-tuning presets on their encoders, and the frozen-encoder probe, whose encoder never
changes."""

import logging
from pathlib import Path

import pytest
import torch

from speechxl import checkpoint as ckpt
from speechxl.config import ConfigError
from speechxl.models.cpc import CPCConfig, build
from speechxl.nn.causal_conv import CausalConvConfig, CausalConvEncoder
from speechxl.nn.lstm import LSTMConfig, LSTMEncoder
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


@pytest.mark.parametrize("encoder", [LSTMEncoder(LSTMConfig(hidden_size=8, num_layers=2)),
                                     CausalConvEncoder(CausalConvConfig(hidden_size=8, kernel_sizes=[2, 3]))])
def test_context_encoders_are_causal(encoder):
    x = torch.randn(1, 12, 8)
    later = x.clone()
    later[:, 7:] = torch.randn(1, 5, 8)  # frames 7.. changed
    assert torch.allclose(encoder(x)[:, :7], encoder(later)[:, :7], atol=1e-6)
    assert not torch.allclose(encoder(x)[:, 7:], encoder(later)[:, 7:])


def test_causal_conv_sees_exactly_its_receptive_field():
    encoder = CausalConvEncoder(CausalConvConfig(hidden_size=4, kernel_sizes=[2, 3]))  # 1 + 1 + 2 frames
    x = torch.randn(1, 10, 4)
    earlier = x.clone()
    earlier[:, 5] += 1.0
    changed = (encoder(x) - encoder(earlier)).abs().sum(-1)[0] > 1e-6
    assert changed.tolist() == [False] * 5 + [True] * 4 + [False]  # frame 5 reaches frames 5..8
    with pytest.raises(ConfigError, match="kernel_sizes"):
        CausalConvConfig(kernel_sizes=[]).validate()


def accuracy_after_training(future_in_context: bool, loss: str = "infonce") -> float:
    torch.manual_seed(0)
    objective = FuturePrediction(FuturePredictionConfig(steps=1, num_negatives=8, final_dim=8, loss=loss), 8, 8)
    opt = torch.optim.Adam(objective.parameters(), lr=1e-2)
    for _ in range(200):
        z = torch.randn(4, 30, 8)  # independent frames
        context = z.roll(-1, dims=1) if future_in_context else z  # c_t holds z_{t+1}, or only z_t
        loss, n, logs = objective(context, z, torch.full((4,), 30))
        opt.zero_grad()
        (loss / n).backward()
        opt.step()
    return logs["correct"] / n


@pytest.mark.parametrize("loss", ["infonce", "binary"])
def test_the_next_frame_is_found_when_the_context_holds_it_and_not_otherwise(loss):
    assert accuracy_after_training(True, loss) > 0.85
    assert accuracy_after_training(False, loss) < 0.4  # chance: 1 in 9


def test_binary_loss_is_wav2vecs():
    objective = FuturePrediction(FuturePredictionConfig(steps=1, num_negatives=2, final_dim=4, loss="binary"), 4, 4)
    logits = torch.tensor([[2.0, -1.0, 0.5]])
    expected = -(torch.log(torch.sigmoid(torch.tensor(2.0))) + torch.log(1 - torch.sigmoid(torch.tensor(-1.0)))
                 + torch.log(1 - torch.sigmoid(torch.tensor(0.5))))
    assert torch.allclose(objective._loss(logits), expected)
    with pytest.raises(ConfigError, match="infonce or binary"):
        FuturePredictionConfig(loss="hinge").validate()


def test_wav2vec_at_the_papers_size_runs_on_a_second_of_audio():
    from speechxl.config import from_dict, read_yaml

    cfg = from_dict(CPCConfig, read_yaml(ROOT / "recipes/pretrain/wav2vec.yaml")["model"])
    model = build(cfg)
    loss, n, logs = model({"wav": torch.randn(1, 16000), "lengths": torch.tensor([16000])})
    frames = 98  # 10 ms frames of a second: (16000 - 400) / 160 + 1 after the strided convolutions
    assert n == sum(frames - k for k in range(1, 13)) and torch.isfinite(loss)


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


def test_wav2vec_pretrains_and_fine_tunes_with_the_recipes_preset(corpus, tmp_path, caplog):  # noqa: F811
    root, audio, valid, paired = corpus
    tiny = TINY[:1] + ["model.encoder.hidden_size=16", "model.encoder.kernel_sizes=[2,2]"] + TINY[2:]
    figures = pretrain(load_pretrain_config(ROOT / "recipes/pretrain/wav2vec_tiny.yaml", tiny + BATCH[:4] + [
        f"data={audio}", f"valid_data={valid}", f"out={tmp_path / 'w2v'}", "train.max_steps=3"]))
    assert figures["loss"] > 0 and "binary" in figures
    with caplog.at_level(logging.INFO, logger="speechxl.train.setup"):
        ft = load_finetune_config(ROOT / "recipes/finetune/ctc_tiny.yaml", BATCH[:4] + [
            f"init={tmp_path / 'w2v'}", "units=chars", f"lang_dir={root / 'lang_char'}", f"data={paired}",
            f"valid_data={paired}", f"out={tmp_path / 'ctc'}", "require_learning=false", "train.max_steps=2"])
    # the preset's attention regularisation does not apply to a convolutional encoder; its dropout does
    assert "causal_conv part has no activation_dropout, attention_dropout, layerdrop" in caplog.text
    assert ft.model.encoder.type == "causal_conv" and ft.model.encoder.dropout == 0.1
    finetune(ft)
    with pytest.raises(ConfigError, match="num_heads: unknown key"):  # not regularisation: refused
        load_finetune_config(ROOT / "recipes/finetune/ctc_tiny.yaml", [f"init={tmp_path / 'w2v'}", "units=chars",
                                                                       "model.encoder.num_heads=4"])
