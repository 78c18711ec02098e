from speechxl.data.manifest import Utterance, write_manifest
from speechxl.text.lang_dir import make_lang_dir
from speechxl.text.units import Units
from speechxl.train.labels import label_utterances


def utt(i, lang, text, seconds=2.0):
    return Utterance(id=f"{lang}-{i}", audio="/x.flac", duration=seconds, lang=lang, speaker="s", text=text)


def test_symbols_outside_the_units_train_as_unk_and_are_counted(tmp_path):
    write_manifest([utt(0, "es", "hola"), utt(1, "ru", "да")], tmp_path / "train")
    lang = make_lang_dir("chars", tmp_path / "train", tmp_path / "lang_char")
    units = Units.load(lang / "units.txt")
    kept, labels, report = label_utterances(
        [utt(2, "es", "hola ñu"), utt(3, "ru", "да"), utt(4, "es", None)], lang, units)
    assert [u.id for u in kept] == ["es-2", "ru-3"]
    assert labels["es-2"].count(units.unk_id) == 2  # ñ and u are not in the training text
    assert report["unknown_tokens"] == {"es": 2, "ru": 0}


def test_utterances_too_short_for_their_labels_are_left_out(tmp_path):
    write_manifest([utt(0, "es", "abcdefghij")], tmp_path / "train")
    lang = make_lang_dir("chars", tmp_path / "train", tmp_path / "lang_char")
    units = Units.load(lang / "units.txt")
    frames_of = lambda samples: samples // 320  # noqa: E731  (20 ms frames)
    kept, _, report = label_utterances([utt(1, "es", "abcdefghij", 0.1), utt(2, "es", "ab", 0.1)], lang, units,
                                       frames_of)
    assert [u.id for u in kept] == ["es-2"] and report["left_out_too_short"] == {"es": 1}


def test_words_are_not_units_a_model_can_output():
    import pytest

    from speechxl.config import ConfigError
    from speechxl.train.finetune import load_finetune_config

    with pytest.raises(ConfigError, match=r"units is one of \['chars', 'phones', 'bpe'\], not 'words'"):
        load_finetune_config(None, ["data=d", "out=o", "units=words"])


def test_resuming_with_other_settings_is_refused_naming_each_key(tmp_path):
    """Changed model, optimizer or data settings would be dropped by a resume; more steps are fine."""
    import pytest

    from speechxl.config import ConfigError
    from speechxl.train.setup import check_resume

    saved = {"model": {"encoder": {"hidden_size": 32}}, "optim": {"lr": 0.001}, "train": {"max_steps": 10},
             "data": ["data/train"]}
    check_resume(saved, {**saved, "train": {"max_steps": 20}}, tmp_path)  # compatible: continues
    changed = {**saved, "model": {"encoder": {"hidden_size": 64}}, "optim": {"lr": 0.002}, "data": ["data/other"]}
    with pytest.raises(ConfigError) as e:
        check_resume(saved, changed, tmp_path)
    message = str(e.value)
    assert "\n" not in message and "model.encoder.hidden_size 32 -> 64" in message
    assert "optim.lr 0.001 -> 0.002" in message and "data ['data/train'] -> ['data/other']" in message
