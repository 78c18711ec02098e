"""The README.md of a Hugging Face export: the Hub's model card (YAML metadata, then prose).

What it says is read from what the run left: the languages (the model's per-language units, else
its training sets' info.json), the training data (each set's hours and speakers), the figures of
every scored decode of the exported checkpoint (report.json, with the decode's command), the
LM when one is included, the versions and the checkpoint it came from. Nothing is asked of the
user but the license, which only they know (``--license``; the Hub's ``unknown`` otherwise).
"""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from speechxl.data.manifest import MANIFEST, read_manifest
from speechxl.eval.tables import md_cell, md_code
from speechxl.published import project_folder, public_command, public_path
from speechxl.versions import versions


def _set_info(data: str, base: Path) -> dict:
    """A data set's info.json (a set without one: its languages from the manifest)."""
    for root in (Path.cwd(), base):
        if (root / data / "info.json").is_file():
            return json.loads((root / data / "info.json").read_text(encoding="utf-8"))
        if (root / data / MANIFEST).is_file():
            return {"languages": {u.lang: {} for u in read_manifest(root / data)}}
    return {}


def scored_decodes(exp: Path, checkpoint: Path) -> list[dict]:
    """report.json of every decode dir of ``exp`` that decoded ``checkpoint`` (by its weights' path)."""
    out = []
    for p in sorted(exp.glob("*/report.json")):
        r = json.loads(p.read_text(encoding="utf-8"))
        if Path(r["decode"]["model"]["checkpoint"]).resolve() == checkpoint.resolve() and not r["decode"]["model"].get("averaged"):
            out.append({**r, "name": p.parent.name})
    return out


def model_card(*, name: str, family: str, fine_tuned: bool, checkpoint: Path, exp: Path, step: int,
               training_data: list[str], languages: list[str], units: str | None, lm: str | None,
               license: str, cut_from: list[str] | None = None, stack_quirk: int | None = None,
               keep_paths: bool = False) -> str:
    """The README.md text. ``cut_from``: the languages of the model a one-language export
    (``languages``, one) was cut from; its figures are that language's. ``stack_quirk``: the frames
    a log-mel model stacks, where transformers' extractor pads differently (not 2). Paths (the
    checkpoint, the training data, the decodes' commands) are relative to the project folder the
    experiment is in, or their last part, unless ``keep_paths``."""
    root = project_folder(exp)
    shown = (lambda p: str(p)) if keep_paths else (lambda p: public_path(p, root))  # noqa: E731
    command = (lambda c: c) if keep_paths else (lambda c: public_command(c, root))  # noqa: E731
    infos = {d: _set_info(d, root) for d in training_data}
    if not languages:
        languages = sorted({lang for i in infos.values() for lang in i.get("languages", {})})
    reports = scored_decodes(exp, checkpoint) if fine_tuned else []

    def rates(s: dict) -> list[tuple[str | None, dict]]:  # (language or None for all, counts) of one score
        if cut_from:
            return [(lang, c) for lang, c in s["languages"].items() if lang in languages]
        return [(None, s["overall"])] + (list(s["languages"].items()) if len(s["languages"]) > 1 else [])

    results = []
    for r in reports:
        for metric, s in r["scores"].items():
            for lang, c in rates(s):
                results.append({"task": {"type": "automatic-speech-recognition"},
                                "dataset": {"name": Path(r["decode"]["data"]).name + (f" ({lang})" if lang else ""),
                                            "type": "speechxl"},
                                "metrics": [{"type": metric.lower(), "value": round(100 * c["rate"], 2),
                                             "name": f"{metric} ({r['name']})"}]})
    meta = {"language": languages, "license": license, "library_name": "transformers",
            "pipeline_tag": "automatic-speech-recognition" if fine_tuned else "feature-extraction",
            "tags": ["speechxl", family, "ctc" if fine_tuned else "self-supervised"]}
    if results:
        meta["model-index"] = [{"name": name, "results": results}]
    what = (f"a {family} model fine-tuned with CTC to recognise {units} in {', '.join(languages)}" if fine_tuned
            else f"a {family} model pretrained without transcripts on speech in {', '.join(languages) or '(unrecorded)'}; "
                 "fine-tune it before it can transcribe")
    md = ["---", yaml.safe_dump(meta, allow_unicode=True, sort_keys=False).rstrip(), "---", "", f"# {name}", "",
          f"{what.capitalize()}. Made with speechxl from checkpoint `{checkpoint.name}` "
          f"(step {step}) of `{exp.name}`." + (
              f" Exported for {languages[0]} alone from a model of {', '.join(cut_from)}: its CTC head keeps "
              f"{languages[0]}'s units, as speechxl's decoding of {languages[0]} does." if cut_from else ""), ""]
    md += ["## Training data", "", "| set | language | hours | speakers |", "|---|---|---|---|"]
    for d, info in infos.items():
        rows = info.get("languages") or {"?": {}}
        md += [f"| {md_code(shown(d))} | {md_cell(lang)} | {s.get('hours', '?')} | {s.get('speakers', '?')} |"
               for lang, s in rows.items()]
    if fine_tuned:
        md += ["", "## Results", ""]
        if reports:
            columns = [lang or "all" for lang, _ in rates(next(iter(reports[0]["scores"].values())))]
            md += ["Error rates (%) of the scored decodes of this checkpoint, as `speechxl score` reported them:", "",
                   "| decode | data | search | metric | " + " | ".join(columns) + " |", "|---" * (4 + len(columns)) + "|"]
            for r in reports:
                for metric, s in r["scores"].items():
                    cells = {lang or "all": f"{100 * c['rate']:.2f}" for lang, c in rates(s)}
                    md.append(f"| {md_cell(r['name'])} | {md_cell(Path(r['decode']['data']).name)} | "
                              f"{md_cell(r['decode']['search'])} | {metric} | "
                              + " | ".join(cells.get(col, "") for col in columns) + " |")
            md += ["", "Commands:", ""] + [
                f"- {md_cell(r['name'])}: " + (md_code(command(r['decode']['command'])) if r['decode'].get('command')
                                               else "(Python API)") for r in reports]
        else:
            md.append("No scored decode of this checkpoint (`speechxl decode` then `speechxl score` adds them).")
        md += ["", "## Use", "", "```python", "from transformers import pipeline", "",
               f'asr = pipeline("automatic-speech-recognition", model="{name}")', 'print(asr("audio.wav")["text"])',
               "```", ""]
        if stack_quirk:
            md += ["transformers' `SeamlessM4TFeatureExtractor` pads an utterance to an even number of 10 ms frames "
                   f"before stacking {stack_quirk}: some lengths then get one more output frame, part padding, which "
                   "speechxl drops, and the pipeline's output can differ at the end of those utterances. The extractor called with `pad_to_multiple_of=None` gives speechxl's frames.", ""]
        if lm:
            md += [f"The n-gram LM {md_code(Path(lm).name)} is included in pyctcdecode's layout "
                   "(`alphabet.json`, `language_model/`): "
                   "with pyctcdecode and kenlm installed the pipeline decodes with it "
                   "(`Wav2Vec2ProcessorWithLM`); without them it decodes greedily.", ""]
    else:
        md += ["", "## Use", "", "```python", "from transformers import AutoModel", "",
               f'model = AutoModel.from_pretrained("{name}")', "```", "",
               f"or continue with speechxl: `speechxl finetune ... init={name}`.", ""]
    v = versions()
    md += ["## Provenance", "", f"- speechxl {v['speechxl']} (git `{v['git_commit']}`), torch {v['torch']}",
           f"- checkpoint: {md_code(shown(checkpoint.resolve()))}", ""]
    return "\n".join(md)


