"""transformers CTC dirs in, MMS's language adapters among them: a tiny random-weight MMS-style dir
(adapter_attn_dim set, a nested vocab.json, one adapter file per language) written by transformers,
decoded by speechxl with each language's adapter, and compared with transformers' own logits."""

import json

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

transformers = pytest.importorskip("transformers")

from speechxl.decode.model import load_model  # noqa: E402
from speechxl.decode.run import emissions  # noqa: E402
from speechxl.interop.hf_ctc import is_hf_ctc_dir, read_ctc_dir  # noqa: E402
from speechxl.interop.hf_wav2vec2 import config_from_hf  # noqa: E402
from speechxl.models.card import ModelCard  # noqa: E402
from speechxl.models.ctc import CTCConfig  # noqa: E402

SPECIALS = ["<pad>", "<s>", "</s>", "<unk>", "|"]
LETTERS = {"eng": list("etaoinsh"), "fra": list("eaiséèçu"), "spa": list("eaoñs")}
TOKENIZER = {"tokenizer_class": "Wav2Vec2CTCTokenizer", "pad_token": "<pad>", "unk_token": "<unk>",
             "word_delimiter_token": "|", "target_lang": "eng"}


# facebook/mms-1b-all's config.json, the keys that shape the model (the rest are transformers' defaults)
MMS_1B = {"model_type": "wav2vec2", "architectures": ["Wav2Vec2ForCTC"], "hidden_size": 1280, "num_hidden_layers": 48,
          "num_attention_heads": 16, "intermediate_size": 5120, "conv_dim": [512] * 7,
          "conv_kernel": [10, 3, 3, 3, 3, 2, 2], "conv_stride": [5, 2, 2, 2, 2, 2, 2], "conv_bias": True,
          "feat_extract_norm": "layer", "do_stable_layer_norm": True, "num_conv_pos_embeddings": 128,
          "num_conv_pos_embedding_groups": 16, "adapter_attn_dim": 16, "vocab_size": 154, "mask_time_prob": 0.05,
          "activation_dropout": 0.05, "attention_dropout": 0.0, "hidden_dropout": 0.0, "layerdrop": 0.0}
TINY = {"hidden_size": 16, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 32,
        "conv_dim": [16, 16], "conv_kernel": [10, 3], "conv_stride": [5, 2], "num_conv_pos_embeddings": 16,
        "num_conv_pos_embedding_groups": 2, "adapter_attn_dim": 4}


def tiny_config(**over):
    keys = {**MMS_1B, **TINY, **over, "vocab_size": len(SPECIALS) + len(LETTERS["eng"])}
    return transformers.Wav2Vec2Config(**{k: v for k, v in keys.items() if k not in ("model_type", "architectures")})


