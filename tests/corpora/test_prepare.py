import numpy as np
import pytest
import soundfile as sf

from speechxl.data.manifest import read_manifest
from speechxl.corpora.prepare import Source, build_set, convert, write_set
from speechxl.data.validate import Limits, RejectError, read_rejects
from speechxl.text.normalize import normalize
from tests.conftest import tone


def src(tmp_path, uid, name, **kw):
    return Source(id=uid, path=str(tmp_path / "in" / name), store=str(tmp_path / "store" / f"{name}.flac"),
                  lang=kw.pop("lang", "es"), speaker="s1", **kw)


@pytest.fixture
def inputs(tmp_path):
    d = tmp_path / "in"
    d.mkdir()
    sf.write(str(d / "ok.wav"), tone(2.0, 44100), 44100)
    sf.write(str(d / "long.wav"), tone(6.0, 8000, channels=2), 8000)
    sf.write(str(d / "nan.wav"), np.full(16000, np.nan, np.float32), 16000, subtype="FLOAT")
    (d / "corrupt.mp3").write_bytes(b"garbage" * 50)
    return tmp_path


def test_sources_are_decoded_once_and_checked(inputs):
    t = inputs
    sources = [
        src(t, "a", "ok.wav", raw_text="¡Hola!"),
        src(t, "b", "long.wav", offset=0.0, duration=2.0, recording="long", raw_text="uno"),
        src(t, "c", "long.wav", offset=2.0, duration=3.0, recording="long", raw_text="dos"),
        src(t, "d", "long.wav", offset=5.0, duration=2.0, recording="long", raw_text="past the end"),
        src(t, "e", "nan.wav", raw_text="x"),
        src(t, "f", "corrupt.mp3", raw_text="x"),
        src(t, "g", "ok.wav", raw_text="…", stated_duration=2.0),
        src(t, "h", "ok.wav", raw_text="hola", stated_duration=3.5),
    ]
    checked = convert(sources, Limits(), jobs=2)
    assert sorted(p.name for p in (t / "store").iterdir()) == ["long.wav.flac", "ok.wav.flac"]
    utts, rejects = build_set(sources, checked, Limits(), normalize)
    assert [u.id for u in utts] == ["a", "b", "c"]
    assert {r.id: r.reason for r in rejects} == {
        "d": "duration_mismatch", "e": "non_finite", "f": "unreadable", "g": "empty_transcript",
        "h": "duration_mismatch"}
    a, b, c = utts
    assert a.text == "hola" and a.raw_text == "¡Hola!" and a.duration == pytest.approx(2.0, abs=1e-3)
    assert (b.offset, b.duration, b.recording) == (0.0, 2.0, "long")
    assert c.audio.endswith("long.wav.flac") and sf.info(c.audio).samplerate == 16000


def test_untranscribed_sets_skip_transcript_checks(inputs):
    sources = [src(inputs, "a", "ok.wav", raw_text=None)]
    checked = convert(sources, Limits(), jobs=1)
    utts, rejects = build_set(sources, checked, Limits(), normalize, require_text=False)
    assert [u.id for u in utts] == ["a"] and not rejects


def test_write_set_records_rejects_and_strict_mode_names_them(inputs):
    t = inputs
    sources = [src(t, "a", "ok.wav", raw_text="hola"), src(t, "f", "corrupt.mp3", raw_text="x"),
               src(t, "a", "ok.wav", raw_text="hola")]
    checked = convert(sources, Limits(), jobs=1)
    utts, rejects = build_set(sources, checked, Limits(), normalize)
    assert sorted(r.reason for r in rejects) == ["duplicate", "unreadable"]
    write_set(t / "data", utts, rejects, {"set": "x"})
    assert [u.id for u in read_manifest(t / "data")] == ["a"]
    assert {r.id for r in read_rejects(t / "data" / "rejects.tsv")} == {"a", "f"}
    with pytest.raises(RejectError, match="corrupt.mp3"):
        write_set(t / "strict", utts, rejects, {"set": "x"}, strict=True)
    assert not (t / "strict").exists()


def test_stale_temporary_files_are_removed(inputs):
    store = inputs / "store"
    store.mkdir()
    (store / ".ok.wav.tmp999.flac").write_bytes(b"half")
    convert([src(inputs, "a", "ok.wav", raw_text="hola")], Limits(), jobs=1)
    assert sorted(p.name for p in store.iterdir()) == ["ok.wav.flac"]
