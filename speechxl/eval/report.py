"""The ``score`` verb: error rates of a decode directory as reports people read.

    speechxl score exp/ctc_chars/decode_test_lm

Writes into the decode directory: report.md, report.html (self-contained: the chart is
embedded), report.json (everything, for machines), error_rates.png. A report has the
per-language table (rate, substitutions, deletions, insertions, reference length), a bar chart
of error rates per language, the most frequent confusions, the worst utterances with their
audio, and the decode settings and model provenance.
"""

from __future__ import annotations

import base64
import html
import io
import json
import logging
from pathlib import Path

from speechxl.atomic import atomic_write
from speechxl.eval.metrics import score_rows

log = logging.getLogger(__name__)
WORST = 10


def _chart(scores: dict) -> bytes:
    """PNG bar chart: error rate per language, one group of bars per metric."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    metrics = list(scores)
    langs = sorted({lang for m in metrics for lang in scores[m]["languages"]})
    fig, ax = plt.subplots(figsize=(max(4.0, 1.1 * len(langs) + 1.5), 3.2), dpi=110)
    width = 0.8 / max(len(metrics), 1)
    for i, m in enumerate(metrics):
        rates = [100 * scores[m]["languages"].get(lang, {}).get("rate", 0) for lang in langs]
        bars = ax.bar([x + i * width for x in range(len(langs))], rates, width, label=m)
        ax.bar_label(bars, fmt="%.1f", fontsize=7, padding=1)
    ax.set_xticks([x + width * (len(metrics) - 1) / 2 for x in range(len(langs))], langs)
    ax.set_ylabel("error rate (%)")
    ax.legend(frameon=False, fontsize=8)
    ax.spines[["top", "right"]].set_visible(False)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()


def _table(scores: dict) -> tuple[list[str], list[list[str]]]:
    metrics = list(scores)
    langs = sorted({lang for m in metrics for lang in scores[m]["languages"]})
    head = ["language", "utterances"] + [f"{m} %" for m in metrics] + [f"{m} S/D/I of N" for m in metrics]
    rows = []
    for lang in langs + ["all"]:
        cells = [scores[m]["overall"] if lang == "all" else scores[m]["languages"][lang] for m in metrics]
        rows.append([f"**{lang}**" if lang == "all" else lang, str(cells[0]["utterances"])]
                    + [f"{100 * c['rate']:.2f}" for c in cells]
                    + [f"{c['sub']}/{c['dele']}/{c['ins']} of {c['ref']}" for c in cells])
    return head, rows


def _worst(rows: list[dict], scores: dict) -> list[dict]:
    metric = next(iter(scores))
    errs = scores[metric]["per_utterance"]
    order = sorted(range(len(rows)), key=lambda i: (-errs[i], rows[i]["id"]))[:WORST]
    return [{**{k: rows[i][k] for k in ("id", "lang", "audio", "ref", "hyp")}, "errors": errs[i],
             "ref_units": " ".join(rows[i]["ref_units"]), "hyp_units": " ".join(rows[i]["hyp_units"])}
            for i in order]


def _markdown(title: str, head, table, scores, worst, info) -> str:
    md = [f"# {title}", "", "![error rates per language](error_rates.png)", "",
          "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    md += ["| " + " | ".join(r) + " |" for r in table]
    for m, s in scores.items():
        md += ["", f"## Most frequent {m} confusions", "", "| reference | hypothesis | count |", "|---|---|---|"]
        md += [f"| {c['ref'] or '(inserted)'} | {c['hyp'] or '(deleted)'} | {c['count']} |" for c in s["confusions"][:15]]
    md += ["", f"## Worst {len(worst)} utterances", ""]
    for w in worst:
        md += [f"- `{w['id']}` ({w['lang']}, {w['errors']} errors) `{w['audio']}`",
               f"  - ref: {w['ref'] or w['ref_units']}", f"  - hyp: {w['hyp'] or w['hyp_units']}"]
    md += ["", "## Decoding and model", "", "```json", json.dumps(info, ensure_ascii=False, indent=1), "```", ""]
    return "\n".join(md)


def _html(title: str, head, table, scores, worst, info, png: bytes) -> str:
    e = html.escape
    style = ("body{font-family:system-ui,sans-serif;max-width:1000px;margin:2em auto;color:#222}"
             "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:3px 8px;"
             "text-align:right}td:first-child,th:first-child{text-align:left}tr:last-child{font-weight:bold}"
             "pre{background:#f6f6f6;padding:1em;overflow:auto}.utt td{text-align:left}")
    out = [f"<!doctype html><meta charset='utf-8'><title>{e(title)}</title><style>{style}</style>",
           f"<h1>{e(title)}</h1>", f"<img alt='error rates' src='data:image/png;base64,{base64.b64encode(png).decode()}'>",
           "<table><tr>" + "".join(f"<th>{e(h)}</th>" for h in head) + "</tr>"]
    out += ["<tr>" + "".join(f"<td>{e(c.strip('*'))}</td>" for c in r) + "</tr>" for r in table]
    out.append("</table>")
    for m, s in scores.items():
        out += [f"<h2>Most frequent {e(m)} confusions</h2><table><tr><th>reference</th><th>hypothesis</th>"
                "<th>count</th></tr>"]
        out += [f"<tr><td>{e(c['ref'] or '(inserted)')}</td><td>{e(c['hyp'] or '(deleted)')}</td>"
                f"<td>{c['count']}</td></tr>" for c in s["confusions"][:15]]
        out.append("</table>")
    out.append(f"<h2>Worst {len(worst)} utterances</h2><table class='utt'><tr><th>utterance</th><th>errors</th>"
               "<th>reference / hypothesis</th></tr>")
    for w in worst:
        out.append(f"<tr><td>{e(w['id'])}<br><small>{e(w['audio'])}</small></td><td>{w['errors']}</td>"
                   f"<td>{e(w['ref'] or w['ref_units'])}<br><b>{e(w['hyp'] or w['hyp_units'])}</b></td></tr>")
    out += ["</table><h2>Decoding and model</h2>", f"<pre>{e(json.dumps(info, ensure_ascii=False, indent=1))}</pre>"]
    return "\n".join(out)


def score(decode_dir: str | Path) -> dict:
    """Score ``decode_dir`` and write its reports; returns the report's JSON content."""
    d = Path(decode_dir)
    rows = [json.loads(line) for line in (d / "hyp.jsonl").read_text(encoding="utf-8").splitlines() if line]
    if not rows:
        raise ValueError(f"{d / 'hyp.jsonl'}: no hypotheses to score")
    info = json.loads((d / "decode.json").read_text(encoding="utf-8"))
    kind = info["model"]["units"]
    scores = score_rows(rows, kind)
    head, table = _table(scores)
    worst = _worst(rows, scores)
    title = f"{Path(info['model']['checkpoint']).parent.parent.name} on {Path(info['data']).name} ({info['search']})"
    png = _chart(scores)
    atomic_write(d / "error_rates.png", png)
    atomic_write(d / "report.md", _markdown(title, head, table, scores, worst, info))
    atomic_write(d / "report.html", _html(title, head, table, scores, worst, info, png))
    report = {"title": title, "decode": info, "scores": {m: {k: v for k, v in s.items() if k != "per_utterance"}
                                                          for m, s in scores.items()}, "worst": worst}
    atomic_write(d / "report.json", json.dumps(report, ensure_ascii=False, indent=1) + "\n")
    for m, s in scores.items():
        log.info("%s: %s %.2f%% overall; %s", d, m, 100 * s["overall"]["rate"],
                 ", ".join(f"{lang} {100 * c['rate']:.1f}" for lang, c in s["languages"].items()))
    return report


