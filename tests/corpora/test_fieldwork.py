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
    assert {u.id for u in sets["pretrain"]} >= {u.id for u in sets["train"]}  # and the empty annotation's audio
    assert not {u.recording for u in sets["pretrain"]} & (recordings["dev"] | recordings["test"])
    rejected = {r.reason: r for r in read_rejects(out / "rejects.tsv")}
    assert set(rejected) == {"unreadable", "no_times"}
    assert "r4.eaf" in rejected["unreadable"].source and "gone.wav" in rejected["unreadable"].detail
    assert "point tier" in rejected["no_times"].detail
    set_rejects = {r.reason for name in ("train", "dev", "test") for r in read_rejects(out / name / "rejects.tsv")}
    assert {"empty_transcript", "duration_mismatch"} <= set_rejects  # the empty one, the one past the end
    info = json.loads((out / "train" / "info.json").read_text(encoding="utf-8"))
    assert info["overlapping_annotations"]["r1"] == 3 and info["split"].startswith("by recording")
    tiers = [line.split("\t") for line in (out / "tiers.tsv").read_text(encoding="utf-8").splitlines()[1:]]
    by_name = {(r[0].split("/")[-1], r[1]): r for r in tiers}  # the folder's inventory: every tier, chosen or not
    assert by_name[("r1.eaf", "gloss@SP1")][2:] == ["transcription", "Aino", "", "1", "no"]
    assert by_name[("r1.eaf", "tx@SP2")][5:] == ["2", "yes"] and by_name[("r5.TextGrid", "tx@points")][2] == "point"


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
    (d / "latin1.TextGrid").write_bytes(text.replace("ʔaynu", "café").encode("latin-1"))  # neither UTF-8 nor 16
    with pytest.raises(SystemExit):
        run_cli("prepare", "fieldwork", "--corpus", d, "--tiers", "tx@*", "--lang", "ain", "--out", tmp_path / "y")
    assert f"{d / 'latin1.TextGrid'}: neither UTF-8 nor UTF-16 text" in caplog.text
    (d / "latin1.TextGrid").unlink()
    (d / "broken.eaf").write_text("<ANNOTATION_DOCUMENT", encoding="utf-8")
    with pytest.raises(SystemExit):
        run_cli("prepare", "fieldwork", "--corpus", d, "--tiers", "tx@*", "--lang", "ain", "--out", tmp_path / "x")
    assert f"{d / 'broken.eaf'}: not an ELAN file pympi-ling can read" in caplog.text


def test_speaker_groups_and_a_split_disjoint_by_speaker_where_the_groups_allow():
    from speechxl.corpora.fieldwork import speaker_groups, split_recordings

    speakers = {"a": {"x"}, "b": {"y"}, "c": {"x", "z"}, "d": {"z"}, "e": {"w"}}
    assert speaker_groups(speakers) == [["a", "c", "d"], ["b"], ["e"]]
    dev, test, how = split_recordings(speakers, 0.2)
    assert {frozenset(dev), frozenset(test)} == {frozenset({"b"}), frozenset({"e"})}  # the smallest groups
    assert how.startswith("by recording and speaker")
    shared = {"a": {"x"}, "b": {"x"}, "c": {"x"}, "d": {"y"}}  # two groups: by recording only, and said so
    dev, test, how = split_recordings(shared, 0.2)
    assert len(dev) == len(test) == 1 and not dev & test and "share speakers with train" in how


def noisy(seconds, tones=(), seed=0):
    """Low noise with a tone over each (start, end) second span, 16 kHz."""
    import numpy as np

    x = (np.random.default_rng(seed).standard_normal(int(seconds * 16000)) * 0.002).astype("float32")
    for a, b in tones:
        x[int(a * 16000): int(b * 16000)] += tone(b - a, 16000)[: int(b * 16000) - int(a * 16000)]
    return x


