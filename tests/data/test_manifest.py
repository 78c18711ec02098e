import json

import pytest

from speechxl.corpora.kaldi import read_kaldi_dir
from speechxl.data.manifest import Utterance, read_manifest, write_manifest
from tests.conftest import tone
import soundfile as sf


@pytest.fixture
def utts(tmp_path):
    audio = tmp_path / "audio"
    audio.mkdir()
    sf.write(str(audio / "a.flac"), tone(2.0, 16000), 16000)
    sf.write(str(audio / "long.flac"), tone(6.0, 16000), 16000)
    return [
        Utterance(id="es_spk1-0001", audio=str(audio / "a.flac"), duration=2.0, lang="es",
                  speaker="es_spk1", text="hola mundo", raw_text="¡Hola, mundo!"),
        Utterance(id="ru_spk2-0002", audio=str(audio / "long.flac"), duration=1.5, offset=2.0,
                  recording="long", lang="ru", speaker="ru_spk2", text="привет"),
        Utterance(id="hi_spk3-0003", audio=str(audio / "long.flac"), duration=2.0, offset=4.0,
                  recording="long", lang="hi", speaker="hi_spk3", text=None,
                  phones=["n", "ə", "|", "m"]),
    ]


def test_jsonl_round_trip_with_relative_paths(tmp_path, utts):
    write_manifest(utts, tmp_path / "train")
    first = json.loads((tmp_path / "train" / "utts.jsonl").read_text().splitlines()[0])
    assert first["audio"] == "../audio/a.flac"  # portable: relative to the data dir
    back = read_manifest(tmp_path / "train")
    assert back == sorted(utts, key=lambda u: u.id)


def test_kaldi_view_is_written_and_reads_back(tmp_path, utts):
    d = tmp_path / "train"
    write_manifest(utts, d)
    assert (d / "segments").read_text().splitlines() == [
        "es_spk1-0001 es_spk1-0001 0.000 2.000",
        "hi_spk3-0003 long 4.000 6.000",
        "ru_spk2-0002 long 2.000 3.500",
    ]
    assert (d / "text").read_text() == "es_spk1-0001 hola mundo\nru_spk2-0002 привет\n"
    assert (d / "utt2lang").read_text().split() == ["es_spk1-0001", "es", "hi_spk3-0003", "hi",
                                                    "ru_spk2-0002", "ru"]
    back = read_kaldi_dir(d, None, tmp_path / "store").sources  # as speechxl prepare kaldi reads it
    assert [(u.id, u.lang, u.speaker, u.raw_text, u.offset, u.duration) for u in back] == [
        (u.id, u.lang, u.speaker, u.text, u.offset, u.duration) for u in sorted(utts, key=lambda u: u.id)]


def test_whole_file_sets_have_no_segments_file(tmp_path, utts):
    d = tmp_path / "train"
    write_manifest(utts, d)
    write_manifest(utts[:1], d)
    assert not (d / "segments").exists()
    (u,) = read_kaldi_dir(d, None, tmp_path / "store").sources
    assert u.offset == 0 and u.duration is None and u.recording is None  # the whole file


def test_duplicate_ids_and_bad_lines_are_errors(tmp_path, utts):
    with pytest.raises(ValueError, match="duplicate utterance ids"):
        write_manifest([utts[0], utts[0]], tmp_path / "d")
    d = tmp_path / "e"
    write_manifest(utts, d)
    with open(d / "utts.jsonl", "a") as f:
        f.write('{"id": "x"}\n')
    with pytest.raises(ValueError, match=r"utts.jsonl:4"):
        read_manifest(d)
