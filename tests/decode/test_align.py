"""Alignment: words found where their units are, unrelated audio skipped, emissions stitched in
place across windows, ELAN tiers in a copy of the user's file, bad transcripts refused by line."""

import logging

import numpy as np
import pytest
import soundfile as sf
import torch

from speechxl.data.manifest import read_manifest
from speechxl.decode.align import align_log_probs, read_transcript
from speechxl.decode.emissions import windowed_log_probs
from speechxl.decode.model import load_model

SYMBOLS = ["<blank>", "<unk>", "|", "a", "b", "c", "d"]
SHIFT = 0.04


def spiky(frames: int, spikes: dict[int, str]) -> torch.Tensor:
    """log_probs (T, V): blank everywhere but at ``spikes`` (frame -> unit)."""
    logits = torch.full((frames, len(SYMBOLS)), -6.0)
    logits[:, 0] = 4.0
    for t, unit in spikes.items():
        logits[t, SYMBOLS.index(unit)] = 8.0
    return logits.log_softmax(-1)


def test_words_are_timed_where_their_units_are_and_unrelated_talk_is_skipped():
    # talk the transcript does not have at frames 2-5, "ab c" at 10-17, a pause, "d" at 45
    lp = spiky(60, {2: "d", 3: "b", 5: "a", 10: "a", 11: "a", 12: "b", 14: "|", 16: "c", 17: "c", 45: "d"})
    ids = {s: i for i, s in enumerate(SYMBOLS)}
    out = align_log_probs(lp, [["ab", "c"], ["d"]], [[[ids["a"], ids["b"]], [ids["c"]]], [[ids["d"]]]], SYMBOLS,
                          sep=ids["|"], shift=SHIFT, offset=100.0)
    assert [(w.text, w.start, w.end) for u in out for w in u.words] == [
        ("ab", 100.4, 100.52), ("c", 100.64, 100.72), ("d", 101.8, 101.84)]
    assert [(u.text, u.start, u.end) for u in out] == [("ab c", 100.4, 100.72), ("d", 101.8, 101.84)]
    assert all(0.5 < w.confidence <= 1 for u in out for w in u.words) and all(0 < u.confidence <= 1 for u in out)
    with pytest.raises(ValueError, match="longer than the audio"):
        align_log_probs(lp[:2], [["ab", "c"]], [[[3, 4], [5]]], SYMBOLS, sep=2, shift=SHIFT)


def test_windowed_emissions_are_the_one_pass_frames_stitched_in_place(trained):
    root, data, _ = trained
    m = load_model(root / "ctc")
    samples, _ = sf.read(read_manifest(data / "test")[0].audio, dtype="float32")
    samples = np.concatenate([samples, samples, samples])
    seconds = samples.size / 16000
    with torch.no_grad():
        whole, frames = m.net.log_probs(torch.from_numpy(samples)[None], torch.tensor([samples.size]))
    one = windowed_log_probs(m, samples, window=seconds + 1)
    torch.testing.assert_close(one, whole[0, : int(frames[0])], rtol=0, atol=0)
    # small windows that each see the whole recording: the same frames, so each is taken from its place
    stitched = windowed_log_probs(m, samples, window=0.3, context=seconds + 1)
    torch.testing.assert_close(stitched, one, rtol=0, atol=1e-5)
    assert windowed_log_probs(m, samples, window=0.5, context=0.2).shape == one.shape


def recording_of(utts, path):
    """The clips of ``utts`` joined with a second of low noise before each and after the last, written to
    ``path``: (path, true (start, end) of each, seconds in all)."""
    quiet = lambda s, k: (np.random.default_rng(k).standard_normal(int(s * 16000)) * 0.002).astype(np.float32)  # noqa: E731
    pieces, truth, t = [quiet(1.0, 0)], [], 1.0
    for i, u in enumerate(utts):
        x, _ = sf.read(u.audio, dtype="float32")
        pieces += [x, quiet(1.0, i + 1)]
        truth.append((t, t + x.size / 16000))
        t += x.size / 16000 + 1.0
    path.parent.mkdir(parents=True)
    sf.write(str(path), np.concatenate(pieces), 16000)
    return path, truth, t


