import numpy as np
import pytest

from speechxl.data.validate import (Limits, Reject, check_audio, check_transcript, ctc_min_frames,
                                    read_rejects, summarize, write_rejects)

LIMITS = Limits(min_duration=0.5, max_duration=10.0, frame_shift_ms=20.0)


@pytest.mark.parametrize("samples, reason", [
    (np.zeros(0, np.float32), "empty_audio"),
    (np.array([0.1, np.nan] * 8000, np.float32), "non_finite"),
    (np.array([0.1, np.inf] * 8000, np.float32), "non_finite"),
    (np.zeros(16000, np.float32), "silent"),
    (np.full(4000, 0.1, np.float32), "too_short"),
    (np.full(16000 * 11, 0.1, np.float32), "too_long"),
])
def test_unusable_audio_gets_its_reason(samples, reason):
    assert check_audio(samples, 16000, LIMITS)[0] == reason


def test_usable_audio_passes():
    assert check_audio(np.full(16000, 0.1, np.float32), 16000, LIMITS) is None


def test_ctc_needs_a_blank_between_repeats():
    assert ctc_min_frames("abc") == 3
    assert ctc_min_frames("aab") == 4
    assert ctc_min_frames(["l", "l", "l"]) == 5


def test_transcript_checks():
    assert check_transcript("", 2.0, LIMITS)[0] == "empty_transcript"
    assert check_transcript(None, 2.0, LIMITS)[0] == "empty_transcript"
    # 1 s = 50 frames of 20 ms; 51 distinct labels do not fit, 50 do
    assert check_transcript("ab" * 25 + "c", 1.0, LIMITS)[0] == "too_short_for_transcript"
    assert check_transcript("ab" * 25, 1.0, LIMITS) is None


def test_rejects_round_trip_and_summary(tmp_path):
    rejects = [Reject("u2", "b.mp3", "silent", "peak 0"), Reject("u1", "a.mp3", "unreadable", 'tab\tand "q"')]
    write_rejects(rejects, tmp_path / "rejects.tsv")
    assert read_rejects(tmp_path / "rejects.tsv") == sorted(rejects, key=lambda r: r.id)
    assert summarize(10, rejects) in ("kept 10, dropped 2 (silent 1, unreadable 1)",
                                      "kept 10, dropped 2 (unreadable 1, silent 1)")
    with pytest.raises(ValueError):
        Reject("u", "x", "no_such_reason")
