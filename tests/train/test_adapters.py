"""Fine-tuning with the base frozen: MMS's language adapters added to a model that has none, or trained
from an MMS model's own; only the adapters and the head change."""

import json

import pytest
import torch
from safetensors.torch import load_file

from speechxl import checkpoint as ckpt
from speechxl.config import ConfigError
from speechxl.interop.hf_wav2vec2 import load_hf
from speechxl.models.card import ModelCard
from speechxl.train.finetune import finetune, load_finetune_config

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


def weights(exp):
    """The whole model of an experiment's best checkpoint, as decoding loads it."""
    from speechxl.decode.model import load_model

    return load_model(exp).net.state_dict()


def test_adapters_added_to_a_model_without_them_train_alone(trained, tmp_path):
    init = plain_init(tmp_path / "xlsr")
    finetune(run(trained, tmp_path / "ada", init, "adapter.type=mms", "adapter.dim=4"))
    found = ckpt.find_checkpoint(tmp_path / "ada")
    assert ModelCard.load(found).model.encoder.adapter_dim == 4
    saved = load_file(str(found / "model.safetensors"))
    assert saved and all(".adapter_layer." in k or k.startswith("head.") for k in saved)  # what trained, no more
    assert json.loads((found / "base.json").read_text())["path"] == str(init.resolve())
    after, before = weights(tmp_path / "ada"), load_hf(init)[2]
    frozen = [k for k in after if k in before and k.startswith("backbone.")]
    assert frozen and all(torch.equal(after[k], before[k]) for k in frozen)  # the base as it was
    adapters = [k for k in after if ".adapter_layer." in k]
    assert len(adapters) == 2 * 6 and all(k not in before for k in adapters)
    # resumed with more updates: the run's own architecture, the base read again, no settings conflict
    finetune(run(trained, tmp_path / "ada", init, "adapter.type=mms", "adapter.dim=4", "train.max_steps=4",
                 "train.save_every=4", "train.valid_every=4"))
    assert ckpt.find_checkpoint(tmp_path / "ada").name.endswith("04")


def test_an_mms_model_trains_its_own_adapters_and_nothing_else(trained, tmp_path):
    init = write_mms(tmp_path / "mms")
    finetune(run(trained, tmp_path / "ada", init, "adapter.type=mms", "adapter.dim=4"))
    after, before = weights(tmp_path / "ada"), load_hf(init)[2]
    shared = [k for k in after if k in before and after[k].shape == before[k].shape]
    changed = {k for k in shared if not torch.equal(after[k], before[k])}
    assert changed and all(".adapter_layer." in k for k in changed)


def test_slim_checkpoints_average_release_and_refuse_a_changed_base(trained, tmp_path, run_cli):
    from speechxl.decode.model import load_model

    init = plain_init(tmp_path / "xlsr")
    finetune(run(trained, tmp_path / "ada", init, "adapter.type=mms", "adapter.dim=4", "train.max_steps=4",
                 "train.save_every=2", "train.valid_every=2"))
    wav, lengths = torch.randn(1, 16000), torch.tensor([16000])
    last = load_model(tmp_path / "ada").log_probs(wav, lengths)[0]
    mean = load_model(tmp_path / "ada", average=2)
    kept = sorted((tmp_path / "ada" / "checkpoints").glob("step_*"))
    a, b = (load_file(str(k / "model.safetensors")) for k in kept)
    name = next(iter(a))
    torch.testing.assert_close(mean.net.state_dict()[name], (a[name] + b[name]) / 2)
    frozen = "backbone.encoder.layers.0.attention.q_proj.weight"
    assert torch.equal(mean.net.state_dict()[frozen], load_hf(init)[2][frozen])  # the base is not averaged
    run_cli("release", tmp_path / "ada", tmp_path / "rel")
    assert not (tmp_path / "rel" / "base.json").exists()  # a release holds the whole model
    torch.testing.assert_close(load_model(tmp_path / "rel").log_probs(wav, lengths)[0], last)
    torch.manual_seed(5)  # the base changes under the run
    transformers.Wav2Vec2ForPreTraining(tiny_config(adapter_attn_dim=None)).save_pretrained(init)
    with pytest.raises(ckpt.CheckpointError, match="frozen base .* changed since the run started"):
        load_model(tmp_path / "ada")


def test_adapters_that_do_not_fit_are_refused_by_name(trained, tmp_path):
    with pytest.raises(ConfigError, match="adapters are 4 wide"):
        finetune(run(trained, tmp_path / "a", write_mms(tmp_path / "mms"), "adapter=mms"))
    w2v_bert = tmp_path / "w2v_bert"
    transformers.Wav2Vec2BertModel(transformers.Wav2Vec2BertConfig(
        hidden_size=16, num_hidden_layers=2, num_attention_heads=2, intermediate_size=32,
        conv_depthwise_kernel_size=3, position_embeddings_type=None)).save_pretrained(w2v_bert)
    with pytest.raises(ConfigError, match="Transformer layers; this model's encoder is a conformer"):
        finetune(run(trained, tmp_path / "c", w2v_bert, "adapter=mms"))
    _, data, _ = trained
    with pytest.raises(ConfigError, match="adapter mms: an adapter trains on a frozen pretrained model"):
        load_finetune_config(None, RUN + [f"data={data / 'train'}", f"out={tmp_path / 'd'}", "adapter=mms"])


