"""speechxl prepare kaldi: a Kaldi data dir (files, segments of a long recording, a pipe) in."""

import soundfile as sf

from speechxl.data.manifest import read_manifest, write_manifest
from speechxl.data.validate import read_rejects
from tests.conftest import tone


def write_kaldi_dir(d, files: dict[str, str], **tables: dict[str, str]):
    d.mkdir(parents=True)
    (d / "wav.scp").write_text("".join(f"{k} {v}\n" for k, v in files.items()), encoding="utf-8")
    for name, table in tables.items():
        (d / name).write_text("".join(f"{k} {v}\n" for k, v in table.items()), encoding="utf-8")


def test_files_segments_and_a_pipe(tmp_path, run_cli):
    audio = tmp_path / "audio"
    audio.mkdir()
    sf.write(str(audio / "long.wav"), tone(12.0, 8000), 8000)  # a recording of three utterances
    sf.write(str(audio / "short.flac"), tone(2.0, 16000), 16000)
    write_kaldi_dir(tmp_path / "k" / "train", {"rec1": str(audio / "long.wav")},
                    segments={"spkA-1": "rec1 0.0 3.5", "spkA-2": "rec1 4.0 8.0", "spkB-3": "rec1 8.5 11.9"},
                    utt2spk={"spkA-1": "spkA", "spkA-2": "spkA", "spkB-3": "spkB"},
                    text={"spkA-1": "Jambo sana", "spkA-2": "habari yako", "spkB-3": "nzuri"})
    write_kaldi_dir(tmp_path / "k" / "test", {"u9": "../../audio/short.flac", "u10": "sox x.wav -t wav - |"},
                    utt2spk={"u9": "spkC", "u10": "spkC"}, text={"u9": "asante", "u10": "karibu"},
                    utt2lang={"u9": "sw", "u10": "sw"})
    assert run_cli("prepare", "kaldi", "--kaldi_dirs", tmp_path / "k" / "train", tmp_path / "k" / "test",
                   "--lang", "sw", "--out", tmp_path / "data", "--jobs", "1") in (0, None)
    train = read_manifest(tmp_path / "data" / "train")
    assert [(u.id, u.offset, round(u.duration, 2), u.recording, u.text) for u in train] == [
        ("spkA-1", 0.0, 3.5, "rec1", "jambo sana"), ("spkA-2", 4.0, 4.0, "rec1", "habari yako"),
        ("spkB-3", 8.5, 3.4, "rec1", "nzuri")]
    assert len({u.audio for u in train}) == 1 and train[0].lang == "sw"  # one 16 kHz copy of the recording
    (test,) = read_manifest(tmp_path / "data" / "test")
    assert test.id == "u9" and test.recording is None
    (pipe,) = read_rejects(tmp_path / "data" / "test" / "rejects.tsv")
    assert pipe.id == "u10" and pipe.reason == "unreadable" and "a command" in pipe.detail
    # speechxl's own data dirs are Kaldi dirs too: the round trip gives the same utterances
    write_manifest(train, tmp_path / "ours")
    run_cli("prepare", "kaldi", "--kaldi_dirs", tmp_path / "ours", "--out", tmp_path / "again", "--jobs", "1")
    again = read_manifest(tmp_path / "again" / "ours")
    assert [(u.id, u.offset, round(u.duration, 2), u.text) for u in again] == [
        (u.id, u.offset, round(u.duration, 2), u.text) for u in train]


def test_a_dir_without_language_or_wav_scp_is_named(tmp_path, run_cli, caplog):
    import pytest

    write_kaldi_dir(tmp_path / "k", {"u1": str(tmp_path / "a.wav")}, utt2spk={"u1": "s"})
    with pytest.raises(SystemExit):
        run_cli("prepare", "kaldi", "--kaldi_dirs", tmp_path / "k", "--out", tmp_path / "data")
    assert "utterance u1 has no language: give --lang, or an utt2lang file" in caplog.text
    with pytest.raises(SystemExit):
        run_cli("prepare", "kaldi", "--kaldi_dirs", tmp_path, "--lang", "sw", "--out", tmp_path / "data")
    assert "not a Kaldi data dir (no wav.scp)" in caplog.text
