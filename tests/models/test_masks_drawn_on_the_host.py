"""A pretraining step whose masks the trainer drew on the host reads nothing back from the device: on a GPU the
host queues the forward and backward passes of a micro-batch without waiting for them. What the trainer settles
on the host (train/trainer.py: settled_on_host)."""

from pathlib import Path

import pytest
import torch

from speechxl.models.registry import FAMILIES
from speechxl.nn import padding
from speechxl.nn.masking import MaskedFrames
from speechxl.train.trainer import settled_on_host
from speechxl.train.pretrain import load_pretrain_config
from tests.host_reads import NoHostReads

RECIPES = Path(__file__).resolve().parents[2] / "recipes" / "pretrain"
# layer drop draws a scalar from the host's generator: on the CPU no different from a read of the device
NO_LAYERDROP = ["model.encoder.layerdrop=0"]
SPEECH = {"wav": torch.randn(2, 16000) * 0.1, "lengths": torch.tensor([16000, 11000])}


def _model(preset: str, *overrides: str):
    cfg = load_pretrain_config(RECIPES / f"{preset}.yaml", ["data=d", "out=o", *NO_LAYERDROP, *overrides])
    return FAMILIES[cfg.family].build(cfg.model).train()


@pytest.fixture(autouse=True)
def cpu_as_an_accelerator(monkeypatch):
    """The encoders keep a padding mask as on a GPU, where reading it would wait."""
    monkeypatch.setattr(padding, "READ_FREELY", set())


def _step_reads_nothing(model, batch: dict) -> None:
    drawn = model.draw(batch)  # what the trainer does on the host, before the batch goes to the device
    with NoHostReads():
        loss, n, logs = model(drawn)
        loss.backward()
    assert torch.isfinite(loss) and n > 0


@pytest.mark.parametrize("preset", ["wav2vec2_tiny", "wav2vec2_conformer_tiny", "w2v_bert_tiny",
                                    "bestrq_conformer_tiny"])
def test_a_speech_step_reads_nothing_from_the_device(preset):
    torch.manual_seed(0)
    _step_reads_nothing(_model(preset), SPEECH)


def test_a_hubert_step_reads_nothing_from_the_device():
    torch.manual_seed(0)
    model = _model("hubert_tiny", "model.clusters=8")
    frames = int(model.backbone.frontend.output_lengths(torch.tensor(16000)))
    _step_reads_nothing(model, {**SPEECH, "frame_labels": torch.randint(0, 8, (2, frames))})


def test_an_mslam_text_step_and_a_unispeech_speech_step_read_nothing_from_the_device():
    from speechxl.models import mslam, unispeech
    from tests.models import test_mslam, test_unispeech

    torch.manual_seed(0)
    text = torch.randint(1, 10, (3, 40))
    text[1, 25:] = 0  # PAD
    joint, uni = test_mslam.tiny(), test_unispeech.tiny()
    joint.encoder.layerdrop = uni.encoder.layerdrop = 0.0
    _step_reads_nothing(mslam.build(joint).train(), {"text": text})
    _step_reads_nothing(mslam.build(joint).train(), SPEECH)
    _step_reads_nothing(unispeech.build(uni).train(), SPEECH)


def test_a_text_mlm_step_reads_nothing_from_the_device():
    from speechxl.models.text_encoder import TextMLM, TextMLMConfig

    torch.manual_seed(0)
    model = TextMLM(TextMLMConfig(vocab_size=30, hidden_size=16, num_layers=2, num_heads=2, intermediate_size=32,
                                  max_positions=40, mask_id=29)).train()
    text = torch.randint(4, 29, (3, 20))
    text[1, 12:] = 1  # <pad>
    _step_reads_nothing(model, {"text": text})


def test_masks_drawn_in_the_step_equal_those_the_trainer_draws_beforehand():
    model = _model("wav2vec2_tiny")
    torch.manual_seed(3)
    inside = model(SPEECH)[0]
    torch.manual_seed(3)
    beforehand = model(model.draw(SPEECH))[0]
    assert torch.equal(inside, beforehand)


def test_the_trainer_draws_the_masks_on_the_host_and_sends_a_batch_without_padding_without_lengths():
    model = _model("wav2vec2_tiny")
    unpadded = settled_on_host({"wav": SPEECH["wav"], "lengths": torch.tensor([16000, 16000])}, model)
    assert unpadded["lengths"] is None and isinstance(unpadded["masked"], MaskedFrames)
    assert unpadded["masked"].mask.shape == (2, 49)  # every frame of each utterance could be masked
    padded = settled_on_host(SPEECH, model)
    assert padded["lengths"] is SPEECH["lengths"] and not padded["masked"].mask[1, 34:].any()  # 11000 samples: 34
    with NoHostReads():  # an unpadded batch: no padding mask for the encoder to read
        loss, _, _ = model(unpadded)
    assert torch.isfinite(loss)
    text = {"text": torch.ones(2, 5, dtype=torch.long)}
    assert settled_on_host(text, torch.nn.Linear(1, 1)) is text  # no lengths, no draw: as it was
