"""The fieldwork recipe's report: what each adaptation step bought, per speaker and recording, and
what came back.

    speechxl fieldwork-report --steps "given=exp/ctc_given" "continued=exp/ctc_continued" \\
        --test data/test --transcribed exp/transcribed --aligned exp/aligned [--truth corpus/truth] --out exp/report

Reads what the earlier stages wrote and computes nothing a model would: the scored decodes of
each step (``<step>/decode_test`` greedy and ``decode_test_lm`` with the LM tuned on dev, their
report.json and hyp.jsonl), the test set's speakers and recordings (utts.jsonl), the timed text
transcribe-long and align wrote (``<name>.tsv``), and, where the corpus has them (the built-in
demo does), the true utterance times and words (``truth/<recording>.tsv``: speaker, start, end,
text). Sections:

- the steps: CER and WER on the test set of each step, greedy and with the LM, and whether the LM
  lowered the dev error (the recipe's transcription uses it only then);
- each step's test CER per speaker, greedy and with the LM (a speaker the training set never heard
  shows what adapting to the target's audio bought for it);
- the last step's test errors per speaker and per recording (with the LM where it helped);
- every recording transcribed: its length, utterances and words found, its output files, and,
  given the truth, the CER and WER of its whole transcript in time order against the words
  spoken (recordings of the training set marked: they flatter);
- alignment of the annotations, given the truth: each aligned utterance's start and end against
  the true ones of the utterance it covers most, the share within 20 and 50 ms and the mean and
  median error.

Writes ``<out>.md``, ``<out>.html`` (self-contained) and ``<out>.json``.
"""

from __future__ import annotations

import html
import json
import logging
import re
from collections import defaultdict
from pathlib import Path

import numpy as np

from speechxl.atomic import atomic_write
from speechxl.data.manifest import read_manifest
from speechxl.data.validate import REJECTS_SUFFIX, read_rejects
from speechxl.eval.metrics import Counts, align, views
from speechxl.eval.tables import md_table
from speechxl.text.orthography import Orthography

log = logging.getLogger(__name__)
NUMBER = re.compile(r"[\d.]+( %| ms)?")  # right-aligned in the page
STYLE = ("body{font-family:system-ui,sans-serif;margin:2em;max-width:70em}table{border-collapse:collapse;"
         "margin:.5em 0 1.5em}td,th{border:1px solid #ccc;padding:.25em .6em;text-align:left}td.n{text-align:right}"
         "th{background:#f4f4f4}caption{text-align:left;color:#555;padding:.3em 0}")


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise ValueError(f"{path}: not readable ({e}); did the stage that writes it finish?") from None


def _rows(decode_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (decode_dir / "hyp.jsonl").read_text(encoding="utf-8").splitlines() if line]


def _rate(report: dict, metric: str) -> float | None:
    s = report["scores"].get(metric)
    return s["overall"]["rate"] if s else None


def _pct(x: float | None) -> str:
    return "" if x is None else f"{100 * x:.1f}"


def step_rows(steps: dict[str, Path]) -> list[dict]:
    """Per step: test CER/WER greedy and with the LM, the dev error greedy and with the tuned LM."""
    out = []
    for label, exp in steps.items():
        greedy, lm = _read_json(exp / "decode_test" / "report.json"), _read_json(exp / "decode_test_lm" / "report.json")
        info = lm["decode"]
        best = min(g["error_rate"] for g in info["tuning_grid"])
        out.append({"step": label, "model": str(exp), "cer": _rate(greedy, "CER"), "cer_lm": _rate(lm, "CER"),
                    "wer": _rate(greedy, "WER"), "wer_lm": _rate(lm, "WER"),
                    "dev_wer": info["tuning_greedy_error_rate"], "dev_wer_lm": best,
                    "lm_kept": bool(info["lm_lowers_tuning_error"])})
    return out


def step_speaker_rows(steps: dict[str, Path], speaker: dict[str, str]) -> list[dict]:
    """Per step: test CER per speaker (``speaker`` maps an utterance id to it), greedy and with the LM."""
    out = []
    for label, exp in steps.items():
        greedy, lm = ({g["name"]: g["cer"] for g in by_group(_rows(exp / d), speaker)}
                      for d in ("decode_test", "decode_test_lm"))
        out.append({"step": label, "speakers": {name: {"cer": greedy.get(name), "cer_lm": lm.get(name)}
                                                for name in sorted(greedy | lm)}})
    return out


def by_group(rows: list[dict], group: dict[str, str]) -> list[dict]:
    """CER and WER of hypothesis rows per group (a speaker, a recording): ``group`` maps an utterance id to it."""
    counts: dict[str, dict[str, Counts]] = defaultdict(lambda: {"CER": Counts(), "WER": Counts()})
    for r in rows:
        for metric, (ref, hyp) in views(r, "chars").items():
            counts[group.get(r["id"], "?")][metric].add(align(ref, hyp)[0])
    return [{"name": name, "utterances": c["CER"].utterances, "words": c["WER"].ref, "cer": c["CER"].rate,
             "wer": c["WER"].rate} for name, c in sorted(counts.items())]