def write_mms(out, langs=("eng", "fra"), **over):
    """An MMS-style dir: base weights, vocab.json by language, adapter.<lang>.safetensors each."""
    torch.manual_seed(0)
    cfg = tiny_config(**over)
    model = transformers.Wav2Vec2ForCTC(cfg).eval()
    model.save_pretrained(out)
    for lang in langs:
        model.lm_head = torch.nn.Linear(cfg.hidden_size, len(SPECIALS) + len(LETTERS[lang]))
        for w in model._get_adapters().values():
            with torch.no_grad():
                w.normal_(0, 0.5)
        save_file({k: v.detach().contiguous() for k, v in model._get_adapters().items()},
                  str(out / f"adapter.{lang}.safetensors"))
    vocab = {lang: {t: i for i, t in enumerate(SPECIALS + LETTERS[lang])} for lang in langs}
    (out / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    (out / "tokenizer_config.json").write_text(json.dumps(TOKENIZER), encoding="utf-8")
    return out


def hf_log_probs(path, lang, wav):
    model = transformers.Wav2Vec2ForCTC.from_pretrained(path, target_lang=lang).eval()
    with torch.no_grad():
        return model(wav).logits.log_softmax(-1)  # (B, T, V_lang)


def test_each_language_as_transformers_gives_it(tmp_path):
    path = write_mms(tmp_path / "mms")
    assert is_hf_ctc_dir(path)
    wav = torch.randn(2, 4000)
    m = load_model(path)
    assert m.card.model.encoder.adapter_dim == 4 and sorted(m.language_units) == ["eng", "fra"]
    found = read_ctc_dir(path)
    for lang in ["fra", "eng", "fra"]:  # switched back and forth
        lp, frames = m.log_probs(wav, torch.tensor([4000, 4000]), lang)
        ours = lp[..., found.rows[lang]]
        torch.testing.assert_close(ours, hf_log_probs(path, lang, wav), atol=1e-5, rtol=0)
        closed = torch.ones(len(m.units), dtype=torch.bool)
        closed[found.rows[lang]] = False
        assert torch.isneginf(lp[..., closed]).all()  # another language's letters are never output
    assert [m.units.symbols[i] for i in found.rows["fra"]][5:] == LETTERS["fra"]
    assert m.units.symbols[:3] == ["<blank>", "<unk>", "|"]


def test_a_multilingual_set_switches_adapters_per_utterance(tmp_path):
    from speechxl.data.manifest import Utterance
    import soundfile as sf

    path = write_mms(tmp_path / "mms")
    m = load_model(path)
    rng = np.random.default_rng(0)
    utts = []
    for i, lang in enumerate(["eng", "fra", "eng", "fra"]):
        audio = tmp_path / f"{i}.wav"
        sf.write(audio, rng.normal(0, 0.1, 4000 + 800 * i).astype(np.float32), 16000)
        utts.append(Utterance(id=f"u{i}", audio=str(audio), duration=(4000 + 800 * i) / 16000, lang=lang, speaker="s"))
    em = emissions(m, utts)
    found = read_ctc_dir(path)
    for u in utts:
        wav = torch.from_numpy(sf.read(u.audio, dtype="float32")[0])[None]
        torch.testing.assert_close(em[u.id][:, found.rows[u.lang]], hf_log_probs(path, u.lang, wav)[0],
                                   atol=1e-5, rtol=0)


def test_plain_ctc_dir_loads_with_blank_first(tmp_path):
    torch.manual_seed(0)
    cfg = tiny_config(adapter_attn_dim=None)
    model = transformers.Wav2Vec2ForCTC(cfg).eval()
    out = tmp_path / "plain"
    model.save_pretrained(out)
    (out / "vocab.json").write_text(json.dumps({t: i for i, t in enumerate(SPECIALS + LETTERS["eng"])}))
    (out / "tokenizer_config.json").write_text(json.dumps(TOKENIZER))
    m = load_model(out)
    wav = torch.randn(1, 4000)
    lp, _ = m.log_probs(wav, torch.tensor([4000]))
    assert m.adapters is None and m.units.symbols[:3] == ["<blank>", "<unk>", "|"]
    rows = [m.units.index[s] for s in ["<blank>", "<s>", "</s>", "<unk>", "|"] + LETTERS["eng"]]
    with torch.no_grad():
        torch.testing.assert_close(lp[..., rows], model(wav).logits.log_softmax(-1), atol=1e-5, rtol=0)


def test_bad_dirs_are_refused_by_name(tmp_path):
    path = write_mms(tmp_path / "mms")
    m = load_model(path)
    with pytest.raises(ValueError, match="no language adapter for 'deu'.*eng fra"):
        m.log_probs(torch.randn(1, 4000), torch.tensor([4000]), "deu")
    with pytest.raises(ValueError, match="say which language"):
        m.log_probs(torch.randn(1, 4000), torch.tensor([4000]))
    with pytest.raises(ValueError, match="int8"):
        load_model(path, precision="int8")
    vocab = json.loads((path / "vocab.json").read_text())
    vocab["fra"]["a b"] = len(vocab["fra"])
    (path / "vocab.json").write_text(json.dumps(vocab))
    with pytest.raises(ValueError, match="'a b' is empty or holds white space"):
        load_model(path)
    (path / "adapter.fra.safetensors").unlink()
    with pytest.raises(ValueError, match="no vocabulary for the adapters of deu"):
        (path / "adapter.deu.safetensors").write_bytes((path / "adapter.eng.safetensors").read_bytes())
        load_model(path)


def test_mms_1b_layout_has_its_published_size():
    """Built on the meta device from mms-1b-all's config: Hugging Face lists 965M parameters (transformers'
    Wav2Vec2ForCTC of this config counts 964,845,850), of which each language's adapter and output layer
    are the 2M of the MMS paper."""
    family, cfg = config_from_hf(MMS_1B)
    card = ModelCard(family=family, model=cfg, ctc=CTCConfig(), vocabulary=MMS_1B["vocab_size"], units="chars")
    with torch.device("meta"):
        net = card.build()
    assert sum(p.numel() for p in net.parameters()) == 964_845_850
    assert sum(p.numel() for n, p in net.named_parameters() if ".adapter_layer." in n or n.startswith("head.")) \
        == 2_348_442


def test_mms_1b_layout_at_tiny_width_through_the_loader(tmp_path):
    """The same layout (48 layers, seven convolutions, adapters of 16) at width 32: a few seconds of audio
    through load_model as through transformers."""
    path = write_mms(tmp_path / "mms", hidden_size=32, num_attention_heads=2, intermediate_size=64,
                     conv_dim=[32] * 7, conv_kernel=MMS_1B["conv_kernel"], conv_stride=MMS_1B["conv_stride"],
                     num_hidden_layers=48, adapter_attn_dim=16)
    m = load_model(path)
    assert m.card.model.encoder.num_layers == 48 and len(m.card.model.frontend.conv_dim) == 7
    wav = torch.randn(1, 3 * 16000)
    lp, frames = m.log_probs(wav, torch.tensor([wav.shape[1]]), "fra")
    assert int(frames[0]) == 149
    torch.testing.assert_close(lp[..., read_ctc_dir(path).rows["fra"]], hf_log_probs(path, "fra", wav),
                               atol=1e-5, rtol=0)


def test_decode_and_transcribe_a_transformers_dir_from_the_command_line(tmp_path, run_cli, capsys, caplog):
    from tests.conftest import write_audio_set

    path = write_mms(tmp_path / "mms")
    data = write_audio_set(tmp_path, n=6, langs=("eng", "fra"))
    with pytest.raises(SystemExit):
        run_cli("decode", path, data)
    assert "transformers model dir, not an experiment: give --out" in caplog.text
    run_cli("decode", path, data, "--out", tmp_path / "dec")
    rows = [json.loads(line) for line in (tmp_path / "dec" / "hyp.jsonl").read_text().splitlines()]
    assert len(rows) == 6 and sorted({r["lang"] for r in rows}) == ["eng", "fra"]
    eng_only = set(LETTERS["eng"]) - set(LETTERS["fra"])
    assert not any(eng_only & set(r["hyp"]) for r in rows if r["lang"] == "fra")  # fra's adapter, fra's letters
    info = json.loads((tmp_path / "dec" / "decode.json").read_text())
    assert info["model"]["language_adapters"] == 2 and info["model"]["init"] == "mms"
    assert not list(path.glob("decode*"))  # nothing written into the user's model dir
    clip = tmp_path / "audio" / "u001.flac"
    capsys.readouterr()
    run_cli("transcribe", path, clip, "--lang", "fra")
    assert capsys.readouterr().out.startswith(f"{clip}\t")


def test_a_vocabulary_that_does_not_fit_its_output_layer_or_no_output_layer_is_refused(tmp_path):
    path = write_mms(tmp_path / "mms")
    vocab = json.loads((path / "vocab.json").read_text())
    vocab["fra"].pop(LETTERS["fra"][-1])
    (path / "vocab.json").write_text(json.dumps(vocab))
    with pytest.raises(ValueError, match="an output layer of 13 rows for the 12 tokens of 'fra'"):
        load_model(path).log_probs(torch.randn(1, 4000), torch.tensor([4000]), "fra")
    pretrained = tmp_path / "pretrained"
    transformers.Wav2Vec2ForPreTraining(tiny_config(adapter_attn_dim=None)).save_pretrained(pretrained)
    (pretrained / "vocab.json").write_text(json.dumps({t: i for i, t in enumerate(SPECIALS)}))
    with pytest.raises(ValueError, match="no CTC output layer"):
        load_model(pretrained)
