"""Export a model as a transformers directory: a fine-tuned CTC model as ``Wav2Vec2ForCTC`` with its
processor (``Wav2Vec2ConformerForCTC``, ``Wav2Vec2BertForCTC``, ``HubertForCTC`` for those families), a
pretrained one as ``Wav2Vec2ForPreTraining`` (``Wav2Vec2ConformerForPreTraining``; w2v-BERT as
``Wav2Vec2BertModel``, HuBERT as ``HubertModel`` and UniSpeech as ``UniSpeechModel``, transformers
having no pretraining heads for them, or other ones), each with its model card
(README.md, ``decode/hf_card.py``).

    speechxl export-hf exp/ctc_chars out_dir [--lm data/lang_word --lang es] [--license cc-by-4.0]
    speechxl export-hf exp/pretrain_w2v_bert_tiny out_dir
    speechxl export-hf exp/text out_dir          # a text encoder (pretrain-text): XLMRobertaForMaskedLM
    # then, offline: Wav2Vec2ForCTC.from_pretrained(out_dir), Wav2Vec2Processor.from_pretrained(out_dir)

Models transformers has no class for (BEST-RQ, wav2vec 2.0 on log-mel frames) go through
``speechxl export-torch`` instead.

Files: config.json and model.safetensors (weights renamed by the interop table; the CTC head is
``lm_head``), vocab.json (the units, ``<blank>`` as ``<pad>``, transformers' CTC blank),
tokenizer_config.json and special_tokens_map.json (Wav2Vec2CTCTokenizer with "|" between words;
for phone models the phoneme tokenizer, which joins phones with spaces, without phonemising),
and preprocessor_config.json (waveform models: 16 kHz, the model's waveform normalisation;
w2v-BERT: SeamlessM4TFeatureExtractor, whose Kaldi fbank speechxl's log-mel frontend matches).
speechxl decodes an utterance of a language it was trained on with that language's units only; a
transformers model has no language input, so the export of a multilingual model chooses among all
units. ``--lang es`` exports the model as a recogniser of es alone: the CTC head cut to es's units
(the same choice speechxl's decoding makes) and the card's figures es's.
With ``--lm`` (an ARPA file, or a per-language LM dir and ``--lang``), the n-gram LM in the layout
transformers' ``Wav2Vec2ProcessorWithLM`` loads (pyctcdecode's ``alphabet.json`` and
``language_model/`` with ``attrs.json``, ``unigrams.txt`` and the ARPA file), weighted as the
newest decode of the exp with that LM tuned it (else the search defaults). pyctcdecode itself
pins numpy below 2, which speechxl's other dependencies exclude, so it is not installed here:
with it (and kenlm) the pipeline searches with the LM, without it greedily.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from speechxl import checkpoint as ckpt
from speechxl.atomic import atomic_write
from speechxl.config import from_dict, read_yaml
from speechxl.decode.beam import BeamConfig
from speechxl.decode.hf_card import model_card, text_model_card
from speechxl.decode.model import arpa_words, load_model
from speechxl.interop.hf_wav2vec2 import hf_model_type, save_hf
from speechxl.interop.hf_xlmr import save_xlmr
from speechxl.models.registry import saved_architecture
from speechxl.models.text_encoder import TextMLMConfig
from speechxl.text.xlmr_tokenizer import MODEL_FILE
from speechxl.text.units import BLANK, UNK, WORD

PRETRAINED = {"wav2vec2": "Wav2Vec2ForPreTraining", "wav2vec2-conformer": "Wav2Vec2ConformerForPreTraining",
              "wav2vec2-bert": "Wav2Vec2BertModel", "hubert": "HubertModel", "unispeech": "UniSpeechModel"}


def _preprocessor(frontend) -> dict:
    if hasattr(frontend, "n_mels"):  # log-mel frames: SeamlessM4T's Kaldi fbank, stacked
        return {"feature_extractor_type": "SeamlessM4TFeatureExtractor", "processor_class": "Wav2Vec2BertProcessor",
                "feature_size": frontend.n_mels, "num_mel_bins": frontend.n_mels, "sampling_rate": 16000,
                "stride": frontend.stack, "padding_side": "right", "padding_value": 0.0, "return_attention_mask": True}
    return {"feature_extractor_type": "Wav2Vec2FeatureExtractor", "processor_class": "Wav2Vec2Processor",
            "feature_size": 1, "sampling_rate": 16000, "padding_side": "right", "padding_value": 0.0,
            "do_normalize": frontend.normalize_waveform, "return_attention_mask": frontend.norm == "layer"}


def _no_counterpart(family: str, cfg) -> ValueError:
    return ValueError(f"{family} models with a {cfg.frontend.type} frontend and a {cfg.encoder.type} encoder have "
                      "no transformers counterpart to export to: speechxl export-torch writes them as a torch.export "
                      "program")


def one_language(m, lang: str) -> tuple[list[int], dict]:
    """The unit ids ``lang`` may output (its training inventory, as speechxl's decoding keeps it
    to) and the model's state with the CTC head cut to them."""
    mask = m.own_units_mask(lang)
    if mask is None:
        raise ValueError(f"--lang {lang}: the model has no unit inventory for {lang} (it has: "
                         f"{' '.join(sorted(m.language_units)) or 'none, BPE units are shared'})")
    keep = mask.nonzero().squeeze(1)
    state = m.net.state_dict()
    state.update({k: state[k][keep] for k in ("head.weight", "head.bias")})
    return keep.tolist(), state