def _timed(tsv: Path, level: str) -> list[tuple[str, float, float, str]]:
    """(tier, start, end, text) of the rows of one level of a timed-text TSV (decode.timed_text)."""
    rows = [line.split("\t") for line in tsv.read_text(encoding="utf-8").splitlines()[1:] if line]
    return [(r[1], float(r[2]), float(r[3]), r[5]) for r in rows if r[0] == level]


def _truth(path: Path) -> list[tuple[str, float, float, str]]:
    """(speaker, start, end, text) of a truth file, in time order."""
    rows = [line.split("\t") for line in path.read_text(encoding="utf-8").splitlines()[1:] if line]
    return sorted(((r[0], float(r[1]), float(r[2]), r[3]) for r in rows), key=lambda r: r[1])


def transcribed_rows(folder: Path, truth: Path | None, rules: Orthography, lang: str,
                     roles: dict[str, str]) -> list[dict]:
    """Per recording transcribed: what was found, its files, and (given the truth) its errors."""
    out = []
    for tsv in sorted(folder.glob("*.tsv")):
        name = tsv.stem
        utts = _timed(tsv, "utterance")
        row = {"recording": name, "role": roles.get(name, "untranscribed"), "utterances": len(utts),
               "words": sum(len(t.split()) for *_, t in utts),
               "files": [str(p) for p in sorted(folder.glob(f"{name}.*"))], "cer": None, "wer": None}
        true = truth / f"{name}.tsv" if truth else None
        if true and true.is_file():
            spoken = _truth(true)
            ref = " ".join(t for t in (rules.normalize(text, lang) for *_, text in spoken) if t)
            hyp = " ".join(t for *_, t in sorted(utts, key=lambda u: u[1]) if t)
            for metric, (r, h) in views({"ref": ref, "hyp": hyp}, "chars").items():
                row[metric.lower()] = align(r, h)[0].rate
        out.append(row)
    return out


