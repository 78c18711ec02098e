import numpy as np
import pytest

from speechxl.text.articulatory import differing, distance, feature_names, phone_features


@pytest.mark.parametrize("phone, note", [
    ("a", "segment"), ("ẽː", "segment"), ("cʰː", "segment"), ("ɲʲ", "segment"), ("d̪", "segment"),
    ("tʃ", "affricate"), ("dʑ", "affricate"), ("a˥", "tone"), ("aɪ", "sequence"), ("ja", "sequence"),
    ("1", "unknown"), ("??", "unknown"),
])
def test_unusual_ipa_is_described_or_reported(phone, note):
    f = phone_features(phone)
    assert f.note == note
    assert (f.vector is None) == (note == "unknown")
    if f.vector is not None:
        assert f.vector.shape == (len(feature_names()),)


def test_features_say_what_diacritics_mean():
    names = feature_names()
    value = lambda p, n: phone_features(p).vector[names.index(n)]  # noqa: E731
    assert value("ã", "nas") == 1 and value("a", "nas") == -1
    assert value("aː", "long") == 1 and value("tʰ", "sg") == 1
    assert value("a˥", "hitone") != value("a", "hitone")
    # an affricate is one segment with delayed release, not a stop plus a fricative
    assert value("tʃ", "delrel") == 1


def test_distances_are_symmetric_and_ordered_sensibly():
    assert distance("i", "i") == 0
    assert distance("ɨ", "i") == distance("i", "ɨ") < distance("ɨ", "a")
    assert distance("tɕ", "tʃ") < distance("tɕ", "k")
    assert distance("sː", "s") < distance("sː", "ʃ")
    assert np.isinf(distance("1", "a"))
    assert differing("ɔ̃", "ɔ") == ["-nas"]