def hf_vocab(units, ids) -> dict[str, int]:
    """transformers' vocabulary of the units ``ids`` (in that order), ``<blank>`` as ``<pad>``."""
    return {("<pad>" if units.symbols[i] == BLANK else units.symbols[i]): n for n, i in enumerate(ids)}


def export_ctc(m, out_dir: str | Path, lang: str | None = None) -> Path:
    """The transformers CTC dir of a loaded fine-tuned model (``decode.model.load_model``); with
    ``lang``, a recogniser of that language alone (``one_language``)."""
    ids, state = one_language(m, lang) if lang else (range(len(m.units)), m.net.state_dict())
    vocab = hf_vocab(m.units, ids)
    frontend = m.card.model.frontend
    extra = {"vocab_size": len(vocab), "pad_token_id": 0, "bos_token_id": None, "eos_token_id": None,
             "ctc_loss_reduction": "sum", "ctc_zero_infinity": True, "final_dropout": m.card.ctc.final_dropout,
             "mask_time_prob": m.card.ctc.mask_time.prob, "mask_time_length": m.card.ctc.mask_time.length,
             "mask_feature_prob": m.card.ctc.mask_channel.prob,
             "mask_feature_length": m.card.ctc.mask_channel.length}
    model_type = hf_model_type(m.card.model)
    if model_type is None:
        raise _no_counterpart(m.card.family, m.card.model)
    architecture = {"wav2vec2": "Wav2Vec2ForCTC", "wav2vec2-conformer": "Wav2Vec2ConformerForCTC",
                    "wav2vec2-bert": "Wav2Vec2BertForCTC", "hubert": "HubertForCTC",
                    "unispeech": "UniSpeechForCTC"}[model_type]
    out = save_hf(state, m.card.model, out_dir, architecture, extra)
    tokenizer = {"unk_token": UNK, "pad_token": "<pad>", "bos_token": None, "eos_token": None,
                 "do_lower_case": False, "model_max_length": 1_000_000}
    if m.kind == "phones":
        tokenizer.update(tokenizer_class="Wav2Vec2PhonemeCTCTokenizer", do_phonemize=False,
                         word_delimiter_token=WORD, phone_delimiter_token=" ")
    else:
        tokenizer.update(tokenizer_class="Wav2Vec2CTCTokenizer",
                         word_delimiter_token=WORD if WORD in m.units else None)
    files = {
        "vocab.json": vocab,
        "tokenizer_config.json": tokenizer,
        "special_tokens_map.json": {"unk_token": UNK, "pad_token": "<pad>"},
        "preprocessor_config.json": _preprocessor(frontend),
    }
    for name, content in files.items():
        atomic_write(out / name, json.dumps(content, ensure_ascii=False, indent=2) + "\n")
    return out


def export_pretrained(found: Path, out_dir: str | Path) -> tuple[Path, str]:
    """The transformers dir of a pretraining checkpoint; (dir, family)."""
    family, cfg = saved_architecture(found)
    model_type = hf_model_type(cfg)
    if model_type is None:
        raise _no_counterpart(family, cfg)
    state = ckpt.load_model_state(found)
    if model_type in ("wav2vec2-bert", "hubert", "unispeech"):  # the encoder only
        state = {k: v for k, v in state.items() if k.startswith("backbone.")}
    out = save_hf(state, cfg, out_dir, PRETRAINED[model_type])
    atomic_write(out / "preprocessor_config.json", json.dumps(_preprocessor(cfg.frontend), indent=2) + "\n")
    return out, family


def _stack_quirk(cfg) -> int | None:
    """Frames stacked by a log-mel model's frontend where transformers' extractor, which pads to an
    even number of frames first, gives some lengths one more output frame than speechxl (not 2)."""
    stack = getattr(cfg.frontend, "stack", None) if hasattr(cfg.frontend, "n_mels") else None
    return stack if stack and stack > 2 else None


def _lm_file(lm: Path, lang: str | None) -> Path:
    if lm.is_file():
        return lm
    held = sorted(p.stem for p in lm.glob("*.arpa"))
    if lang not in held:
        raise ValueError(f"--lm {lm} holds one LM per language ({' '.join(held) or 'none'}); a transformers "
                         f"processor holds one: say which with --lang" + (f" ({lang} is not one)" if lang else ""))
    return lm / f"{lang}.arpa"


def tuned_beam(exp: Path, arpa: Path) -> BeamConfig:
    """The LM weight and word score of the newest decode of ``exp`` that searched with ``arpa``'s LM."""
    for d in sorted(exp.glob("*/decode.json"), key=lambda p: p.stat().st_mtime, reverse=True):
        info = json.loads(d.read_text(encoding="utf-8"))
        if info.get("lm") and info.get("beam") and arpa.resolve() in (Path(info["lm"]), Path(info["lm"]) / arpa.name):
            return BeamConfig(**info["beam"])
    return BeamConfig()


