"""Other people's files, fed through the command line as a hostile or careless corpus would be
(docs/guarantees.md, "What speechxl trusts"): every id, speaker, language and tier name may be a path;
nothing is written outside the output, a bad value is a reject or a one-line error naming it."""

import csv
import json
import logging
import os
import re

import pytest
import soundfile as sf

from speechxl.data.manifest import Utterance, write_manifest
from speechxl.untrusted import shown
from tests.conftest import tone

# the values a fuzzed field takes; ELSEWHERE is replaced by an absolute path next to the output
BAD = ["..", "../../../elsewhere/owned", "ELSEWHERE/owned", "a\x00b", "a\nb", "x" * 300, "caf\udcff"]


def files_under(root):
    return {os.path.relpath(os.path.join(d, f), root) for d, _, fs in os.walk(root) for f in fs}


def bad_values(tmp_path, line_based=False, text_only=False):
    """BAD with ELSEWHERE made absolute; a line-based format cannot carry a line break, a text column
    (Arrow) no undecodable byte."""
    values = [v.replace("ELSEWHERE", str(tmp_path / "elsewhere")) for v in BAD]
    if line_based:
        values = [v for v in values if "\n" not in v]
    if text_only:
        values = [v for v in values if "\udcff" not in v]
    return values


def check_outcome(tmp_path, before, out, ran, caplog, value):
    """Nothing new outside ``out``; ``value`` a bad_name reject that shows it, or the run one error line naming it."""
    after = files_under(tmp_path)
    outside = {f for f in after - before if not f.startswith(os.path.relpath(out, tmp_path) + os.sep)}
    assert not outside, (value, outside)
    assert not (tmp_path / "elsewhere").exists(), value
    named = shown(value)[:20]
    if ran is not None:  # the run ended in one line naming what it refused
        errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
        assert errors and "\n" not in errors[-1] and named in errors[-1], (value, errors)
        return
    rejected = {(r["id"], r["detail"]) for d in out.iterdir() if (d / "rejects.tsv").is_file()
                for r in csv.DictReader(open(d / "rejects.tsv", encoding="utf-8", newline=""), delimiter="\t")
                if r["reason"] == "bad_name"}  # a set's rejects (the pretraining set repeats the training set's)
    assert len(rejected) == 1 and named in next(iter(rejected))[1], (value, rejected)


def fuzz(tmp_path, caplog, values, prepare):
    """``prepare(inputs folder, value, out)`` for each value, in a corpus of its own: each one checked alone,
    so that one value's refusal cannot hide another's write."""
    for i, value in enumerate(values):
        caplog.clear()
        before = files_under(tmp_path)
        out = tmp_path / f"data{i}"
        ran = prepare(tmp_path / f"in{i}", value, out, before)
        check_outcome(tmp_path, ran[1], out, ran[0], caplog, value)


def run(run_cli, *args):
    """None if the command ran through, else its SystemExit."""
    try:
        run_cli(*args)
    except SystemExit as e:
        return e
    return None


def wav(path, seconds=1.0):
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), tone(seconds, 16000), 16000)
    return path


@pytest.mark.parametrize("field", ["id", "speaker", "lang", "recording"])
def test_kaldi_dirs_whose_ids_are_paths(tmp_path, run_cli, caplog, field):
    def prepare(inputs, v, out, _):
        k = inputs / "train"
        k.mkdir(parents=True)
        rows = [("good", "spk", "es", "rec0"), (v if field == "id" else "u1", v if field == "speaker" else "spk",
                                                v if field == "lang" else "es", v if field == "recording" else "rec1")]
        (k / "wav.scp").write_text("".join(f"{r[3]} {wav(inputs / f'r{i}.wav')}\n" for i, r in enumerate(rows)),
                                   encoding="utf-8", errors="surrogateescape")
        for name, col in (("utt2spk", 1), ("utt2lang", 2), ("text", None), ("segments", 3)):
            (k / name).write_text("".join(f"{r[0]} {'hola' if col is None else r[col]}"
                                          f"{' 0.0 0.9' if name == 'segments' else ''}\n" for r in rows),
                                  encoding="utf-8", errors="surrogateescape")
        before = files_under(tmp_path)
        return run(run_cli, "prepare", "kaldi", "--kaldi_dirs", k, "--out", out, "--jobs", "1"), before
    fuzz(tmp_path, caplog, bad_values(tmp_path, line_based=True), prepare)


