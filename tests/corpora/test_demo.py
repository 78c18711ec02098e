import csv
import json
from pathlib import Path

import pytest
import soundfile as sf

from speechxl.corpora import festival
from speechxl.corpora.commonvoice import read_tsv
from speechxl.corpora.demo import (TSV_HEADER, VOICE_UNLABELLED_LANGS, Sizes, _plan_language, _plan_voices,
                                   make_demo_corpus)

TINY = Sizes(train=6, dev=2, test=2, unlabelled=3, heldout_test=2, heldout_unlabelled=1, text_only=5,
             speakers=(2, 1, 1), voices_unlabelled=2, voices_test=2)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return make_demo_corpus(tmp_path_factory.mktemp("demo"), ("es", "ru"), ("pl",), TINY, seed=3, jobs=2)


def test_commonvoice_layout_with_current_headers(corpus):
    for lang in ("es", "ru", "pl"):
        d = corpus / lang
        for name in ("validated.tsv", "other.tsv", "invalidated.tsv", "clip_durations.tsv",
                     "validated_sentences.tsv", "test.tsv"):
            assert (d / name).is_file(), name
        with open(d / "validated.tsv", encoding="utf-8") as f:
            assert next(csv.reader(f, delimiter="\t")) == TSV_HEADER
    assert read_tsv(corpus / "pl" / "train.tsv") == []  # held out: an empty training split
    assert len(read_tsv(corpus / "es" / "train.tsv")) == 6
    assert len(read_tsv(corpus / "es" / "validated.tsv")) == 6 + 2 + 2 + 3
    assert len(read_tsv(corpus / "es" / "validated_sentences.tsv", ("sentence",))) == 6 + 2 + 2 + 3 + 5


def test_speakers_and_sentences_are_disjoint_across_splits(corpus):
    for lang in ("es", "ru"):
        splits = {s: read_tsv(corpus / lang / f"{s}.tsv") for s in ("train", "dev", "test")}
        speakers = {s: {r["client_id"] for r in rows} for s, rows in splits.items()}
        sentences = {s: {r["sentence"] for r in rows} for s, rows in splits.items()}
        for a, b in (("train", "dev"), ("train", "test"), ("dev", "test")):
            assert not speakers[a] & speakers[b] and not sentences[a] & sentences[b]


def test_clips_are_real_speech_in_mp3(corpus):
    row = read_tsv(corpus / "ru" / "test.tsv")[0]
    info = sf.info(str(corpus / "ru" / "clips" / row["path"]))
    assert info.format == "MP3" and 0.5 < info.duration < 10
    assert any("\u0400" <= c <= "\u04ff" for c in row["sentence"])  # Cyrillic text


def test_defects_are_listed(corpus):
    meta = json.loads((corpus / "demo.json").read_text())
    assert sorted(meta["defects"].values()) == ["empty", "empty", "silent", "silent", "truncated", "truncated"]
    empty = [p for p, d in meta["defects"].items() if d == "empty"][0]
    lang = empty.split("_")[2]
    assert (corpus / lang / "clips" / empty).stat().st_size == 0
    assert meta["langs"] == ["es", "ru"] and meta["heldout_langs"] == ["pl"] and meta["hours"] > 0


def test_seeded_and_resumable(corpus, tmp_path):
    again = make_demo_corpus(tmp_path, ("es", "ru"), ("pl",), TINY, seed=3, jobs=1)
    for name in ("es/train.tsv", "ru/validated_sentences.tsv", "pl/test.tsv"):
        assert (again / name).read_text() == (corpus / name).read_text()
    # clips already on disk are kept: delete one and only that one is made again
    clip = next((again / "es" / "clips").glob("*.mp3"))
    others = {p: p.stat().st_mtime_ns for p in (again / "es" / "clips").iterdir() if p != clip}
    clip.unlink()
    make_demo_corpus(tmp_path, ("es", "ru"), ("pl",), TINY, seed=3, jobs=1)
    assert clip.exists()
    assert all(p.stat().st_mtime_ns == t for p, t in others.items())


def test_other_voices_untranscribed_carry_no_text_anywhere(corpus):
    """festival's untranscribed clips: FLAC in six languages, listed without text; none of their sentences
    is in any file of the corpus, in any encoding festival reads."""
    voices = corpus / "voices" / "pretrain_voices"
    rows = read_tsv(voices / "untranscribed.tsv", ("path", "speaker", "lang"))
    assert list(rows[0]) == ["path", "speaker", "lang"]
    assert {r["lang"] for r in rows} == set(VOICE_UNLABELLED_LANGS) and len(rows) == 2 * len(VOICE_UNLABELLED_LANGS)
    for r in rows:
        info = sf.info(str(voices / r["path"]))
        assert info.format == "FLAC" and 0.5 < info.duration < 15, r
    plans = [_plan_language("es", False, TINY, 3), _plan_language("ru", False, TINY, 3),
             _plan_language("pl", True, TINY, 3)]
    sentences = [c.sentence for c in _plan_voices(plans, TINY, 3) if c.split == "pretrain_voices"]
    assert len(sentences) == len(rows)
    files = [p.read_bytes() for p in corpus.rglob("*") if p.is_file()]
    for sentence in sentences:
        needles = {sentence.rstrip(".").encode("utf-8")}
        needles |= {sentence.rstrip(".").encode("latin-1")} if all(ord(c) < 256 for c in sentence) else set()
        assert not any(n in f for n in needles for f in files), sentence


def test_other_voices_test_condition_speaks_the_test_sentences(corpus):
    """test_voices: the test sentences of the training languages festival has a voice for (here ru), by
    speakers in no set of the release."""
    rows = read_tsv(corpus / "voices" / "test_voices" / "transcripts.tsv", ("path", "text", "speaker", "lang"))
    test = read_tsv(corpus / "ru" / "test.tsv")
    assert {r["lang"] for r in rows} == {"ru"}
    assert [r["text"] for r in rows] == [r["sentence"] for r in test]
    release = {r["client_id"] for lang in ("es", "ru", "pl") for r in read_tsv(corpus / lang / "validated.tsv")}
    assert not {r["speaker"] for r in rows} & release
    meta = json.loads((corpus / "demo.json").read_text())
    assert meta["festival"]["test_voices"]["clips"] == 2 and meta["festival"]["pretrain_voices"]["hours"] > 0


def test_install_script_installs_every_festival_voice():
    install = (Path(__file__).resolve().parents[2] / "tools" / "install.sh").read_text()
    packages = {v.package for voices in festival.VOICES.values() for v in voices}
    assert all(f" {p}" in install or f"\n  {p}" in install for p in packages | {"festival"})


def test_festival_refuses_text_outside_its_voice_encoding():
    (voice,) = [v for v in festival.VOICES["it"] if v.name == "lp_diphone"]
    with pytest.raises(ValueError, match="lp_diphone reads iso-8859-1: 'Жизнь' is not in it"):
        festival.synthesise(voice, [("Жизнь", 1.0)])