def test_each_language_exports_in_mms_layout_and_transformers_gives_the_same_logits(trained, tmp_path):
    from speechxl.decode.export_hf import export_hf
    from speechxl.decode.model import load_model
    from speechxl.decode.run import keep_units

    init = plain_init(tmp_path / "xlsr")
    finetune(run(trained, tmp_path / "ada", init, "adapter.type=mms", "adapter.dim=4"))
    out = tmp_path / "mms_out"
    export_hf(tmp_path / "ada", out, lang="es")
    m = load_model(tmp_path / "ada")
    wav = torch.randn(1, 24000)

    def hf_log_probs(lang):
        hf = transformers.Wav2Vec2ForCTC.from_pretrained(out, target_lang=lang, ignore_mismatched_sizes=True).eval()
        with torch.no_grad():
            return hf(wav).logits.log_softmax(-1)[0]

    def ours(lang):
        lp = m.log_probs(wav, torch.tensor([wav.shape[1]]))[0][0]
        mask = m.own_units_mask(lang)
        return keep_units(lp, mask)[:, mask]

    es_alone = hf_log_probs("es")
    torch.testing.assert_close(es_alone, ours("es"), atol=1e-5, rtol=0)
    export_hf(tmp_path / "ada", out, lang="ru")  # a second language added to the dir
    torch.testing.assert_close(hf_log_probs("ru"), ours("ru"), atol=1e-5, rtol=0)
    assert torch.equal(hf_log_probs("es"), es_alone)  # adding ru changed nothing of es's
    vocab = json.loads((out / "vocab.json").read_text())
    assert sorted(vocab) == ["es", "ru"] and (out / "adapter.ru.safetensors").is_file()
    with pytest.raises(ValueError, match="adapter.ru.safetensors exists"):
        export_hf(tmp_path / "ada", out, lang="ru")
    back = load_model(out)  # and speechxl reads the dir back as an MMS model
    assert back.adapters.source.languages == ["es", "ru"]
    lp = back.log_probs(wav, torch.tensor([wav.shape[1]]), "ru")[0][0]
    torch.testing.assert_close(lp[:, back.adapters.source.rows["ru"]], ours("ru"), atol=1e-5, rtol=0)
    # a run from another base cannot join the dir
    other = tmp_path / "other_init"
    torch.manual_seed(1)
    transformers.Wav2Vec2ForPreTraining(tiny_config(adapter_attn_dim=None)).save_pretrained(other)
    finetune(run(trained, tmp_path / "ada2", other, "adapter.type=mms", "adapter.dim=4"))
    (out / "adapter.ru.safetensors").unlink()
    with pytest.raises(ValueError, match="not the one this adapter was trained on"):
        export_hf(tmp_path / "ada2", out, lang="ru")


@pytest.mark.parametrize("encoder", ["transformer", "conformer"])
def test_lora_trains_its_updates_alone_and_loads_merged(trained, tmp_path, encoder):
    from speechxl.decode.model import load_model

    if encoder == "transformer":
        init = plain_init(tmp_path / "init")
    else:
        init = tmp_path / "init"
        torch.manual_seed(0)
        transformers.Wav2Vec2BertModel(transformers.Wav2Vec2BertConfig(
            hidden_size=16, num_hidden_layers=2, num_attention_heads=2, intermediate_size=32,
            conv_depthwise_kernel_size=3, position_embeddings_type=None)).save_pretrained(init)
    finetune(run(trained, tmp_path / "lora", init, "adapter.type=lora", "adapter.rank=2"))
    found = ckpt.find_checkpoint(tmp_path / "lora")
    saved = load_file(str(found / "model.safetensors"))
    assert any(k.endswith(".lora_B") for k in saved)
    assert all(k.endswith((".lora_A", ".lora_B")) or k.startswith("head.") for k in saved)
    assert ModelCard.load(found).adapter.type == "lora"
    m = load_model(tmp_path / "lora")  # merged: a plain model, nothing extra
    assert not any("lora" in k for k in m.net.state_dict())
    before = load_hf(init)[2]
    q = next(k for k in m.net.state_dict() if k.endswith(("q_proj.weight", "linear_q.weight")))
    assert not torch.equal(m.net.state_dict()[q], before[q])  # the update is in the merged weight
    v = next(k for k in m.net.state_dict() if k.endswith(("k_proj.weight", "linear_k.weight")))
    assert torch.equal(m.net.state_dict()[v], before[v])  # an untargeted layer as it was
    finetune(run(trained, tmp_path / "lora", init, "adapter.type=lora", "adapter.rank=2", "train.max_steps=4",
                 "train.save_every=4", "train.valid_every=4"))  # resumed: the base read again, the updates kept
    assert ckpt.find_checkpoint(tmp_path / "lora").name.endswith("04")


@pytest.mark.parametrize("preset", ["ctc_mms_adapter", "ctc_xls_r_lora", "ctc_tiny_lora"])
def test_adapter_presets_load(tmp_path, preset):
    from pathlib import Path

    init = write_mms(tmp_path / "mms") if preset == "ctc_mms_adapter" else plain_init(tmp_path / "init")
    cfg = load_finetune_config(Path(__file__).resolve().parents[2] / "recipes/finetune" / f"{preset}.yaml",
                               [f"init={init}", "data=d", "out=o", "units=chars"])
    assert cfg.adapter.type == ("mms" if preset == "ctc_mms_adapter" else "lora")
