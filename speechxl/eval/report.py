"""The ``score`` verb: error rates of a decode directory as reports people read.

    speechxl score exp/ctc_chars/decode_test_lm

Writes into the decode directory: report.md, report.html (self-contained: the chart and the
worst utterances' audio are embedded), report.json (everything, for machines),
error_rates.png, and score_<metric>/alignments.pra (every utterance's alignment in sclite's pra
layout); and RESULTS.md beside the decode directory (speechxl.eval.results). A report has the
per-language table (rate, substitutions, deletions, insertions, reference length), a bar chart
of error rates per language, the most frequent confusions, the worst utterances aligned token
by token with a player for their audio, and the decode settings and model provenance.
"""

from __future__ import annotations

import base64
import html
import io
import json
import logging
from dataclasses import fields
from pathlib import Path

import numpy as np

from speechxl.atomic import atomic_write
from speechxl.data.audio import AudioError, load_audio
from speechxl.eval.metrics import Counts, pra, score_rows
from speechxl.eval.results import write_results
from speechxl.data.manifest import Utterance, read_manifest
from speechxl.eval.tables import md_cell, md_code, md_table, md_text

log = logging.getLogger(__name__)
WORST = 10
SPACE = "␣"  # how a space token is shown in tables (a blank cell reads as nothing)


def _chart(scores: dict) -> bytes:
    """PNG bar chart: error rate per language, one group of bars per metric."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    metrics = list(scores)
    langs = sorted({lang for m in metrics for lang in scores[m]["languages"]})
    fig, ax = plt.subplots(figsize=(max(4.0, 1.1 * len(langs) + 1.5), 3.4), dpi=110)
    width = 0.8 / max(len(metrics), 1)
    top = 0.0
    for i, m in enumerate(metrics):
        rates = [100 * scores[m]["languages"].get(lang, {}).get("rate", 0) for lang in langs]
        bars = ax.bar([x + i * width for x in range(len(langs))], rates, width, label=m)
        ax.bar_label(bars, fmt="%.1f", fontsize=7, padding=1)
        top = max([top, *rates])
    ax.set_xticks([x + width * (len(metrics) - 1) / 2 for x in range(len(langs))], langs)
    ax.set_ylim(0, max(top, 1.0) * 1.12)  # room for the bar labels
    ax.set_ylabel("error rate (%)")
    # above the axes, never over a bar
    ax.legend(frameon=False, fontsize=8, ncol=len(metrics), loc="lower center", bbox_to_anchor=(0.5, 1.0))
    ax.spines[["top", "right"]].set_visible(False)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()


def _table(scores: dict) -> tuple[list[str], list[list[str]]]:
    """The per-language table; its last row is all languages together."""
    metrics = list(scores)
    langs = sorted({lang for m in metrics for lang in scores[m]["languages"]})
    head = ["language", "utterances"] + [f"{m} %" for m in metrics] + [f"{m} S/D/I of N" for m in metrics]
    rows = []
    for lang in langs + ["all"]:
        cells = [scores[m]["overall"] if lang == "all" else scores[m]["languages"][lang] for m in metrics]
        rows.append([lang, str(cells[0]["utterances"])]
                    + [f"{100 * c['rate']:.2f}" for c in cells]
                    + [f"{c['sub']}/{c['dele']}/{c['ins']} of {c['ref']}" for c in cells])
    return head, rows


def _shown(token: str) -> str:
    return token.replace(" ", SPACE)


def _worst(rows: list[dict], scores: dict) -> list[dict]:
    """The utterances with the most errors of the first metric, each with that metric's alignment."""
    metric = next(iter(scores))
    errs, aligned = scores[metric]["per_utterance"], scores[metric]["alignments"]
    order = sorted(range(len(rows)), key=lambda i: (-errs[i], rows[i]["id"]))[:WORST]
    keep = ("id", "lang", "audio", "offset", "duration", "ref", "hyp")
    return [{**{k: rows[i].get(k) for k in keep}, "metric": metric, "errors": errs[i],
             "ref_units": " ".join(rows[i]["ref_units"]), "hyp_units": " ".join(rows[i]["hyp_units"]),
             "alignment": aligned[i]} for i in order]


def _init(init: str | dict | None) -> str:
    """A checkpoint's ``init`` (a path, or one per model part) as a person reads it."""
    if isinstance(init, dict):
        return ", ".join(f"{part}: {path}" for part, path in init.items()) or "random"
    return init or "random"


