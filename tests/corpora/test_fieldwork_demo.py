"""The built-in fieldwork demo corpus: long multi-speaker recordings, ELAN and TextGrid annotation as
fieldworkers write it, the truth kept aside; and prepare fieldwork reading it."""

import json

import numpy as np
import pytest
import soundfile as sf

from speechxl.corpora.fieldwork_demo import make_fieldwork_demo
from speechxl.data.manifest import read_manifest
from speechxl.data.validate import read_rejects


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    return make_fieldwork_demo(tmp_path_factory.mktemp("fw") / "corpus", scale=0.08, jobs=2)


def truth(path):
    rows = [line.split("\t") for line in path.read_text(encoding="utf-8").splitlines()[1:]]
    return [(r[0], float(r[1]), float(r[2]), r[3]) for r in rows]


def test_recordings_annotations_and_truth(demo):
    import pympi
    from praatio import textgrid

    meta = json.loads((demo / "fieldwork_demo.json").read_text(encoding="utf-8"))
    assert len(list((demo / "recordings").glob("*.wav"))) == 10 == len(list((demo / "truth").glob("*.tsv")))
    assert [r["annotation"] is None for r in meta["recordings"].values()].count(True) == 2
    eafs = sorted((demo / "annotations").glob("*.eaf"))
    assert len(eafs) == 6
    for path in eafs:
        eaf = pympi.Elan.Eaf(str(path))
        (media,) = eaf.get_linked_files()
        assert media["MEDIA_URL"].startswith("file:///C:/")  # the fieldworker's machine: not here
        assert (path.parent / media["RELATIVE_MEDIA_URL"]).is_file()
        speakers = [t for t in eaf.get_tier_names() if t.startswith("tx@")]
        assert len(speakers) >= 2 and all(eaf.get_parameters_for_tier(t)["PARTICIPANT"] == t[3:] for t in speakers)
        assert all(eaf.get_parameters_for_tier(f"ft@{t[3:]}")["PARENT_REF"] == t for t in speakers)
    assert [pympi.Elan.Eaf(str(p)).get_linked_files()[0]["TIME_ORIGIN"] for p in eafs].count("2000") == 1
    grids = sorted((demo / "recordings").glob("*.TextGrid"))
    assert len(grids) == 2 and grids[1].read_bytes()[:2] in (b"\xff\xfe", b"\xfe\xff")  # UTF-16, as Praat saves
    for g in grids:
        tg = textgrid.openTextgrid(str(g), includeEmptyIntervals=False)
        assert "events" in tg.tierNames and any(t.startswith("tx@") for t in tg.tierNames)
    # the truth: speech where it says, quiet between (the louder of two overlapping voices aside)
    for wav in sorted((demo / "recordings").glob("*.wav"))[:3]:
        x, rate = sf.read(str(wav), dtype="float32")
        spans = truth(demo / "truth" / f"{wav.stem}.tsv")
        inside = np.zeros(x.size, bool)
        for _, a, b, text in spans:
            inside[int(a * rate): int(b * rate)] = True
            assert text and b > a
        assert np.sqrt(np.mean(x[inside] ** 2)) > 3 * np.sqrt(np.mean(x[~inside] ** 2))  # 15-35 dB of noise


def test_without_festival_every_speaker_is_espeak_and_the_rest_is_unchanged(demo, tmp_path, run_cli):
    run_cli("prepare", "fieldwork-demo", "--out", tmp_path / "espeak", "--scale", "0.08", "--recordings", "4",
            "--no_festival")
    meta = json.loads((tmp_path / "espeak" / "fieldwork_demo.json").read_text(encoding="utf-8"))
    assert meta["festival_speakers"] == [] and all("festival" not in s for r in meta["recordings"].values()
                                                   for s in r["speakers"])
    for name in ("session01", "session04"):  # the same words and espeak-ng speakers; SP9's times may differ
        a, b = (truth(d / "truth" / f"{name}.tsv") for d in (demo, tmp_path / "espeak"))
        assert [(s, t) for s, _, _, t in a] == [(s, t) for s, _, _, t in b]
    x, _ = sf.read(str(tmp_path / "espeak" / "recordings" / "session01.wav"))
    y, _ = sf.read(str(demo / "recordings" / "session01.wav"))
    assert np.array_equal(x, y)


