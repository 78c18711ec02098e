import pytest
import torch

from speechxl.config import ConfigError, from_dict
from speechxl.data.batching import IGNORE
from speechxl.models.hubert import HubertConfig, build, frame_targets
from speechxl.objectives.masked_prediction import CosineHead

TINY = {"frontend": {"conv_dim": [16, 16, 16], "conv_kernel": [10, 8, 8], "conv_stride": [5, 8, 8]},
        "encoder": {"hidden_size": 16, "num_layers": 1, "num_heads": 2, "intermediate_size": 32,
                    "pos_conv_kernel": 8, "pos_conv_groups": 2},
        "masking": {"prob": 0.5, "length": 2, "min_masks": 1}, "final_dim": 8, "clusters": 6}


def test_labels_are_cut_or_padded_to_the_models_frames_and_a_wrong_rate_is_named():
    labels = torch.tensor([[1, 2, 3, 4, 5]])
    assert frame_targets(labels, 3).tolist() == [[1, 2, 3]]
    assert frame_targets(labels, 7).tolist() == [[1, 2, 3, 4, 5, IGNORE, IGNORE]]
    with pytest.raises(ValueError, match="this model's frame rate"):
        frame_targets(labels, 10)
    assert frame_targets(labels, 3, stride=2).tolist() == [[1, 3, 5]]  # where each 2-label frame starts


def test_cosine_head_scores_are_cosines_over_the_temperature():
    head = CosineHead(4, classes=3, final_dim=5, temperature=0.1)
    logits = head(torch.randn(7, 4))
    assert logits.shape == (7, 3) and logits.abs().max() <= 10.0 + 1e-4
    head.label_embeddings.data[1] = head.proj(torch.ones(1, 4)).detach()[0] * 3  # the same direction
    assert torch.isclose(head(torch.ones(1, 4))[0, 1], torch.tensor(10.0), atol=1e-4)


def test_only_masked_frames_with_a_label_are_scored_and_gradients_reach_the_head():
    torch.manual_seed(0)
    model = build(from_dict(HubertConfig, TINY))
    wav = torch.randn(2, 16000) * 0.1
    frames = int(model.backbone.frontend.output_lengths(torch.tensor(16000)))
    labels = torch.randint(0, 6, (2, frames))
    loss, n, logs = model({"wav": wav, "lengths": torch.tensor([16000, 16000]), "frame_labels": labels})
    assert 0 < n < 2 * frames and logs["count"] == n and loss > 0
    loss.backward()
    assert model.objective.heads[0].label_embeddings.grad.abs().sum() > 0
    _, none, _ = model({"wav": wav, "lengths": torch.tensor([16000, 16000]),
                        "frame_labels": torch.full_like(labels, IGNORE)})
    assert none == 0


def test_a_model_without_clusters_is_refused():
    with pytest.raises(ConfigError, match="clusters"):
        build(from_dict(HubertConfig, {**TINY, "clusters": 0}))


def test_with_mixing_the_model_hears_mixed_audio_but_predicts_the_clean_labels():
    torch.manual_seed(0)
    model = build(from_dict(HubertConfig, {**TINY, "mixing": {"prob": 1.0}})).train()
    heard = []
    model.backbone.register_forward_pre_hook(lambda m, args: heard.append(args[0].clone()))
    wav = torch.randn(2, 16000) * 0.1
    frames = int(model.backbone.frontend.output_lengths(torch.tensor(16000)))
    labels = torch.randint(0, 6, (2, frames))
    batch = {"wav": wav, "lengths": torch.tensor([16000, 16000]), "frame_labels": labels}
    model(batch)
    assert not torch.equal(heard[0], wav) and torch.equal(batch["wav"], wav)  # the batch itself is untouched
    model.eval()(batch)
    assert torch.equal(heard[1], wav)
