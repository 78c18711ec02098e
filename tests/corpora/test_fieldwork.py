"""speechxl prepare fieldwork: ELAN and TextGrid files over long recordings -> data sets."""

import json

import pytest
import soundfile as sf

from speechxl.data.manifest import read_manifest
from speechxl.data.validate import read_rejects
from tests.conftest import tone


def eaf(path, media, tiers: dict[str, tuple[str | None, list[tuple[int, int, str]]]], time_origin=None,
        relative=True):
    """An ELAN file linking ``media``; tiers: name -> (participant, [(start ms, end ms, text)])."""
    import pympi

    e = pympi.Elan.Eaf()
    e.add_linked_file(str(media.resolve()), relpath=media.name if relative else None, mimetype="audio/x-wav",
                      time_origin=time_origin)
    e.add_linguistic_type("transcription")
    for name, (participant, annotations) in tiers.items():
        e.add_tier(name, ling="transcription", part=participant)
        for start, end, text in annotations:
            e.add_annotation(name, start, end, text)
    e.remove_tier("default")
    e.to_file(str(path))


@pytest.fixture
def corpus(tmp_path):
    d = tmp_path / "recordings"
    (d / "sub").mkdir(parents=True)
    for name in ("r1", "r2", "r3", "r4"):
        sf.write(str(d / f"{name}.wav"), tone(12.0, 16000), 16000)
    sf.write(str(d / "sub" / "r5.wav"), tone(12.0, 16000), 16000)
    eaf(d / "r1.eaf", d / "r1.wav", {
        "tx@SP1": ("Aino", [(500, 2500, "irankarapte"), (3000, 5000, "")]),  # an empty annotation
        "tx@SP2": (None, [(2000, 4000, "eyaykopuntek"), (11000, 14000, "past the end")]),
        "gloss@SP1": ("Aino", [(500, 2500, "hello")])})  # not a chosen tier
    eaf(d / "r2.eaf", d / "r2.wav", {"tx@SP1": ("Aino", [(1000, 3000, "pirka")])}, time_origin=2000)
    eaf(d / "r3.eaf", d / "r3.wav", {"tx@SP2": ("Kaya", [(1000, 3000, "iyayraykere")])})
    eaf(d / "r4.eaf", d / "gone.wav", {"tx@SP1": ("Aino", [(1000, 3000, "somo")])})  # its media is missing
    from praatio import textgrid
    from praatio.data_classes.interval_tier import IntervalTier
    from praatio.data_classes.point_tier import PointTier

    tg = textgrid.Textgrid()
    tg.addTier(IntervalTier("tx@SP3", [(1.0, 3.5, "cise"), (4.0, 6.0, "kamuy")], 0, 12.0))
    tg.addTier(PointTier("tx@points", [(2.0, "a")], 0, 12.0))
    tg.save(str(d / "sub" / "r5.TextGrid"), format="long_textgrid", includeBlankSpaces=True)
    return d


