"""The fieldwork report: steps, per speaker and recording, transcripts and alignments against the truth."""

import json

import pytest

from speechxl.data.manifest import Utterance, write_manifest
from speechxl.eval.fieldwork_report import fieldwork_report


def timed_text(path, utterances):
    """A timed-text TSV as transcribe-long and align write it: (start, end, text) utterance rows."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("level\ttier\tstart\tend\tconfidence\ttext\n" + "".join(
        f"utterance\tasr@speechxl\t{a:.3f}\t{b:.3f}\t0.9\t{t}\n" for a, b, t in utterances), encoding="utf-8")


def scored(folder, cer, wer, tuning=None):
    """A decode dir as the report reads it: report.json (rates, decode.json's tuning fields)."""
    folder.mkdir(parents=True)
    decode = {"tuning_grid": [{"error_rate": e} for e in tuning[0]], "tuning_greedy_error_rate": tuning[1],
              "lm_lowers_tuning_error": min(tuning[0]) < tuning[1]} if tuning else {}
    (folder / "report.json").write_text(json.dumps({"decode": decode, "scores": {
        "CER": {"overall": {"rate": cer}}, "WER": {"overall": {"rate": wer}}}}))


@pytest.fixture
def exp(tmp_path):
    data = tmp_path / "data"
    utt = lambda i, spk, rec, text: Utterance(id=i, audio="a.flac", duration=1.0, lang="ca", speaker=spk,  # noqa: E731
                                              recording=rec, text=text)
    test = [utt("u1", "A", "r1", "bon dia"), utt("u2", "B", "r1", "fins demà"), utt("u3", "A", "r2", "adéu")]
    write_manifest(test, data / "test")
    (data / "test" / "info.json").write_text(json.dumps({
        "languages": {"ca": {}}, "split": "by recording and speaker", "orthography": {"keep": "·", "tags": []}}))
    write_manifest([utt("t1", "C", "r5", "hola")], data / "train")
    steps = {"given": tmp_path / "exp" / "ctc_given", "continued": tmp_path / "exp" / "ctc_continued"}
    scored(steps["given"] / "decode_test", 0.5, 0.8)
    scored(steps["given"] / "decode_test_lm", 0.4, 0.6, ([0.7, 0.65], 0.75))
    scored(steps["continued"] / "decode_test", 0.3, 0.5)
    scored(steps["continued"] / "decode_test_lm", 0.35, 0.55, ([0.6, 0.62], 0.55))  # the LM did not help on dev
    hyps = {"u1": "bon dia", "u2": "fins", "u3": "adeu"}
    for step, decode, hyp in (("given", "decode_test", {"u1": "bo dia", "u2": "fins dema", "u3": "adeu"}),
                              ("given", "decode_test_lm", {"u1": "bon dia", "u2": "fins dema", "u3": "adeu"}),
                              ("continued", "decode_test", hyps), ("continued", "decode_test_lm", hyps)):
        (steps[step] / decode / "hyp.jsonl").write_text("".join(
            json.dumps({"id": u.id, "ref": u.text, "hyp": hyp[u.id]}) + "\n" for u in test))
    timed_text(tmp_path / "exp" / "transcribed" / "r1.tsv", [(3.0, 4.0, "fins demà"), (1.0, 2.0, "bon dia")])
    timed_text(tmp_path / "exp" / "transcribed" / "r3.tsv", [(0.5, 1.5, "res")])
    (tmp_path / "exp" / "transcribed" / "r1.eaf").write_text("<ANNOTATION_DOCUMENT/>")
    timed_text(tmp_path / "exp" / "aligned" / "r1.tsv", [(1.01, 2.03, "Bon dia"), (2.96, 4.0, "fins demà")])
    (tmp_path / "truth").mkdir()
    (tmp_path / "truth" / "r1.tsv").write_text("speaker\tstart\tend\ttext\nB\t3.0\t4.0\tfins demà\nA\t1.0\t2.0\tBon dia\n",
                                               encoding="utf-8")
    return tmp_path, steps


def test_the_report_holds_each_step_each_speaker_and_recording_and_what_came_back(exp):
    root, steps = exp
    report = fieldwork_report(steps, root / "data" / "test", root / "exp" / "transcribed", root / "exp" / "aligned",
                              root / "exp" / "report", root / "truth")
    given, continued = report["steps"]
    assert (given["cer"], given["cer_lm"], given["wer_lm"], given["lm_kept"]) == (0.5, 0.4, 0.6, True)
    assert (continued["dev_wer"], continued["dev_wer_lm"], continued["lm_kept"]) == (0.55, 0.6, False)
    assert report["final"].endswith("ctc_continued/decode_test")  # greedy: its LM did not lower the dev error
    speakers = {s["name"]: s for s in report["speakers"]}
    assert speakers["A"]["wer"] == pytest.approx(1 / 3) and speakers["A"]["cer"] == pytest.approx(1 / 11)
    assert speakers["B"]["wer"] == pytest.approx(1 / 2) and speakers["B"]["cer"] == pytest.approx(5 / 9)
    given_a, continued_b = report["step_speakers"][0]["speakers"]["A"], report["step_speakers"][1]["speakers"]["B"]
    assert given_a["cer"] == pytest.approx(2 / 11) and given_a["cer_lm"] == pytest.approx(1 / 11)  # bo dia, adeu
    assert continued_b["cer"] == pytest.approx(5 / 9) == continued_b["cer_lm"]
    recordings = {r["name"]: r for r in report["recordings"]}
    assert recordings["r1"]["cer"] == pytest.approx(5 / 16) and recordings["r2"]["words"] == 1
    done = {d["recording"]: d for d in report["transcribed"]}
    assert done["r1"]["cer"] == 0.0 and done["r1"]["wer"] == 0.0  # in time order, against the truth
    assert done["r3"]["cer"] is None and done["r3"]["role"] == "untranscribed"
    assert [p.split("/")[-1] for p in done["r1"]["files"]] == ["r1.eaf", "r1.tsv"]
    a = report["alignment"]
    assert (a["utterances"], a["within_20ms"], a["within_50ms"]) == (2, 0.5, 1.0)
    assert a["mean_ms"] == pytest.approx(20.0) and a["median_ms"] == pytest.approx(20.0)
    md = (root / "exp" / "report.md").read_text(encoding="utf-8")
    assert f"| continued | 30.0 | 35.0 | 50.0 | 55.0 | 55.0 | 60.0 | no | {steps['continued']} |" in md
    page = (root / "exp" / "report.html").read_text(encoding="utf-8")
    assert "| given | 18.2 | 9.1 | 11.1 | 11.1 |" in md  # each step per test speaker: A and B, greedy and + LM
    assert page.count("<table>") == 6 and "Alignment of the annotations" in page


def test_without_the_truth_there_is_no_alignment_section(exp):
    root, steps = exp
    report = fieldwork_report(steps, root / "data" / "test", root / "exp" / "transcribed", None,
                              root / "exp" / "report")
    assert report["alignment"] == {} and all(d["cer"] is None for d in report["transcribed"])
    assert "Alignment" not in (root / "exp" / "report.md").read_text(encoding="utf-8")
