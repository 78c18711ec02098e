"""The ``decode`` verb: transcribe a data set with a CTC model, greedily or by beam search + LM.

    speechxl decode exp/ctc_chars data/test                              # greedy
    speechxl decode exp/ctc_chars data/test --lm data/lang_word --tune_on data/dev
    speechxl decode exp/ctc_phones data/test --lm data/lang_phone/lm      # lexicon-free, unit LM

``--lm`` is a directory of per-language ARPA files (<lang>.arpa) or one ARPA file for all:
a word LM (data/lang_word) decodes with a lexicon of its words spelled in the model's units, a
unit LM (data/lang_<kind>/lm) decodes lexicon-free. ``--tune_on`` picks the LM weight and word
score that give the lowest error rate on another set (a grid), then decodes with them.
``--inventory`` (a phone model, a language it was not trained on) restricts the output to that
language's phones, mapping the model's phones onto them (``--map articulatory``, ``exact``, or an
edited phone_map.tsv; see speechxl.decode.phone_map). Otherwise each utterance of a training
language is decoded over that language's own units (the characters or phones of its training
text: a Greek utterance cannot come out in Devanagari); ``--all_units`` lets every language use
every unit.

Writes exp/<model>/decode_<set>[_<tag>]/: hyp.jsonl (per utterance: ids, language, audio,
reference and hypothesis as text and as units), score_<wer|cer|per>/ref.trn and hyp.trn for sclite
with exactly the tokens each metric scores (ref.trn and hyp.trn beside hyp.jsonl: the first
metric, WER, or PER for a phone model), decode.json (settings, the model and its provenance,
versions, timing).
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict
from pathlib import Path

import torch
from rapidfuzz.distance import Levenshtein
from tqdm import tqdm

from speechxl.atomic import atomic_write
from speechxl.data.batching import BatchConfig, BatchPlan, iterate
from speechxl.data.manifest import Utterance, read_manifest
from speechxl.decode.beam import BeamConfig, LexiconBeamDecoder, TokenBeamDecoder
from speechxl.decode.model import LoadedModel, load_model
from speechxl.decode.phone_map import MAX_DISTANCE, PhoneMap, read_inventory, restrict
from speechxl.eval.metrics import trn_files, views
from speechxl.models.ctc import greedy_ids
from speechxl.text.units import BLANK, UNK, WORD, Units
from speechxl.versions import versions
from speechxl.untrusted import inside

log = logging.getLogger(__name__)


def inference_plan(net: torch.nn.Module, utts: list[Utterance], max_samples: int = 960_000) -> BatchPlan:
    """Whole utterances in batches of similar length for a model's inference (one utterance at a time
    when its frontend's output depends on padding: see ConvFrontend.padding_exact)."""
    exact = net.backbone.frontend.padding_exact
    cfg = BatchConfig(max_samples=max_samples, max_seconds=max(u.duration for u in utts) + 1,
                      crop_to_shortest=False, max_utterances=0 if exact else 1)
    cfg.max_samples = max(cfg.max_samples, int(cfg.max_seconds * 16000))
    return BatchPlan(utts, cfg, seed=0, shuffle=False)


def emissions(model: LoadedModel, utts: list[Utterance], max_samples: int = 960_000
              ) -> dict[str, torch.Tensor]:
    """CTC log-probabilities (T, V) per utterance id, in batches of similar length (inference_plan); a model
    with language adapters (MMS) takes one language at a time."""
    groups = ({lang: [u for u in utts if u.lang == lang] for lang in sorted({u.lang for u in utts})}
              if model.adapters else {None: utts})
    out = {}
    bar = tqdm(total=len(utts), desc="emissions", unit="utt", dynamic_ncols=True, mininterval=2.0)
    for lang, group in groups.items():
        for batch in iterate(inference_plan(model.net, group, max_samples), 0, num_workers=1):
            lp, frames = model.log_probs(batch["wav"], batch["lengths"], lang)
            lp, frames = lp.cpu(), frames.cpu()  # the search runs on the CPU
            for uid, x, n in zip(batch["ids"], lp, frames.tolist()):
                out[uid] = x[:n].clone()
            bar.update(len(batch["ids"]))
    bar.close()
    return out


