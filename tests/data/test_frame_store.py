import numpy as np
import pytest

from speechxl.data.frame_store import FrameStore, FrameStoreError, FrameWriter


def test_frames_come_back_per_utterance_with_their_info(tmp_path):
    w = FrameWriter(tmp_path / "s", "float16", 3)
    a, b = np.arange(12, dtype=np.float32).reshape(4, 3), np.ones((2, 3), dtype=np.float32)
    w.add("a", a)
    w.add("b", b)
    w.close({"frame_shift_ms": 20.0, "source": "mfcc"})
    store = FrameStore(tmp_path / "s")
    assert len(store) == 2 and "a" in store and "c" not in store
    assert np.array_equal(store["a"], a) and np.array_equal(store["b"], b) and store["a"].dtype == np.float16
    assert store.info["rows"] == 6 and store.frame_shift_ms == 20.0 and store.info["source"] == "mfcc"


def test_an_unfinished_store_is_refused_and_rewriting_unfinishes_it(tmp_path):
    w = FrameWriter(tmp_path / "s", "int16", 1)
    w.add("a", np.array([1, 2]))
    with pytest.raises(FrameStoreError, match="not a finished frame store"):
        FrameStore(tmp_path / "s")  # killed before close
    w.close({"frame_shift_ms": 20.0})
    FrameStore(tmp_path / "s")
    FrameWriter(tmp_path / "s", "int16", 1)  # a second run starts over: the old info goes first
    with pytest.raises(FrameStoreError):
        FrameStore(tmp_path / "s")
