"""speechxl subset: some languages of a data set, about so many minutes of each."""

import pytest

from speechxl.data.manifest import Utterance, read_manifest, write_manifest
from speechxl.data.subset import subset


def utts():
    return [Utterance(id=f"{lang}{i:02d}", audio=f"/a/{lang}{i}.flac", duration=10.0, lang=lang, speaker="s",
                      text="x") for lang in ("es", "ru", "tr") for i in range(12)]


def test_languages_and_minutes_per_language():
    assert {u.lang for u in subset(utts(), ["es", "tr"])} == {"es", "tr"}
    assert len(subset(utts())) == 36
    drawn = subset(utts(), minutes=0.5)  # 30 s of each: 3 utterances of 10 s
    assert sorted(u.lang for u in drawn) == ["es"] * 3 + ["ru"] * 3 + ["tr"] * 3
    assert [u.id for u in drawn] == sorted(u.id for u in drawn)
    assert subset(utts(), minutes=0.5, seed=1) != drawn  # another draw
    assert subset(utts(), minutes=0.5) == drawn  # the same seed draws the same
    assert len(subset(utts(), minutes=0.45)) == 9  # the last utterance may pass the budget


def test_a_language_the_set_lacks_is_named():
    with pytest.raises(ValueError, match="no utterances of pl; the set's languages: es, ru, tr"):
        subset(utts(), ["es", "pl"])


def test_the_verb_writes_a_data_set(tmp_path, run_cli, capsys):
    write_manifest(utts(), tmp_path / "train")
    run_cli("subset", tmp_path / "train", "--langs", "ru", "--out", tmp_path / "ru")
    assert capsys.readouterr().out.strip() == f"{tmp_path / 'ru'}: 12 utterances, 2.0 min"
    kept = read_manifest(tmp_path / "ru")
    assert [u.id for u in kept] == [f"ru{i:02d}" for i in range(12)] and kept[0].audio == "/a/ru0.flac"
    assert (tmp_path / "ru" / "utt2lang").read_text().count(" ru\n") == 12


def test_smaller_draws_nest_in_larger_ones_and_a_dev_set_is_drawn_beside_them(tmp_path, run_cli):
    one, three = subset(utts(), ["es"], minutes=10 / 60), subset(utts(), ["es"], minutes=0.5)
    assert {u.id for u in one} < {u.id for u in three}  # few-shot amounts: 1 minute is part of 3
    write_manifest(utts(), tmp_path / "pool")
    write_manifest(three, tmp_path / "train")
    run_cli("subset", tmp_path / "pool", "--langs", "es", "--minutes", "0.5", "--exclude", tmp_path / "train",
            "--out", tmp_path / "dev")
    dev = read_manifest(tmp_path / "dev")
    assert len(dev) == 3 and not {u.id for u in dev} & {u.id for u in three}
