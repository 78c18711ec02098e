import numpy as np
import pytest
import soundfile as sf

from speechxl.data.audio import AudioError, load_audio, write_audio
from tests.conftest import tone


def peak_frequency(x: np.ndarray, rate: int = 16000) -> float:
    spectrum = np.abs(np.fft.rfft(x))
    return float(np.fft.rfftfreq(x.size, 1 / rate)[spectrum.argmax()])


@pytest.mark.parametrize("fmt", ["WAV", "FLAC", "OGG", "MP3"])
@pytest.mark.parametrize("rate", [8000, 16000, 44100, 48000])
def test_any_format_and_rate_becomes_16k_mono(tmp_path, fmt, rate):
    path = tmp_path / f"a.{fmt.lower()}"
    sf.write(str(path), tone(1.0, rate, freq=440), rate, format=fmt)
    x = load_audio(path)
    assert x.dtype == np.float32 and x.ndim == 1
    assert abs(x.size - 16000) <= 16000 * 0.06  # MP3/OGG pad by a frame at most
    assert abs(peak_frequency(x) - 440) < 5


def test_stereo_is_averaged(tmp_path):
    left, right = tone(1.0, 16000, 300), tone(1.0, 16000, 1000)
    path = tmp_path / "s.wav"
    sf.write(str(path), np.stack([left, right], axis=1), 16000)
    x = load_audio(path)
    np.testing.assert_allclose(x, (left + right) / 2, atol=1e-4)


def test_segment_is_read_from_offset(tmp_path):
    x = np.linspace(-0.5, 0.5, 48000, dtype=np.float32)
    path = tmp_path / "ramp.wav"
    sf.write(str(path), x, 16000, subtype="FLOAT")
    seg = load_audio(path, offset=1.0, duration=0.5)
    np.testing.assert_allclose(seg, x[16000:24000])


def test_corrupt_and_empty_files_raise_named_errors(tmp_path):
    bad = tmp_path / "bad.mp3"
    bad.write_bytes(b"\x00\x01 not audio" * 100)
    with pytest.raises(AudioError, match="bad.mp3") as e:
        load_audio(bad)
    assert e.value.reason == "unreadable"
    assert e.value.detail.startswith("cannot read audio: a corrupt file or a format libsndfile does not decode (it said:")
    empty = tmp_path / "empty.mp3"
    empty.write_bytes(b"")
    with pytest.raises(AudioError) as e:
        load_audio(empty)
    assert e.value.reason == "empty_audio"
    with pytest.raises(AudioError, match="missing.wav: no such file"):
        load_audio(tmp_path / "missing.wav")


def test_write_is_atomic_and_round_trips(tmp_path):
    x = tone(0.5, 16000)
    write_audio(tmp_path / "x.flac", x)
    assert [p.name for p in tmp_path.iterdir()] == ["x.flac"]
    np.testing.assert_allclose(load_audio(tmp_path / "x.flac"), x, atol=1 / 32768)
