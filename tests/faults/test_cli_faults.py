"""User errors injected through the command line: each ends in one line that names the thing,
exit status 1, and no traceback (``--verbose`` shows one)."""

import logging
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from speechxl import checkpoint as ckpt
from tests.conftest import TINY_W2V, write_audio_set


def one_line_error(run_cli, caplog, *args) -> str:
    caplog.clear()
    with pytest.raises(SystemExit) as e:
        run_cli(*args)
    assert e.value.code == 1
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and not errors[0].exc_info, [r.getMessage() for r in errors]
    message = errors[0].getMessage()
    assert "\n" not in message and "Traceback" not in message
    return message


@pytest.fixture(scope="module")
def audio(tmp_path_factory):
    return write_audio_set(tmp_path_factory.mktemp("faults") / "train", n=6)


@pytest.fixture(scope="module")
def pretrained(audio, tmp_path_factory):
    """A pretraining experiment of one update."""
    from speechxl.cli import main

    out = tmp_path_factory.mktemp("faults") / "pre"
    main(["pretrain", *TINY_W2V, f"data={audio}", f"out={out}", "train.max_steps=1"])
    return out


def test_a_yaml_syntax_error_names_the_file_line_and_column(tmp_path, run_cli, caplog, audio):
    bad = tmp_path / "bad.yaml"
    bad.write_text("optim:\n  lr: 1e-3\n  betas: [0.9, 0.98\ntrain: {max_steps: 10}\n", encoding="utf-8")
    message = one_line_error(run_cli, caplog, "pretrain", "--config", bad, f"data={audio}", f"out={tmp_path / 'x'}")
    assert message == f"{bad}: not valid YAML: line 4, column 6: expected ',' or ']', but got ':'"


@pytest.mark.parametrize("override, expected", [
    ("optim.betas=0.9", "optim.betas: expected a list, e.g. [0.9, 0.98], got 0.9"),
    ("train.max_steps=-5", "train: max_steps is at least 0, not -5"),
    ("model.encoder.num_layers=-1", "num_layers"),
    ("optim.lr=[1", "override 'optim.lr=[1': '[1' is not a YAML value"),
])
def test_a_value_that_cannot_run_is_named(override, expected, tmp_path, run_cli, caplog, audio):
    message = one_line_error(run_cli, caplog, "pretrain", *TINY_W2V, f"data={audio}", f"out={tmp_path / 'x'}",
                             override)
    assert expected in message


def test_out_naming_a_file_is_refused(tmp_path, run_cli, caplog, audio):
    (tmp_path / "x").write_text("not a dir", encoding="utf-8")
    message = one_line_error(run_cli, caplog, "pretrain", *TINY_W2V, f"data={audio}", f"out={tmp_path / 'x'}")
    assert message == f"out: {tmp_path / 'x'} is a file, not an experiment dir"


def test_prepare_with_paths_that_are_files(tmp_path, run_cli, caplog):
    (tmp_path / "f").write_text("x", encoding="utf-8")
    assert str(tmp_path / "f") in one_line_error(run_cli, caplog, "prepare", "commonvoice", "--cv_root",
                                                 tmp_path / "f", "--out", tmp_path / "data")
    assert str(tmp_path / "f") in one_line_error(run_cli, caplog, "prepare", "demo", "--out", tmp_path / "f")


def test_a_checkpoint_holding_pickled_objects_is_refused_without_suggesting_to_trust_it(
        tmp_path, run_cli, caplog, audio, pretrained):
    import shutil

    out = tmp_path / "pre"
    shutil.copytree(pretrained, out)
    last = ckpt.resolve(out / "checkpoints", "last")
    torch.save({"payload": Path("x")}, last / "trainer.pt")  # any pickled object
    message = one_line_error(run_cli, caplog, "pretrain", *TINY_W2V, f"data={audio}", f"out={out}",
                             "train.max_steps=2")
    assert "trainer.pt: holds Python objects besides tensors" in message and "weights_only" not in message


def test_decoding_a_pretraining_experiment_says_what_it_is(tmp_path, run_cli, caplog, audio, pretrained):
    message = one_line_error(run_cli, caplog, "decode", pretrained, audio)
    assert message.startswith(f"{pretrained}/checkpoints/step_00000001: a pretraining checkpoint has no CTC head")
    assert message.endswith("fine-tune it first")


def test_decoding_an_empty_data_dir(tmp_path, run_cli, caplog, trained):
    from speechxl.data.manifest import write_manifest

    root, _, _ = trained
    write_manifest([], tmp_path / "empty")
    assert one_line_error(run_cli, caplog, "decode", root / "ctc", tmp_path / "empty") == (
        f"{tmp_path / 'empty'}: no utterances to decode")


def test_transcribing_a_nan_wav_skips_it_with_the_reason(tmp_path, run_cli, caplog, capsys, trained):
    root, _, _ = trained
    good, bad = tmp_path / "good.wav", tmp_path / "nan.wav"
    sf.write(str(good), np.sin(np.arange(16000) / 10).astype(np.float32) * 0.3, 16000)
    sf.write(str(bad), np.full(16000, np.nan, dtype=np.float32), 16000, subtype="FLOAT")
    with pytest.raises(SystemExit) as e:
        run_cli("transcribe", root / "ctc", bad, good, "--lang", "es")
    assert e.value.code == "speechxl: 1 of 2 files could not be read (see above)"
    assert [r.getMessage() for r in caplog.records if "skipped:" in r.getMessage()] == [
        f"skipped: {bad}: the audio holds NaN or infinite samples"]
    assert capsys.readouterr().out.startswith(f"{good}\t")  # the good file after the bad one


def test_verbose_shows_where_an_error_came_from(tmp_path, run_cli, caplog, audio):
    caplog.clear()
    with pytest.raises(SystemExit):
        run_cli("--verbose", "pretrain", *TINY_W2V, f"data={audio}", f"out={tmp_path / 'x'}", "optim.betas=0.9")
    assert [r for r in caplog.records if r.levelno >= logging.ERROR][0].exc_info


def test_a_model_section_for_another_family_than_inits_says_so(tmp_path, run_cli, caplog, audio, pretrained):
    message = one_line_error(run_cli, caplog, "pretrain", f"data={audio}", f"out={tmp_path / 'x'}",
                             f"init={pretrained}", "model.contrastive_layers=2")
    assert message.startswith("model.contrastive_layers: unknown key")
    assert message.endswith(f"the model section is read as a wav2vec2 model, the family of init {pretrained}; "
                            "a model section for another family does not fit it)")
