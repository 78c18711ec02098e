"""Language ID: the head, fine-tuning (alone and beside CTC), decoding and the report."""

import json

import numpy as np
import pytest
import soundfile as sf
import torch

from speechxl.data.manifest import Utterance, read_manifest, write_manifest
from speechxl.models.lid import LanguageHead, LIDConfig
from tests.conftest import TINY_CONFORMER

SCRATCH = TINY_CONFORMER + [
    "architecture=recipes/pretrain/w2v_bert_tiny.yaml", "model.contrastive_layers=1", "batch.max_samples=64000", "batch.max_seconds=3.0",
    "batch.min_seconds=0.5", "batch.num_workers=0", "train.log_every=5", "train.valid_every=1000",
    "train.save_every=1000", "schedule.kind=constant", "schedule.warmup_steps=0", "optim.lr=2e-3"]


def tones(root, n, seed=0):
    """Language 'lo' speaks in low tones, 'hi' in high ones (and 'xx', held out, in between)."""
    rng = np.random.default_rng(seed)
    (root / "audio").mkdir(parents=True, exist_ok=True)
    utts = []
    for i in range(n):
        lang = ("lo", "hi")[i % 2]
        base = {"lo": 150.0, "hi": 1200.0}[lang] * rng.uniform(0.9, 1.1)
        t = np.arange(int(rng.uniform(1.0, 2.0) * 16000)) / 16000
        bursts = (np.sin(2 * np.pi * 4 * t) > 0)  # on and off: a steady tone vanishes in per-utterance normalisation
        x = (0.3 * np.sin(2 * np.pi * base * t) * bursts + 0.02 * rng.standard_normal(t.size)).astype(np.float32)
        path = root / "audio" / f"{lang}{i}.flac"
        sf.write(str(path), x, 16000)
        utts.append(Utterance(id=f"{lang}-{i:03d}", audio=str(path), duration=t.size / 16000, lang=lang,
                              speaker=f"{lang}-s", text="a b"))
    write_manifest(utts, root / "set")
    return root / "set"


def test_the_language_head_pools_real_frames_only():
    head = LanguageHead(4, ["aa", "bb", "cc"], LIDConfig(dropout=0.0))
    hidden = torch.randn(1, 5, 4)
    padded = torch.cat([hidden, 100 * torch.ones(1, 3, 4)], dim=1)
    assert torch.allclose(head(hidden, torch.tensor([5])), head(padded, torch.tensor([5])))
    loss, logs = head.loss(hidden, torch.tensor([5]), ["bb"])
    assert loss > 0 and logs["count"] == 1
    with pytest.raises(Exception, match=r"languages \['zz'\] are not among the model's \['aa', 'bb', 'cc'\]"):
        head.loss(hidden, torch.tensor([5]), ["zz"])


def test_language_id_learns_decodes_and_reports(tmp_path, run_cli):
    train, dev = tones(tmp_path / "train", 16), tones(tmp_path / "dev", 6, seed=1)
    # a held-out language in the test set: identified all the same, reported apart
    test = tmp_path / "test"
    held = Utterance(**{**read_manifest(dev)[0].__dict__, "id": "xx-000", "lang": "xx"})
    write_manifest(read_manifest(dev) + [held], test)
    out = tmp_path / "lid"
    run_cli("finetune", "--config", "recipes/finetune/lid_tiny.yaml", *SCRATCH, f"data={train}",
            f"valid_data={dev}", f"out={out}", "train.max_steps=40")
    card = json.loads(next((out / "checkpoints").glob("step_*/card.json")).read_text())
    assert card["head"]["type"] == "lid" and card["head"]["languages"] == ["hi", "lo"]
    valid = [json.loads(x) for x in (out / "log.jsonl").read_text().splitlines() if '"valid"' in x][-1]
    assert valid["error_rate"] == 0.0 and valid["accuracy"] == 1.0  # the tones tell the languages apart
    run_cli("decode", out, test)
    rows = [json.loads(x) for x in (out / "decode_test" / "lid.jsonl").read_text().splitlines()]
    assert len(rows) == 7 and all(r["predicted"] == r["lang"] for r in rows if r["lang"] != "xx")
    assert all(0.5 <= r["posterior"] <= 1.0 and sum(r["posteriors"].values()) == pytest.approx(1.0, abs=1e-4)
               for r in rows)
    run_cli("score", out / "decode_test")
    report = json.loads((out / "decode_test" / "report.json").read_text())["scores"]["LID"]
    assert report["overall"]["accuracy"] == 1.0 and report["overall"]["utterances"] == 6
    assert report["unknown_languages"] == ["xx"] and sum(report["confusion"]["xx"].values()) == 1
    assert "| lo | 3 | 3 | 100.0 |" in (out / "decode_test" / "report.md").read_text()
    # a set of held-out languages alone: no accuracy to give, only which known language each was taken for
    write_manifest([held], tmp_path / "heldout")
    run_cli("decode", out, tmp_path / "heldout")
    run_cli("score", out / "decode_heldout")
    md = (out / "decode_heldout" / "report.md").read_text()
    assert "No utterance is of a language the model was trained on (hi, lo)" in md and "## Accuracy" not in md
    with pytest.raises(SystemExit):  # a language-ID model does not transcribe
        run_cli("transcribe", out, read_manifest(dev)[0].audio)


def test_ctc_with_language_id_trains_both_heads(tmp_path, run_cli):
    from speechxl.decode.model import load_model
    from speechxl.text.lang_dir import make_lang_dir

    train = tones(tmp_path / "train", 8)
    make_lang_dir("chars", train, tmp_path / "lang_char")
    out = tmp_path / "both"
    run_cli("finetune", "--config", "recipes/finetune/ctc_tiny.yaml", *SCRATCH, "task=ctc+lid", "units=chars",
            f"lang_dir={tmp_path / 'lang_char'}", f"data={train}", f"valid_data={train}", f"out={out}",
            "train.max_steps=3", "require_learning=false")
    valid = [json.loads(x) for x in (out / "log.jsonl").read_text().splitlines() if '"valid"' in x][-1]
    assert {"ctc", "lid_ce", "accuracy", "error_rate"} <= set(valid)
    model = load_model(out)  # a recogniser still: decoding takes it
    assert model.net.language_head.languages == ["hi", "lo"]


def test_language_id_needs_two_languages(tmp_path, run_cli, caplog):
    one = tmp_path / "one"
    write_manifest([u for u in read_manifest(tones(tmp_path / "t", 4)) if u.lang == "lo"], one)
    with pytest.raises(SystemExit):
        run_cli("finetune", "--config", "recipes/finetune/lid_tiny.yaml", *SCRATCH, f"data={one}",
                f"out={tmp_path / 'x'}")
    assert "language ID needs two or more" in caplog.text
