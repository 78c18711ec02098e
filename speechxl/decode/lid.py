"""Language ID of a data set (``speechxl decode`` on a model fine-tuned with task lid).

Writes <decode dir>/lid.jsonl (per utterance: id, its language, the predicted one, its posterior,
and the posterior of every language the model knows) and decode.json; ``speechxl score`` turns them
into the report (speechxl.eval.lid_report). An utterance of a language the model was not trained on
is identified all the same (its neighbours: which known language it sounds like) and kept apart in
the report.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import torch
from tqdm import tqdm

from speechxl import checkpoint as ckpt
from speechxl.atomic import atomic_write
from speechxl.data.batching import iterate
from speechxl.data.manifest import read_manifest
from speechxl.decode.model import built_with_weights
from speechxl.decode.run import inference_plan
from speechxl.interop.hf_ctc import is_hf_ctc_dir
from speechxl.models.card import ModelCard
from speechxl.versions import versions

log = logging.getLogger(__name__)


def is_lid_model(model_dir: str | Path) -> bool:
    return not is_hf_ctc_dir(model_dir) and ModelCard.load(ckpt.find_checkpoint(model_dir)).task == "lid"


def identify(model_dir: str | Path, data_dir: str | Path, out_dir: str | Path | None = None, device: str = "cpu",
             command: str | None = None, max_samples: int = 960_000) -> Path:
    """The language of every utterance of ``data_dir``; returns the decode dir."""
    found = ckpt.find_checkpoint(model_dir)
    card = ModelCard.load(found)
    net = built_with_weights(card, found).eval().to(device)
    utts = read_manifest(data_dir)
    if not utts:
        raise ValueError(f"{data_dir}: no utterances to identify")
    exp = found.parent.parent if found.parent.name == "checkpoints" else found
    out = Path(out_dir) if out_dir else exp / f"decode_{Path(data_dir).name}"
    plan = inference_plan(net, utts, max_samples)
    by_id = {u.id: u for u in utts}
    languages = card.languages
    rows, t0 = [], time.time()
    with torch.inference_mode():
        for batch in tqdm(iterate(plan, 0, num_workers=1), total=len(plan.epoch(0)), desc="language ID", unit="batch",
                          dynamic_ncols=True, mininterval=2.0):
            post = net.posteriors(batch["wav"].to(device), batch["lengths"].to(device)).cpu()  # (B, L)
            for uid, p in zip(batch["ids"], post.tolist()):
                best = max(range(len(languages)), key=lambda i: p[i])
                rows.append({"id": uid, "lang": by_id[uid].lang, "predicted": languages[best],
                             "posterior": round(p[best], 6), "posteriors": dict(zip(languages, (round(x, 6) for x in p)))})
    seconds = time.time() - t0
    rows.sort(key=lambda r: r["id"])
    out.mkdir(parents=True, exist_ok=True)
    atomic_write(out / "lid.jsonl", "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    audio_s = sum(u.duration for u in utts)
    info = {"date": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "command": command, "versions": versions(),
            "model": {"checkpoint": str(found.resolve()), "family": card.family, "task": card.task,
                      "languages": languages, "provenance": card.provenance},
            "data": str(Path(data_dir).resolve()), "utterances": len(rows), "audio_hours": round(audio_s / 3600, 4),
            "search": "language ID", "real_time_factor": round(seconds / max(audio_s, 1e-9), 4)}
    atomic_write(out / "decode.json", json.dumps(info, ensure_ascii=False, indent=1) + "\n")
    log.info("%s: %d utterances identified, RTF %.3f", out, len(rows), info["real_time_factor"])
    return out
