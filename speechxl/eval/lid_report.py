"""The report of a language-ID decode (lid.jsonl): accuracy per language and overall, the mean
posterior of the predictions, and the confusion matrix; utterances of languages the model does not
know get their own table (which known language each was taken for: its neighbours).
report.md, report.html and report.json in the decode dir."""

from __future__ import annotations

import html
import json
import logging
from collections import Counter
from pathlib import Path

from speechxl.atomic import atomic_write
from speechxl.eval.tables import STYLE, html_table, md_table

log = logging.getLogger(__name__)


def lid_scores(rows: list[dict], languages: list[str]) -> dict:
    known = [r for r in rows if r["lang"] in languages]
    def counts(mine: list[dict]) -> dict:
        correct = sum(r["predicted"] == r["lang"] for r in mine)
        return {"utterances": len(mine), "correct": correct, "accuracy": correct / max(len(mine), 1)}

    confusion = Counter((r["lang"], r["predicted"]) for r in rows)
    return {
        "languages": {lang: counts([r for r in known if r["lang"] == lang]) for lang in sorted({r["lang"] for r in known})},
        "overall": {**counts(known), "mean_posterior": sum(r["posterior"] for r in known) / max(len(known), 1)},
        "model_languages": languages,
        "confusion": {lang: {p: confusion[(lang, p)] for p in languages}
                      for lang in sorted({r["lang"] for r in rows})},
        "unknown_languages": sorted({r["lang"] for r in rows} - set(languages)),
    }


def _tables(s: dict) -> list[tuple[str, list[str], list[list[str]]]]:
    """The accuracy table (when any utterance is of a known language) and the confusions."""
    langs = s["model_languages"]
    conf = [[lang] + [str(row[p]) for p in langs] for lang, row in s["confusion"].items()]
    tables = [("Confusions (rows: the truth; columns: the prediction)", ["language"] + langs, conf)]
    if not s["languages"]:
        return tables
    acc = [[lang, str(c["utterances"]), str(c["correct"]), f"{100 * c['accuracy']:.1f}"] for lang, c in s["languages"].items()]
    o = s["overall"]
    acc.append(["all", str(o["utterances"]), str(o["correct"]), f"{100 * o['accuracy']:.1f}"])
    return [("Accuracy", ["language", "utterances", "correct", "accuracy %"], acc)] + tables


def _note(s: dict) -> str:
    unknown = ", ".join(s["unknown_languages"])
    if not s["languages"]:
        return (f"No utterance is of a language the model was trained on ({', '.join(s['model_languages'])}): "
                f"the confusion table shows the known language each utterance of {unknown} was taken for.")
    return (f"Mean posterior of the predicted language: {s['overall']['mean_posterior']:.3f}. "
            + (f"Languages the model was not trained on ({unknown}) are in the confusion table only: the known "
               "language each utterance was taken for." if unknown else ""))


def lid_report(decode_dir: str | Path) -> dict:
    d = Path(decode_dir)
    rows = [json.loads(line) for line in (d / "lid.jsonl").read_text(encoding="utf-8").splitlines() if line]
    if not rows:
        raise ValueError(f"{d / 'lid.jsonl'}: no predictions to score")
    info = json.loads((d / "decode.json").read_text(encoding="utf-8"))
    s = lid_scores(rows, info["model"]["languages"])
    title = f"{Path(info['model']['checkpoint']).parent.parent.name} on {Path(info['data']).name} (language ID)"
    note = _note(s)
    md = [f"# {title}", "", note]
    page = [f"<!doctype html><meta charset='utf-8'><title>{html.escape(title)}</title><style>{STYLE}</style>",
            f"<h1>{html.escape(title)}</h1>",
            f"<p>{html.escape(note)}</p>"]
    for caption, head, table in _tables(s):
        md += ["", f"## {caption}", ""] + md_table(head, table)
        page += [f"<h2>{html.escape(caption)}</h2>", html_table(head, table)]
    report = {"title": title, "decode": info, "scores": {"LID": s}}
    atomic_write(d / "report.md", "\n".join(md) + "\n")
    atomic_write(d / "report.html", "\n".join(page) + "\n")
    atomic_write(d / "report.json", json.dumps(report, ensure_ascii=False, indent=1) + "\n")
    log.info("%s: language ID accuracy %.2f%% over %d utterances", d, 100 * s["overall"]["accuracy"],
             s["overall"]["utterances"])
    return report