@pytest.mark.parametrize("field", ["utt_id", "speaker", "lang"])
def test_nemo_manifests_whose_ids_are_paths(tmp_path, run_cli, caplog, field):
    def prepare(inputs, v, out, _):
        audio = wav(inputs / "a.wav")
        lines = [{"audio_filepath": str(audio), "duration": 1.0, "text": "hola", "lang": "es", "utt_id": "good"},
                 {"audio_filepath": str(audio), "duration": 1.0, "text": "hola", "lang": "es", "utt_id": "u1", field: v}]
        (inputs / "train.json").write_text("".join(json.dumps(x) + "\n" for x in lines), encoding="utf-8")
        before = files_under(tmp_path)
        return run(run_cli, "prepare", "nemo", "--manifests", inputs / "train.json", "--out", out, "--jobs", "1"), before
    fuzz(tmp_path, caplog, bad_values(tmp_path), prepare)


@pytest.mark.parametrize("field", ["id", "speaker", "language", "recording"])
def test_lhotse_cuts_whose_ids_are_paths(tmp_path, run_cli, caplog, field):
    def cut(i, v, audio):
        rec = {"id": v if field == "recording" else f"r{i}", "sampling_rate": 16000, "num_samples": 16000,
               "duration": 1.0, "channel_ids": [0], "sources": [{"type": "file", "channels": [0], "source": str(audio)}]}
        sup = {"id": v if field == "id" else f"s{i}", "recording_id": rec["id"], "start": 0.0, "duration": 0.9,
               "channel": 0, "text": "hola", "language": v if field == "language" else "es",
               "speaker": v if field == "speaker" else "spk"}
        return {"id": f"c{i}", "start": 0.0, "duration": 1.0, "channel": 0, "supervisions": [sup], "recording": rec,
                "type": "MonoCut"}

    def prepare(inputs, v, out, _):
        audio = wav(inputs / "a.wav")
        manifest = inputs / "cuts_train.jsonl"
        manifest.write_text("".join(json.dumps(cut(i, x, audio)) + "\n" for i, x in enumerate(["good", v])),
                            encoding="utf-8")
        before = files_under(tmp_path)
        return run(run_cli, "prepare", "lhotse", "--manifests", manifest, "--out", out, "--jobs", "1"), before
    fuzz(tmp_path, caplog, bad_values(tmp_path), prepare)


@pytest.mark.parametrize("field", ["speaker", "lang"])
def test_a_folders_transcripts_whose_speakers_and_languages_are_paths(tmp_path, run_cli, caplog, field):
    def prepare(inputs, v, out, _):
        folder = inputs / "train"
        rows = ["path\ttext\tspeaker\tlang", f"{wav(folder / 'good.wav').name}\thola\tspk\tes",
                f"{wav(folder / 'u1.wav').name}\thola\t{v if field == 'speaker' else 'spk'}\t"
                f"{v if field == 'lang' else 'es'}"]
        (folder / "transcripts.tsv").write_text("\n".join(rows) + "\n", encoding="utf-8", errors="surrogateescape")
        before = files_under(tmp_path)
        return run(run_cli, "prepare", "folder", "--folders", folder, "--out", out, "--jobs", "1"), before
    fuzz(tmp_path, caplog, bad_values(tmp_path, line_based=True), prepare)


@pytest.mark.parametrize("field", ["id", "speaker_id", "language"])
def test_a_hugging_face_dataset_whose_ids_are_paths_writes_nothing_there(tmp_path, run_cli, caplog, field):
    """The probe's case: a row's id was the staging file's name, and its audio bytes (a script) landed there."""
    datasets = pytest.importorskip("datasets")
    from tests.corpora.test_hf import flac_bytes

    def prepare(inputs, v, out, _):
        columns = {"id": ["good", "u1"], "speaker_id": ["spk", "spk"], "language": ["sw", "sw"]}
        columns[field][1] = v
        features = datasets.Features({"audio": {"bytes": datasets.Value("binary"), "path": datasets.Value("string")},
                                      "text": datasets.Value("string"), "id": datasets.Value("string"),
                                      "speaker_id": datasets.Value("string"), "language": datasets.Value("string")})
        datasets.Dataset.from_dict({"audio": [{"bytes": flac_bytes(1.0, 16000), "path": "x.flac"}] * 2,
                                    "text": ["jambo"] * 2, **columns}, features=features).cast_column(
            "audio", datasets.Audio(sampling_rate=16000)).save_to_disk(str(inputs / "train"))
        before = files_under(tmp_path)
        return run(run_cli, "prepare", "hf", "--datasets", inputs / "train", "--out", out, "--jobs", "1"), before
    fuzz(tmp_path, caplog, bad_values(tmp_path, text_only=True), prepare)


