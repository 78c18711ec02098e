"""speechxl prepare lhotse and export-data: manifests lhotse itself writes come in, and ours load in lhotse."""

import gzip
import json

import numpy as np
import pytest
import soundfile as sf

from speechxl.data.manifest import read_manifest
from speechxl.data.validate import read_rejects
from tests.conftest import tone

lhotse = pytest.importorskip("lhotse")


def lhotse_corpus(tmp_path):
    """Two recordings (one at 8 kHz), three supervisions, as lhotse builds them."""
    sf.write(str(tmp_path / "r1.wav"), tone(10.0, 8000), 8000)
    sf.write(str(tmp_path / "r2.flac"), tone(3.0, 16000, freq=300), 16000)
    recs = lhotse.RecordingSet.from_recordings(
        [lhotse.Recording.from_file(tmp_path / "r1.wav"), lhotse.Recording.from_file(tmp_path / "r2.flac")])
    sups = lhotse.SupervisionSet.from_segments([
        lhotse.SupervisionSegment("r1-a", "r1", 0.5, 3.0, text="Jambo sana", language="sw", speaker="A"),
        lhotse.SupervisionSegment("r1-b", "r1", 5.0, 4.0, text="habari", language="sw", speaker="B"),
        lhotse.SupervisionSegment("r2-a", "r2", 0.0, 3.0, text="nzuri", language="sw", speaker="A")])
    return recs, sups


def test_cuts_and_supervisions_lhotse_writes(tmp_path, run_cli):
    recs, sups = lhotse_corpus(tmp_path)
    m = tmp_path / "manifests"
    m.mkdir()
    recs.to_file(m / "mini_recordings_dev.jsonl.gz")
    sups.to_file(m / "mini_supervisions_dev.jsonl.gz")
    cuts = lhotse.CutSet.from_manifests(recordings=recs, supervisions=sups)
    cuts.trim_to_supervisions().to_file(m / "cuts_train.jsonl.gz")  # supervision times relative to each cut
    cuts.to_file(m / "cuts_long.jsonl.gz")  # whole recordings, supervisions inside
    run_cli("prepare", "lhotse", "--manifests", m / "cuts_train.jsonl.gz", m / "mini_supervisions_dev.jsonl.gz",
            m / "cuts_long.jsonl.gz", "--names", "train", "dev", "long", "--out", tmp_path / "data", "--jobs", "1")
    want = [("r1-a", 0.5, 3.0, "jambo sana", "A", "r1"), ("r1-b", 5.0, 4.0, "habari", "B", "r1"),
            ("r2-a", 0.0, 3.0, "nzuri", "A", "r2")]
    for name in ("train", "dev", "long"):
        got = read_manifest(tmp_path / "data" / name)
        assert [(u.id, u.offset, round(u.duration, 2), u.text, u.speaker, u.recording) for u in got] == want, name
    assert json.loads((tmp_path / "data" / "dev" / "info.json").read_text())["lhotse"] == "supervisions"


def test_a_recording_not_in_a_file_is_a_reject_and_a_lone_supervision_set_is_named(tmp_path, run_cli, caplog):
    recs, sups = lhotse_corpus(tmp_path)
    cuts = [c.to_dict() for c in lhotse.CutSet.from_manifests(recordings=recs, supervisions=sups)]
    cuts[1]["recording"]["sources"][0] = {"type": "command", "channels": [0], "source": "sox r2.wav -t wav - |"}
    with gzip.open(tmp_path / "cuts.jsonl.gz", "wt") as f:
        f.write("".join(json.dumps(c) + "\n" for c in cuts))
    run_cli("prepare", "lhotse", "--manifests", tmp_path / "cuts.jsonl.gz", "--out", tmp_path / "data", "--jobs", "1")
    assert [u.id for u in read_manifest(tmp_path / "data" / "cuts")] == ["r1-a", "r1-b"]
    (bad,) = read_rejects(tmp_path / "data" / "cuts" / "rejects.tsv")
    assert bad.id == "r2-a" and bad.reason == "unreadable" and "type 'command'" in bad.detail
    sups.to_file(tmp_path / "x_supervisions_test.jsonl")
    with pytest.raises(SystemExit):
        run_cli("prepare", "lhotse", "--manifests", tmp_path / "x_supervisions_test.jsonl", "--out", tmp_path / "d")
    assert "needs its recording manifest beside it (looked for x_recordings_test.jsonl)" in caplog.text


def test_exports_load_in_lhotse_and_come_back_through_nemo(tmp_path, run_cli, capsys):
    recs, sups = lhotse_corpus(tmp_path)
    recs.to_file(tmp_path / "c_recordings_all.jsonl")
    sups.to_file(tmp_path / "c_supervisions_all.jsonl")
    run_cli("prepare", "lhotse", "--manifests", tmp_path / "c_supervisions_all.jsonl", "--names", "train",
            "--out", tmp_path / "data", "--jobs", "1")
    ours = read_manifest(tmp_path / "data" / "train")
    run_cli("export-data", tmp_path / "data" / "train", "--to", "lhotse", "--out", tmp_path / "out")
    cuts = {c.id: c for c in lhotse.CutSet.from_file(tmp_path / "out" / "speechxl_cuts_train.jsonl.gz")}
    assert sorted(cuts) == [u.id for u in ours]
    for u in ours:  # the same samples as speechxl's own loader reads, at 16 kHz
        cut = cuts[u.id]
        (s,) = cut.supervisions
        assert (s.text, s.language, s.speaker, cut.sampling_rate) == (u.text, u.lang, u.speaker, 16000)
        start = round(u.offset * 16000)
        want = sf.read(u.audio, dtype="float32")[0][start:start + round(u.duration * 16000)]
        assert np.allclose(cut.load_audio()[0], want, atol=1e-6)
    pair = lhotse.CutSet.from_manifests(
        recordings=lhotse.load_manifest(tmp_path / "out" / "speechxl_recordings_train.jsonl.gz"),
        supervisions=lhotse.load_manifest(tmp_path / "out" / "speechxl_supervisions_train.jsonl.gz"))
    assert sorted(s.id for c in pair for s in c.supervisions) == [u.id for u in ours]
    run_cli("export-data", tmp_path / "data" / "train", "--to", "nemo", "--out", tmp_path / "out")
    run_cli("prepare", "nemo", "--manifests", tmp_path / "out" / "train.json", "--names", "again",
            "--out", tmp_path / "data", "--jobs", "1")
    again = read_manifest(tmp_path / "data" / "again")
    key = lambda u: (u.id, u.offset, round(u.duration, 3), u.text, u.lang, u.speaker)  # noqa: E731
    assert [key(u) for u in again] == [key(u) for u in ours]
