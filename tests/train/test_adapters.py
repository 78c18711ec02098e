"""Fine-tuning with the base frozen: MMS's language adapters added to a model that has none, or trained
from an MMS model's own; only the adapters and the head change."""

import pytest
import torch
from safetensors.torch import load_file

from speechxl import checkpoint as ckpt
from speechxl.config import ConfigError
from speechxl.interop.hf_wav2vec2 import load_hf
from speechxl.models.card import ModelCard
from speechxl.train.finetune import finetune, load_finetune_config
from tests.conftest import TINY_W2V_BERT

transformers = pytest.importorskip("transformers")
from tests.interop.test_hf_ctc import tiny_config, write_mms  # noqa: E402

RUN = ["batch.crop_to_shortest=false", "batch.max_seconds=4.0", "batch.max_samples=96000", "batch.num_workers=0",
       "ctc.freeze_encoder_steps=0", "schedule.kind=constant", "schedule.warmup_steps=0", "optim.lr=1e-2",
       "require_learning=false", "train.max_steps=3", "train.valid_every=3", "train.save_every=3", "units=chars"]


def plain_init(path):
    """A pre-norm wav2vec 2.0 without adapters, as transformers writes it."""
    torch.manual_seed(0)
    transformers.Wav2Vec2ForPreTraining(tiny_config(adapter_attn_dim=None)).save_pretrained(path)
    return path


def run(trained, out, init, *more):
    _, data, _ = trained
    return load_finetune_config(None, RUN + [f"init={init}", f"data={data / 'train'}", f"valid_data={data / 'dev'}",
                                             f"out={out}", *more])


def test_adapters_added_to_a_model_without_them_train_alone(trained, tmp_path):
    init = plain_init(tmp_path / "xlsr")
    finetune(run(trained, tmp_path / "ada", init, "adapter=mms", "adapter.dim=4"))
    found = ckpt.find_checkpoint(tmp_path / "ada")
    assert ModelCard.load(found).model.encoder.adapter_dim == 4
    after, before = load_file(str(found / "model.safetensors")), load_hf(init)[2]
    changed = {k for k in after if k in before and after[k].shape == before[k].shape
               and not torch.equal(after[k], before[k])}
    assert not changed  # the base is frozen
    adapters = [k for k in after if ".adapter_layer." in k]
    assert len(adapters) == 2 * 6 and all(k not in before for k in adapters)
    # resumed with more updates: the run's own architecture, no settings conflict
    finetune(run(trained, tmp_path / "ada", init, "adapter=mms", "adapter.dim=4", "train.max_steps=4",
                 "train.save_every=4", "train.valid_every=4"))
    assert ckpt.find_checkpoint(tmp_path / "ada").name.endswith("04")


def test_an_mms_model_trains_its_own_adapters_and_nothing_else(trained, tmp_path):
    init = write_mms(tmp_path / "mms")
    finetune(run(trained, tmp_path / "ada", init, "adapter=mms", "adapter.dim=4"))
    after, before = load_file(str(ckpt.find_checkpoint(tmp_path / "ada") / "model.safetensors")), load_hf(init)[2]
    shared = [k for k in after if k in before and after[k].shape == before[k].shape]
    changed = {k for k in shared if not torch.equal(after[k], before[k])}
    assert changed and all(".adapter_layer." in k for k in changed)


def test_adapters_that_do_not_fit_are_refused_by_name(trained, tmp_path):
    with pytest.raises(ConfigError, match="adapters are 4 wide"):
        finetune(run(trained, tmp_path / "a", write_mms(tmp_path / "mms"), "adapter=mms"))
    _, data, _ = trained
    cfg = load_finetune_config(None, RUN + TINY_W2V_BERT + [
        "architecture=recipes/pretrain/w2v_bert_tiny.yaml", f"data={data / 'train'}", f"out={tmp_path / 'c'}",
        "adapter=mms"])
    with pytest.raises(ConfigError, match="Transformer layers; this model's encoder is a conformer"):
        finetune(cfg)