def text_model_card(*, name: str, checkpoint: Path, exp: Path, step: int, text: dict, license: str,
                    keep_paths: bool = False) -> str:
    """The README.md of an exported text encoder (``pretrain-text``); ``text``: its text.json (sentences
    and tokens per language)."""
    languages = sorted(text.get("train", {}))
    shown = checkpoint.resolve() if keep_paths else public_path(checkpoint.resolve(), project_folder(exp))
    meta = {"language": languages, "license": license, "library_name": "transformers", "pipeline_tag": "fill-mask",
            "tags": ["speechxl", "xlm-roberta", "masked-language-model"]}
    md = ["---", yaml.safe_dump(meta, allow_unicode=True, sort_keys=False).rstrip(), "---", "", f"# {name}", "",
          f"An XLM-R text encoder pretrained by masked language modelling on text in {', '.join(languages)}. Made "
          f"with speechxl (`speechxl pretrain-text`) from checkpoint `{checkpoint.name}` (step {step}) of "
          f"`{exp.name}`.", "", "## Training text", "", "| language | sentences | tokens |", "|---|---|---|"]
    md += [f"| {md_cell(lang)} | {n} | {tokens} |" for lang, (n, tokens) in sorted(text.get("train", {}).items())]
    md += ["", f"{text.get('valid', 0)} sentences held out for validation.", "", "## Use", "", "```python",
           "from transformers import pipeline", "", f'fill = pipeline("fill-mask", model="{name}")',
           'print(fill("bon dia a <mask>"))', "```", ""]
    v = versions()
    md += ["## Provenance", "", f"- speechxl {v['speechxl']} (git `{v['git_commit']}`), torch {v['torch']}",
           f"- checkpoint: {md_code(shown)}", ""]
    return "\n".join(md)
