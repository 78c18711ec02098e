"""Does text help? The joint speech-text issue's comparison on the CommonVoice demo.

    python tools/compare_joint.py --data egs/commonvoice/data --out exp_joint [--minutes 8] [--seeds 0 1]

Run after stages 0-2 of ``egs/commonvoice/run.sh`` (data/, its lang dirs and LMs). For each seed,
at equal pretraining wall time (``--minutes``, ``train.max_minutes``):

  (a) speech-only w2v-BERT (recipes/pretrain/w2v_bert_tiny.yaml)
  (c) joint speech-text, mSLAM (recipes/pretrain/mslam_tiny.yaml: speech, the LM text, the
      transcribed training set)
  (e) (c) with a text encoder distilled into it (init.text= a pretrain-text model of the LM text,
      recipes/text/xlmr_tiny.yaml, trained once)

each fine-tuned the same way (recipes/finetune/ctc_tiny.yaml): phones on the full training set,
characters from that phone model (the demo recipe's way), and phones on a low-resource subset
(``--low_minutes`` of transcribed speech per language); each decoded on the test set greedily
((a), (c), (e)) and with the LM tuned on dev ((b) = (a) + LM, (d) = (c) + LM; the phone LM for
phones, the word LM for characters). Writes ``<out>/results.json`` and ``<out>/results.md``: PER per
language and CER, the mean over seeds with each seed's figure. A finished step is skipped on a
re-run (its output is there).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PRESETS = {"a": "recipes/pretrain/w2v_bert_tiny.yaml", "c": "recipes/pretrain/mslam_tiny.yaml",
           "e": "recipes/pretrain/mslam_tiny.yaml"}
NAMES = {"a": "(a) speech-only w2v-BERT", "b": "(b) (a) + LM", "c": "(c) joint speech-text", "d": "(d) (c) + LM",
         "e": "(e) joint + text encoder", "f": "(e) + LM"}


def speechxl(*args) -> None:
    cmd = [sys.executable, "-m", "speechxl", *map(str, args)]
    print("+", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True)


def low_resource(data: Path, minutes: float, out: Path, seed: int = 0) -> Path:
    """About ``minutes`` of each language's transcribed training speech, drawn at random (a data set)."""
    if not (out / "utts.jsonl").is_file():
        speechxl("subset", data / "train", "--minutes", minutes, "--seed", seed, "--out", out)
    return out


def pretrain(method: str, seed: int, data: Path, exp: Path, minutes: float, text_model: Path, extra: list[str]) -> Path:
    out = exp / f"pretrain_{method}_s{seed}"
    if _finished(out):
        return out
    args = [f"train.seed={seed}", f"train.max_minutes={minutes}", "train.max_steps=1000000", f"valid_data={data / 'dev'}",
            f"out={out}"]
    if method == "a":
        args.append(f"data={data / 'pretrain'}")
    else:
        args += ["units=chars", f"streams.speech.data={data / 'pretrain'}", f"streams.text.data={data / 'lm_text'}",
                 f"streams.paired.data={data / 'train'}"]
    if method == "e":
        args.append(f"init.text={text_model}")
    speechxl("pretrain", "--config", ROOT / PRESETS[method], *args, *extra)
    return out


def _finished(out: Path) -> bool:
    return (out / "train.log").is_file() and "best checkpoint" in (out / "train.log").read_text(encoding="utf-8")


def finetune(init: Path, units: str, train: Path, data: Path, out: Path, seed: int, extra: list[str]) -> Path:
    if not _finished(out):
        speechxl("finetune", "--config", ROOT / "recipes/finetune/ctc_tiny.yaml", f"init={init}", f"units={units}",
                 f"data={train}", f"valid_data={data / 'dev'}", f"out={out}", f"train.seed={seed}",
                 f"lang_dir={data / ('lang_phone' if units == 'phones' else 'lang_char')}", *extra)
    return out


def decoded(model: Path, data: Path, lm: Path | None) -> dict:
    """report.json of the model's test decode (greedy, or with ``lm`` tuned on dev)."""
    out = model / ("decode_test_lm" if lm else "decode_test")
    if not (out / "report.json").is_file():
        speechxl("decode", model, data / "test", "--out", out, *(["--lm", lm, "--tune_on", data / "dev"] if lm else []))
        speechxl("score", out)
    return json.loads((out / "report.json").read_text(encoding="utf-8"))