def alignment_accuracy(folder: Path, truth: Path) -> dict:
    """Aligned utterances' boundaries against the true ones of the utterance each overlaps most."""
    errors, per_recording = [], {}
    for tsv in sorted(p for p in folder.glob("*.tsv") if not p.name.endswith(REJECTS_SUFFIX)):
        true = truth / f"{tsv.stem}.tsv"
        if not true.is_file():
            continue
        spoken, mine = _truth(true), []
        for _, a, b, _ in _timed(tsv, "utterance"):
            overlap = [(min(b, e) - max(a, s), s, e) for _, s, e, _ in spoken]
            best = max(overlap)
            if best[0] > 0:
                mine += [abs(a - best[1]), abs(b - best[2])]
        per_recording[tsv.stem] = len(mine) // 2
        errors += mine
    err = np.array(errors)
    if not err.size:
        return {}
    return {"utterances": int(err.size // 2), "boundaries": int(err.size), "recordings": per_recording,
            "within_20ms": float(np.mean(err <= 0.02)), "within_50ms": float(np.mean(err <= 0.05)),
            "mean_ms": float(1000 * err.mean()), "median_ms": float(1000 * np.median(err))}


def fieldwork_report(steps: dict[str, Path], test: Path, transcribed: Path, aligned: Path | None, out: Path,
                     truth: Path | None = None) -> dict:
    """Write the report (see the module doc); returns its JSON content."""
    info = _read_json(test / "info.json")
    lang = next(iter(info["languages"]), "")
    rules = Orthography(**{k: (tuple(v) if isinstance(v, list) else v) for k, v in info.get("orthography", {}).items()})
    utts = read_manifest(test)
    steps_table = step_rows(steps)
    last = steps_table[-1]
    final = steps[last["step"]] / ("decode_test_lm" if last["lm_kept"] else "decode_test")
    rows = _rows(final)
    speaker_of = {u.id: u.speaker for u in utts}
    speakers = by_group(rows, speaker_of)
    per_speaker = step_speaker_rows(steps, speaker_of)
    recordings = by_group(rows, {u.id: u.recording or u.id for u in utts})
    sets = [role for role in ("train", "dev", "test") if (test.parent / role / "utts.jsonl").is_file()]
    roles = {u.recording: role for role in sets for u in read_manifest(test.parent / role)}
    done = transcribed_rows(transcribed, truth, rules, lang, roles)
    accuracy = alignment_accuracy(aligned, truth) if aligned and truth else {}
    unaligned = [r for f in sorted(aligned.glob(f"*{REJECTS_SUFFIX}")) for r in read_rejects(f)] if aligned else []
    dev = test.parent / "dev"
    held_out = {"test": len(utts), "dev": len(read_manifest(dev)) if (dev / "utts.jsonl").is_file() else 0}
    report = {"steps": steps_table, "step_speakers": per_speaker, "final": str(final), "speakers": speakers,
              "recordings": recordings, "transcribed": done, "alignment": accuracy, "split": info.get("split"), "utterances": held_out,
              "not_aligned": [{"annotation": r.source, "reason": r.reason, "detail": r.detail} for r in unaligned]}

    sections = []
    sections.append(("Each step of the adaptation, on the test set",
                     "CER and WER in % on " + f"{len(utts)} test utterances, dev figures on {held_out['dev']} "
                     f"({info.get('split', '')}); each step "
                     "a model fine-tuned the same way; the LM is tuned on dev, and kept for transcription where it "
                     "lowered the dev WER.",
                     ["step", "CER", "CER + LM", "WER", "WER + LM", "dev WER", "dev WER + LM", "LM kept", "model"],
                     [[s["step"], _pct(s["cer"]), _pct(s["cer_lm"]), _pct(s["wer"]), _pct(s["wer_lm"]),
                       _pct(s["dev_wer"]), _pct(s["dev_wer_lm"]), "yes" if s["lm_kept"] else "no", s["model"]]
                      for s in steps_table]))
    names = [g["name"] for g in speakers]
    sections.append(("Each step per test speaker", "CER in % on each speaker's test utterances, greedy and with "
                     "the LM; a speaker heard in no training set, only in untranscribed audio, shows what "
                     "continued pretraining on that audio bought.",
                     ["step"] + [f"{n} {kind}" for n in names for kind in ("CER", "CER + LM")],
                     [[r["step"]] + [_pct(r["speakers"].get(n, {}).get(key)) for n in names for key in ("cer", "cer_lm")]
                      for r in per_speaker]))
    for title, groups in (("speaker", speakers), ("recording", recordings)):
        sections.append((f"The last step per {title}", f"{final}: CER and WER in %.",
                         [title, "utterances", "words", "CER", "WER"],
                         [[g["name"], str(g["utterances"]), str(g["words"]), _pct(g["cer"]), _pct(g["wer"])]
                          for g in groups]))
    truth_note = (" CER and WER of each whole transcript, in time order, against the words spoken (truth); "
                  "recordings of the training set flatter the model." if truth else "")
    sections.append(("Recordings transcribed", f"{transcribed}: utterances found by the voice activity "
                     f"detector, transcribed by the last step's model.{truth_note}",
                     ["recording", "set", "utterances", "words", "CER", "WER", "files"],
                     [[d["recording"], d["role"], str(d["utterances"]), str(d["words"]), _pct(d["cer"]),
                       _pct(d["wer"]), " ".join(Path(f).name for f in d["files"])] for d in done]))
    if accuracy:
        sections.append(("Alignment of the annotations", f"{aligned}: each annotated utterance aligned inside its "
                         "own span; its start and end against the true ones.",
                         ["utterances", "within 20 ms", "within 50 ms", "mean error", "median error"],
                         [[str(accuracy["utterances"]), f"{100 * accuracy['within_20ms']:.0f} %",
                           f"{100 * accuracy['within_50ms']:.0f} %", f"{accuracy['mean_ms']:.0f} ms",
                           f"{accuracy['median_ms']:.0f} ms"]]))
    if unaligned:
        sections.append(("Annotations not aligned", f"{aligned}: left out of the alignment, every other annotation "
                         "was aligned (each recording's <name>.rejects.tsv).", ["annotation", "why"],
                         [[r.source, r.detail] for r in unaligned]))
    title = "Fieldwork recipe report"
    md = [f"# {title}", ""]
    for name, note, head, table in sections:
        md += [f"## {name}", "", note, ""] + md_table(head, table) + [""]
    e = html.escape
    page = [f"<!doctype html><meta charset='utf-8'><title>{title}</title><style>{STYLE}</style><h1>{title}</h1>"]
    for name, note, head, table in sections:
        page += [f"<h2>{e(name)}</h2><table><caption>{e(note)}</caption><tr>"
                 + "".join(f"<th>{e(h)}</th>" for h in head) + "</tr>"]
        page += ["<tr>" + "".join(f"<td class=n>{e(c)}</td>" if NUMBER.fullmatch(c) else f"<td>{e(c)}</td>"
                                  for c in r) + "</tr>" for r in table]
        page.append("</table>")
    out = Path(out)
    atomic_write(out.with_suffix(".md"), "\n".join(md))
    atomic_write(out.with_suffix(".html"), "\n".join(page) + "\n")
    atomic_write(out.with_suffix(".json"), json.dumps(report, ensure_ascii=False, indent=1) + "\n")
    log.info("fieldwork report: %s (.html, .json)", out.with_suffix(".md"))
    return report
