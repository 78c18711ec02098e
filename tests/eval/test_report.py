"""The score verb's pages as a reader sees them: the total row alone in bold, spaces visible, phone
hypotheses beside phone references, the worst utterances aligned and playable, settings as a
table; RESULTS.md and the pra file beside them."""

import json
import re

import numpy as np

from speechxl.data.audio import write_audio
from speechxl.data.manifest import Utterance, write_manifest
from speechxl.eval.report import score

INFO = {"date": "2026-12-04T06:00:00+0000", "command": "speechxl decode exp/m data/test",
        "versions": {"speechxl": "0.1.0", "git_commit": "abc", "torch": "2.13.0", "python": "3.11.2"},
        "model": {"checkpoint": "/x/exp/m/checkpoints/step_00000004", "step": 4, "units": "chars", "vocabulary": 30,
                  "init": {"speech": "/x/exp/pre"}, "family": "w2v-bert", "training_data": ["/x/data/train"], "averaged": [],
                  "parameters_m": 1.234},
        "data": "/x/data/test", "utterances": 2, "audio_hours": 0.001, "search": "greedy", "lm": None, "beam": None,
        "tuned_on": None, "inventory": None, "own_units": {}, "phone_maps": {}, "unfinished_last_word": 0,
        "tuning_grid": None, "seconds": {"acoustic": 0.123456, "search": 0.0123}, "real_time_factor": 0.0123456}


