"""Inference reads the model card a checkpoint carries, never the training config."""

import json
import shutil

import pytest
import torch

from speechxl import checkpoint as ckpt
from speechxl.decode.model import load_model
from speechxl.models.card import ModelCard
from speechxl.text.units import Units
from speechxl.train.finetune import finetune, load_finetune_config
from tests.conftest import TINY_CTC


def _same_outputs(a, b):
    wav = torch.randn(1, 8000) * 0.1
    with torch.no_grad():
        torch.testing.assert_close(a.net.log_probs(wav, torch.tensor([8000]))[0],
                                   b.net.log_probs(wav, torch.tensor([8000]))[0])


def test_the_card_says_what_inference_needs(trained):
    root, data, _ = trained
    ck = ckpt.find_checkpoint(root / "ctc")
    card = json.loads((ck / "card.json").read_text())
    assert card["family"] == "wav2vec2" and card["units"] == "chars" and card["sample_rate"] == 16000
    assert card["head"]["type"] == "ctc" and card["head"]["vocabulary"] == len(Units.load(ck / "units.txt"))
    assert card["frame_shift_ms"] == 2.5  # TINY_W2V's conv strides 5 x 2 x 2 x 2 = 40 samples
    assert card["provenance"]["training_data"] == [str(data / "train")]
    assert card["model"]["encoder"]["hidden_size"] == ModelCard.load(ck).model.encoder.hidden_size


def test_a_changed_training_schema_does_not_break_decoding(trained, tmp_path):
    root, _, _ = trained
    ck = tmp_path / "step"
    shutil.copytree(ckpt.find_checkpoint(root / "ctc"), ck)
    (ck / "config.yaml").write_text("renamed_training_key: 1\n")  # what a later speechxl might write
    _same_outputs(load_model(ck), load_model(root / "ctc"))


def test_a_checkpoint_from_before_cards_still_loads(trained, tmp_path):
    root, _, _ = trained
    ck = tmp_path / "step"
    shutil.copytree(ckpt.find_checkpoint(root / "ctc"), ck)
    (ck / "card.json").unlink()
    old, new = load_model(ck), load_model(root / "ctc")
    assert old.card.frame_shift_ms == 2.5 and old.card.model == new.card.model and old.card.ctc == new.card.ctc
    _same_outputs(old, new)


def test_a_card_of_another_format_is_refused_by_name(trained, tmp_path):
    root, _, _ = trained
    ck = tmp_path / "step"
    shutil.copytree(ckpt.find_checkpoint(root / "ctc"), ck)
    card = json.loads((ck / "card.json").read_text())
    (ck / "card.json").write_text(json.dumps({**card, "format": 99}))
    with pytest.raises(ValueError, match=r"card\.json: card format 99"):
        load_model(ck)


def test_a_phone_model_keeps_its_g2p_voices_when_its_lang_dir_is_gone(trained, tmp_path):
    root, data, _ = trained
    lang_dir = tmp_path / "lang_phone"
    shutil.copytree(data / "lang_phone", lang_dir)
    voices = json.loads((lang_dir / "info.json").read_text())["voices"]
    info = json.loads((lang_dir / "info.json").read_text())
    (lang_dir / "info.json").write_text(json.dumps({**info, "voices": {**voices, "es": "es-419"}}))
    cfg = load_finetune_config(None, TINY_CTC + [f"data={data / 'train'}", f"out={tmp_path / 'ctc'}", "units=phones",
                                                 f"lang_dir={lang_dir}", "train.max_steps=1"])
    finetune(cfg)
    shutil.rmtree(lang_dir)
    model = load_model(tmp_path / "ctc")
    assert model.card.voices["es"] == "es-419" and model.tokenizer.voices["es"] == "es-419"


def test_the_card_verb_prints_the_card_or_one_field(trained, capsys):
    from speechxl.cli import main

    root, _, _ = trained
    main(["card", str(root / "ctc"), "--field", "units"])
    assert capsys.readouterr().out == "chars\n"  # what the recipe reads to pick a decode's LM
    main(["card", str(root / "ctc")])
    assert json.loads(capsys.readouterr().out)["head"]["type"] == "ctc"
    with pytest.raises(SystemExit, match="not 'nope'"):
        main(["card", str(root / "ctc"), "--field", "nope"])
