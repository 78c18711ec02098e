"""Long recordings: windowed emissions, utterances by VAD or the user's segments, words, units and
confidences as tiers of copies of the user's ELAN file and TextGrid."""

import numpy as np
import pytest
import soundfile as sf

from speechxl.data.manifest import read_manifest
from speechxl.decode.longform import hypothesis_words
from speechxl.text.units import Units

SR = 16000


def quiet(seconds, seed=0):
    return (np.random.default_rng(seed).standard_normal(int(seconds * SR)) * 0.002).astype(np.float32)


def recording_of(data, folder, n=3):
    """A recording of the test set's first ``n`` clips with pauses: (path, true (start, end) of each)."""
    pieces, truth, t = [quiet(1.0)], [], 1.0
    for i, u in enumerate(read_manifest(data / "test")[:n]):
        x, rate = sf.read(u.audio, dtype="float32")
        assert rate == SR
        pieces += [x, quiet(1.2, i + 1)]
        truth.append((t, t + x.size / SR))
        t += x.size / SR + 1.2
    folder.mkdir(exist_ok=True)
    path = folder / "session1.wav"
    sf.write(str(path), np.concatenate(pieces), SR)
    return path, truth


class _Asr:
    """What hypothesis_words reads of a Recognizer."""

    def __init__(self, units):
        self.model = type("M", (), {"units": units})()
        self.searcher = type("S", (), {"text": lambda _, ids: "".join(units.symbols[i] for i in ids)})()


def test_a_hypothesis_is_cut_into_words_at_the_word_boundary_or_before_each_piece():
    chars = Units.build(list("abc"), word_boundary=True)
    i = chars.index
    ids = [i["a"], i["<unk>"], i["b"], i["|"], i["|"], i["c"], i["|"]]
    assert hypothesis_words(_Asr(chars), ids, "ab c") == (["ab", "c"], [[i["a"], i["b"]], [i["c"]]])
    assert hypothesis_words(_Asr(chars), ids, "a b c")[0] == ["ab", "c"]  # counts disagree: from the units
    pieces = Units.build(["▁ab", "c", "▁d"], word_boundary=False)
    j = pieces.index
    assert hypothesis_words(_Asr(pieces), [j["▁ab"], j["c"], j["▁d"]], "abc d")[1] == [[j["▁ab"], j["c"]], [j["▁d"]]]


