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

log = logging.getLogger(__name__)


def lid_scores(rows: list[dict], languages: list[str]) -> dict:
    known = [r for r in rows if r["lang"] in languages]
    per_lang = {}
    for lang in sorted({r["lang"] for r in known}):
        mine = [r for r in known if r["lang"] == lang]
        per_lang[lang] = {"utterances": len(mine), "correct": sum(r["predicted"] == lang for r in mine),
                          "accuracy": sum(r["predicted"] == lang for r in mine) / len(mine)}
    confusion = Counter((r["lang"], r["predicted"]) for r in rows)
    return {
        "languages": per_lang,
        "overall": {"utterances": len(known), "correct": sum(r["predicted"] == r["lang"] for r in known),
                    "accuracy": sum(r["predicted"] == r["lang"] for r in known) / max(len(known), 1),
                    "mean_posterior": sum(r["posterior"] for r in known) / max(len(known), 1)},
        "model_languages": languages,
        "confusion": {lang: {p: confusion[(lang, p)] for p in languages}
                      for lang in sorted({r["lang"] for r in rows})},
        "unknown_languages": sorted({r["lang"] for r in rows} - set(languages)),
    }


def _tables(s: dict) -> list[tuple[str, list[str], list[list[str]]]]:
    acc = [[lang, str(c["utterances"]), str(c["correct"]), f"{100 * c['accuracy']:.1f}"] for lang, c in s["languages"].items()]
    o = s["overall"]
    acc.append(["all", str(o["utterances"]), str(o["correct"]), f"{100 * o['accuracy']:.1f}"])
    langs = s["model_languages"]
    conf = [[lang] + [str(row[p]) for p in langs] for lang, row in s["confusion"].items()]
    return [("Accuracy", ["language", "utterances", "correct", "accuracy %"], acc),
            ("Confusions (rows: the truth; columns: the prediction)", ["language"] + langs, conf)]


def lid_report(decode_dir: str | Path) -> dict:
    d = Path(decode_dir)
    rows = [json.loads(line) for line in (d / "lid.jsonl").read_text(encoding="utf-8").splitlines() if line]
    if not rows:
        raise ValueError(f"{d / 'lid.jsonl'}: no predictions to score")
    info = json.loads((d / "decode.json").read_text(encoding="utf-8"))
    s = lid_scores(rows, info["model"]["languages"])
    title = f"{Path(info['model']['checkpoint']).parent.parent.name} on {Path(info['data']).name} (language ID)"
    note = (f"Mean posterior of the predicted language: {s['overall']['mean_posterior']:.3f}. "
            + (f"Languages the model was not trained on ({', '.join(s['unknown_languages'])}) are in the confusion "
               "table only: the known language each utterance was taken for." if s["unknown_languages"] else ""))
    md = [f"# {title}", "", note]
    page = [f"<!doctype html><meta charset='utf-8'><title>{html.escape(title)}</title><style>"
            "body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}"
            "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}"
            "td:first-child,th:first-child{text-align:left}</style>", f"<h1>{html.escape(title)}</h1>",
            f"<p>{html.escape(note)}</p>"]
    for caption, head, table in _tables(s):
        md += ["", f"## {caption}", "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        md += ["| " + " | ".join(r) + " |" for r in table]
        page += [f"<h2>{html.escape(caption)}</h2><table><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in head)
                 + "</tr>"]
        page += ["<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in table]
        page.append("</table>")
    report = {"title": title, "decode": info, "scores": {"LID": s}}
    atomic_write(d / "report.md", "\n".join(md) + "\n")
    atomic_write(d / "report.html", "\n".join(page) + "\n")
    atomic_write(d / "report.json", json.dumps(report, ensure_ascii=False, indent=1) + "\n")
    log.info("%s: language ID accuracy %.2f%% over %d utterances", d, 100 * s["overall"]["accuracy"],
             s["overall"]["utterances"])
    return report