def test_fieldwork_tiers_whose_speakers_are_paths(tmp_path, run_cli, caplog):
    from praatio import textgrid

    def prepare(inputs, v, out, _):
        corpus = inputs / "corpus"
        wav(corpus / "rec.wav", seconds=8.0)
        tg = textgrid.Textgrid(0.0, 8.0)
        for i, name in enumerate(["good", v]):
            tg.addTier(textgrid.IntervalTier(f"tx@{name}", [(4.0 * i + 0.5, 4.0 * i + 2.5, "hola")], 0.0, 8.0))
        tg.save(str(corpus / "rec.TextGrid"), format="long_textgrid", includeBlankSpaces=True)
        before = files_under(tmp_path)
        return run(run_cli, "prepare", "fieldwork", "--corpus", corpus, "--tiers", "tx@*", "--lang", "es", "--vad",
                   "none", "--out", out, "--jobs", "1", "--min_duration", "0.1"), before
    fuzz(tmp_path, caplog, [v for v in bad_values(tmp_path, line_based=True, text_only=True) if "\x00" not in v],
         prepare)


def test_a_manifest_whose_language_is_a_path_writes_no_lm_there(tmp_path, run_cli, caplog):
    """The probe's case: `speechxl units` wrote L.txt and L.arpa where a language code pointed."""
    data = tmp_path / "data" / "train"
    write_manifest([Utterance(id="a", audio=str(wav(tmp_path / "a.wav")), duration=1.0, lang="es", speaker="s",
                              text="hola")], data)
    lines = (data / "utts.jsonl").read_text().replace('"lang": "es"', '"lang": "../../../elsewhere/L"')
    (data / "utts.jsonl").write_text(lines)
    before = files_under(tmp_path)
    with pytest.raises(SystemExit):
        run_cli("units", "chars", "--train", data, "--out", tmp_path / "data")
    assert files_under(tmp_path) == before and "utts.jsonl:1: language ../../../elsewhere/L" in caplog.text


def test_a_symlinked_set_dir_is_not_written_through(tmp_path, run_cli, caplog):
    """The Kaldi recipe's `ln -sfn train data/pretrain`, then a run that writes data/pretrain."""
    folder = tmp_path / "in" / "pretrain"
    wav(folder / "a.wav")
    (tmp_path / "data" / "train").mkdir(parents=True)
    (tmp_path / "data" / "train" / "utts.jsonl").write_text("precious\n")
    (tmp_path / "data" / "pretrain").symlink_to("train")
    with pytest.raises(SystemExit):
        run_cli("prepare", "folder", "--folders", folder, "--lang", "es", "--out", tmp_path / "data", "--jobs", "1")
    assert (tmp_path / "data" / "train" / "utts.jsonl").read_text() == "precious\n"
    assert "a symbolic link to train" in caplog.text


def test_an_audio_header_that_claims_2_to_the_36_samples_is_a_reject_and_the_rest_is_prepared(tmp_path, run_cli):
    folder = tmp_path / "in" / "train"
    wav(folder / "good.wav")
    liar = bytearray((folder / "good.wav").read_bytes())
    liar[40:44] = (0xFFFFFFF0).to_bytes(4, "little")  # the data chunk's size: 2^32 bytes of 16-bit samples
    (folder / "liar.wav").write_bytes(bytes(liar))
    big = folder / "huge.flac"  # a FLAC whose STREAMINFO claims 2^36 samples
    sf.write(str(big), tone(0.5, 16000), 16000)
    b = bytearray(big.read_bytes())
    i = b.index(b"fLaC") + 4 + 4 + 13  # STREAMINFO: 36 bits of total samples end at byte 18 of its body
    b[i] = (b[i] & 0xF0) | 0x0F
    big.write_bytes(bytes(b))
    run_cli("prepare", "folder", "--folders", folder, "--lang", "es", "--out", tmp_path / "data", "--jobs", "1")
    kept = [json.loads(x)["id"] for x in (tmp_path / "data" / "train" / "utts.jsonl").read_text().splitlines()]
    rejects = (tmp_path / "data" / "train" / "rejects.tsv").read_text()
    assert "good" in kept and "huge\t" in rejects and "too_long" in rejects