def test_a_long_recording_transcribed_into_copies_of_the_users_elan_file_and_textgrid(trained, tmp_path, run_cli,
                                                                                      capsys):
    import pympi
    from praatio import textgrid

    root, data, _ = trained
    recording, truth = recording_of(data, tmp_path / "rec")
    users = pympi.Elan.Eaf()
    users.add_linked_file(str(recording), relpath=recording.name, mimetype="audio/x-wav")
    users.add_tier("tx@SP1")
    users.add_annotation("tx@SP1", 1000, 2000, "already transcribed")
    users.to_file(str(recording.parent / "session1.eaf"))
    grid = textgrid.Textgrid(0.0, 3.0)
    grid.addTier(textgrid.PointTier("events", [(0.5, "cough")], 0.0, 3.0))
    grid.save(str(recording.parent / "session1.TextGrid"), format="short_textgrid", includeBlankSpaces=True)
    before = {p.name: p.read_bytes() for p in recording.parent.iterdir()}

    run_cli("transcribe-long", root / "ctc", recording, "--out", tmp_path / "out", "--eaf_dir", recording.parent,
            "--textgrid_dir", recording.parent, "--lang", "es")
    assert capsys.readouterr().out.strip() == str(tmp_path / "out" / "session1.eaf")
    assert {p.name: p.read_bytes() for p in recording.parent.iterdir()} == before  # the user's files untouched
    out = pympi.Elan.Eaf(str(tmp_path / "out" / "session1.eaf"))
    assert out.get_annotation_data_for_tier("tx@SP1") == users.get_annotation_data_for_tier("tx@SP1")
    asr = sorted(out.get_annotation_data_for_tier("asr@speechxl"))
    assert len(asr) == len(truth)
    for (start, end, text), (a, b) in zip(asr, truth):
        assert a - 0.3 < start / 1000 and end / 1000 < b + 0.3 and text
    words = out.get_annotation_data_for_tier("asr-words@speechxl")
    chars = out.get_annotation_data_for_tier("asr-chars@speechxl")
    confidences = out.get_annotation_data_for_tier("asr-conf@speechxl")
    assert out.get_parameters_for_tier("asr-words@speechxl")["PARENT_REF"] == "asr@speechxl"
    assert out.get_parameters_for_tier("asr-chars@speechxl")["PARENT_REF"] == "asr-words@speechxl"
    assert len(words) == len(confidences) and sum(len(w[2]) for w in words) >= len(chars) >= len(words) > 0
    assert [c[:2] for c in confidences] == [w[:2] for w in words] and all(0 <= float(c[2]) <= 1 for c in confidences)
    for ws, we, _ in words:  # each word inside an utterance, each char inside a word
        assert any(s <= ws and we <= e for s, e, _ in asr)
    for cs, ce, _ in chars:
        assert any(s <= cs and ce <= e for s, e, _ in words)
    tg = textgrid.openTextgrid(str(tmp_path / "out" / "session1.TextGrid"), includeEmptyIntervals=False)
    assert [tuple(p) for p in tg.getTier("events").entries] == [(0.5, "cough")]  # the user's point tier kept
    assert [e.label for e in tg.getTier("asr@speechxl").entries] == [t for *_, t in asr]
    rows = [r.split("\t") for r in (tmp_path / "out" / "session1.tsv").read_text(encoding="utf-8").splitlines()]
    assert rows[0] == ["level", "tier", "start", "end", "confidence", "text"]
    assert sum(r[0] == "utterance" for r in rows) == len(truth) and sum(r[0] == "word" for r in rows) == len(words)
    with pytest.raises(SystemExit):  # the tiers are there already: refused, not doubled
        run_cli("transcribe-long", root / "ctc", recording, "--out", tmp_path / "out2", "--eaf_dir",
                tmp_path / "out", "--lang", "es")


def test_the_users_segments_give_one_tier_per_speaker_in_the_files_own_timeline(trained, tmp_path, run_cli):
    import pympi

    root, data, _ = trained
    recording, truth = recording_of(data, tmp_path / "rec")
    users = pympi.Elan.Eaf()
    users.add_linked_file(str(recording), relpath=recording.name, mimetype="audio/x-wav", time_origin=500)
    users.add_tier("tx@SP1")
    users.add_tier("tx@SP2")
    users.add_tier("notes")
    origin = 0.5
    for k, (a, b) in enumerate(truth):  # segmented, not transcribed: empty annotations
        users.add_annotation(f"tx@SP{1 + k % 2}", int((a - origin) * 1000), int((b - origin) * 1000), "")
    users.add_annotation("notes", 0, 400, "not speech")
    users.to_file(str(recording.parent / "session1.eaf"))

    run_cli("transcribe-long", root / "ctc", recording, "--out", tmp_path / "out", "--eaf_dir", recording.parent,
            "--segments", "tx@*", "--lang", "es")
    out = pympi.Elan.Eaf(str(tmp_path / "out" / "session1.eaf"))
    assert {"asr@SP1", "asr@SP2", "asr-words@SP1", "asr-words@SP2"} <= set(out.get_tier_names())
    assert out.get_annotation_data_for_tier("notes") == [(0, 400, "not speech")]
    by_tier = {t: out.get_annotation_data_for_tier(f"asr@{t}") for t in ("SP1", "SP2")}
    assert [len(v) for v in by_tier.values()] == [2, 1]
    for k, (a, b) in enumerate(truth):  # inside the user's segment, in the file's timeline (TIME_ORIGIN)
        start, end, _ = sorted(by_tier[f"SP{1 + k % 2}"])[k // 2]
        assert (a - origin) * 1000 - 1 <= start and end <= (b - origin) * 1000 + 1
    with pytest.raises(SystemExit):  # no tier matches: one line naming the file's tiers
        run_cli("transcribe-long", root / "ctc", recording, "--out", tmp_path / "out3", "--eaf_dir",
                recording.parent, "--segments", "words@*", "--lang", "es")
