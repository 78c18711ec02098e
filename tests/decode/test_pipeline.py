"""Fine-tune, decode, score and export on a tiny espeak corpus (the stages 4-6 path in Python)."""

import json
import logging

import pytest
import torch
import yaml

from speechxl.data.manifest import Utterance
from speechxl.decode.model import load_model
from speechxl.decode.recognizer import load
from speechxl.decode.run import decode, own_units, restrict_to_own_units
from speechxl.eval.report import score
from speechxl.text.units import Units
from speechxl.train.finetune import finetune, load_finetune_config
from tests.conftest import TINY_CTC


def test_finetune_writes_a_checkpoint_with_its_units(trained):
    root, data, figures = trained
    assert 0 <= figures["error_rate"] and figures["loss"] > 0
    best = (root / "ctc" / "checkpoints" / "best").read_text().strip()
    ck = root / "ctc" / "checkpoints" / best
    assert (ck / "units.txt").read_text() == (data / "lang_char" / "units.txt").read_text()
    assert json.loads((root / "ctc" / "labels.json").read_text())["data"]["kept"]["es"] > 0
    # no init: nothing is frozen (random weights have nothing worth keeping fixed)
    ctc = yaml.safe_load((root / "ctc" / "config.yaml").read_text())["ctc"]
    assert ctc["freeze_frontend"] is False and ctc["freeze_encoder_steps"] == 0


def test_finetuning_on_two_named_streams(trained, tmp_path):
    """A target language beside a related one, the target given 3 of every 4 batches."""
    from speechxl.data.manifest import read_manifest, write_manifest

    root, data, _ = trained
    for lang in ("es", "ru"):
        write_manifest([u for u in read_manifest(data / "train") if u.lang == lang], tmp_path / lang)
    out = tmp_path / "ctc"
    finetune(load_finetune_config(None, TINY_CTC + [
        f"streams.target.data={tmp_path / 'es'}", "streams.target.weight=3", f"streams.related.data={tmp_path / 'ru'}",
        f"lang_dir={data / 'lang_char'}", f"valid_data={data / 'dev'}", f"out={out}", "units=chars",
        "train.max_steps=4"]))
    report = json.loads((out / "labels.json").read_text())
    assert set(report["target"]["kept"]) == {"es"} and set(report["related"]["kept"]) == {"ru"}
    rows = [json.loads(line) for line in open(out / "log.jsonl")]
    streams = [k for r in rows if r["split"] == "train" for k in r if k.startswith("loss_")]
    assert streams == ["loss_target", "loss_target", "loss_related", "loss_target"]  # 3:1, earliest deadline first
    card = json.loads((out / "card.json").read_text())
    assert card["provenance"]["training_data"] == [str(tmp_path / "es"), str(tmp_path / "ru")]


def test_decode_greedy_and_with_lm_then_score(trained):
    root, data, _ = trained
    greedy = decode(root / "ctc", data / "test")
    rows = [json.loads(x) for x in (greedy / "hyp.jsonl").read_text().splitlines()]
    assert {r["lang"] for r in rows} == {"es", "ru"} and all(r["ref"] for r in rows)
    assert (greedy / "ref.trn").read_text().splitlines()[0].endswith(f"({rows[0]['id']})")
    lm = decode(root / "ctc", data / "test", lm=data / "lang_word", tune_on=data / "dev")
    info = json.loads((lm / "decode.json").read_text())
    assert info["search"] == "beam+lm" and len(info["tuning_grid"]) == 30
    best = min(g["error_rate"] for g in info["tuning_grid"])  # the LM against greedy search on dev
    assert info["lm_lowers_tuning_error"] == (best < info["tuning_greedy_error_rate"])
    report = score(lm)
    assert set(report["scores"]) == {"WER", "CER"}
    assert set(report["scores"]["WER"]["languages"]) == {"es", "ru"}
    # with a lexicon LM every word written is a word of that language's LM
    vocab = {lang: set((data / "lm_text" / f"{lang}.txt").read_text().split()) | {
        w for line in (data / "train" / "text").read_text().splitlines() for w in line.split()[1:]}
        for lang in ("es", "ru")}
    for r in (json.loads(x) for x in (lm / "hyp.jsonl").read_text().splitlines()):
        assert set(r["hyp"].split()) <= vocab[r["lang"]]
    for name in ("report.md", "report.html", "report.json", "error_rates.png"):
        assert (lm / name).stat().st_size > 0
    assert "<img" in (lm / "report.html").read_text() and "| **all** |" in (lm / "report.md").read_text()


