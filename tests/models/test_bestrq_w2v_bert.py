import pytest
import torch

from speechxl.config import from_dict
from speechxl.models import bestrq, w2v_bert
from speechxl.models.bestrq import BestRQConfig
from speechxl.models.registry import FAMILIES
from speechxl.models.w2v_bert import W2vBertConfig
from speechxl.nn.random_projection_quantizer import RandomProjectionConfig, RandomProjectionQuantizer
from speechxl.objectives.masked_prediction import MaskedPrediction

CONFORMER = {"hidden_size": 16, "num_layers": 2, "num_heads": 2, "intermediate_size": 32, "conv_kernel": 5}


def test_random_projection_quantizer_is_frozen_seeded_and_saved():
    cfg = RandomProjectionConfig(codebooks=2, codebook_size=16, dim=4)
    q1, q2 = RandomProjectionQuantizer(cfg, 12), RandomProjectionQuantizer(cfg, 12)
    x = torch.randn(30, 12)
    assert torch.equal(q1(x), q2(x)) and q1(x).shape == (30, 2)
    assert not list(q1.parameters()) and {"projection", "codebooks"} <= set(q1.state_dict())
    # a frame's label is its nearest codeword by cosine
    y = torch.nn.functional.normalize(x @ q1.projection, dim=-1)
    assert torch.equal(q1(x)[:, 0], (y @ q1.codebooks[0].T).argmax(-1))


def test_masked_prediction_loss_and_accuracy():
    head = MaskedPrediction(4, codebooks=2, codebook_size=3)
    loss, logs = head(torch.randn(5, 4), torch.randint(0, 3, (5, 2)))
    assert loss > 0 and logs["count"] == 10 and 0 <= logs["correct"] <= 10


def test_bestrq_trains_only_the_network_and_keeps_targets_fixed():
    torch.manual_seed(0)
    cfg = from_dict(BestRQConfig, {"encoder": CONFORMER, "quantizer": {"codebook_size": 32, "dim": 8}})
    model = bestrq.build(cfg)
    before = model.target.projection.clone()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    loss, n, logs = model({"wav": torch.randn(2, 16000), "lengths": torch.tensor([16000, 12000])})
    loss.backward()
    opt.step()
    assert n > 0 and torch.equal(model.target.projection, before)
    assert model.objective.heads[0].weight.grad is not None
    assert FAMILIES["bestrq"].copy_architecture(cfg, cfg).quantizer == cfg.quantizer


def test_w2v_bert_combines_contrastive_and_masked_prediction():
    torch.manual_seed(0)
    cfg = from_dict(W2vBertConfig, {"encoder": {**CONFORMER, "position": "relative_key", "conv_norm": "layer",
                                                "final_norm": False},
                                    "quantizer": {"entries": 16, "dim": 8}, "objective": {"final_dim": 8,
                                                                                          "num_negatives": 5},
                                    "contrastive_layers": 1})
    model = w2v_bert.build(cfg)
    loss, n, logs = model({"wav": torch.randn(2, 16000), "lengths": torch.tensor([16000, 16000])})
    assert {"contrastive", "mlm_ce", "mlm_accuracy", "code_perplexity"} <= set(logs)
    loss.backward()
    assert model.mlm.heads[0].weight.grad is not None
    assert model.backbone.encoder.layers[1].ffn1.intermediate_dense.weight.grad is not None
    # a fine-tuning run takes the initial model's blocks and where its contrastive module ends,
    # so that its saved config validates when loaded back
    wide = from_dict(W2vBertConfig, {"encoder": {**CONFORMER, "num_layers": 8}, "contrastive_layers": 6})
    copied = FAMILIES["w2v-bert"].copy_architecture(wide, cfg)
    assert copied.encoder.num_layers == cfg.encoder.num_layers and copied.contrastive_layers == 1
    copied.validate()


def test_bestrq_refuses_a_frontend_with_trained_weights():
    """conv2d subsampling has weights: BEST-RQ's targets would drift as it trains."""
    from pathlib import Path

    import pytest

    from speechxl.config import ConfigError, load_config
    from speechxl.train.pretrain import load_pretrain_config

    preset = Path(__file__).parents[2] / "recipes" / "pretrain" / "bestrq_conformer_tiny.yaml"
    with pytest.raises(ConfigError, match=r"model: .*frontend.subsampling is 'stack', not 'conv2d'"):
        load_pretrain_config(preset, ["data=d", "out=o", "model.frontend.subsampling=conv2d"])
    assert load_config(BestRQConfig).frontend.subsampling == "stack"


def test_bestrq_targets_are_the_same_under_bf16_autocast():
    """The log-mel features and the random-projection labels stay fp32 when training in bf16."""
    from speechxl.nn.fbank_frontend import FbankFrontend, FbankFrontendConfig

    frontend = FbankFrontend(FbankFrontendConfig())
    quantizer = RandomProjectionQuantizer(RandomProjectionConfig(codebook_size=1024), frontend.output_dim)
    wav = torch.randn(2, 32000) * 0.1
    features, _ = frontend(wav)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        features_bf16, _ = frontend(wav)
        labels_bf16 = quantizer(features_bf16.flatten(0, 1))
    assert features_bf16.dtype == torch.float32 and torch.equal(features_bf16, features)
    assert torch.equal(labels_bf16, quantizer(features.flatten(0, 1)))


def test_each_family_gives_every_utterances_share_of_its_loss():
    """The shares add up to the batch's loss, sample size and counts (figures by language rest on it)."""
    from speechxl.models import wav2vec2
    from speechxl.models.wav2vec2 import Wav2Vec2Config

    torch.manual_seed(0)
    w2v = {"frontend": {"conv_dim": [16, 16], "conv_kernel": [10, 8], "conv_stride": [5, 4]},
           "encoder": {"hidden_size": 16, "num_layers": 2, "num_heads": 2, "intermediate_size": 32,
                       "pos_conv_kernel": 4, "pos_conv_groups": 2},
           "quantizer": {"entries": 8, "dim": 8}, "objective": {"final_dim": 8, "num_negatives": 5}}
    models = [bestrq.build(from_dict(BestRQConfig, {"encoder": CONFORMER, "quantizer": {"codebook_size": 32,
                                                                                          "dim": 8}})),
              w2v_bert.build(from_dict(W2vBertConfig, {
                  "encoder": {**CONFORMER, "position": "relative_key", "conv_norm": "layer", "final_norm": False},
                  "quantizer": {"entries": 16, "dim": 8}, "objective": {"final_dim": 8, "num_negatives": 5},
                  "contrastive_layers": 1})),
              wav2vec2.build(from_dict(Wav2Vec2Config, w2v))]
    batch = {"wav": torch.randn(3, 16000), "lengths": torch.tensor([16000, 12000, 8000])}
    for model in models:
        loss, n, logs = model(batch)
        shares = logs["per_utterance"]
        assert all(v.shape == (3,) for v in shares.values()), type(model).__name__
        assert float(shares["loss"].sum()) == pytest.approx(float(loss.detach()), rel=1e-5), type(model).__name__
        assert float(shares["sample_size"].sum()) == n and float(shares["count"].sum()) == logs["count"]
        assert float(shares["correct"].sum()) == logs["correct"]
