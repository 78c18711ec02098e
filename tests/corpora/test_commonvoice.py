import json

import numpy as np
import pytest

from speechxl.corpora.commonvoice import prepare_commonvoice, read_tsv
from speechxl.data.manifest import read_manifest
from speechxl.data.validate import RejectError, read_rejects
from tests.conftest import NEW_HEADER, OLD_HEADER, tone, write_release


def rows(prefix, n, client="c" * 40, start=0):
    return [(client, f"common_voice_{prefix}_{start + i}.mp3", f"Frase número {start + i}.") for i in range(n)]


@pytest.mark.parametrize("header", [NEW_HEADER, OLD_HEADER], ids=["new release", "old release"])
def test_tsv_is_read_by_header_names(tmp_path, header):
    write_release(tmp_path, "es", {"train": rows("es", 2)}, header=header)
    got = read_tsv(tmp_path / "es" / "train.tsv")
    assert [r["path"] for r in got] == ["common_voice_es_0.mp3", "common_voice_es_1.mp3"]
    assert got[0]["sentence"] == "Frase número 0."


def test_tsv_without_needed_columns_is_an_error(tmp_path):
    (tmp_path / "bad.tsv").write_text("client_id\tfile\ttext\n")
    with pytest.raises(ValueError, match=r"bad.tsv: no column\(s\) \['path', 'sentence'\]"):
        read_tsv(tmp_path / "bad.tsv")


def test_sentences_with_quotes_survive(tmp_path):
    write_release(tmp_path, "fr", {"train": [("c1", "a.mp3", 'Il dit "oui" et l’homme part')]})
    assert read_tsv(tmp_path / "fr" / "train.tsv")[0]["sentence"] == 'Il dit "oui" et l’homme part'


def test_two_releases_and_bad_inputs(tmp_path):
    root = tmp_path / "cv"
    # es: a new-format release with corrupt, empty, stereo and odd-rate clips
    audio = {
        "common_voice_es_1.mp3": b"this is not an mp3 file" * 30,
        "common_voice_es_2.mp3": b"",
        "stereo_44k.wav": (tone(2.0, 44100, channels=2), 44100),
        "narrow_8k.wav": (tone(2.0, 8000), 8000),
        "silence.wav": (np.zeros(32000, np.float32), 16000),
    }
    train = rows("es", 4) + [("d" * 40, "stereo_44k.wav", "Estéreo."), ("d" * 40, "narrow_8k.wav", "Ocho."),
                             ("d" * 40, "silence.wav", "Nada.")]
    write_release(root, "es", {"train": train, "dev": rows("es", 1, "e" * 40, 10),
                               "test": rows("es", 2, "f" * 40, 20),
                               "validated": train + rows("es", 1, "e" * 40, 10) + rows("es", 2, "f" * 40, 20)
                               + [("g" * 40, "common_voice_es_30.mp3", "Frase número 20.")]},
                  audio=audio)
    # ru: an old-format release (no sentence_id, 'accent'), Cyrillic and Latin in transcripts
    write_release(root, "ru", {"train": [("h" * 40, "common_voice_ru_1.mp3", "Привет, Мир! OK")],
                               "dev": [], "test": [], "validated": []}, header=OLD_HEADER)
    # it: held out
    write_release(root, "it", {"test": [("i" * 40, "common_voice_it_1.mp3", "Ciao!")],
                               "validated": [("i" * 40, "common_voice_it_1.mp3", "Ciao!"),
                                             ("j" * 40, "common_voice_it_2.mp3", "Altro.")]})
    written = prepare_commonvoice(root, tmp_path / "data", ["es", "ru"], ["it"], jobs=2)
    assert [p.name for p in written] == ["train", "dev", "test", "pretrain", "test_heldout", "pretrain_heldout"]

    train_utts = read_manifest(tmp_path / "data" / "train")
    assert {u.text for u in train_utts} == {"frase número 0", "frase número 3", "estéreo", "ocho",
                                           "привет мир ok"}
    assert {u.lang for u in train_utts} == {"es", "ru"}
    assert all(u.sample_rate == 16000 and u.audio.endswith(".flac") for u in train_utts)
    assert {r.id.split("-")[1]: r.reason for r in read_rejects(tmp_path / "data" / "train" / "rejects.tsv")} == {
        "1": "unreadable", "2": "empty_audio", "silence": "silent"}
    # pretraining audio: validated minus dev/test clips and any clip reading a dev/test sentence
    pretrain = {u.id.split("-")[1] for u in read_manifest(tmp_path / "data" / "pretrain")}
    assert pretrain == {"0", "3", "stereo_44k", "narrow_8k"}
    assert {u.id.split("-")[1] for u in read_manifest(tmp_path / "data" / "pretrain_heldout")} == {"2"}
    info = json.loads((tmp_path / "data" / "train" / "info.json").read_text())
    assert info["rejected"] == {"unreadable": 1, "empty_audio": 1, "silent": 1}
    assert info["normalization"]["ru"]["steps"][0] == "unicode NFC"
    assert info["languages"]["es"]["utterances"] == 4