def test_transcribe_any_audio_file(trained, tmp_path):
    root, data, _ = trained
    import soundfile as sf

    from speechxl.data.manifest import read_manifest

    u = read_manifest(data / "test")[0]
    x, sr = sf.read(u.audio)
    sf.write(str(tmp_path / "a.ogg"), x, sr)
    (path, text), = load(root / "ctc").transcribe_files([str(tmp_path / "a.ogg")])
    assert path.endswith("a.ogg") and isinstance(text, str)


def test_export_loads_in_transformers_with_the_same_logits(trained, tmp_path):
    transformers = pytest.importorskip("transformers")
    from speechxl.decode.export_hf import export_hf

    root, _, _ = trained
    out = export_hf(root / "ctc", tmp_path / "hf")
    hf = transformers.Wav2Vec2ForCTC.from_pretrained(out).eval()
    processor = transformers.Wav2Vec2Processor.from_pretrained(out)
    ours = load_model(root / "ctc")
    wav = torch.randn(1, 16000) * 0.1
    inputs = processor(wav[0].numpy(), sampling_rate=16000, return_tensors="pt")
    with torch.no_grad():
        ref = hf(inputs.input_values).logits.log_softmax(-1)
        mine, _ = ours.net.log_probs(wav, torch.tensor([16000]))
    torch.testing.assert_close(mine, ref, atol=1e-4, rtol=0)
    ids = ref.argmax(-1)[0]
    assert processor.decode(ids) == ours.detokenize(
        [i for j, i in enumerate(ids.tolist()) if i != 0 and (j == 0 or i != ids[j - 1])])


def test_each_language_keeps_to_the_units_of_its_own_training_text(trained, tmp_path):
    root, data, _ = trained
    model = load_model(root / "ctc")
    # the checkpoint carries each language's inventory: decoding needs no lang dir
    assert set(model.language_units) == {"es", "ru"}
    assert (model.checkpoint / "units_ru.txt").read_text() == (data / "lang_char" / "units_ru.txt").read_text()
    es, ru = model.own_units_mask("es"), model.own_units_mask("ru")
    assert es[model.units.index["ñ"]] and not ru[model.units.index["ñ"]] and ru[model.units.index["ж"]]
    assert model.own_units_mask("it") is None  # not a training language: every unit
    # an utterance whose most likely unit is of the other language's script gets its own language's
    lp = torch.full((3, len(model.units)), -10.0)
    lp[:, model.units.index["ж"]], lp[:, model.units.index["o"]] = -0.1, -3.0
    utts = [Utterance(id=lang, audio="", duration=0.1, lang=lang, speaker="") for lang in ("es", "ru", "it")]
    out = restrict_to_own_units({u.id: lp for u in utts}, utts, own_units(model, ["es", "ru", "it"]))
    assert [model.units.symbols[int(out[u].argmax(-1)[0])] for u in ("es", "ru", "it")] == ["o", "ж", "ж"]
    assert torch.allclose(out["es"].exp().sum(-1), torch.ones(3))
    own = decode(root / "ctc", data / "test", out_dir=tmp_path / "own")
    assert json.loads((own / "decode.json").read_text())["own_units"] == {
        lang: len(Units.load(data / "lang_char" / f"units_{lang}.txt")) for lang in ("es", "ru")}
    anything = decode(root / "ctc", data / "test", out_dir=tmp_path / "all", all_units=True)
    assert json.loads((anything / "decode.json").read_text())["own_units"] == {}


