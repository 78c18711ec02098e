import torch

from speechxl.config import from_dict
from speechxl.models.wav2vec2 import Wav2Vec2Config, build, copy_architecture

TINY = {"frontend": {"conv_dim": [16, 16, 16], "conv_kernel": [10, 3, 3], "conv_stride": [5, 2, 2]},
        "encoder": {"hidden_size": 16, "num_layers": 2, "num_heads": 2, "intermediate_size": 32,
                    "pos_conv_kernel": 8, "pos_conv_groups": 2},
        "quantizer": {"entries": 8, "dim": 8}, "objective": {"final_dim": 8, "num_negatives": 4}}


def test_forward_backward_scores_only_masked_frames():
    torch.manual_seed(0)
    model = build(from_dict(Wav2Vec2Config, TINY))
    wav, lengths = torch.randn(3, 8000), torch.tensor([8000, 6000, 3000])
    loss, n, logs = model({"wav": wav, "lengths": lengths})
    frames = model.backbone.frontend.output_lengths(lengths)
    assert 0 < n < int(frames.sum()) and logs["count"] == n
    assert torch.isfinite(loss)
    loss.backward()
    assert [name for name, p in model.named_parameters() if p.grad is None] == []
    assert model.backbone.masked_spec_embed.grad.abs().sum() > 0


def test_copy_architecture_keeps_training_settings():
    mine = from_dict(Wav2Vec2Config, {**TINY, "masking": {"prob": 0.5}})
    theirs = from_dict(Wav2Vec2Config, {"encoder": {"num_layers": 3, "hidden_size": 24, "num_heads": 3}})
    merged = copy_architecture(mine, theirs)
    assert merged.encoder.num_layers == 3 and merged.encoder.hidden_size == 24
    assert merged.masking.prob == 0.5 and merged.objective.num_negatives == 4
    assert merged.frontend.conv_dim == theirs.frontend.conv_dim


def test_a_yaml_tag_chooses_the_encoder_and_the_frontend():
    import pytest

    from speechxl.config import ConfigError
    from speechxl.models.registry import FAMILIES
    from speechxl.models.w2v_bert import W2vBertConfig
    from speechxl.nn.conformer import ConformerConfig
    from speechxl.nn.fbank_frontend import FbankFrontendConfig
    from speechxl.nn.transformer import TransformerConfig

    cfg = from_dict(Wav2Vec2Config, {"encoder": {"type": "conformer", "hidden_size": 32}, "frontend": {"type": "fbank"}})
    assert isinstance(cfg.encoder, ConformerConfig) and cfg.encoder.hidden_size == 32
    assert isinstance(cfg.frontend, FbankFrontendConfig)
    assert isinstance(from_dict(Wav2Vec2Config, {"encoder": {"hidden_size": 32}}).encoder, TransformerConfig)
    # a config saved before tags, under the old family name, is still a Conformer
    legacy = from_dict(FAMILIES["wav2vec2-conformer"].config, {"encoder": {"hidden_size": 32, "position": "rotary"}})
    assert isinstance(legacy.encoder, ConformerConfig)
    with pytest.raises(ConfigError, match=r"^model.encoder.type: 'lstm' is not one this takes: transformer, conformer$"):
        from_dict(Wav2Vec2Config, {"encoder": {"type": "lstm"}}, "model")
    with pytest.raises(ConfigError, match=r"^model.encoder.type: 'transformer' is not one this takes: conformer$"):
        from_dict(W2vBertConfig, {"encoder": {"type": "transformer"}}, "model")
    conformer = {"type": "conformer", "hidden_size": 16, "num_layers": 2, "num_heads": 2, "intermediate_size": 32,
                 "conv_kernel": 3}
    model = build(from_dict(Wav2Vec2Config, {**TINY, "encoder": conformer}))
    loss, n, _ = model({"wav": torch.randn(2, 16000), "lengths": torch.tensor([16000, 12000])})
    assert n > 0 and torch.isfinite(loss)