def _settings(info: dict) -> list[tuple[str, str]]:
    """The decode's settings and the model's provenance, as (name, value) rows a person reads;
    report.json and decode.json hold them all."""
    m, v = info["model"], info.get("versions", {})
    rows = [("model", f"{m['checkpoint']} (step {m['step']}, {m['family']}, {m['parameters_m']} M parameters)"),
            ("units", f"{m['units']} ({m['vocabulary']} symbols)"), ("initialised from", _init(m.get("init"))),
            ("training data", ", ".join(m.get("training_data") or []) or "?"), ("data", info["data"]),
            ("utterances", f"{info['utterances']} ({info['audio_hours']:.2f} h)"), ("search", info["search"])]
    if m.get("averaged"):
        rows.append(("averaged checkpoints", ", ".join(Path(p).name for p in m["averaged"])))
    if info.get("lm"):
        b = info["beam"]
        rows += [("LM", info["lm"]), ("LM weight, word score", f"{b['lm_weight']:g}, {b['word_score']:+g}"
                                      + (f" (tuned on {info['tuned_on']})" if info.get("tuned_on") else "")),
                 ("beam", f"{b['beam']} hypotheses, {b['beam_tokens']} units per frame, threshold {b['beam_threshold']:g}")]
    for lang, p in (info.get("phone_maps") or {}).items():
        rows.append((f"phone map {lang}", f"{p['method']}: {p['inventory_size']} phones, {len(p['dropped'])} model "
                                          f"phones dropped ({p['table']})"))
    rows += [("real-time factor", f"{info['real_time_factor']:.3f} (acoustic {info['seconds']['acoustic']:.1f} s, "
                                  f"search {info['seconds']['search']:.1f} s)"),
             ("versions", ", ".join(f"{k} {val}" for k, val in v.items() if val))]
    if info.get("command"):
        rows.append(("command", info["command"]))
    return rows


def _markdown(title: str, head, table, scores, worst, info) -> str:
    md = [f"# {title}", "", "![error rates per language](error_rates.png)", "",
          "| " + " | ".join(map(md_cell, head)) + " |", "|" + "---|" * len(head)]
    md += ["| " + " | ".join(f"**{md_cell(c)}**" if r is table[-1] else md_cell(c) for c in r) + " |"
           for r in table]
    for m, s in scores.items():
        md += ["", f"## Most frequent {m} confusions", ""]
        md += md_table(["reference", "hypothesis", "count"], [
            [_shown(c["ref"]) or "(inserted)", _shown(c["hyp"]) or "(deleted)", str(c["count"])]
            for c in s["confusions"][:15]])
    md += ["", f"## Worst {len(worst)} utterances ({worst[0]['metric'] if worst else ''} errors)", ""]
    for w in worst:
        audio = md_code(Path(w["audio"] or "").name)
        md += [f"- {md_code(w['id'])} ({md_text(w['lang'])}, {w['errors']} errors) {audio}",
               f"  - text: {md_text(w['ref'])}",
               f"  - ref: {md_text(w['ref_units'] if w['metric'] == 'PER' else w['ref'])}",
               f"  - hyp: {md_text(w['hyp_units'] if w['metric'] == 'PER' else w['hyp'])}"]
    md += ["", "## Decoding and model", ""]
    md += md_table(["setting", "value"], [[k, val] for k, val in _settings(info)]) + [
        "", "Everything else: report.json.", ""]
    return "\n".join(md)


def _clip(w: dict, audio_of: dict[str, Utterance]) -> str | None:
    """The utterance's audio as an embedded MP3 (a data URI), or None where it cannot be read. The audio is
    the one the decoded data set's manifest gives the id (``audio_of``), never a path hyp.jsonl names."""
    import soundfile as sf

    u = audio_of.get(w["id"])
    if u is None:
        log.warning("report: no player for %s: not an utterance of the decoded data set", w["id"])
        return None
    try:
        x = load_audio(u.audio, u.offset, u.duration)
    except AudioError as e:
        log.warning("report: no player for %s: %s", w["id"], e)
        return None
    buf = io.BytesIO()
    sf.write(buf, np.clip(x, -1, 1), 16000, format="MP3")
    return "data:audio/mpeg;base64," + base64.b64encode(buf.getvalue()).decode()


