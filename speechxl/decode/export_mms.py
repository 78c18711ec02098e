"""A model with language adapters exported in MMS's layout: one base model, one adapter file per language.

    speechxl export-hf exp/ctc_adapter_es out_dir --lang es    # the first language: base + adapter.es
    speechxl export-hf exp/ctc_adapter_ru out_dir --lang ru    # another, trained on the same frozen base
    # then, offline: Wav2Vec2ForCTC.from_pretrained(out_dir, target_lang="ru", ignore_mismatched_sizes=True),
    # or model.load_adapter("ru"); Wav2Vec2Processor.from_pretrained(out_dir) with tokenizer.set_target_lang

The first export writes the base as ``export_ctc`` writes a model (config.json with adapter_attn_dim,
model.safetensors holding that language's adapter and output layer, as mms-1b-all holds English's);
every export writes ``adapter.<lang>.safetensors`` (the adapter layers and ``lm_head``, transformers'
names) and the language's vocabulary as an entry of a nested ``vocab.json``. A language joins a dir
only if its run's frozen weights are the dir's base, tensor for tensor, so adding a language never
changes another's output; an adapter already there is not written over.
"""

from __future__ import annotations

import json
from pathlib import Path

from safetensors.torch import load_file, save_file

from speechxl.atomic import atomic_path, atomic_write
from speechxl.decode.export_hf import export_ctc, hf_vocab, one_language
from speechxl.interop.hf_ctc import ADAPTER_FILE
from speechxl.interop.hf_wav2vec2 import to_hf_name
from speechxl.untrusted import check_lang


def _trained_by_language(name: str) -> bool:
    """A weight each language has its own of (speechxl's name): the adapter layers and the output layer."""
    return ".adapter_layer." in name or name.startswith("head.")


def _same_base(out: Path, state: dict) -> None:
    """Refuse ``out`` when its base weights are not ``state``'s frozen ones (speechxl names)."""
    theirs = load_file(str(out / "model.safetensors"))
    for name, tensor in state.items():
        if _trained_by_language(name):
            continue
        hf = to_hf_name(name)
        if hf not in theirs or theirs[hf].shape != tensor.shape or not theirs[hf].equal(tensor):
            raise ValueError(f"{out}: its base model is not the one this adapter was trained on ({hf} differs); "
                             "a language's adapter joins only the base it was trained with")


def export_mms(m, out_dir: str | Path, lang: str | None) -> Path:
    """Add ``lang`` to the MMS-layout dir ``out_dir`` (made, with the base, by the first language)."""
    if lang is None:
        raise ValueError("a model with language adapters exports one language at a time in MMS's layout: give --lang")
    lang = check_lang(lang, "--lang")
    out = Path(out_dir)
    if (out / ADAPTER_FILE.format(lang)).exists():
        raise ValueError(f"{out / ADAPTER_FILE.format(lang)} exists: export {lang} elsewhere, or remove it first")
    ids, state = one_language(m, lang)
    if (out / "model.safetensors").is_file():
        _same_base(out, state)
        vocab = json.loads((out / "vocab.json").read_text(encoding="utf-8"))
        if not all(isinstance(v, dict) for v in vocab.values()):
            raise ValueError(f"{out}: its vocab.json is one vocabulary, not MMS's one per language")
    else:
        export_ctc(m, out, lang)  # the base, and a vocabulary of lang alone, replaced below
        vocab = {}
    vocab[lang] = hf_vocab(m.units, ids)
    with atomic_path(out / ADAPTER_FILE.format(lang)) as tmp:
        save_file({to_hf_name(k): v.detach().contiguous().cpu() for k, v in state.items() if _trained_by_language(k)},
                  str(tmp), metadata={"format": "pt"})
    atomic_write(out / "vocab.json", json.dumps(vocab, ensure_ascii=False, indent=2) + "\n")
    tok_file = out / "tokenizer_config.json"
    tokenizer = json.loads(tok_file.read_text(encoding="utf-8")) if tok_file.is_file() else {}
    atomic_write(tok_file,
                 json.dumps({**tokenizer, "target_lang": tokenizer.get("target_lang") or lang}, indent=2) + "\n")
    return out