def own_units(model: LoadedModel, langs: list[str]) -> dict[str, torch.Tensor]:
    """(V,) masks of the units each of ``langs`` may output: its training inventory; a language
    the model was not trained on (or a BPE model) gets none and may use every unit."""
    masks = {lang: m for lang in langs if (m := model.own_units_mask(lang)) is not None}
    if model.language_units and (others := sorted(set(langs) - set(masks))):
        log.info("no training inventory for %s: their output may use every unit", " ".join(others))
    return masks


def keep_units(log_probs: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """log_probs (T, V) with the units outside ``mask`` (V,) at -inf, renormalised."""
    return log_probs.masked_fill(~mask, float("-inf")).log_softmax(-1)


def restrict_to_own_units(em: dict[str, torch.Tensor], utts: list[Utterance], masks: dict[str, torch.Tensor]
                          ) -> dict[str, torch.Tensor]:
    """Each utterance's log-probs (T, V) kept to its language's units (``own_units``)."""
    return {u.id: keep_units(em[u.id], masks[u.lang]) if u.lang in masks else em[u.id] for u in utts}


class Searcher:
    """Greedy, or beam search with one decoder per language (their LMs differ), over ``units``
    (the model's, or an inventory's when the output is restricted)."""

    def __init__(self, model: LoadedModel, lm: str | Path | None, beam: BeamConfig, units: Units | None = None):
        self.model, self.beam, self.lm = model, beam, Path(lm) if lm else None
        self.units = units or model.units
        self._decoders: dict[str, object] = {}

    def with_config(self, beam: BeamConfig) -> Searcher:
        """The same LMs and lexicons, other weights (for tuning)."""
        other = Searcher(self.model, self.lm, beam, self.units)
        other._decoders = {lang: d.with_config(beam) for lang, d in self._decoders.items()}
        return other

    def unfinished(self) -> int:
        """Utterances whose last word could not end (see LexiconBeamDecoder.unfinished)."""
        return sum(getattr(d, "unfinished", 0) for d in self._decoders.values())

    def text(self, ids: list[int]) -> str:
        return self.model.tokenizer.text(self.units.decode(ids))

    def _arpa(self, lang: str) -> Path:
        if self.lm.is_file():
            return self.lm
        if not lang:
            held = sorted(p.stem for p in self.lm.glob("*.arpa"))
            raise ValueError(f"{self.lm} holds one LM per language ({' '.join(held)}): "
                             "say which with --lang (lang= in Python)")
        path = self.lm / f"{lang}.arpa"
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no LM for language {lang!r} in {self.lm}")
        return path

    def decoder_for(self, lang: str):
        if lang not in self._decoders:
            arpa = self._arpa(lang)
            info = json.loads((arpa.parent / "info.json").read_text(encoding="utf-8")) if (arpa.parent / "info.json").is_file() else {}
            if info.get("kind") == "words":
                words = self.model.lexicon(arpa, lang)
                self._decoders[lang] = LexiconBeamDecoder(self.units, words, arpa, self.beam)
            else:
                self._decoders[lang] = TokenBeamDecoder(self.units, arpa, self.beam)
        return self._decoders[lang]

    def __call__(self, log_probs: torch.Tensor, lang: str) -> tuple[list[int], str]:
        """(unit ids, text) for log_probs (T, V)."""
        if self.lm is None:
            ids = greedy_ids(log_probs[None], torch.tensor([log_probs.shape[0]]))[0]
            return ids, self.text(ids)
        result = self.decoder_for(lang)(log_probs)
        if isinstance(result, tuple):  # lexicon decoding gives words
            return result[0], " ".join(result[1])
        return result, self.text(result)


def _error_rate(searcher: Searcher, em: dict[str, torch.Tensor], utts: list[Utterance],
                refs: dict[str, list[str]], kind: str) -> float:
    """The error rate ``speechxl score`` reports first for this unit kind (PER for phones, else
    WER), over ``utts`` with their references in units ``refs``."""
    metric = "PER" if kind == "phones" else "WER"
    errors = total = 0
    for u in utts:
        ids, text = searcher(em[u.id], u.lang)
        row = {"ref": u.text or "", "hyp": text, "ref_units": refs[u.id], "hyp_units": searcher.units.decode(ids)}
        ref, hyp = views(row, kind)[metric]
        errors += Levenshtein.distance(hyp, ref)
        total += len(ref)
    return errors / max(total, 1)


def phone_maps(model: LoadedModel, langs: list[str], inventory: str | Path, method: str, out: Path,
               max_distance: float = MAX_DISTANCE) -> dict[str, PhoneMap]:
    """Per language: the map of the model's phones onto its inventory (``inventory`` is a file for
    all, or a dir of <lang>.txt); each written to out/phone_map_<lang>.tsv. ``method`` is
    articulatory (phones farther than ``max_distance`` dropped), exact, an edited table, or a dir
    of phone_map_<lang>.tsv tables."""
    if model.kind != "phones":
        raise ValueError(f"--inventory needs a phone model; {model.checkpoint} predicts {model.kind}")
    model_phones = [s for s in model.units.symbols if s not in (BLANK, UNK, WORD)]
    maps = {}
    for lang in langs:
        inv = Path(inventory) / f"{lang}.txt" if Path(inventory).is_dir() else Path(inventory)
        if not inv.is_file():
            raise FileNotFoundError(f"{inv}: no phone inventory for language {lang!r}")
        phones = read_inventory(inv)
        table = Path(method) / f"phone_map_{lang}.tsv" if Path(method).is_dir() else Path(method)
        maps[lang] = (PhoneMap.load(table, phones) if table.is_file()
                      else PhoneMap.build(model_phones, phones, method, max_distance))
        maps[lang].save(inside(out, f"phone_map_{lang}.tsv"))
        if maps[lang].dropped():
            log.info("%s: %d model phones dropped (no inventory phone in %s, or none near enough): %s", lang,
                     len(maps[lang].dropped()), inv,
                     " ".join(maps[lang].dropped()[:20]))
    return maps


def tune(model: LoadedModel, lm: Path, beam: BeamConfig, dev: list[Utterance], all_units: bool = False,
         weights=(0.0, 0.25, 0.5, 1.0, 1.5, 2.0), scores=(-2.0, -1.0, 0.0, 1.0, 2.0)
         ) -> tuple[BeamConfig, list, float]:
    """The (lm_weight, word_score) of the grid with the lowest error rate on ``dev``: WER when the
    model writes words, PER for a phone model. A phone model's word score stays as given: it only
    moves word boundaries, which PER leaves out. The output units are restricted as the decode
    they tune for restricts them (``all_units``). Returns the tuned search, the grid and the
    greedy error rate on ``dev`` (what the LM has to beat)."""
    em = emissions(model, dev)
    if not all_units:
        em = restrict_to_own_units(em, dev, own_units(model, sorted({u.lang for u in dev})))
    refs = model.reference_units(dev)
    phones = model.kind == "phones"
    scores = (beam.word_score,) if phones else scores
    grid = []
    searcher = Searcher(model, lm, beam)
    for lang in sorted({u.lang for u in dev}):
        searcher.decoder_for(lang)  # load each language's LM once
    for w in weights:
        for s in scores:
            cfg = BeamConfig(**{**asdict(beam), "lm_weight": w, "word_score": s})
            grid.append((_error_rate(searcher.with_config(cfg), em, dev, refs, model.kind), w, s))
            log.info("tune: lm_weight %.2f word_score %+.1f -> %s %.4f", w, s, "PER" if phones else "WER",
                     grid[-1][0])
    best = min(grid)
    greedy = _error_rate(Searcher(model, None, beam), em, dev, refs, model.kind)
    log.info("tune: greedy -> %s %.4f; the LM %s", "PER" if phones else "WER", greedy,
             "lowers it" if best[0] < greedy else "does not lower it")
    return BeamConfig(**{**asdict(beam), "lm_weight": best[1], "word_score": best[2]}), grid, greedy


def search_of_decode(decode_dir: str | Path) -> tuple[str | None, BeamConfig]:
    """(LM, search settings) a decode dir's decode.json records: its LM and weights, or (None, the
    default search) where it searched greedily or its LM did not lower the error on its tuning set."""
    path = Path(decode_dir) / "decode.json"
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise ValueError(f"--lm_from {decode_dir}: no readable decode.json ({e})") from None
    if not info.get("lm"):
        log.info("%s searched greedily: so does this", decode_dir)
        return None, BeamConfig()
    if info.get("lm_lowers_tuning_error") is False:
        log.info("%s: the LM did not lower the error on %s (greedy %.4f): searching greedily", decode_dir,
                 info["tuned_on"], info["tuning_greedy_error_rate"])
        return None, BeamConfig()
    beam = BeamConfig(**info["beam"])
    log.info("%s: LM %s, lm_weight %.2f, word_score %+.1f", decode_dir, info["lm"], beam.lm_weight, beam.word_score)
    return info["lm"], beam


def _settings_tag(lm, beam: BeamConfig, tune_on, inventory, map_method: str, all_units: bool) -> str:
    """The decode dir's suffix: _lm, the phone map, and every search setting that differs from its
    default, so that two decodes with other settings never write into one dir."""
    tag = "_lm" if lm else ""
    if inventory:
        tag += f"_{Path(map_method).name if Path(map_method).exists() else map_method}"
    varied = ("beam", "beam_tokens", "beam_threshold") + (() if tune_on else ("lm_weight", "word_score"))
    if lm:
        tag += "".join(f"_{k}{getattr(beam, k):g}" for k in varied
                       if getattr(beam, k) != getattr(BeamConfig, k))
    return tag + ("_all_units" if all_units and not inventory else "")


def decode(model_dir: str | Path, data_dir: str | Path, out_dir: str | Path | None = None,
           lm: str | Path | None = None, beam: BeamConfig = BeamConfig(), tune_on: str | Path | None = None,
           lang_dir: str | Path | None = None, inventory: str | Path | None = None,
           map_method: str = "articulatory", max_distance: float = MAX_DISTANCE, all_units: bool = False,
           device: str = "cpu", average: int = 1, command: str | None = None, precision: str = "fp32") -> Path:
    """Decode ``data_dir`` with the model in ``model_dir`` (``average``: the mean weights of its newest
    N checkpoints; ``precision``: decode.model.PRECISIONS); returns the decode directory. ``command``:
    the command line that asked for it, recorded in decode.json."""
    model = load_model(model_dir, lang_dir, device, average, precision)
    utts = [u for u in read_manifest(data_dir)]
    if not utts:
        raise ValueError(f"{data_dir}: no utterances to decode")
    tag = (_settings_tag(lm, beam, tune_on, inventory, map_method, all_units)
           + (f"_avg{average}" if average > 1 else "") + (f"_{precision}" if precision != "fp32" else ""))
    if out_dir is None and model.card.provenance.get("imported_from") == "transformers":
        raise ValueError(f"{model_dir} is a transformers model dir, not an experiment: give --out for the decode dir")
    out = Path(out_dir) if out_dir else model.exp / f"decode_{Path(data_dir).name}{tag}"
    out.mkdir(parents=True, exist_ok=True)
    maps = (phone_maps(model, sorted({u.lang for u in utts}), inventory, map_method, out, max_distance)
            if inventory else {})
    grid = greedy = None
    if lm and tune_on:
        beam, grid, greedy = tune(model, Path(lm), beam, read_manifest(tune_on), all_units or bool(inventory))
        log.info("tuned on %s: lm_weight %.2f, word_score %+.1f", tune_on, beam.lm_weight, beam.word_score)
    t0 = time.time()
    em = emissions(model, utts)
    own = {}
    if maps:  # each language's phones only
        matrices = {lang: m.matrix(model.units) for lang, m in maps.items()}
        em = {u.id: restrict(em[u.id], matrices[u.lang]) for u in utts}
    elif not all_units:
        own = own_units(model, sorted({u.lang for u in utts}))
        em = restrict_to_own_units(em, utts, own)
    t_acoustic = time.time() - t0
    searchers = {lang: Searcher(model, lm, beam, maps[lang].units() if maps else None)
                 for lang in sorted({u.lang for u in utts})}
    refs = model.reference_units(utts)
    rows = []
    t1 = time.time()
    for u in tqdm(utts, desc="search", unit="utt", dynamic_ncols=True, mininterval=2.0):
        ids, text = searchers[u.lang](em[u.id], u.lang)
        rows.append({"id": u.id, "lang": u.lang, "audio": u.audio, "offset": u.offset, "duration": u.duration,
                     "ref": u.text or "", "hyp": text, "ref_units": refs[u.id],
                     "hyp_units": searchers[u.lang].units.decode(ids)})
    t_search = time.time() - t1
    unfinished = sum(s.unfinished() for s in searchers.values())
    if unfinished:
        log.warning("%d of %d utterances ended inside a word no lexicon entry could finish; their "
                    "hypotheses keep the words completed before it (a wider --beam may find more)",
                    unfinished, len(utts))
    audio_s = sum(u.duration for u in utts)
    atomic_write(out / "hyp.jsonl", "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    for i, (metric, (ref_trn, hyp_trn)) in enumerate(trn_files(rows, model.kind).items()):
        for d in ([out] if i == 0 else []) + [out / f"score_{metric.lower()}"]:  # top level: the first metric
            atomic_write(d / "ref.trn", ref_trn)
            atomic_write(d / "hyp.trn", hyp_trn)
    info = {
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "command": command, "versions": versions(),
        "model": model.describe(), "data": str(Path(data_dir).resolve()), "utterances": len(rows),
        "audio_hours": round(audio_s / 3600, 4), "search": "beam+lm" if lm else "greedy",
        "lm": str(Path(lm).resolve()) if lm else None, "beam": asdict(beam) if lm else None,
        "tuned_on": str(Path(tune_on).resolve()) if tune_on and lm else None,
        "inventory": str(Path(inventory).resolve()) if inventory else None,
        "own_units": {lang: int(m.sum()) for lang, m in own.items()},
        "phone_maps": {lang: {"method": m.method, "max_distance": max_distance, "inventory_size": len(m.target),
                              "dropped": m.dropped(),
                              "table": str((out / f"phone_map_{lang}.tsv").resolve())} for lang, m in maps.items()},
        "unfinished_last_word": unfinished,
        "tuning_grid": [{"error_rate": e, "lm_weight": w, "word_score": s} for e, w, s in grid] if grid else None,
        "tuning_greedy_error_rate": greedy,
        "lm_lowers_tuning_error": min(grid)[0] < greedy if grid else None,
        "seconds": {"acoustic": round(t_acoustic, 2), "search": round(t_search, 2)},
        "real_time_factor": round((t_acoustic + t_search) / max(audio_s, 1e-9), 4),
    }
    atomic_write(out / "decode.json", json.dumps(info, ensure_ascii=False, indent=1) + "\n")
    log.info("%s: %d utterances (%.2f h) decoded, RTF %.3f", out, len(rows), audio_s / 3600,
             info["real_time_factor"])
    return out