def _aligned_html(ops: list) -> str:
    """Reference over hypothesis, a column per aligned token, errors coloured by kind."""
    e = html.escape
    cells = [f"<span class='t {op}'><span>{e(_shown(r)) or '&nbsp;'}</span><span>{e(_shown(h)) or '&nbsp;'}</span></span>"
             for r, h, op in ops]
    return "<div class='al'>" + "".join(cells) + "</div>"


STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}"
    "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}"
    "td:first-child,th:first-child{text-align:left}tr.total{font-weight:bold;background:#f3f3f3}"
    ".utt td,.set td{text-align:left;vertical-align:top}.set td:first-child{white-space:nowrap;color:#555}"
    ".conf{display:inline-block;vertical-align:top;margin-right:2em}"
    ".al{display:flex;flex-wrap:wrap;gap:2px 4px;font-family:ui-monospace,monospace;margin:.3em 0}"
    ".t{display:inline-flex;flex-direction:column;padding:0 2px;border-radius:3px}"
    ".t span:last-child{border-top:1px dotted #bbb}.S{background:#ffe0a6}.D{background:#ffc2c2}.I{background:#c9f0c9}"
    ".legend span{padding:0 6px;margin-right:6px;border-radius:3px}small{color:#666}audio{height:32px;width:260px}"
)


def _html(title: str, head, table, scores, worst, info, png: bytes, audio_of: dict[str, Utterance]) -> str:
    e = html.escape
    out = [f"<!doctype html><meta charset='utf-8'><title>{e(title)}</title><style>{STYLE}</style>",
           f"<h1>{e(title)}</h1>", f"<img alt='error rates' src='data:image/png;base64,{base64.b64encode(png).decode()}'>",
           "<table><tr>" + "".join(f"<th>{e(h)}</th>" for h in head) + "</tr>"]
    out += [f"<tr{' class=total' if r is table[-1] else ''}>" + "".join(f"<td>{e(c)}</td>" for c in r) + "</tr>"
            for r in table]
    out.append("</table><h2>Most frequent confusions</h2>")
    for m, s in scores.items():
        out += [f"<table class='conf'><tr><th colspan=3>{e(m)}</th></tr>"
                "<tr><th>reference</th><th>hypothesis</th><th>count</th></tr>"]
        out += [f"<tr><td>{e(_shown(c['ref'])) or '<i>(inserted)</i>'}</td><td>{e(_shown(c['hyp'])) or '<i>(deleted)</i>'}"
                f"</td><td>{c['count']}</td></tr>" for c in s["confusions"][:15]]
        out.append("</table>")
    out.append(f"<p><small>{SPACE} is a space.</small></p>")
    if worst:
        unit = {"PER": "phones", "CER": "characters", "WER": "words"}[worst[0]["metric"]]
        out.append(f"<h2>Worst {len(worst)} utterances</h2><p class='legend'>{e(worst[0]['metric'])}: reference "
                   f"over hypothesis, {unit} aligned: <span class=S>substituted</span><span class=D>deleted</span>"
                   "<span class=I>inserted</span></p><table class='utt'><tr><th>utterance</th><th>errors</th>"
                   "<th>text and alignment</th></tr>")
    for w in worst:
        clip = _clip(w, audio_of)
        player = f"<br><audio controls preload=none src='{clip}'></audio>" if clip else "<br><small>(audio not found)</small>"
        out.append(f"<tr><td>{e(w['id'])} <small>({e(w['lang'])})</small>{player}<br><small>{e(w['audio'])}</small></td>"
                   f"<td>{w['errors']}</td><td>{e(w['ref'])}{_aligned_html(w['alignment'])}</td></tr>")
    if worst:
        out.append("</table>")
    out += ["<h2>Decoding and model</h2><table class='set'>"]
    out += [f"<tr><td>{e(k)}</td><td>{e(str(val))}</td></tr>" for k, val in _settings(info)]
    out.append("</table><p><small>Everything else: report.json beside this page.</small></p>")
    return "\n".join(out)


def _data_set(data: str) -> dict[str, Utterance]:
    """The utterances of the decoded data set by id (none if it is gone or unreadable): the report plays
    only their audio."""
    try:
        return {u.id: u for u in read_manifest(data)}
    except (OSError, ValueError) as e:
        log.warning("report: no audio players: %s", e)
        return {}


