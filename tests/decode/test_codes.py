"""speechxl codebooks: deterministic codes per frame, equal durations per language, a real model end to end."""

import json

import numpy as np
import pytest
import soundfile as sf
import torch

from speechxl.data.manifest import Utterance, write_manifest
from speechxl.decode.codes import chosen, language_codes


class SignModel(torch.nn.Module):
    """A model whose codes are known: 20 ms frames, group 0 = whether the frame's mean is positive,
    group 1 = 2 always (two groups of 4 codewords: ids 2 and 6)."""

    def frame_codes(self, wav, lengths=None):
        frames = wav[:, : wav.shape[1] // 320 * 320].view(wav.shape[0], -1, 320)
        codes = torch.stack([(frames.mean(-1) > 0).long(), torch.full(frames.shape[:2], 2)], dim=-1)
        return codes, None, 4


def utterances(root, spec):
    """spec: (lang, seconds, level) each: a constant signal of that level."""
    utts = []
    for i, (lang, seconds, level) in enumerate(spec):
        path = root / f"{lang}{i}.flac"
        sf.write(str(path), np.full(int(seconds * 16000), level, dtype=np.float32), 16000)
        utts.append(Utterance(id=f"{lang}-{i}", audio=str(path), duration=seconds, lang=lang, speaker=lang))
    return utts


def test_every_language_gets_the_same_frames_and_known_codes(tmp_path):
    utts = utterances(tmp_path, [("es", 1.0, 0.1), ("es", 1.0, 0.1), ("it", 0.6, 0.2), ("pl", 2.0, -0.1)])
    by_lang, seconds = chosen(utts, minutes=0, seed=0)
    assert seconds == pytest.approx(0.6) and {lang: len(us) for lang, us in by_lang.items()} == {"es": 1, "it": 1,
                                                                                                 "pl": 1}
    ids, space = language_codes(SignModel(), by_lang)
    assert space == 16 and {lang: len(v) for lang, v in ids.items()} == {"es": 30, "it": 30, "pl": 30}
    assert set(ids["es"]) == {6} and set(ids["pl"]) == {2}  # 1 * 4 + 2 and 0 * 4 + 2


def test_unreadable_audio_is_skipped_with_its_name(tmp_path, caplog):
    utts = utterances(tmp_path, [("es", 1.0, 0.1), ("es", 1.0, 0.1), ("it", 2.0, 0.2)])
    (tmp_path / "es0.flac").write_bytes(b"not audio")
    by_lang, _ = chosen(utts, minutes=0, seed=0)
    ids, _ = language_codes(SignModel(), by_lang)
    assert len(ids["es"]) == len(ids["it"]) == 50 and "es-0: skipped" in caplog.text


@pytest.mark.parametrize("preset, overrides", [
    ("bestrq_conformer_tiny", ["model.quantizer.codebook_size=64"]),
    ("w2v_bert_tiny", ["model.quantizer.entries=16", "model.quantizer.dim=16", "model.objective.final_dim=16",
                       "model.objective.num_negatives=5", "model.contrastive_layers=1"]),
])
def test_codebooks_of_a_pretrained_model(preset, overrides, run_cli, tmp_path):
    from pathlib import Path

    from tests.conftest import TINY_CONFORMER, write_audio_set

    root = Path(__file__).resolve().parents[2]
    train = write_audio_set(tmp_path / "train", n=8)
    run_cli("pretrain", "--config", root / f"recipes/pretrain/{preset}.yaml", *TINY_CONFORMER, *overrides,
            "batch.max_samples=64000", "batch.max_seconds=2.0", "batch.min_seconds=0.5", "batch.num_workers=0",
            "train.max_steps=1", "schedule.warmup_steps=1", f"data={train}", f"out={tmp_path / 'pre'}")
    run_cli("codebooks", tmp_path / "pre", train, "--out", tmp_path / "cb")
    result = json.loads((tmp_path / "cb" / "codebooks.json").read_text())
    assert set(result["languages"]) == {"aa", "bb"} and result["space"] in (64, 16)
    frames = {s["frames"] for s in result["languages"].values()}
    assert len(frames) == 1 and frames.pop() > 0  # equal durations
    again = tmp_path / "cb2"
    run_cli("codebooks", tmp_path / "pre", train, "--out", again)  # deterministic codes
    assert json.loads((again / "codebooks.json").read_text())["affinity"] == result["affinity"]


def test_two_languages_are_needed(run_cli, tmp_path):
    from tests.conftest import write_audio_set

    one = write_audio_set(tmp_path / "one", n=2, langs=("aa",))
    with pytest.raises(SystemExit):
        run_cli("codebooks", tmp_path / "nothing", one, "--out", tmp_path / "cb")