def test_two_prepare_runs_into_one_folder_are_refused(tmp_path, run_cli, caplog):
    from speechxl.dir_lock import lock_dir

    folder = tmp_path / "in" / "train"
    wav(folder / "a.wav")
    with lock_dir(tmp_path / "data", "a test"):
        with pytest.raises(SystemExit):
            run_cli("prepare", "folder", "--folders", folder, "--lang", "es", "--out", tmp_path / "data")
    assert f"{tmp_path / 'data'} is in use by pid {os.getpid()}" in caplog.text
    run_cli("prepare", "folder", "--folders", folder, "--lang", "es", "--out", tmp_path / "data", "--jobs", "1")
    assert (tmp_path / "data" / ".lock").read_text() == ""  # released: the folder names no host when shared


def test_a_temporary_file_never_follows_a_planted_link(tmp_path):
    from speechxl.atomic import atomic_write

    target = tmp_path / "victim"
    target.write_text("mine")
    for pid in range(os.getpid() - 5, os.getpid() + 5):  # the names the old scheme used
        (tmp_path / f".out.tmp{pid}.txt").symlink_to(target)
    atomic_write(tmp_path / "out.txt", "written")
    assert target.read_text() == "mine" and (tmp_path / "out.txt").read_text() == "written"


def test_g2p_cache_lines_of_two_writers_never_interleave(tmp_path):
    from multiprocessing import get_context

    from speechxl.text.g2p import G2P

    with get_context("fork").Pool(2) as pool:
        pool.map(_append_many, [(tmp_path, w) for w in range(2)])
    lines = (tmp_path / "es.tsv").read_text(encoding="utf-8").splitlines()
    assert len(lines) == 2 * 200 and all(line.count("\t") == 1 for line in lines)
    assert len(G2P("es", tmp_path).cache) == 2 * 200  # every line read back whole


def _append_many(args):
    from speechxl.text.g2p import G2P

    folder, writer = args
    g = G2P.__new__(G2P)  # the cache alone, no espeak backend
    g.cache_file = folder / "es.tsv"
    for i in range(200):
        g._append({f"word{writer}-{i} " * 50: ["a"] * 100})


def test_align_never_writes_over_the_users_elan_file(trained, tmp_path, run_cli, caplog):
    """The probe's case: --out the folder that holds rec.eaf replaced it in place, its comment lost."""
    import pympi

    from speechxl.data.manifest import read_manifest
    from tests.decode.test_align import recording_of

    root, data, _ = trained
    utts = [u for u in read_manifest(data / "test") if u.lang == "es"][:2]
    rec, _, _ = recording_of(utts, tmp_path / "rec" / "s1.wav")
    users = pympi.Elan.Eaf()
    users.add_linked_file(str(rec), relpath=rec.name, mimetype="audio/x-wav")
    users.to_file(str(rec.parent / "s1.eaf"))
    eaf = rec.parent / "s1.eaf"
    eaf.write_text(eaf.read_text().replace("<HEADER", "<!-- hand-written --><HEADER", 1))
    mine = eaf.read_bytes()
    text = rec.parent / "s1.txt"
    text.write_text("".join(u.text + "\n" for u in utts), encoding="utf-8")
    with pytest.raises(SystemExit):
        run_cli("align", root / "ctc", rec, text, "--out", rec.parent, "--lang", "es", "--eaf", eaf)
    assert eaf.read_bytes() == mine and "is an input of this run" in caplog.text
    run_cli("align", root / "ctc", rec, text, "--out", tmp_path / "out", "--lang", "es", "--eaf", eaf)
    run_cli("align", root / "ctc", rec, text, "--out", tmp_path / "out", "--lang", "es", "--eaf", eaf)  # its own: replaced
    (tmp_path / "out" / "s1.TextGrid").write_text("edited by hand")
    with pytest.raises(SystemExit):
        run_cli("align", root / "ctc", rec, text, "--out", tmp_path / "out", "--lang", "es", "--eaf", eaf)
    run_cli("align", root / "ctc", rec, text, "--out", rec.parent, "--lang", "es", "--eaf", eaf, "--overwrite")
    assert (rec.parent / "s1.eaf.orig").read_bytes() == mine and "hand-written" not in eaf.read_text()