def decode_dir(tmp_path, rows, info=INFO, name="decode_test", data_set="test"):
    """A decode dir in an exp dir speechxl made (its versions.json), of a data set of the rows' utterances."""
    d = tmp_path / "exp" / name
    d.mkdir(parents=True)
    (tmp_path / "exp" / "versions.json").write_text("[]\n")
    (d / "hyp.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    data = tmp_path / "data" / data_set
    if not (data / "utts.jsonl").exists():
        write_manifest([Utterance(id=r["id"], audio=r.get("audio") or "x.flac", duration=r.get("duration") or 1.0,
                                  offset=r.get("offset") or 0.0, lang=r["lang"], speaker="s", text=r["ref"])
                        for r in rows], data)
    (d / "decode.json").write_text(json.dumps({**info, "data": str(data)}))
    return d


def rows_with_audio(tmp_path):
    wav = tmp_path / "a.flac"
    write_audio(wav, 0.1 * np.sin(np.arange(32000) / 5).astype(np.float32))
    return [{"id": "u1", "lang": "es", "audio": str(wav), "offset": 0.5, "duration": 1.0, "ref": "la casa roja",
             "hyp": "la cosa roja s", "ref_units": [], "hyp_units": []},
            {"id": "u2", "lang": "ru", "audio": str(tmp_path / "moved.flac"), "offset": 0.0, "duration": 1.0,
             "ref": "да", "hyp": "да", "ref_units": [], "hyp_units": []}]


def test_html_report_reads_as_a_report(tmp_path):
    d = decode_dir(tmp_path, rows_with_audio(tmp_path))
    score(d)
    page = (d / "report.html").read_text()
    assert page.count("class=total") == 1  # the "all" row, not every table's last row
    assert re.search(r"<tr class=total><td>all</td>", page)
    assert "<td>␣</td>" in page and "<td></td>" not in page  # the inserted space of "roja s" is visible
    # the worst utterance plays (cut to its segment, embedded), the one whose file moved says so
    assert page.count("<audio controls") == 1 and "src='data:audio/mpeg;base64," in page
    assert "(audio not found)" in page
    # aligned words: la = la, casa -> cosa, roja = roja, s inserted
    assert "<span class='t C'><span>la</span><span>la</span></span>" in page
    assert "<span class='t S'><span>casa</span><span>cosa</span></span>" in page
    assert "<span class='t I'><span>&nbsp;</span><span>s</span></span>" in page
    assert "<pre>" not in page and "0.123456" not in page  # settings as a table, rounded
    assert "<td>real-time factor</td><td>0.012 (acoustic 0.1 s, search 0.0 s)</td>" in page
    assert "<td>command</td><td>speechxl decode exp/m data/test</td>" in page
    assert "<td>initialised from</td><td>speech: /x/exp/pre</td>" in page


def test_phone_report_aligns_phones_with_phones(tmp_path):
    rows = [{"id": "p1", "lang": "el", "audio": "gone.flac", "offset": 0, "duration": 1, "ref": "κάλο",
             "hyp": "k a l u", "ref_units": ["k", "a", "|", "l", "o"], "hyp_units": ["k", "a", "|", "l", "u"]}]
    info = {**INFO, "model": {**INFO["model"], "units": "phones"}}
    d = decode_dir(tmp_path, rows, info)
    report = score(d)
    page = (d / "report.html").read_text()
    assert "<span class='t S'><span>o</span><span>u</span></span>" in page  # phones over phones
    assert "κάλο" in page  # the text, as what was said
    assert report["worst"][0]["metric"] == "PER"
    md = (d / "report.md").read_text()
    assert "  - ref: k a | l o" in md and "  - hyp: k a | l u" in md


def test_results_md_and_pra_beside_the_decode(tmp_path):
    d = decode_dir(tmp_path, rows_with_audio(tmp_path))
    score(d)
    results = (d.parent / "RESULTS.md").read_text()
    assert "- Git hash: `abc`" in results and "### WER" in results and "### CER" in results
    # WER: 4 reference words, 1 sub + 1 ins -> Corr 75.0, Sub 25.0, Ins 25.0, Err 50.0; S.Err 1 of 2
    assert "|decode_test/test|2|4|75.0|25.0|0.0|25.0|50.0|50.0|" in results
    assert "|decode_test/test/es|1|3|66.7|33.3|0.0|33.3|66.7|100.0|" in results
    assert "|decode_test|m/checkpoints/step_00000004|greedy|`speechxl decode exp/m data/test`|" in results
    pra = (d / "score_wer" / "alignments.pra").read_text()
    assert "id: (u1)\nScores: (#C #S #D #I) 2 1 0 1\nREF:  la casa roja *\nHYP:  la cosa roja s\nEval:    S         I\n" in pra
    # a second decode in the same exp joins the table
    score(decode_dir(tmp_path, rows_with_audio(tmp_path), name="decode_test_lm"))
    assert "|decode_test_lm/test|2|4|" in (d.parent / "RESULTS.md").read_text()
    assert "| (inserted) | ␣ | 1 |" in (d / "report.md").read_text()  # CER: the space before "s"


def test_one_model_per_language_fills_one_row_of_the_comparison(tmp_path):
    """--row: the decodes of per-language models side by side with a multilingual one; each row's
    "all" pools its decodes' errors."""
    import pytest

    from speechxl.eval.report import compare

    def row(lang, ref, hyp):
        return {"id": f"{lang}1", "lang": lang, "audio": str(tmp_path / "gone.flac"), "offset": 0.0, "duration": 1.0,
                "ref": ref, "hyp": hyp, "ref_units": [], "hyp_units": []}

    es = score(decode_dir(tmp_path, [row("es", "la casa roja", "la cosa roja")], name="es"))
    ru = score(decode_dir(tmp_path, [row("ru", "да нет", "да нет")], name="ru"))
    both = score(decode_dir(tmp_path, [row("es", "la casa roja", "la casa"), row("ru", "да нет", "да")], name="multi"))
    out = compare({"es": es, "ru": ru, "multi": both}, tmp_path / "mono.md", {"es": "mono", "ru": "mono", "multi": "multi"})
    table = out.read_text()
    assert "| WER es | WER ru | WER all |" in table
    assert "| 33.33 | 0.00 | 20.00 |" in table.splitlines()[2]  # mono: 1 error in 5 words
    assert "| 33.33 | 50.00 | 40.00 |" in table.splitlines()[3]  # multi: 2 in 5
    assert json.loads(out.with_suffix(".json").read_text())["mono"]["WER"]["all"] == 0.2
    with pytest.raises(ValueError, match="mono: two decodes of es"):
        compare({"es": es, "multi": both}, tmp_path / "x.md", {"es": "mono", "multi": "mono"})


def test_each_test_condition_gets_its_column_group(tmp_path):
    """A row of a model's decodes of test and test_voices: the same languages twice, one group each,
    test first, each with its own "all"."""
    import pytest

    from speechxl.eval.report import compare

    def row(ref, hyp):
        return {"id": "u1", "lang": "es", "audio": str(tmp_path / "gone.flac"), "offset": 0.0, "duration": 1.0,
                "ref": ref, "hyp": hyp, "ref_units": [], "hyp_units": []}

    voices = score(decode_dir(tmp_path, [row("la casa roja", "la")], name="decode_test_voices",
                              data_set="test_voices"))
    test = score(decode_dir(tmp_path, [row("la casa roja", "la casa roja")], name="decode_test"))
    out = compare({"v": voices, "t": test}, tmp_path / "t.md", {"v": "m greedy", "t": "m greedy"})
    head, _, line = out.read_text().splitlines()
    assert head.endswith("| WER test es | WER test all | WER test_voices es | WER test_voices all |")
    assert line.endswith("| 0.00 | 0.00 | 66.67 | 66.67 |")
    assert json.loads(out.with_suffix(".json").read_text())["m greedy"]["WER"]["test_voices all"] == pytest.approx(2 / 3, abs=1e-4)
