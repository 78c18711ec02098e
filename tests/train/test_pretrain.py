"""The pretrain verb: its outputs, init from a checkpoint or a transformers directory, every family pretrained then
fine-tuned, the best checkpoint and the training log."""

import json

import pytest
import torch
import yaml

from speechxl import checkpoint as ckpt
from speechxl.config import ConfigError
from speechxl.train.pretrain import load_pretrain_config, pretrain
from tests.conftest import TINY_CONFORMER, TINY_W2V, TINY_W2V_BERT
from tests.train.runs import config, data, final_weights  # noqa: F401  (data: the fixture)


def test_outputs_and_continued_pretraining_from_a_checkpoint(data, tmp_path):
    out = tmp_path / "first"
    figures = pretrain(config(data, out, "train.max_steps=3"))
    assert {"loss", "accuracy", "code_perplexity", "prob_perplexity"} <= set(figures)
    assert (out / "config.yaml").is_file() and (out / "sampling.json").is_file()
    assert list((out / "tensorboard").iterdir())
    state = ckpt.load_trainer_state(ckpt.resolve(out / "checkpoints", "last"))  # weights_only=True
    assert state["step"] == 3 and len(state["rng"]) == 1
    # continued pretraining takes the architecture of the initial model, whatever the preset says
    cont = tmp_path / "cont"
    pretrain(config(data, cont, "train.max_steps=1", f"init={out}", "model.encoder.num_layers=5"))
    saved = load_pretrain_config(cont / "config.yaml")
    assert saved.model.encoder.num_layers == 2 and saved.init == {"speech": str(out)}
    # init.<part> names the part; init=<path> is the speech part; a part the family lacks is refused
    assert load_pretrain_config(None, TINY_W2V + [f"init.speech={out}", "data=d", "out=o"]).init == saved.init
    with pytest.raises(ConfigError, match=r"^init.text: a wav2vec2 model has no text part; its parts: speech$"):
        load_pretrain_config(None, TINY_W2V + [f"init={out}", f"init.text={out}", "data=d", "out=o"])
    # a run saved before parts (init: <path>) resumes
    old = yaml.safe_load((cont / "config.yaml").read_text())
    (cont / "config.yaml").write_text(yaml.safe_dump({**old, "init": str(out)}))
    pretrain(config(data, cont, "train.max_steps=2", f"init={out}"))
    assert ckpt.resolve(cont / "checkpoints", "last").name == "step_00000002"


def test_continued_pretraining_from_a_hugging_face_directory(data, tmp_path):
    transformers = pytest.importorskip("transformers")
    hf_cfg = transformers.Wav2Vec2Config(
        hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=48,
        conv_dim=(16, 16, 16, 16), conv_kernel=(10, 3, 3, 2), conv_stride=(5, 2, 2, 2), conv_bias=True,
        feat_extract_norm="layer", do_stable_layer_norm=True, num_conv_pos_embeddings=16,
        num_conv_pos_embedding_groups=2, num_codevectors_per_group=8, codevector_dim=16, proj_codevector_dim=16)
    torch.manual_seed(0)
    hf = transformers.Wav2Vec2ForPreTraining(hf_cfg)
    hf.save_pretrained(tmp_path / "hf")
    out = tmp_path / "cont"
    pretrain(config(data, out, "train.max_steps=2", f"init={tmp_path / 'hf'}"))
    cfg = load_pretrain_config(out / "config.yaml")
    assert cfg.model.encoder.pre_norm and cfg.model.frontend.norm == "layer"
    # the weights started from the Hugging Face model: the frontend barely moved in 2 updates
    w = final_weights(out)["backbone.frontend.conv_layers.0.conv.weight"]
    ref = hf.state_dict()["wav2vec2.feature_extractor.conv_layers.0.conv.weight"]
    assert (w - ref).abs().max() < 0.05