def test_transcribe_sends_a_long_recording_to_transcribe_long(trained, tmp_path, run_cli, caplog):
    from speechxl.decode.recognizer import ONE_PASS

    root, _, _ = trained
    long = tmp_path / "long.flac"
    sf.write(str(long), tone(ONE_PASS + 5, 8000), 8000)
    with pytest.raises(SystemExit):
        run_cli("transcribe", root / "ctc", long)
    assert "use speechxl transcribe-long" in caplog.text


def test_what_is_published_holds_no_local_path(trained, tmp_path, run_cli):
    root, data, _ = trained
    run_cli("decode", root / "ctc", data / "test")
    run_cli("score", root / "ctc" / "decode_test")
    for verb, out in (("export-hf", tmp_path / "hf"), ("export-torch", tmp_path / "pt"), ("release", tmp_path / "rel")):
        run_cli(verb, root / "ctc", out)
        for f in out.rglob("*"):
            if f.suffix in (".json", ".md", ".txt", ".yaml"):
                text = f.read_text(encoding="utf-8")
                assert str(root.resolve()) not in text and str(tmp_path.resolve()) not in text, f
    assert f"speechxl decode {root.name}/ctc {root.name}/data/test" in (tmp_path / "hf" / "README.md").read_text()
    run_cli("export-hf", root / "ctc", tmp_path / "hf_full", "--keep_paths")
    assert str(root.resolve()) in (tmp_path / "hf_full" / "README.md").read_text()


def test_a_torch_too_old_for_weights_only_is_refused(tmp_path, monkeypatch):
    import torch

    from speechxl.checkpoint import CheckpointError, load_tensors

    torch.save({"w": torch.zeros(2)}, tmp_path / "t.pt")
    monkeypatch.setattr(torch, "__version__", "2.5.1+cu121")
    with pytest.raises(CheckpointError, match="CVE-2025-32434"):
        load_tensors(tmp_path / "t.pt")


def test_markdown_reports_show_data_as_text(tmp_path):
    from speechxl.eval.report import score
    from tests.eval.test_report import decode_dir

    rows = [{"id": "<script>alert(1)</script>|x", "lang": "es", "audio": "/etc/passwd", "offset": 0.0, "duration": 1.0,
             "ref": "la | casa", "hyp": "<b>la</b>", "ref_units": [], "hyp_units": []}]
    d = decode_dir(tmp_path, rows)
    score(d)
    md = (d / "report.md").read_text()
    outside_code = re.sub(r"`(?:[^`\\]|\\.)*`", "", md)  # a code span shows its text as it is
    assert "<" not in outside_code.replace("&lt;", "") and "&lt;b>la&lt;/b>" in md
    assert "`<script>alert(1)</script>\\|x`" in md and "/etc/passwd" not in md
    assert "(audio not found)" in (d / "report.html").read_text()  # hyp.jsonl named /etc/passwd: not played
    elsewhere = tmp_path / "copied" / "decode_test"  # a decode dir copied out of its exp
    elsewhere.parent.mkdir()
    os.rename(d, elsewhere)
    score(elsewhere)
    assert (tmp_path / "exp" / "RESULTS.md").exists() and not (tmp_path / "copied" / "RESULTS.md").exists()


