"""The fieldwork recipe end to end on a tiny built-in corpus: every stage's output where it belongs."""

import json
import os
import subprocess
import sys
from pathlib import Path


from speechxl import checkpoint as ckpt
from tests.egs.test_commonvoice_recipe import TINY_FINETUNE, TINY_PRETRAIN

ROOT = Path(__file__).resolve().parents[2]
RUN = ROOT / "egs" / "fieldwork" / "run.sh"


def test_the_fieldwork_recipe_stages_0_to_9(tmp_path):
    import pympi

    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    args = ["--demo", tmp_path / "fieldwork", "--demo_related", tmp_path / "related", "--data", tmp_path / "data",
            "--exp", tmp_path / "exp", "--demo_scale", "0.06", "--related_scale", "0.05",
            "--pretrain_args", " ".join(o for o in TINY_PRETRAIN if not o.startswith("train.max_steps")),
            "--source_steps", "2", "--continued_steps", "2", "--finetune_args", " ".join(TINY_FINETUNE),
            "--decode_args", "--beam 4 --beam_tokens 4"]
    r = subprocess.run(["bash", str(RUN), *map(str, args)], capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr[-3000:]
    exp = tmp_path / "exp"
    assert ckpt.resolve(exp / "continued" / "checkpoints", "last").name == "step_00000002"
    for step in ("ctc_given", "ctc_continued", "ctc_continued_related"):
        for decode in ("decode_test", "decode_test_lm"):
            assert (exp / step / decode / "report.json").is_file(), (step, decode)
    related = json.loads((exp / "ctc_continued_related" / "card.json").read_text())["provenance"]["training_data"]
    assert any("related" in d for d in related)  # fine-tuned with the related language's data too
    recordings = sorted(p.stem for p in (tmp_path / "fieldwork" / "recordings").glob("*.wav"))
    assert sorted(p.stem for p in (exp / "transcribed").glob("*.eaf")) == recordings
    copy = pympi.Elan.Eaf(str(exp / "transcribed" / "session01.eaf"))  # the user's tiers and the new ones
    assert {"tx@SP1", "ft@SP1", "notes", "asr@speechxl"} <= set(copy.get_tier_names())
    aligned = pympi.Elan.Eaf(str(exp / "aligned" / "session01.eaf"))
    assert any(t.startswith("align-words@SP") for t in aligned.get_tier_names())
    report = json.loads((exp / "report.json").read_text())
    assert [s["step"] for s in report["steps"]] == ["given", "continued", "continued_related"]
    # each step per test speaker; the festival speaker (heard only in test and untranscribed audio) among them
    assert [s["step"] for s in report["step_speakers"]] == ["given", "continued", "continued_related"]
    assert all("SP9" in s["speakers"] and s["speakers"]["SP9"]["cer_lm"] is not None for s in report["step_speakers"])
    assert {d["recording"] for d in report["transcribed"]} == set(recordings)
    assert all(d["cer"] is not None for d in report["transcribed"])  # the demo's truth scores every one
    assert report["alignment"]["boundaries"] > 0
    assert (exp / "report.html").is_file() and (exp / "steps.md").is_file()


def test_a_small_corpus_with_the_usual_slips_runs_to_the_report(tmp_path, run_cli):
    """Two annotated recordings (and two without annotation), an annotation past the end of its recording in an
    ELAN file that align reads, an empty one, several tier patterns through run.sh: every stage runs, the slips
    are rejects that say where, and the ELAN copies play their recordings."""
    from urllib.parse import unquote, urlparse

    import pympi

    from speechxl.corpora.demo import Sizes
    from tests.conftest import prepared_demo

    corpus = tmp_path / "corpus"
    run_cli("prepare", "fieldwork-demo", "--out", corpus, "--recordings", "4", "--scale", "0.06", "--jobs", "2")
    (corpus / "recordings" / "session03.TextGrid").unlink()
    (corpus / "annotations" / "session04.eaf").unlink()
    eaf_path = corpus / "annotations" / "session01.eaf"
    eaf = pympi.Elan.Eaf(str(eaf_path))
    end = int(1000 * len(__import__("soundfile").read(str(corpus / "recordings" / "session01.wav"))[0])
              / __import__("soundfile").info(str(corpus / "recordings" / "session01.wav")).samplerate)
    eaf.add_annotation("tx@SP1", end - 300, end + 4000, "adéu adéu adéu adéu adéu adéu adéu adéu adéu adéu")
    eaf.to_file(str(eaf_path))
    second = pympi.Elan.Eaf(str(corpus / "annotations" / "session02.eaf"))
    second.add_annotation(sorted(t for t in second.get_tier_names() if t.startswith("tx@"))[0], 100, 200, "")
    second.to_file(str(corpus / "annotations" / "session02.eaf"))  # an empty annotation of 0.1 s
    related = prepared_demo(tmp_path / "related", ("es",), Sizes(train=12, dev=3, test=3, unlabelled=6, heldout_test=0,
                                                                  heldout_unlabelled=0, text_only=20, speakers=(2, 1, 1)),
                            seed=2)
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    args = ["--corpus", corpus, "--rules", corpus / "rules.yaml", "--text", corpus / "text" / "ca.txt",
            "--tiers", "tx@SP1 tx@SP2 re:^tx@SP[3-9]$", "--related_data", related,
            "--data", tmp_path / "data", "--exp", tmp_path / "exp",
            "--pretrain_args", " ".join(o for o in TINY_PRETRAIN if not o.startswith("train.max_steps")),
            "--source_steps", "2", "--continued_steps", "2", "--finetune_args", " ".join(TINY_FINETUNE),
            "--decode_args", "--beam 4 --beam_tokens 4", "--adapter", "lora"]  # LoRA on the frozen models
    r = subprocess.run(["bash", str(RUN), *map(str, args)], capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr[-3000:]
    exp, data = tmp_path / "exp", tmp_path / "data"
    # 3: all three patterns reached prepare: SP3's annotations are in the data too
    speakers = {json.loads(x)["speaker"] for x in (data / "pretrain" / "utts.jsonl").read_text().splitlines()}
    assert {"SP1", "SP2", "SP3"} <= speakers
    # 4: two annotated recordings: dev and test cut by time, resting on a floor of utterances, and said so
    info = json.loads((data / "test" / "info.json").read_text())
    assert info["split"].startswith("by time within each of the 2 annotated recordings")
    held = {s: len((data / s / "utts.jsonl").read_text().splitlines()) for s in ("train", "dev", "test")}
    assert held["dev"] >= 2 and held["test"] >= 2 and held["train"] >= held["dev"] + held["test"], held
    # 5: the empty annotation is an empty transcript, not a short clip
    rejects = "".join((data / s / "rejects.tsv").read_text() for s in ("train", "dev", "test"))
    assert "-session02-00000100\t" in rejects and "too_short" not in rejects.split("-session02-00000100\t")[1].split("\n")[0]
    assert rejects.count("empty_transcript") == 2  # the demo's own empty annotation and this one
    # 1: the annotation past the end is a reject of the alignment, named by file, tier and time; the others aligned
    unaligned = (exp / "aligned" / "session01.rejects.tsv").read_text()
    assert "not_aligned" in unaligned and "session01.eaf [tx@SP1" in unaligned
    report = json.loads((exp / "report.json").read_text())
    assert [u["reason"] for u in report["not_aligned"]] == ["not_aligned"]
    assert report["utterances"] == {"test": held["test"], "dev": held["dev"]}
    assert "Annotations not aligned" in (exp / "report.md").read_text()
    # 2: every ELAN file written links its recording from both of its URLs, as ELAN reads them
    for copy in sorted((exp / "transcribed").glob("*.eaf")) + sorted((exp / "aligned").glob("*.eaf")):
        for d in pympi.Elan.Eaf(str(copy)).media_descriptors:
            assert d["MEDIA_URL"].startswith("file:///"), (copy, d)
            assert Path(unquote(urlparse(d["MEDIA_URL"]).path)).is_file(), (copy, d)
            assert (copy.parent / unquote(d["RELATIVE_MEDIA_URL"])).resolve().is_file(), (copy, d)
    # --adapter lora: every step's checkpoints hold LoRA's updates and the head, the frozen base named
    for step in ("ctc_given", "ctc_continued", "ctc_continued_related"):
        found = ckpt.find_checkpoint(exp / step)
        assert (found / "base.json").is_file()
        assert json.loads((found / "card.json").read_text())["adapter"]["type"] == "lora"