def test_a_language_without_a_festival_voice_is_refused_by_name(tmp_path, run_cli, caplog):
    with pytest.raises(SystemExit):
        run_cli("prepare", "fieldwork-demo", "--out", tmp_path / "x", "--lang", "pl", "--scale", "0.02")
    assert "no festival voice for 'pl'" in caplog.text and "--no_festival" in caplog.text
    assert not (tmp_path / "x" / "recordings").exists()  # refused before any synthesis


def test_the_same_seed_gives_the_same_corpus(demo, tmp_path):
    again = make_fieldwork_demo(tmp_path / "again", scale=0.08, jobs=1)
    for name in ("truth/session01.tsv", "annotations/session01.eaf", "rules.yaml"):
        a, b = (demo / name).read_text(encoding="utf-8"), (again / name).read_text(encoding="utf-8")
        if name.endswith(".eaf"):  # ELAN files carry their date and the media's absolute path
            a, b = (t[t.index("<TIER"):] for t in (a, b))
        assert a == b, name


def test_prepare_fieldwork_reads_it_with_its_rules(demo, tmp_path, run_cli):
    out = tmp_path / "data"
    run_cli("prepare", "fieldwork", "--corpus", demo, "--tiers", "tx@*", "--lang", "ca", "--out", out,
            "--rules", demo / "rules.yaml", "--text", demo / "text" / "ca.txt", "--vad", "energy")
    info = json.loads((out / "train" / "info.json").read_text(encoding="utf-8"))
    assert info["split"].startswith("by recording and speaker")  # the communities keep speakers apart
    assert sorted(info["untranscribed_recordings"]) == ["session09", "session10"]
    sets = {name: read_manifest(out / name) for name in ("train", "dev", "test", "pretrain")}
    speakers = {name: {u.speaker for u in sets[name]} for name in ("train", "dev", "test")}
    assert not (speakers["train"] & speakers["dev"] or speakers["train"] & speakers["test"])
    texts = [u.text for name in ("train", "dev", "test") for u in sets[name]]
    assert any("·" in t for t in texts) and not any(c in t for t in texts for c in "[]~()")
    assert not any("xxx" in t for t in texts)
    reasons = {r.reason for r in read_rejects(out / "rejects.tsv")}
    assert "marker" in reasons  # xxx
    set_reasons = {r.reason for name in ("train", "dev", "test") for r in read_rejects(out / name / "rejects.tsv")}
    assert {"empty_transcript", "duration_mismatch"} <= set_reasons  # the slips of the first ELAN file
    assert {"session09", "session10"} <= {u.recording for u in sets["pretrain"]}
    # the festival speaker: in the test recording and an untranscribed one, never in a transcribed training set
    meta = json.loads((demo / "fieldwork_demo.json").read_text(encoding="utf-8"))
    assert [s.split()[0] for s in meta["festival_speakers"]] == ["SP9"] and "upc_ca_ona_hts" in meta["festival_speakers"][0]
    assert "SP9" in speakers["test"] and "SP9" not in speakers["train"] | speakers["dev"]
    heard = {name for name, r in meta["recordings"].items() if any(s.startswith("SP9 ") for s in r["speakers"])}
    assert heard == {"session04", "session09"} and {u.recording for u in sets["test"]} == {"session04"}
    chars = (out / "characters.tsv").read_text(encoding="utf-8")
    assert "MIDDLE DOT\t" in chars and "a space (no rule names it)" not in chars  # the rules cover everything
