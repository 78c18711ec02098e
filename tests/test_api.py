"""The Python API as README shows it: README's block runs here against a tiny model."""

import contextlib
import io
import re
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

import speechxl
from speechxl.data.audio import AudioError
from speechxl.data.manifest import read_manifest

README = Path(__file__).resolve().parents[1] / "README.md"


@pytest.fixture(scope="module")
def clips(trained, tmp_path_factory):
    """Two of the tiny corpus's test utterances as 48 kHz MP3s (read and resampled like any file)."""
    _, data, _ = trained
    out = tmp_path_factory.mktemp("clips")
    paths = []
    for i, u in enumerate(read_manifest(data / "test")[:2]):
        x, rate = sf.read(u.audio)
        t = np.arange(int(len(x) * 3)) / 3
        paths.append(out / f"clip{i}.mp3")
        sf.write(str(paths[-1]), np.interp(t, np.arange(len(x)), x), rate * 3)
    return paths


def test_the_readme_example_runs(trained, clips):
    root, data, _ = trained
    block = re.search(r"From Python.*?```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S).group(1)
    for theirs, ours in (("egs/commonvoice/exp/ctc_chars_whistle_w2v_bert_tiny", root / "ctc"),
                         ("egs/commonvoice/data/lang_word", data / "lang_word"),
                         ("egs/commonvoice/downloads/demo/es/clips/common_voice_es_10000000.mp3", clips[0]),
                         ("egs/commonvoice/downloads/demo/es/clips/common_voice_es_10000001.mp3", clips[1])):
        assert theirs in block
        block = block.replace(theirs, str(ours))
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(block, "README.md", "exec"), {})
    one, several, array = out.getvalue().splitlines()
    assert eval(several)[0] == one == array  # a list batched by length, a file, an array: the same text


def test_batched_like_one_by_one_and_arrays_like_files(trained, clips):
    root, _, _ = trained
    asr = speechxl.load(root / "ctc")
    singles = [asr.transcribe(c, lang="es") for c in clips]
    assert asr.transcribe(clips, lang="es") == singles
    stereo, rate = sf.read(clips[0], always_2d=True)
    assert asr.transcribe(np.repeat(stereo, 2, axis=1), sample_rate=rate, lang="es") == singles[0]


def test_what_the_api_refuses(trained):
    root, _, _ = trained
    asr = speechxl.load(root / "ctc")
    with pytest.raises(ValueError, match="sample_rate: give the rate of the audio array"):
        asr.transcribe(np.zeros(16000, dtype=np.float32))
    with pytest.raises(AudioError, match="NaN"):
        asr.transcribe(np.full(16000, np.nan, dtype=np.float32), sample_rate=16000)
    with pytest.raises(ValueError, match=r"holds one LM per language .*: say which"):
        speechxl.load(root / "ctc", lm=trained[1] / "lang_word").transcribe(np.zeros(16000), sample_rate=16000)
