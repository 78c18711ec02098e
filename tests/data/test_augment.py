"""Waveform augmentation: each transform does what its name says, draws are reproducible, and the
loader augments the training batches (not their labels) the same way on a resumed run."""

import numpy as np
import pytest

from speechxl.config import ConfigError, from_dict, validate
from speechxl.data.augment import AugmentConfig, add_noise, augment, reverberate, speed, warp
from speechxl.data.batching import BatchConfig, BatchPlan
from speechxl.data.manifest import read_manifest
from tests.conftest import write_audio_set

RATE = 16000


def tone(hz: float, seconds: float = 1.0) -> np.ndarray:
    return (0.5 * np.sin(2 * np.pi * hz * np.arange(int(seconds * RATE)) / RATE)).astype(np.float32)


def peak_hz(x: np.ndarray) -> float:
    spectrum = np.abs(np.fft.rfft(x * np.hanning(x.size)))
    return float(np.argmax(spectrum) * RATE / x.size)


def rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(x.astype(np.float64) ** 2)))


def test_speed_changes_tempo_and_pitch_together():
    y = speed(tone(500), 1.1)
    assert abs(y.size - RATE / 1.1) <= 2
    assert peak_hz(y) == pytest.approx(550, abs=5)


def test_warp_moves_the_spectrum_and_keeps_the_duration():
    y = warp(tone(1000), 1.1)
    assert y.size == RATE
    assert peak_hz(y[2000:-2000]) == pytest.approx(1100, abs=20)


def test_reverberation_keeps_the_level_and_leaves_a_tail():
    click = np.zeros(RATE, dtype=np.float32)
    click[1000] = 1.0
    y = reverberate(click, 0.4, np.random.default_rng(0), RATE)
    assert y.size == RATE and rms(y) == pytest.approx(rms(click), rel=1e-3)
    assert rms(y[1000 + RATE // 10: 1000 + RATE // 5]) > 0  # energy 100-200 ms after the click


def test_noise_is_added_at_the_signal_to_noise_ratio_asked_for():
    x = tone(300)
    for seed in range(3):  # white, pink and brown noise all meet the ratio
        noise = add_noise(x, 10.0, np.random.default_rng(seed)) - x
        assert 20 * np.log10(rms(x) / rms(noise)) == pytest.approx(10.0, abs=0.01)


def test_draws_repeat_with_the_generator_and_nothing_is_on_by_default():
    cfg = AugmentConfig(speed=[0.9, 1.0, 1.1], warp=0.1, reverb_prob=0.5, noise_prob=0.5)
    x = tone(400)
    a, b = (augment(x, cfg, np.random.default_rng([1, 2]), RATE) for _ in range(2))
    assert np.array_equal(a, b)
    assert not AugmentConfig().active()


@pytest.mark.parametrize("field, value, message", [
    ("speed", [0.2], "speed: factors between 0.5 and 2"), ("warp", 0.7, "warp: between 0 and 0.5"),
    ("noise_prob", 1.5, "noise_prob: a probability"), ("reverb_rt60", [0.5, 0.1], "reverb_rt60: \\[low, high\\]")])
def test_bad_settings_are_refused_by_name(field, value, message):
    with pytest.raises(ConfigError, match=message):
        validate(from_dict(AugmentConfig, {field: value}))


def test_the_loader_augments_each_batch_the_same_way_on_every_run(tmp_path):
    utts = read_manifest(write_audio_set(tmp_path, n=6, seconds=(1.0, 2.0)))
    cfg = BatchConfig(max_samples=200000, max_seconds=3.0, crop_to_shortest=False)
    plain = BatchPlan(utts, cfg, seed=0, labels=lambda u: [1, 2, 3])
    augmented = BatchPlan(utts, cfg, seed=0, labels=lambda u: [1, 2, 3],
                          augment=AugmentConfig(speed=[0.9, 1.1], noise_prob=1.0))
    pieces = plain.epoch(0)[0]
    before, after = plain.load(pieces, 0, 0), augmented.load(pieces, 0, 0)
    assert after["labels"] == before["labels"] and after["ids"] == before["ids"]
    assert not after["lengths"].equal(before["lengths"])  # sped up or slowed down
    again = augmented.load(pieces, 0, 0)
    assert again["wav"].equal(after["wav"])  # a resumed run loads this batch as it was
    assert not augmented.load(pieces, 1, 0)["wav"].equal(after["wav"])  # another epoch, other draws


def test_speed_perturbation_of_frame_labelled_audio_is_refused(tmp_path):
    from tests.data.test_batching import numbered_frames

    utts = read_manifest(write_audio_set(tmp_path, n=2, seconds=(1.0, 1.5)))
    with pytest.raises(ConfigError, match="augment.speed changes durations"):
        BatchPlan(utts, BatchConfig(max_samples=64000, max_seconds=2.0), seed=0,
                  frame_labels=numbered_frames(utts, tmp_path), augment=AugmentConfig(speed=[0.9, 1.1]))
