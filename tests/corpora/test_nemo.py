"""speechxl prepare nemo: NeMo manifests (whole files, segments, languages, a bad line) in."""

import json

import pytest
import soundfile as sf

from speechxl.data.manifest import read_manifest
from speechxl.data.validate import read_rejects
from tests.conftest import tone


def write_manifest_lines(path, rows):
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r, ensure_ascii=False)) + "\n" for r in rows),
                    encoding="utf-8")


def test_whole_files_segments_and_a_segment_past_the_end(tmp_path, run_cli):
    (tmp_path / "wav").mkdir()
    sf.write(str(tmp_path / "wav" / "a.wav"), tone(2.0, 16000), 16000)
    sf.write(str(tmp_path / "wav" / "long.flac"), tone(9.0, 8000), 8000)
    write_manifest_lines(tmp_path / "train_manifest.json", [
        {"audio_filepath": "wav/a.wav", "duration": 2.0, "text": "Jambo", "speaker": "s1"},  # relative: to the manifest
        {"audio_filepath": str(tmp_path / "wav" / "long.flac"), "offset": 1.0, "duration": 3.0, "text": "habari yako"},
        {"audio_filepath": "wav/long.flac", "offset": 5.0, "duration": 4.02, "text": "nzuri", "lang": "sw"},
        {"audio_filepath": "wav/long.flac", "offset": 7.0, "duration": 4.0, "text": "past the end"},
    ])
    run_cli("prepare", "nemo", "--manifests", tmp_path / "train_manifest.json", "--lang", "sw",
            "--out", tmp_path / "data", "--jobs", "1")
    utts = read_manifest(tmp_path / "data" / "train_manifest")
    assert [(u.id, u.offset, round(u.duration, 2), u.text, u.speaker) for u in utts] == [
        ("a", 0.0, 2.0, "jambo", "s1"),
        ("long-00001000", 1.0, 3.0, "habari yako", "long"),
        ("long-00005000", 5.0, 4.0, "nzuri", "long"),  # 20 ms past the file's end: a rounded duration
    ]
    assert utts[0].recording is None and utts[1].recording == utts[2].recording  # one copy of long.flac
    (past,) = read_rejects(tmp_path / "data" / "train_manifest" / "rejects.tsv")
    assert past.id == "long-00007000" and past.reason == "duration_mismatch"


def test_a_malformed_line_is_named(tmp_path, run_cli, caplog):
    write_manifest_lines(tmp_path / "m.json", [{"audio_filepath": "a.wav", "duration": 1.0}, "{not json"])
    with pytest.raises(SystemExit):
        run_cli("prepare", "nemo", "--manifests", tmp_path / "m.json", "--lang", "sw", "--out", tmp_path / "d")
    assert "m.json:2: not a JSON object" in caplog.text
    write_manifest_lines(tmp_path / "m.json", [{"audio_filepath": "a.wav", "duration": "long"}])
    with pytest.raises(SystemExit):
        run_cli("prepare", "nemo", "--manifests", tmp_path / "m.json", "--lang", "sw", "--out", tmp_path / "d")
    assert "m.json:1: offset and duration are seconds" in caplog.text