FAMILY_PRESETS = {  # preset: (family, encoder type, overrides)
    "bestrq_conformer_tiny": ("bestrq", "conformer", TINY_CONFORMER + ["model.quantizer.codebook_size=64"]),
    "w2v_bert_tiny": ("w2v-bert", "conformer", TINY_W2V_BERT),
    "wav2vec2_conformer_tiny": ("wav2vec2", "conformer", TINY_CONFORMER + [
        "model.frontend.conv_dim=[32,32,32,32]", "model.frontend.conv_kernel=[10,3,3,2]",
        "model.frontend.conv_stride=[5,2,2,2]", "model.quantizer.entries=8", "model.quantizer.dim=16",
        "model.objective.final_dim=16", "model.objective.num_negatives=5"]),
}


@pytest.mark.parametrize("preset", sorted(FAMILY_PRESETS))
def test_other_families_pretrain_then_finetune(preset, data, tmp_path):
    from pathlib import Path

    from speechxl.data.manifest import Utterance, write_manifest
    from speechxl.text.lang_dir import make_lang_dir
    from speechxl.train.finetune import finetune, load_finetune_config

    root = Path(__file__).resolve().parents[2]
    family, encoder, overrides = FAMILY_PRESETS[preset]
    train, valid = data
    batch = ["batch.max_samples=64000", "batch.max_seconds=2.0", "batch.min_seconds=0.5", "batch.num_workers=0",
             "train.log_every=1", "train.valid_every=100", "train.save_every=100", "train.max_steps=2",
             "schedule.warmup_steps=1"]
    out = tmp_path / "pre"
    figures = pretrain(load_pretrain_config(root / f"recipes/pretrain/{preset}.yaml", overrides + batch + [
        f"data={train}", f"valid_data={valid}", f"out={out}"]))
    assert figures["loss"] > 0 and "accuracy" in figures
    saved = load_pretrain_config(out / "config.yaml")
    assert saved.family == family and saved.model.encoder.type == encoder
    # fine-tuning takes the family and architecture from init
    from speechxl.data.manifest import read_manifest

    labelled = tmp_path / "labelled"
    write_manifest([Utterance(**{**u.__dict__, "text": "ab ba"}) for u in read_manifest(train)], labelled)
    make_lang_dir("chars", labelled, tmp_path / "lang_char")
    ft = load_finetune_config(root / "recipes/finetune/ctc_tiny.yaml", batch + [
        f"init={out}", "units=chars", f"lang_dir={tmp_path / 'lang_char'}", f"data={labelled}", f"valid_data={labelled}",
        f"out={tmp_path / 'ctc'}", "batch.crop_to_shortest=false", "ctc.freeze_encoder_steps=0",
        "ctc.mask_channel.length=4", "require_learning=false"])
    assert ft.family == family and ft.model.encoder.type == encoder  # the part types come from init too
    assert finetune(ft)["loss"] > 0


def test_best_is_always_a_validated_checkpoint_that_knows_its_own_score(data, tmp_path):
    """Saves between validations cannot become best with a stale score; the end-of-run validation
    counts; the stored best includes the checkpoint's own score (so a resume chooses the same)."""
    out = tmp_path / "best"
    pretrain(config(data, out, "train.max_steps=5", "train.save_every=1", "train.valid_every=2",
                    "train.keep_last=10"))
    valid = {r["step"]: r["loss"] for r in map(json.loads, (out / "log.jsonl").read_text().splitlines())
             if r["split"] == "valid"}
    assert sorted(valid) == [2, 4, 5]
    best = ckpt.resolve(out / "checkpoints", "best")
    step = int(best.name.split("_")[1])
    assert valid[step] == min(valid.values())
    assert ckpt.load_trainer_state(best)["best"] == pytest.approx(valid[step], abs=1e-5)


def test_train_log_holds_the_validations_and_names_the_best_checkpoint(data, tmp_path):
    out = tmp_path / "run"
    pretrain(config(data, out, "train.max_steps=4", "train.valid_every=2", "train.save_every=2"))
    text = (out / "train.log").read_text(encoding="utf-8")
    assert "step 2 valid: loss" in text and "step 4 valid: loss" in text and "\r" not in text
    best = ckpt.resolve(out / "checkpoints", "best")
    assert f"best checkpoint: {best} (loss " in text