def test_strict_mode_stops_on_the_first_bad_set(tmp_path):
    write_release(tmp_path, "es", {"train": rows("es", 2), "dev": [], "test": []},
                  audio={"common_voice_es_1.mp3": b""})
    with pytest.raises(RejectError, match="es_cccccccccccc-1"):
        prepare_commonvoice(tmp_path, tmp_path / "data", ["es"], strict=True, jobs=1)


def test_missing_locale_names_what_exists(tmp_path):
    write_release(tmp_path, "es", {"train": rows("es", 1)})
    with pytest.raises(FileNotFoundError, match=r"no such CommonVoice locale.*\['es'\]"):
        prepare_commonvoice(tmp_path, tmp_path / "data", ["de"])


def test_clip_durations_are_read_by_header_names(tmp_path):
    from speechxl.corpora.commonvoice import _read_durations

    d = tmp_path / "es"
    d.mkdir()
    (d / "clip_durations.tsv").write_text("duration[ms]\tclip\n2500\ta.mp3\n\tb.mp3\n")
    assert _read_durations(d) == {"a.mp3": 2.5}  # columns in another order; an empty duration skipped
    (d / "clip_durations.tsv").write_text("clip\tlength\na.mp3\t2500\n")
    assert _read_durations(d) == {}  # no duration column: the check is skipped (with a warning)
    (d / "clip_durations.tsv").write_text("clip\tduration[ms]\na.mp3\tlong\n")
    with pytest.raises(ValueError, match=r"clip_durations.tsv:2: duration\[ms\] is 'long'"):
        _read_durations(d)


def test_a_row_with_a_missing_field_is_an_error_naming_its_line(tmp_path):
    """Fields would shift left: a row without sentence_id would read its domain as its sentence."""
    (tmp_path / "x.tsv").write_text("client_id\tpath\tsentence_id\tsentence\tsentence_domain\n"
                                    "c1\ta.mp3\ts1\tHola.\tgeneral\n"
                                    "c1\tb.mp3\tAdiós.\tgeneral\n")
    with pytest.raises(ValueError, match=r"x.tsv:3: 4 fields, header has 5"):
        read_tsv(tmp_path / "x.tsv")


def test_a_byte_order_mark_is_not_part_of_the_first_column_name(tmp_path):
    (tmp_path / "x.tsv").write_bytes("client_id\tpath\tsentence\nc1\ta.mp3\tHola.\n".encode("utf-8-sig"))
    assert read_tsv(tmp_path / "x.tsv")[0]["client_id"] == "c1"


def test_clips_and_speakers_shared_between_train_and_test_are_reported(tmp_path, caplog):
    train = rows("es", 3) + rows("es", 1, client="d" * 40, start=10)
    write_release(tmp_path, "es", {"train": train, "dev": rows("es", 1, client="e" * 40, start=20),
                                   "test": [train[1], *rows("es", 1, client="d" * 40, start=30)]})
    prepare_commonvoice(tmp_path, tmp_path / "data", ["es"], jobs=1)
    overlaps = json.loads((tmp_path / "data" / "overlaps.json").read_text(encoding="utf-8"))
    assert list(overlaps) == ["test train"]
    assert [c.rsplit("/", 1)[-1] for c in overlaps["test train"]["clips"]] == ["common_voice_es_1.mp3"]
    assert len(overlaps["test train"]["speakers"]) == 2  # c... (the shared clip's) and d...
    assert any("test and train share 1 clips" in r.getMessage() for r in caplog.records)