def test_small_hostile_inputs_are_one_line_errors(tmp_path):
    from speechxl.checkpoint import CheckpointError, _fitting_header
    from speechxl.config import ConfigError, read_yaml
    from speechxl.corpora.fieldwork import TierChoice, open_elan, read_eaf
    from speechxl.interop.fairseq_wav2vec2 import _conv_layers

    with pytest.raises(ValueError, match="at most 64"):
        _conv_layers("[(512, 10, 5)] * 10**9")
    assert _conv_layers("[(512, 10, 5)] + [(512, 3, 2)] * 4 + [(512,2,2)] * 2")[-1] == (512, 2, 2)
    (tmp_path / "a.yaml").write_text("base: b.yaml\nx: 1\n")
    (tmp_path / "b.yaml").write_text("base: a.yaml\ny: 2\n")
    with pytest.raises(ConfigError, match="comes back to it"):
        read_yaml(tmp_path / "a.yaml")
    (tmp_path / "w.safetensors").write_bytes((2**62).to_bytes(8, "little") + b"{}")
    with open(tmp_path / "w.safetensors", "rb") as f, pytest.raises(CheckpointError, match="header claims"):
        _fitting_header(f, tmp_path / "w.safetensors", {})
    laughs = ('<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>'
              '<ANNOTATION_DOCUMENT>&lol2;</ANNOTATION_DOCUMENT>')
    (tmp_path / "laughs.eaf").write_text(laughs)
    with pytest.raises(ValueError, match="laughs.eaf: not an ELAN file"):
        open_elan(tmp_path / "laughs.eaf")
    import pympi

    wav(tmp_path / "rec.wav")
    eaf = pympi.Elan.Eaf()
    eaf.add_linked_file(str(tmp_path / "rec.wav"), relpath="rec.wav", mimetype="audio/x-wav")
    eaf.add_tier("tx@A")
    eaf.add_annotation("tx@A", 100, 900, "hola")
    eaf.to_file(str(tmp_path / "nan.eaf"))
    (tmp_path / "nan.eaf").write_text((tmp_path / "nan.eaf").read_text().replace(
        'MIME_TYPE="audio/x-wav"', 'MIME_TYPE="audio/x-wav" TIME_ORIGIN="nan"'))
    media, annotations, rejects, _ = read_eaf(tmp_path / "nan.eaf", TierChoice(["tx@*"]))
    assert annotations == [] and rejects[0].reason == "bad_times" and "TIME_ORIGIN 'nan'" in rejects[0].detail


def test_a_decoded_model_reads_its_own_units_not_the_working_directorys(trained, tmp_path, monkeypatch):
    import dataclasses
    import shutil

    from speechxl.decode.model import _training_lang_dir
    from speechxl.models.card import ModelCard

    root, data, _ = trained
    found = next((root / "ctc" / "checkpoints").glob("step_*"))
    card = dataclasses.replace(ModelCard.load(found), provenance={"lang_dir": "data/lang_char"})
    monkeypatch.chdir(tmp_path)
    shutil.copytree(data / "lang_char", tmp_path / "data" / "lang_char")
    assert _training_lang_dir(card, found) == tmp_path.joinpath("data/lang_char").relative_to(tmp_path)
    (tmp_path / "data" / "lang_char" / "units.txt").write_text("<blank>\n<unk>\nz\n")  # another recipe's units
    assert _training_lang_dir(card, found) is None


def test_a_long_transcript_with_bytes_that_are_not_utf8_is_a_reject(tmp_path, run_cli):
    """However long the transcript, a byte that is not UTF-8 in it rejects the utterance (a manifest could not hold it)."""
    audio = wav(tmp_path / "in" / "a.wav")
    line = json.dumps({"audio_filepath": str(audio), "duration": 1.0, "lang": "es", "utt_id": "u1", "text": "TEXT"})
    good = json.dumps({"audio_filepath": str(audio), "duration": 1.0, "lang": "es", "utt_id": "good", "text": "hola"})
    (tmp_path / "in" / "train.json").write_bytes(
        (good + "\n" + line + "\n").encode().replace(b"TEXT", b"hola " * 60 + b"caf\xff"))
    run_cli("prepare", "nemo", "--manifests", tmp_path / "in" / "train.json", "--out", tmp_path / "data", "--jobs", "1")
    rejects = (tmp_path / "data" / "train" / "rejects.tsv").read_text(encoding="utf-8")
    assert "bad_name" in rejects and "transcript" in rejects and "not valid UTF-8" in rejects
    assert [json.loads(x)["id"] for x in (tmp_path / "data" / "train" / "utts.jsonl").read_text().splitlines()] == ["good"]