@pytest.mark.parametrize("units", ["chars", "phones"])
def test_lm_tuning_minimises_the_error_rate_that_score_reports(trained, units):
    """The tuning grid measures what the report shows: WER for characters, PER for phones."""
    root, data, _ = trained
    model = root / "ctc"
    if units == "phones":
        model = root / "ctc_phones"
        cfg = load_finetune_config(None, TINY_CTC + [f"data={data / 'train'}", f"valid_data={data / 'dev'}",
                                                     f"out={model}", "units=phones", "train.max_steps=4",
                                                     "train.valid_every=4", "train.save_every=4"])
        finetune(cfg)
    lm = data / "lang_word" if units == "chars" else data / "lang_phone" / "lm"
    out = decode(model, data / "dev", out_dir=root / f"tuned_{units}", lm=lm, tune_on=data / "dev")
    info = json.loads((out / "decode.json").read_text())
    assert len(info["tuning_grid"]) == (30 if units == "chars" else 6)  # phones: LM weights only
    best = min(g["error_rate"] for g in info["tuning_grid"])
    metric = "WER" if units == "chars" else "PER"
    overall = score(out)["scores"][metric]["overall"]
    assert overall["errors"] / overall["ref"] == pytest.approx(best)


def test_a_fine_tuning_that_only_writes_blanks_ends_with_an_error(trained, monkeypatch):
    """CTC's all-blank stage (token error rate exactly 1.0) is reported, not passed on to decoding."""
    from speechxl.errors import SpeechxlError
    from speechxl.models.ctc import CTCModel

    root, data, _ = trained
    real = CTCModel.unit_log_probs

    def blank_only(self, hidden):
        lp = real(self, hidden)
        return torch.where(torch.arange(lp.shape[-1]) == 0, 0.0, -1e4).expand_as(lp) + 0 * lp

    monkeypatch.setattr(CTCModel, "unit_log_probs", blank_only)
    overrides = [o for o in TINY_CTC if o != "require_learning=false"]
    cfg = load_finetune_config(None, overrides + [f"data={data / 'train'}", f"valid_data={data / 'dev'}",
                                                  f"out={root / 'blank'}", "units=chars", "train.max_steps=2"])
    with pytest.raises(SpeechxlError, match=r"blank\W+fine-tuning learnt nothing: .* is 1\.00 "):
        finetune(cfg)
    assert (root / "blank" / "checkpoints" / "last").is_file()  # the run itself is kept


def test_an_unreadable_file_among_many_is_skipped_by_name_and_the_others_are_transcribed(trained, tmp_path, caplog,
                                                                                        capsys):
    import soundfile as sf

    from speechxl.cli import main
    from speechxl.data.manifest import read_manifest

    root, data, _ = trained
    (tmp_path / "broken.wav").write_bytes(b"RIFF but not audio" * 10)
    x, sr = sf.read(read_manifest(data / "test")[0].audio)
    sf.write(str(tmp_path / "good.flac"), x, sr)
    files = [str(tmp_path / "broken.wav"), str(tmp_path / "good.flac")]
    with pytest.raises(SystemExit, match="1 of 2 files could not be read"):
        main(["transcribe", str(root / "ctc"), *files])
    assert capsys.readouterr().out.startswith(f"{tmp_path / 'good.flac'}\t")  # printed, not lost
    assert any("broken.wav" in r.getMessage() and "\n" not in r.getMessage() for r in caplog.records)


def test_a_per_language_lm_without_a_language_is_a_clear_error(trained, tmp_path):
    root, data, _ = trained
    with pytest.raises(ValueError, match=r"lang_word holds one LM per language \(es ru\): say which with --lang \(lang= in Python\)"):
        list(load(root / "ctc", lm=data / "lang_word").transcribe_files([str(tmp_path / "never_read.wav")]))


def test_a_device_that_cannot_be_used_is_a_clear_error(trained):
    root, _, _ = trained
    with pytest.raises(ValueError, match=r"device 'tpu9' cannot be used here"):
        load_model(root / "ctc", device="tpu9")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match=r"device 'cuda' cannot be used here"):
            load_model(root / "ctc", device="cuda")
    assert next(load_model(root / "ctc", device="cpu").net.parameters()).device.type == "cpu"