def test_align_writes_utterance_and_word_tiers_into_a_copy_of_the_users_file(trained, tmp_path, run_cli, caplog):
    import pympi

    root, data, _ = trained
    utts = [u for u in read_manifest(data / "test") if u.lang == "es"][:3]
    rec, truth, t = recording_of(utts, tmp_path / "rec" / "s1.wav")
    users = pympi.Elan.Eaf()
    users.add_linked_file(str(rec), relpath=rec.name, mimetype="audio/x-wav")
    users.add_tier("tx@SP1")
    users.add_annotation("tx@SP1", 1000, 2000, "already here")
    users.to_file(str(rec.parent / "s1.eaf"))
    before = (rec.parent / "s1.eaf").read_bytes()
    text = rec.parent / "s1.txt"
    text.write_text("".join(u.text + ("ø" if i == 0 else "") + "\n" for i, u in enumerate(utts)), encoding="utf-8")

    from praatio import textgrid

    grid = textgrid.Textgrid(0.0, t)
    grid.addTier(textgrid.IntervalTier("tx@SP1", [(1.0, 2.0, "already here")], 0.0, t))
    grid.addTier(textgrid.PointTier("events", [(1.5, "cough")], 0.0, t))
    grid.save(str(rec.parent / "s1.TextGrid"), format="long_textgrid", includeBlankSpaces=True)
    grid_before = (rec.parent / "s1.TextGrid").read_bytes()
    with caplog.at_level(logging.WARNING):
        run_cli("align", root / "ctc", rec, text, "--out", tmp_path / "out", "--lang", "es", "--eaf",
                rec.parent / "s1.eaf", "--textgrid", rec.parent / "s1.TextGrid")
    assert "1 characters outside the model's units" in caplog.text and "'ø'" in caplog.text
    assert (rec.parent / "s1.eaf").read_bytes() == before  # the user's file untouched
    out = pympi.Elan.Eaf(str(tmp_path / "out" / "s1.eaf"))
    assert out.get_annotation_data_for_tier("tx@SP1") == users.get_annotation_data_for_tier("tx@SP1")
    assert out.tiers["align-words@speechxl"][2]["PARENT_REF"] == "align@speechxl"
    utterances = sorted(out.get_annotation_data_for_tier("align@speechxl"))
    words = sorted(out.get_annotation_data_for_tier("align-words@speechxl"))
    assert [u[2] for u in utterances] == [line for line in text.read_text().splitlines()]  # the text as given
    assert len(words) == sum(len(u.text.split()) for u in utts)
    assert all(any(a <= ws and we <= b for a, b, _ in utterances) for ws, we, _ in words)
    # the TextGrid: a copy with the two tiers added, read back by praatio and by pympi-ling
    assert (rec.parent / "s1.TextGrid").read_bytes() == grid_before
    back = textgrid.openTextgrid(str(tmp_path / "out" / "s1.TextGrid"), includeEmptyIntervals=False)
    assert back.tierNames == ("tx@SP1", "events", "align@speechxl", "align-words@speechxl", "align-chars@speechxl",
                              "align-conf@speechxl")
    assert back.getTier("tx@SP1").entries == grid.getTier("tx@SP1").entries
    assert back.getTier("events").entries == grid.getTier("events").entries
    assert [e.label for e in back.getTier("align@speechxl").entries] == [u[2] for u in utterances]
    assert len(back.getTier("align-words@speechxl").entries) == len(words)
    praat = pympi.Praat.TextGrid(str(tmp_path / "out" / "s1.TextGrid"))
    assert [t.name for t in praat.get_tiers()] == list(back.tierNames)
    rows = [r.split("\t") for r in (tmp_path / "out" / "s1.tsv").read_text(encoding="utf-8").splitlines()]
    assert rows[0] == ["level", "tier", "start", "end", "confidence", "text"]
    assert [r[0] for r in rows[1:]].count("utterance") == 3 and all(0 <= float(r[4]) <= 1 for r in rows[1:])
    chars = [r for r in rows if r[0] == "unit"]  # the words' characters (of a random model: some get no frames)
    assert 0 < len(chars) <= sum(len(w) for u in utts for w in u.text.split())
    assert [len(out.get_annotation_data_for_tier(t)) for t in ("align-chars@speechxl", "align-conf@speechxl")] == [
        len(chars), len(words)]
    # a timed transcript: each utterance aligned inside its own span
    timed = rec.parent / "s1.tsv"
    timed.write_text("start\tend\ttext\n" + "".join(f"{a:.2f}\t{b:.2f}\t{u.text}\n" for (a, b), u in zip(truth, utts)))
    run_cli("align", root / "ctc", rec, timed, "--out", tmp_path / "timed", "--lang", "es")
    got = sorted(pympi.Elan.Eaf(str(tmp_path / "timed" / "s1.eaf")).get_annotation_data_for_tier("align@speechxl"))
    assert all(a - 0.5 <= s / 1000 and e / 1000 <= b + 0.5 for (s, e, _), (a, b) in zip(got, truth))
    # the timed text speechxl writes is a timed transcript too (correct its words, align it again)
    run_cli("align", root / "ctc", rec, tmp_path / "timed" / "s1.tsv", "--out", tmp_path / "again_timed", "--lang",
            "es")
    assert [u[2] for u in sorted(pympi.Elan.Eaf(str(tmp_path / "again_timed" / "s1.eaf"))
                                 .get_annotation_data_for_tier("align@speechxl"))] == [u[2] for u in got]
    # an ELAN file whose time 0 is 0.5 s into the recording (TIME_ORIGIN) gets times in its own timeline
    shifted = pympi.Elan.Eaf()
    shifted.add_linked_file(str(rec), relpath=rec.name, mimetype="audio/x-wav", time_origin=500)
    shifted.to_file(str(tmp_path / "shifted.eaf"))
    run_cli("align", root / "ctc", rec, timed, "--out", tmp_path / "shifted", "--lang", "es", "--eaf",
            tmp_path / "shifted.eaf")
    assert sorted(pympi.Elan.Eaf(str(tmp_path / "shifted" / "s1.eaf")).get_annotation_data_for_tier(
        "align@speechxl")) == [(s - 500, e - 500, text) for s, e, text in got]
    timed.write_text(f"{t + 5:.2f}\t{t + 6:.2f}\thola\n")
    with pytest.raises(SystemExit):
        run_cli("align", root / "ctc", rec, timed, "--out", tmp_path / "past", "--lang", "es")
    assert "the utterance at" in caplog.text and "is past the end of the audio" in caplog.text
    with pytest.raises(SystemExit):  # the tiers are there already: refused, not doubled
        run_cli("align", root / "ctc", rec, text, "--out", tmp_path / "again", "--lang", "es", "--eaf",
                tmp_path / "out" / "s1.eaf")


