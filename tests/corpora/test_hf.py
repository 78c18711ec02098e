"""speechxl prepare hf: a dataset saved with save_to_disk, its audio read from the bytes it holds."""

import io

import numpy as np
import pytest
import soundfile as sf

from speechxl.data.manifest import read_manifest
from tests.conftest import tone

datasets = pytest.importorskip("datasets")


def flac_bytes(seconds, rate, freq=440.0):
    buf = io.BytesIO()
    sf.write(buf, tone(seconds, rate, freq), rate, format="FLAC")
    return buf.getvalue()


def test_saved_dataset_with_audio_bytes(tmp_path, run_cli, caplog):
    # written as datasets stores an Audio column ({bytes, path}), then typed as one: encoding through
    # datasets' Audio needs torchcodec, which this torch has no build of, and reading must not
    clip = {"bytes": datasets.Value("binary"), "path": datasets.Value("string")}
    features = datasets.Features({"audio": clip, "sentence": datasets.Value("string"),
                                  "client_id": datasets.Value("string"), "locale": datasets.Value("string")})
    ds = datasets.Dataset.from_dict({
        "audio": [{"bytes": flac_bytes(1.5, 48000), "path": "common_voice_sw_1.mp3"},
                  {"bytes": flac_bytes(2.0, 16000, 300), "path": "common_voice_sw_2.mp3"}],
        "sentence": ["Jambo sana", "Habari yako"], "client_id": ["c1", "c2"], "locale": ["sw", "sw"]},
        features=features).cast_column("audio", datasets.Audio(sampling_rate=16000))
    ds.save_to_disk(str(tmp_path / "saved" / "train"))
    datasets.DatasetDict({"train": ds}).save_to_disk(str(tmp_path / "dict"))
    run_cli("prepare", "hf", "--datasets", tmp_path / "saved" / "train", "--out", tmp_path / "data", "--jobs", "1")
    utts = read_manifest(tmp_path / "data" / "train")
    assert [(u.id, u.text, u.speaker, u.lang, round(u.duration, 2)) for u in utts] == [
        ("common_voice_sw_1", "jambo sana", "c1", "sw", 1.5), ("common_voice_sw_2", "habari yako", "c2", "sw", 2.0)]
    wav, rate = sf.read(utts[1].audio)
    assert rate == 16000 and np.allclose(wav, tone(2.0, 16000, 300), atol=1e-3)
    assert not (tmp_path / "data" / "audio" / ".hf_bytes").exists()  # the bytes staged for decoding are gone
    with pytest.raises(SystemExit):
        run_cli("prepare", "hf", "--datasets", tmp_path / "dict", "--out", tmp_path / "data")
    assert f"a DatasetDict; give its splits: {tmp_path / 'dict' / 'train'}" in caplog.text
