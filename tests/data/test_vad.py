"""Speech regions: silero-vad tells speech from noise and tones; the energy detector is the fallback."""

import subprocess

import numpy as np
import pytest
import soundfile as sf
import soxr

from speechxl.data.vad import energy_regions, speech_regions
from tests.conftest import tone

SR = 16000


def quiet(seconds, seed=0, level=0.002):
    return (np.random.default_rng(seed).standard_normal(int(seconds * SR)) * level).astype(np.float32)


def spoken(text, tmp_path, voice="es"):
    """espeak-ng speech at 16 kHz, its leading and trailing digital silence cut off."""
    path = tmp_path / "s.wav"
    subprocess.run(["espeak-ng", "-v", voice, "-w", str(path), text], check=True)
    x, rate = sf.read(str(path), dtype="float32")
    x = soxr.resample(x, rate, SR).astype(np.float32)
    on = np.flatnonzero(np.abs(x) > 1e-3)
    return x[on[0]: on[-1] + 1]


def test_energy_regions_follow_the_loud_frames_bridge_short_pauses_and_cut_long_ones():
    x = np.concatenate([quiet(1.0), tone(2.0, SR), quiet(1.0, 1), tone(1.5, SR), quiet(0.1, 2), tone(1.0, SR),
                        quiet(1.0, 3)])
    regions = speech_regions(x, "energy")
    assert len(regions) == 2  # the 0.1 s pause is bridged
    for (a, b), (true_a, true_b) in zip(regions, [(1.0, 3.0), (4.0, 6.6)]):
        assert abs(a - true_a) <= 0.2 and abs(b - true_b) <= 0.2
    long = energy_regions(np.concatenate([quiet(1.0), tone(50.0, SR) * np.linspace(0.2, 1, 50 * SR, dtype=np.float32),
                                          quiet(1.0, 1)]), max_region=20.0)
    assert len(long) >= 3 and all(b - a <= 20.0 + 0.31 for a, b in long)
    assert energy_regions(quiet(3.0)) == []  # noise alone is not speech
    zeros = np.zeros(SR // 2, np.float32)  # digital silence (edited audio) is no noise floor
    [(a, b)] = energy_regions(np.concatenate([zeros, quiet(1.0), tone(2.0, SR), quiet(1.0, 1), zeros]))
    assert abs(a - 1.5) <= 0.2 and abs(b - 3.5) <= 0.2


def test_silero_finds_the_speech_and_not_a_loud_tone_or_noise(tmp_path):
    speech = spoken("hola a todos, esto es una prueba de la detección de voz", tmp_path)
    seconds = speech.size / SR
    x = np.concatenate([quiet(1.0), speech, quiet(1.5, 1), tone(2.0, SR) * 0.5, quiet(1.0, 2), speech,
                        quiet(1.0, 3, level=0.05), quiet(1.0, 4)])
    found = speech_regions(x)
    truth = [(1.0, 1.0 + seconds), (5.5 + seconds, 5.5 + 2 * seconds)]
    assert len(found) == 2, found  # the tone and the loud noise are not speech
    for (a, b), (true_a, true_b) in zip(found, truth):  # padded by 0.15 s
        assert abs(a - true_a) <= 0.4 and abs(b - true_b) <= 0.4
    assert len(speech_regions(x, "energy")) > 2  # which the energy detector takes for speech
    assert all(b - a <= 1.5 for a, b in speech_regions(x, max_region=1.5))
    assert speech_regions(np.zeros(0, np.float32)) == []


def test_an_unknown_detector_is_refused():
    with pytest.raises(ValueError, match="--vad webrtc: not one of silero, energy"):
        speech_regions(quiet(1.0), "webrtc")