def made_by_speechxl(folder: Path) -> bool:
    """Whether ``folder`` is an experiment or checkpoint dir speechxl made (it writes RESULTS.md only there)."""
    return any((folder / name).exists() for name in ("versions.json", "checkpoints", "card.json", "release.json"))


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
    audio_of = _data_set(info["data"])
    atomic_write(d / "report.html", _html(title, head, table, scores, worst, info, png, audio_of))
    for m, s in scores.items():
        atomic_write(d / f"score_{m.lower()}" / "alignments.pra", pra(rows, s["alignments"]))
    report = {"title": title, "decode": info, "worst": worst,
              "scores": {m: {k: v for k, v in s.items() if k not in ("per_utterance", "alignments")}
                         for m, s in scores.items()}}
    atomic_write(d / "report.json", json.dumps(report, ensure_ascii=False, indent=1) + "\n")
    if made_by_speechxl(d.parent):  # a decode dir copied elsewhere writes no RESULTS.md beside it
        write_results(d.parent)
    for m, s in scores.items():
        log.info("%s: %s %.2f%% overall; %s", d, m, 100 * s["overall"]["rate"],
                 ", ".join(f"{lang} {100 * c['rate']:.1f}" for lang, c in s["languages"].items()))
    return report


def _pooled(counts: list[dict]) -> dict:
    """Error counts of several decodes (Counts.as_dict()) together, with their rate."""
    total = Counts()
    for c in counts:
        total.add(Counts(**{f.name: c[f.name] for f in fields(Counts)}))
    return total.as_dict()


def _set_order(name: str) -> tuple[int, str]:
    """test before its variants (test_voices), then the rest by name."""
    return (0 if name == "test" else 1, name)


def compare(reports: dict[str, dict], out: str | Path, rows: dict[str, str] | None = None) -> Path:
    """One Markdown table (and a JSON beside it) of several reports: a row per decode, a column
    per language and metric; ``reports`` maps a label to score()'s result. ``rows`` maps a label to
    the row it fills: decodes of different languages in one row (e.g. one model per language) give
    each its own languages, and the row's "all" pools their errors; decodes of different data sets
    in one row (test conditions, e.g. test and test_voices) give each data set its column group."""
    rows = rows or {label: label for label in reports}
    table: dict[str, dict[tuple[str, str], dict]] = {}  # row -> (metric, data set) -> scores (languages, overall)
    for label, r in reports.items():
        data_set = Path(r["decode"]["data"]).name
        for m, s in r["scores"].items():
            cell = table.setdefault(rows[label], {}).setdefault((m, data_set), {"languages": {}})
            if clash := cell["languages"].keys() & s["languages"].keys():
                raise ValueError(f"{rows[label]}: two decodes of {', '.join(sorted(clash))} in {data_set} ({m}) "
                                 "in one row")
            cell["languages"] |= s["languages"]
    for row in table.values():
        for cell in row.values():
            cell["overall"] = _pooled(list(cell["languages"].values()))
    groups = sorted({g for r in table.values() for g in r}, key=lambda g: (g[0], _set_order(g[1])))
    langs = {g: sorted({lang for r in table.values() for lang in r.get(g, {"languages": {}})["languages"]})
             for g in groups}
    one_set = len({data_set for _, data_set in groups}) == 1

    def name(g: tuple[str, str], lang: str) -> str:
        return f"{g[0]} {lang}" if one_set else f"{g[0]} {g[1]} {lang}"
    head = ["decode"] + [name(g, lang) for g in groups for lang in langs[g] + ["all"]]
    lines, rates = [], {}
    for label, r in table.items():
        cells = [label]
        for g in groups:
            s = r.get(g)
            for lang in langs[g] + ["all"]:
                c = (s["overall"] if lang == "all" else s["languages"].get(lang)) if s else None
                cells.append(f"{100 * c['rate']:.2f}" if c else "")
                if c:
                    rates.setdefault(label, {}).setdefault(g[0], {})[lang if one_set else f"{g[1]} {lang}"] = c["rate"]
        lines.append(cells)
    md = md_table(head, lines)
    out = Path(out)
    atomic_write(out, "\n".join(md) + "\n")
    atomic_write(out.with_suffix(".json"), json.dumps(rates, indent=1) + "\n")
    log.info("comparison of %d decodes: %s", len(reports), out)
    return out