def add_lm(out: Path, vocab: dict[str, int], arpa: Path, beam: BeamConfig) -> None:
    """pyctcdecode's decoder dir inside ``out``, as ``Wav2Vec2ProcessorWithLM.save_pretrained`` writes it."""
    special = {"<pad>": "", WORD: " ", UNK: "\u2047"}  # blank, word boundary, pyctcdecode's unknown
    labels = [special.get(s, s) for s, _ in sorted(vocab.items(), key=lambda kv: kv[1])]
    atomic_write(out / "alphabet.json", json.dumps({"labels": labels, "is_bpe": False}, ensure_ascii=False) + "\n")
    lm_dir = out / "language_model"
    if lm_dir.exists():
        shutil.rmtree(lm_dir)
    lm_dir.mkdir()
    atomic_write(lm_dir / "attrs.json", json.dumps({"alpha": beam.lm_weight, "beta": beam.word_score,
                                                    "unk_score_offset": -10.0, "score_boundary": True}) + "\n")
    atomic_write(lm_dir / "unigrams.txt", "".join(w + "\n" for w in sorted(set(arpa_words(arpa)))))
    shutil.copyfile(arpa, lm_dir / arpa.name)
    pre = json.loads((out / "preprocessor_config.json").read_text(encoding="utf-8"))
    atomic_write(out / "preprocessor_config.json",
                 json.dumps({**pre, "processor_class": "Wav2Vec2ProcessorWithLM"}, indent=2) + "\n")


def _training_data(found: Path) -> list[str]:
    """The training data dirs a pretraining checkpoint's config.yaml names (data=, and each stream's)."""
    run = read_yaml(found / "config.yaml")
    data = run.get("data") or []
    streams = [d for s in (run.get("streams") or {}).values() for d in ([s["data"]] if isinstance(s.get("data"), str)
                                                                       else s.get("data") or [])]
    return ([data] if isinstance(data, str) else list(data)) + streams


def export_hf(model_dir: str | Path, out_dir: str | Path, lm: str | Path | None = None, lang: str | None = None,
              license: str = "unknown", keep_paths: bool = False) -> Path:
    """A fine-tuned (CTC) or pretrained speechxl model as a transformers dir with its model card."""
    found, out = ckpt.find_checkpoint(model_dir), Path(out_dir)
    exp = found.parent.parent if found.parent.name == "checkpoints" else found
    if (found / MODEL_FILE).is_file():  # a text encoder (pretrain-text)
        if lm or lang:
            raise ValueError(f"{'--lm' if lm else '--lang'}: a text encoder has no CTC head")
        cfg = from_dict(TextMLMConfig, read_yaml(found / "config.yaml")["model"], "model")
        out = save_xlmr(ckpt.load_model_state(found), cfg, found / MODEL_FILE, out)
        text = json.loads((exp / "text.json").read_text(encoding="utf-8")) if (exp / "text.json").is_file() else {}
        card = text_model_card(name=out.name, checkpoint=found, exp=exp, step=int(ckpt.load_trainer_state(found)["step"]),
                               text=text, license=license, keep_paths=keep_paths)
    elif not (found / "units.txt").is_file():  # a pretraining checkpoint
        if lm or lang:
            raise ValueError(f"{'--lm' if lm else '--lang'}: a pretrained model has no CTC head to search with an LM "
                             "or to cut to one language's units")
        out, family = export_pretrained(found, out)
        card = model_card(name=out.name, family=family, fine_tuned=False, checkpoint=found, exp=exp,
                          step=int(ckpt.load_trainer_state(found)["step"]), training_data=_training_data(found),
                          languages=[], units=None, lm=None, license=license, keep_paths=keep_paths)
    else:
        from speechxl.decode.export_mms import export_mms

        m = load_model(found)
        adapters = bool(getattr(m.card.model.encoder, "adapter_dim", 0))
        if adapters and lm:
            raise ValueError("--lm: a model with language adapters exports in MMS's layout, one vocabulary per "
                             "language, which a transformers processor with an LM does not read")
        arpa = _lm_file(Path(lm), lang) if lm else None
        out = export_mms(m, out, lang) if adapters else export_ctc(m, out, lang)
        if arpa:
            add_lm(out, json.loads((out / "vocab.json").read_text(encoding="utf-8")), arpa, tuned_beam(m.exp, arpa))
        card = model_card(name=out.name, family=m.card.family, fine_tuned=True, checkpoint=m.checkpoint, exp=m.exp,
                          step=m.step, training_data=list(m.card.provenance.get("training_data") or []),
                          languages=[lang] if lang else sorted(m.language_units), units=m.kind,
                          lm=str(arpa) if arpa else None, license=license,
                          cut_from=sorted(m.language_units) if lang else None, stack_quirk=_stack_quirk(m.card.model),
                          keep_paths=keep_paths)
        if adapters and (out / "README.md").exists():  # a language added to an MMS-layout dir: its card stays
            return out
    atomic_write(out / "README.md", card)
    return out
