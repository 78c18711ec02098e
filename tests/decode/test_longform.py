"""Long recordings: speech regions by energy, timed transcripts, an ELAN tier in a copy of the user's file."""

import numpy as np
import pytest
import soundfile as sf

from speechxl.data.manifest import read_manifest
from speechxl.decode.longform import speech_regions
from tests.conftest import tone

SR = 16000


def quiet(seconds, seed=0):
    return (np.random.default_rng(seed).standard_normal(int(seconds * SR)) * 0.002).astype(np.float32)


def test_regions_follow_the_speech_bridge_short_pauses_and_cut_long_ones():
    x = np.concatenate([quiet(1.0), tone(2.0, SR), quiet(1.0, 1), tone(1.5, SR), quiet(0.1, 2), tone(1.0, SR),
                        quiet(1.0, 3)])
    regions = speech_regions(x)
    assert len(regions) == 2  # the 0.1 s pause is bridged
    for (a, b), (true_a, true_b) in zip(regions, [(1.0, 3.0), (4.0, 6.6)]):
        assert abs(a - true_a) <= 0.2 and abs(b - true_b) <= 0.2
    long = speech_regions(np.concatenate([quiet(1.0), tone(50.0, SR) * np.linspace(0.2, 1, 50 * SR, dtype=np.float32),
                                          quiet(1.0, 1)]), max_region=20.0)
    assert len(long) >= 3 and all(b - a <= 20.0 + 0.31 for a, b in long)
    assert speech_regions(quiet(3.0)) == []  # noise alone is not speech


def test_a_long_recording_transcribed_into_a_copy_of_the_users_elan_file(trained, tmp_path, run_cli, capsys):
    import pympi

    root, data, _ = trained
    utts = read_manifest(data / "test")[:3]
    pieces, truth, t = [quiet(1.0)], [], 1.0
    for i, u in enumerate(utts):
        x, rate = sf.read(u.audio, dtype="float32")
        assert rate == SR
        pieces += [x, quiet(1.2, i + 1)]
        truth.append((t, t + x.size / SR))
        t += x.size / SR + 1.2
    recording = tmp_path / "rec" / "session1.wav"
    recording.parent.mkdir()
    sf.write(str(recording), np.concatenate(pieces), SR)
    users = pympi.Elan.Eaf()
    users.add_linked_file(str(recording), relpath=recording.name, mimetype="audio/x-wav")
    users.add_tier("tx@SP1")
    users.add_annotation("tx@SP1", 1000, 2000, "already transcribed")
    users.to_file(str(recording.parent / "session1.eaf"))
    before = (recording.parent / "session1.eaf").read_bytes()

    run_cli("transcribe-long", root / "ctc", recording, "--out", tmp_path / "out", "--eaf_dir", recording.parent,
            "--lang", "es")
    assert capsys.readouterr().out.strip() == str(tmp_path / "out" / "session1.eaf")
    assert (recording.parent / "session1.eaf").read_bytes() == before  # the user's file untouched
    out = pympi.Elan.Eaf(str(tmp_path / "out" / "session1.eaf"))
    assert out.get_annotation_data_for_tier("tx@SP1") == users.get_annotation_data_for_tier("tx@SP1")
    asr = sorted(out.get_annotation_data_for_tier("asr@speechxl"))
    assert len(asr) == len(truth)
    for (start, end, text), (a, b) in zip(asr, truth):
        assert abs(start / 1000 - a) < 0.3 and abs(end / 1000 - b) < 0.3 and text
    rows = (tmp_path / "out" / "session1.tsv").read_text(encoding="utf-8").splitlines()
    assert rows[0] == "start\tend\ttext" and len(rows) == len(truth) + 1
    with pytest.raises(SystemExit):  # the tier is there already: refused, not doubled
        run_cli("transcribe-long", root / "ctc", recording, "--out", tmp_path / "out2", "--eaf_dir",
                tmp_path / "out", "--lang", "es")
