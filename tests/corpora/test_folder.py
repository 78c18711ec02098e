"""speechxl prepare folder: audio files with a transcripts.tsv, or untranscribed."""

import pytest
import soundfile as sf

from speechxl.data.manifest import read_manifest
from speechxl.data.validate import read_rejects
from tests.conftest import tone


def test_transcribed_folder_with_speaker_subfolders(tmp_path, run_cli):
    train = tmp_path / "rec" / "train"
    for rel, seconds in {"spk1/a.wav": 1.5, "spk1/b.flac": 2.0, "spk2/c.mp3": 2.5, "spk2/untold.wav": 1.0}.items():
        (train / rel).parent.mkdir(parents=True, exist_ok=True)
        sf.write(str(train / rel), tone(seconds, 22050), 22050)
    (train / "transcripts.tsv").write_text(
        "path\ttext\tlang\nspk1/a.wav\tJambo sana\t\n./spk1/b.flac\tHabari\tsw\nspk2/c.mp3\tnzuri\t\n"
        "spk2/gone.wav\tkaribu\t\n", encoding="utf-8")
    run_cli("prepare", "folder", "--folders", train, "--lang", "sw", "--out", tmp_path / "data", "--jobs", "1")
    utts = read_manifest(tmp_path / "data" / "train")
    assert [(u.id, u.speaker, u.text, round(u.duration, 1)) for u in utts] == [
        ("spk1_a", "spk1", "jambo sana", 1.5), ("spk1_b", "spk1", "habari", 2.0), ("spk2_c", "spk2", "nzuri", 2.5)]
    rejects = {r.id: r for r in read_rejects(tmp_path / "data" / "train" / "rejects.tsv")}
    assert rejects["spk2_untold"].reason == "no_transcript"  # audio the TSV does not list
    assert rejects["spk2_gone"].reason == "unreadable"  # a row naming a file that is not there


def test_untranscribed_folder_and_bad_tsv(tmp_path, run_cli, caplog):
    raw = tmp_path / "raw"
    raw.mkdir()
    sf.write(str(raw / "x.wav"), tone(2.0, 16000), 16000)
    run_cli("prepare", "folder", "--folders", raw, "--names", "pretrain", "--lang", "sw", "--out", tmp_path / "data",
            "--jobs", "1")
    (u,) = read_manifest(tmp_path / "data" / "pretrain")
    assert u.id == "x" and u.text is None and u.speaker == "x"
    (raw / "transcripts.tsv").write_text("file\tsentence\nx.wav\thello\n", encoding="utf-8")
    with pytest.raises(SystemExit):
        run_cli("prepare", "folder", "--folders", raw, "--lang", "sw", "--out", tmp_path / "data")
    assert "transcripts.tsv: no column(s) ['path', 'text']" in caplog.text


def test_untranscribed_listing_gives_speakers_and_languages(tmp_path, run_cli, caplog):
    """untranscribed.tsv: each file's speaker and language, no text; a text column, or both TSVs, refused."""
    raw = tmp_path / "raw"
    (raw / "hi").mkdir(parents=True)
    for name in ("hi/a.flac", "hi/b.flac", "c.flac"):
        sf.write(str(raw / name), tone(1.5, 16000), 16000)
    (raw / "untranscribed.tsv").write_text("path\tspeaker\tlang\nhi/a.flac\tv1\thi\nhi/b.flac\tv2\tmr\n")
    run_cli("prepare", "folder", "--folders", raw, "--names", "pretrain_voices", "--lang", "en", "--out",
            tmp_path / "data", "--jobs", "1")
    utts = {u.id: u for u in read_manifest(tmp_path / "data" / "pretrain_voices")}
    assert {k: (u.speaker, u.lang, u.text) for k, u in utts.items()} == {
        "hi_a": ("v1", "hi", None), "hi_b": ("v2", "mr", None), "c": ("c", "en", None)}  # c: not listed, defaults
    (raw / "untranscribed.tsv").write_text("path\ttext\nhi/a.flac\thello\n")
    with pytest.raises(SystemExit):
        run_cli("prepare", "folder", "--folders", raw, "--lang", "en", "--out", tmp_path / "data2")
    assert "untranscribed.tsv: a text column" in caplog.text
    (raw / "untranscribed.tsv").write_text("path\tlang\nhi/a.flac\thi\n")
    (raw / "transcripts.tsv").write_text("path\ttext\nhi/a.flac\thello\n")
    with pytest.raises(SystemExit):
        run_cli("prepare", "folder", "--folders", raw, "--lang", "en", "--out", tmp_path / "data3")
    assert "transcripts.tsv and untranscribed.tsv: a set is transcribed or not" in caplog.text