def test_resuming_a_fine_tuning_with_other_settings_or_units_is_refused(trained, tmp_path):
    import shutil

    from speechxl.config import ConfigError

    root, data, _ = trained
    base = TINY_CTC + [f"data={data / 'train'}", f"out={root / 'ctc'}", "units=chars",
                       f"valid_data={data / 'dev'}", "train.valid_every=2", "train.save_every=2"]
    with pytest.raises(ConfigError, match=r"ctc\W+holds checkpoints of a run with other settings.*optim.lr 0.001 -> 0.002"):
        finetune(load_finetune_config(None, base + ["train.max_steps=4", "optim.lr=2e-3"]))
    # the same units file with two units swapped: same size, other meaning
    lang = tmp_path / "lang_char"
    shutil.copytree(data / "lang_char", lang)
    lines = (lang / "units.txt").read_text().splitlines()
    lines[3], lines[4] = lines[4], lines[3]
    (lang / "units.txt").write_text("\n".join(lines) + "\n")
    with pytest.raises(ConfigError, match=r"trained on other units than"):
        finetune(load_finetune_config(None, base + ["train.max_steps=4", f"lang_dir={lang}"]))


def test_decodes_with_other_search_settings_get_dirs_of_their_own(trained):
    from speechxl.decode.beam import BeamConfig

    root, data, _ = trained
    narrow = decode(root / "ctc", data / "test", lm=data / "lang_word", beam=BeamConfig(beam=4, lm_weight=1.0))
    assert narrow.name == "decode_test_lm_beam4_lm_weight1"
    tuned = decode(root / "ctc", data / "test", lm=data / "lang_word", beam=BeamConfig(beam=4), tune_on=data / "dev")
    assert tuned.name == "decode_test_lm_beam4"  # the tuned weights are the decode's own, not a setting


def test_decoding_with_the_mean_of_the_last_checkpoints(trained, tmp_path, run_cli):
    """The fixture keeps steps 2 and 4: --average 2 decodes with their mean weights."""
    from speechxl import checkpoint as ckpt

    root, data, _ = trained
    steps = sorted((root / "ctc" / "checkpoints").glob("step_*"))
    model = load_model(root / "ctc", average=2)
    a, b = (ckpt.load_model_state(s) for s in steps[-2:])
    mean = model.net.state_dict()
    assert all(torch.equal(mean[k], (a[k] + b[k]) / 2 if v.is_floating_point() else b[k]) for k, v in a.items())
    assert any(not torch.equal(v, b[k]) for k, v in a.items() if v.is_floating_point())  # two different steps
    run_cli("decode", root / "ctc", data / "test", "--average", "2")
    info = json.loads((root / "ctc" / "decode_test_avg2" / "decode.json").read_text())
    assert info["model"]["averaged"] == [s.name for s in steps[-2:]]
    with pytest.raises(ValueError, match="--average 5: .* keeps 2 checkpoints"):
        load_model(root / "ctc", average=5)


def test_a_decode_dir_gives_its_tuned_search_or_greedy_where_its_lm_did_not_help(tmp_path, run_cli, caplog):
    from speechxl.decode.beam import BeamConfig
    from speechxl.decode.run import search_of_decode

    def decode_dir(name, **info):
        (tmp_path / name).mkdir()
        (tmp_path / name / "decode.json").write_text(json.dumps(info))
        return tmp_path / name

    tuned = {"lm": "data/lang_word", "beam": {**BeamConfig().__dict__, "lm_weight": 1.5, "word_score": -1.0},
             "tuned_on": "data/dev", "tuning_greedy_error_rate": 0.4}
    assert search_of_decode(decode_dir("greedy", lm=None)) == (None, BeamConfig())
    assert search_of_decode(decode_dir("helps", **tuned, lm_lowers_tuning_error=True)) == (
        "data/lang_word", BeamConfig(lm_weight=1.5, word_score=-1.0))
    with caplog.at_level(logging.INFO):
        assert search_of_decode(decode_dir("useless", **tuned, lm_lowers_tuning_error=False)) == (None, BeamConfig())
    assert "the LM did not lower the error on data/dev (greedy 0.4000): searching greedily" in caplog.text
    with pytest.raises(ValueError, match="--lm_from .*nowhere: no readable decode.json"):
        search_of_decode(tmp_path / "nowhere")
    with pytest.raises(SystemExit, match="give --lm or --lm_from, not both"):
        run_cli("transcribe", tmp_path, "a.wav", "--lm", "x", "--lm_from", tmp_path / "helps")