def test_annotations_become_segments_of_their_recordings(corpus, tmp_path, run_cli):
    out = tmp_path / "data"
    run_cli("prepare", "fieldwork", "--corpus", corpus, "--tiers", "tx@*", "--lang", "ain", "--out", out,
            "--jobs", "1", "--share", "0.2")
    sets = {name: read_manifest(out / name) for name in ("train", "dev", "test", "pretrain")}
    recordings = {name: {u.recording for u in utts} for name, utts in sets.items()}
    assert not (recordings["train"] & recordings["dev"] or recordings["train"] & recordings["test"]
                or recordings["dev"] & recordings["test"])  # disjoint by recording
    everything = {u.id: u for name in ("train", "dev", "test") for u in sets[name]}
    assert {u.recording for u in everything.values()} == {"r1", "r2", "r3", "r5"}
    r1 = sorted((u for u in everything.values() if u.recording == "r1"), key=lambda u: u.offset)
    assert [(u.speaker, u.offset, u.duration, u.text) for u in r1] == [
        ("Aino", 0.5, 2.0, "irankarapte"), ("SP2", 2.0, 2.0, "eyaykopuntek")]  # participant, else the tier's @
    (r2,) = [u for u in everything.values() if u.recording == "r2"]
    assert r2.offset == 3.0  # TIME_ORIGIN 2 s added
    assert {u.speaker for u in everything.values() if u.recording == "r5"} == {"SP3"}  # the TextGrid
    assert {u.id for u in sets["pretrain"]} >= set(everything)  # and the empty annotation's audio
    rejected = {r.reason: r for r in read_rejects(out / "rejects.tsv")}
    assert set(rejected) == {"unreadable", "no_times"}
    assert "r4.eaf" in rejected["unreadable"].source and "gone.wav" in rejected["unreadable"].detail
    assert "point tier" in rejected["no_times"].detail
    set_rejects = {r.reason for name in ("train", "dev", "test") for r in read_rejects(out / name / "rejects.tsv")}
    assert {"empty_transcript", "duration_mismatch"} <= set_rejects  # the empty one, the one past the end
    info = json.loads((out / "train" / "info.json").read_text(encoding="utf-8"))
    assert info["overlapping_annotations"]["r1"] == 3 and info["split"].startswith("by recording")


def test_tier_choice_by_type_participant_and_regex_and_an_unknown_tier(corpus, tmp_path, run_cli, caplog):
    out = tmp_path / "data"
    run_cli("prepare", "fieldwork", "--corpus", corpus, "--tiers", "re:tx@SP[12]", "--participants", "Aino",
            "--lang", "ain", "--out", out, "--jobs", "1", "--overlaps", "drop")
    speakers = {u.speaker for name in ("train", "dev", "test") for u in read_manifest(out / name)}
    assert speakers == {"Aino"}
    with pytest.raises(SystemExit):
        run_cli("prepare", "fieldwork", "--corpus", corpus, "--tiers", "words@*", "--lang", "ain", "--out", out)
    assert "no tier matches --tiers words@*; the tiers in" in caplog.text and "tx@SP1" in caplog.text


def test_a_utf16_textgrid_as_praat_writes_it_and_a_broken_eaf(tmp_path, run_cli, caplog):
    """Praat saves a TextGrid with non-ASCII text as UTF-16; a broken EAF is one line naming it."""
    d = tmp_path / "rec"
    d.mkdir()
    for name in ("a", "b", "c"):
        sf.write(str(d / f"{name}.wav"), tone(5.0, 16000), 16000)
        text = ('File type = "ooTextFile"\nObject class = "TextGrid"\n\nxmin = 0\nxmax = 5\ntiers? <exists>\nsize = 1\n'
                'item []:\n    item [1]:\n        class = "IntervalTier"\n        name = "tx@SP1"\n        xmin = 0\n'
                '        xmax = 5\n        intervals: size = 1\n        intervals [1]:\n            xmin = 1\n'
                '            xmax = 3\n            text = "ʔaynu itak"\n')
        (d / f"{name}.TextGrid").write_bytes(text.encode("utf-16"))
    run_cli("prepare", "fieldwork", "--corpus", d, "--tiers", "tx@*", "--lang", "ain", "--out", tmp_path / "data",
            "--jobs", "1")
    texts = {u.text for name in ("train", "dev", "test") for u in read_manifest(tmp_path / "data" / name)}
    assert texts == {"ʔaynu itak"}
    (d / "broken.eaf").write_text("<ANNOTATION_DOCUMENT", encoding="utf-8")
    with pytest.raises(SystemExit):
        run_cli("prepare", "fieldwork", "--corpus", d, "--tiers", "tx@*", "--lang", "ain", "--out", tmp_path / "x")
    assert f"{d / 'broken.eaf'}: not an ELAN file pympi-ling can read" in caplog.text