def compare(reports: dict[str, dict], out: str | Path) -> Path:
    """One Markdown table (and a JSON beside it) of several reports: a row per decode, a column
    per language and metric; ``reports`` maps a label to score()'s result."""
    metrics = sorted({m for r in reports.values() for m in r["scores"]})
    langs = sorted({lang for r in reports.values() for m in r["scores"].values() for lang in m["languages"]})
    head = ["decode"] + [f"{m} {lang}" for m in metrics for lang in langs + ["all"]]
    rows = []
    for label, r in reports.items():
        cells = [label]
        for m in metrics:
            s = r["scores"].get(m)
            for lang in langs + ["all"]:
                c = (s["overall"] if lang == "all" else s["languages"].get(lang)) if s else None
                cells.append(f"{100 * c['rate']:.2f}" if c else "")
        rows.append(cells)
    md = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)] + ["| " + " | ".join(r) + " |" for r in rows]
    out = Path(out)
    atomic_write(out, "\n".join(md) + "\n")
    atomic_write(out.with_suffix(".json"), json.dumps(
        {label: {m: {lang: c["rate"] for lang, c in {**s["languages"], "all": s["overall"]}.items()}
                 for m, s in r["scores"].items()} for label, r in reports.items()}, indent=1) + "\n")
    log.info("comparison of %d decodes: %s", len(reports), out)
    return out