def figures(report: dict, metric: str) -> dict[str, float]:
    s = report["scores"][metric]
    return {**{lang: round(100 * c["rate"], 2) for lang, c in s["languages"].items()},
            "all": round(100 * s["overall"]["rate"], 2)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", type=Path, required=True)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--minutes", type=float, default=8.0, help="pretraining wall time of each model")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    p.add_argument("--low_minutes", type=float, default=2.0, help="transcribed minutes per language, low-resource")
    p.add_argument("--pretrain_args", default="", help="extra overrides of every pretraining (a smoke test's sizes)")
    p.add_argument("--text_args", default="", help="extra overrides of the text encoder's pretraining")
    p.add_argument("--finetune_args", default="", help="extra overrides of every fine-tuning")
    p.add_argument("--table_only", action="store_true", help="write results.md from <out>/results.json, run nothing")
    args = p.parse_args()
    if args.table_only:
        write_table(json.loads((args.out / "results.json").read_text(encoding="utf-8")), args.out / "results.md", args)
        return
    pre_x, text_x, ft_x = args.pretrain_args.split(), args.text_args.split(), args.finetune_args.split()
    data, exp = args.data.resolve(), args.out.resolve()
    text_model = exp / "text"
    if not _finished(text_model):
        speechxl("pretrain-text", "--config", ROOT / "recipes/text/xlmr_tiny.yaml", f"data={data / 'lm_text'}",
                 f"out={text_model}", *text_x)
    low = low_resource(data, args.low_minutes, exp / "train_low")
    results: dict = {}
    for seed in args.seeds:
        for method in ("a", "c", "e"):
            pre = pretrain(method, seed, data, exp, args.minutes, text_model, pre_x)
            phones = finetune(pre, "phones", data / "train", data, exp / f"ctc_phones_{method}_s{seed}", seed, ft_x)
            chars = finetune(phones, "chars", data / "train", data, exp / f"ctc_chars_{method}_s{seed}", seed, ft_x)
            low_phones = finetune(pre, "phones", low, data, exp / f"ctc_phones_low_{method}_s{seed}", seed, ft_x)
            with_lm = {"a": "b", "c": "d", "e": "f"}[method]
            for row, phone_lm, word_lm in ((method, None, None), (with_lm, data / "lang_phone" / "lm", data / "lang_word")):
                r = results.setdefault(row, {}).setdefault(str(seed), {})
                r["PER"] = figures(decoded(phones, data, phone_lm), "PER")
                r["CER"] = figures(decoded(chars, data, word_lm), "CER")
                r["PER_low"] = figures(decoded(low_phones, data, phone_lm), "PER")
            (exp / "results.json").write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    write_table(results, exp / "results.md", args)


def write_table(results: dict, path: Path, args) -> None:
    """One table per figure (PER, CER, PER after low-resource fine-tuning): a row per model, a column
    per language, each cell the mean over seeds with each seed's figure."""
    from speechxl.eval.tables import md_table

    seeds_done = sorted({seed for row in results.values() for seed in row}, key=int)
    md = [f"Test set, % (mean of seeds {', '.join(seeds_done)}; each seed's in brackets); pretraining "
          f"{args.minutes:g} min each; fine-tuned with recipes/finetune/ctc_tiny.yaml."]
    titles = {"PER": "PER (phones)", "CER": "CER (characters, fine-tuned from the phone model)",
              "PER_low": f"PER, phones fine-tuned on {args.low_minutes:g} min per language"}
    for metric, title in titles.items():
        langs = sorted({lang for row in results.values() for s in row.values() for lang in s[metric]} - {"all"})
        head = ["model"] + langs + ["all"]
        rows = []
        for row in sorted(results):
            seeds = results[row].values()

            def cell(lang: str) -> str:
                values = [s[metric][lang] for s in seeds if lang in s[metric]]
                return f"{statistics.mean(values):.1f} ({' / '.join(f'{v:.1f}' for v in values)})" if values else ""

            rows.append([NAMES[row]] + [cell(lang) for lang in langs + ["all"]])
        md += ["", f"### {title}", ""] + md_table(head, rows)
    path.write_text("\n".join(md) + "\n", encoding="utf-8")
    print("\n".join(md))


if __name__ == "__main__":
    main()