def test_orthography_rules_lm_text_and_the_untranscribed_speech_of_training_recordings(tmp_path, run_cli, caplog):
    d = tmp_path / "rec"
    d.mkdir()
    texts = {"r1": ["La col·lecció [riu] + ~", "xxx no"], "r2": ["Bon dia.", "Com va?"], "r3": ["Fins demà!", "Adéu."]}
    for k, (name, lines) in enumerate(texts.items()):
        sf.write(str(d / f"{name}.wav"), noisy(12.0, [(1, 3), (4, 6), (8, 10)], seed=k), 16000)
        eaf(d / f"{name}.eaf", d / f"{name}.wav",  # 8-10 s is speech no annotation covers
            {f"tx@SP{k + 1}": (None, [(1000 + 3000 * i, 3000 + 3000 * i, t) for i, t in enumerate(lines)])})
    sf.write(str(d / "u1.wav"), noisy(6.0, [(2, 4)], seed=9), 16000)  # not annotated at all
    (tmp_path / "rules.yaml").write_text("drop: ['xxx']\ntags: ['\\[[^\\]]*\\]']\nkeep: '·'\n", encoding="utf-8")
    (tmp_path / "more.txt").write_text("Bon dia.\nUna altra frase.\nFins demà!\n", encoding="utf-8")
    out = tmp_path / "data"
    run_cli("prepare", "fieldwork", "--corpus", d, "--tiers", "tx@*", "--lang", "ca", "--out", out, "--jobs", "1",
            "--share", "0.3", "--rules", tmp_path / "rules.yaml", "--text", tmp_path / "more.txt", "--vad", "energy")
    sets = {name: read_manifest(out / name) for name in ("train", "dev", "test", "pretrain")}
    info = json.loads((out / "train" / "info.json").read_text(encoding="utf-8"))
    assert info["split"].startswith("by recording and speaker") and info["orthography"]["keep"] == "·"
    assert info["untranscribed_recordings"] == ["u1"]
    every = {u.recording: u.text for name in ("train", "dev", "test") for u in sets[name]}
    assert every["r1"] == "la col·lecció"  # the tag gone, the middle dot kept, '+' and '~' spaces
    rejected = {r.reason: r for r in read_rejects(out / "rejects.tsv")}
    assert "matches the rules' drop pattern 'xxx'" in rejected["marker"].detail
    chars = {line.split("\t")[0]: line.split("\t")[3] for line in (out / "characters.tsv").read_text().splitlines()}
    assert chars["·"] == "kept (keep)" and chars["+"] == "a space (no rule names it)"
    assert "characters no orthography rule covers, read as spaces: '+'×1 '~'×1" in caplog.text
    held_out = {u.text for name in ("dev", "test") for u in sets[name]}
    lm = (out / "lm_text" / "ca.txt").read_text(encoding="utf-8").splitlines()
    assert "una altra frase" in lm and not held_out & set(lm)
    (tmp_path / "more.txt").write_bytes("Bon dia, què tal?\n".encode("latin-1"))  # not UTF-8: one line naming it
    with pytest.raises(SystemExit):
        run_cli("prepare", "fieldwork", "--corpus", d, "--tiers", "tx@*", "--lang", "ca", "--out", tmp_path / "x",
                "--text", tmp_path / "more.txt", "--vad", "none")
    assert f"--text {tmp_path / 'more.txt'}: cannot read it as UTF-8 text" in caplog.text
    # pretraining: the training segments and the speech no annotation covers, never dev's or test's audio
    train_recordings = {u.recording for u in sets["train"]}
    untranscribed = [u for u in sets["pretrain"] if u.text is None and u.speaker == "unknown"]
    assert {u.recording for u in untranscribed} == train_recordings | {"u1"}
    for u in untranscribed:  # the tone no annotation covers: 8-10 s (2-4 s in u1), padded by the detector
        a, b = (2, 4) if u.recording == "u1" else (8, 10)
        assert a - 0.3 <= u.offset and u.offset + u.duration <= b + 0.3
    assert {u.recording for u in sets["pretrain"]} == train_recordings | {"u1"}


def test_a_corpus_of_two_recordings_is_split_by_time_with_a_floor_under_dev_and_test():
    from speechxl.corpora.fieldwork import split_by_time
    from speechxl.corpora.prepare import Source

    def recording(name, n):
        return [Source(id=f"{name}-{i}", path=name, store=name, lang="ca", speaker="A", raw_text="x",
                       offset=3.0 * i, duration=3.0, recording=name) for i in range(n)]
    sets = split_by_time([recording("a", 60), recording("b", 60)], share=0.1)
    assert [len(sets[k]) for k in ("train", "dev", "test")] == [80, 20, 20]  # 20 utterances, not 10 % (12)
    assert {s.id for s in sets["test"]} == {f"{r}-{i}" for r in "ab" for i in range(50, 60)}  # the last stretch
    assert max(s.offset for s in sets["dev"]) < min(s.offset for s in sets["test"])
    small = split_by_time([recording("a", 6), recording("b", 6)], share=0.1)
    assert [len(small[k]) for k in ("train", "dev", "test")] == [6, 3, 3]  # each at most a quarter: train keeps half