@pytest.mark.parametrize("content, message", [
    ("", "no utterance to align"),
    ("start\tend\ttext\n1.0\tx\thola\n", r"s\.tsv:2: a timed transcript's lines are start<TAB>end<TAB>text"),
    ("2.0\t1.0\thola\n", r"s\.tsv:1: start 2.0 is not before end 1.0"),
])
def test_bad_transcripts_are_refused_with_their_line(tmp_path, content, message):
    path = tmp_path / "s.tsv"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ValueError, match=message):
        read_transcript(path)


def test_annotation_files_each_speakers_tiers_aligned_into_a_copy(trained, tmp_path, run_cli, caplog):
    """ELAN and TextGrid annotation aligned as it stands: the chosen tiers' utterances, per speaker,
    read with the corpus's orthography rules, into copies of the files."""
    import pympi
    from praatio import textgrid

    root, data, _ = trained
    utts = [u for u in read_manifest(data / "test") if u.lang == "es"][:3]
    rec, truth, t = recording_of(utts, tmp_path / "rec" / "s2.wav")
    ms = lambda s: int(round(s * 1000))  # noqa: E731
    users = pympi.Elan.Eaf()
    users.add_linked_file(str(rec), relpath=rec.name, mimetype="audio/x-wav")
    for tier in ("tx@A", "tx@B", "notes"):
        users.add_tier(tier)
    for k, ((a, b), u) in enumerate(zip(truth, utts)):  # A says the first and last, B the second
        users.add_annotation("tx@A" if k != 1 else "tx@B", ms(a - 0.2), ms(b + 0.2), u.text + (" [risa]" if k else ""))
    users.add_annotation("tx@A", ms(t - 0.9), ms(t - 0.2), "xxx")  # not made out: the rules drop it
    users.add_annotation("notes", 100, 500, "quiet room")
    users.to_file(str(rec.parent / "s2.eaf"))
    before = (rec.parent / "s2.eaf").read_bytes()
    rules = tmp_path / "rules.yaml"
    rules.write_text("drop: ['xxx']\ntags: ['\\[[^\\]]*\\]']\n", encoding="utf-8")

    with pytest.raises(SystemExit, match="annotation files need --tiers"):
        run_cli("align", root / "ctc", rec.parent / "s2.eaf", "--out", tmp_path / "out", "--lang", "es")
    run_cli("align", root / "ctc", rec.parent / "s2.eaf", "--tiers", "tx@*", "--out", tmp_path / "out", "--lang", "es",
            "--rules", rules)
    assert (rec.parent / "s2.eaf").read_bytes() == before
    out = pympi.Elan.Eaf(str(tmp_path / "out" / "s2.eaf"))
    for tier in ("tx@A", "tx@B", "notes"):
        assert out.get_annotation_data_for_tier(tier) == users.get_annotation_data_for_tier(tier)
    got = {s: sorted(out.get_annotation_data_for_tier(f"align@{s}")) for s in "AB"}
    assert [text for *_, text in got["A"]] == [utts[0].text, utts[2].text + " [risa]"]  # as written
    assert [text for *_, text in got["B"]] == [utts[1].text + " [risa]"]
    words = [w for s in "AB" for *_, w in out.get_annotation_data_for_tier(f"align-words@{s}")]
    assert "risa" not in words and "[risa]" not in words and len(words) == sum(len(u.text.split()) for u in utts)
    for k, (a, b) in enumerate(truth):
        start, end, _ = got["B"][0] if k == 1 else got["A"][k // 2]
        assert a - 0.2 - 0.5 <= start / 1000 and end / 1000 <= b + 0.2 + 0.5
    assert "align@A" in textgrid.openTextgrid(str(tmp_path / "out" / "s2.TextGrid"), False).tierNames  # a new one
    # a TextGrid beside its recording: a copy of it gets the tiers
    grid = textgrid.Textgrid(0.0, t)
    grid.addTier(textgrid.IntervalTier("tx@C", [(a - 0.2, b + 0.2, u.text) for (a, b), u in zip(truth, utts)], 0.0, t))
    grid.save(str(rec.parent / "s2.TextGrid"), format="short_textgrid", includeBlankSpaces=True)
    run_cli("align", root / "ctc", rec.parent / "s2.TextGrid", "--tiers", "tx@*", "--out", tmp_path / "grid",
            "--lang", "es")
    back = textgrid.openTextgrid(str(tmp_path / "grid" / "s2.TextGrid"), False)
    assert back.getTier("tx@C").entries == grid.getTier("tx@C").entries
    assert [e.label for e in back.getTier("align@C").entries] == [u.text for u in utts]
    assert "align@C" in pympi.Elan.Eaf(str(tmp_path / "grid" / "s2.eaf")).get_tier_names()
