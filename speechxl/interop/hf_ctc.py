"""A transformers CTC directory (``Wav2Vec2ForCTC`` and its kin: a fine-tuned XLS-R, an espeak phone
recogniser, MMS) read as a speechxl recogniser: architecture and weights through ``hf_wav2vec2``, the
output units from ``vocab.json`` and the tokenizer's files.

MMS (Pratap et al. 2023; ``facebook/mms-1b-all`` and its kin) is one model with, per language,
``adapter.<lang>.safetensors``: that language's adapter layers and output layer (transformers' names),
its vocabulary one entry of a nested ``vocab.json`` ({lang: {token: id}}). speechxl reads such a
directory as one recogniser of every language with an adapter file: its units are the union of those
languages' vocabularies (the specials first, then each symbol where it first appears, languages in
sorted order), and each language has its adapter and an output layer over the union whose rows outside
the language's vocabulary are closed (weight 0, bias -inf), so the log-probabilities over the
language's own units are transformers' own. A language's adapter is read when it is first used.

The CTC blank is the tokenizer's pad token, ``<unk>`` its unk token and ``|`` its word delimiter; a
token that holds white space cannot be a unit and is refused by name.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors.torch import load_file

from speechxl.interop.hf_dir import read_hf_config_json, read_hf_weights
from speechxl.interop.hf_wav2vec2 import MODEL_TYPES, from_hf_name, read_hf_config
from speechxl.text.units import BLANK, UNK, WORD, Units

ADAPTER_FILE = "adapter.{}.safetensors"
HEAD = ("head.weight", "head.bias")


def is_hf_ctc_dir(path: str | Path) -> bool:
    """A transformers CTC model dir: config.json of a model type speechxl reads, with a vocab.json."""
    p = Path(path)
    return (p / "vocab.json").is_file() and read_hf_config_json(p).get("model_type") in MODEL_TYPES


def _token(tok: dict, key: str, default: str) -> str | None:
    """A special token of tokenizer_config.json (``tok``), stored as text, an AddedToken dict or null."""
    value = tok.get(key, default)
    return value.get("content") if isinstance(value, dict) else value


def adapter_languages(model_dir: str | Path) -> list[str]:
    """The languages of a dir's ``adapter.<lang>.safetensors`` files, sorted."""
    return sorted(p.name[len("adapter."): -len(".safetensors")] for p in Path(model_dir).glob(ADAPTER_FILE.format("*")))


@dataclass
class CTCDir:
    """What a transformers CTC dir holds, in speechxl's terms."""

    path: Path
    family: str
    model: object
    """The family's model config."""
    kind: str
    """chars, or phones (transformers' phoneme tokenizer)."""
    units: Units
    """Every language's units (one language's, for a dir without adapters)."""
    language_units: dict[str, Units]
    """Each adapter language's own units (none without adapters)."""
    base: dict[str, torch.Tensor]
    """Weights with speechxl's names; without adapters, the output layer over ``units``."""
    rows: dict[str, list[int]] = field(default_factory=dict)
    """Each adapter language's vocabulary ids -> rows of ``units``."""

    @property
    def languages(self) -> list[str]:
        return sorted(self.rows)

    def adapter(self, lang: str) -> dict[str, torch.Tensor]:
        """``lang``'s adapter layers and its output layer over ``units`` (speechxl's names)."""
        if lang not in self.rows:
            raise ValueError(f"{self.path.name} has no language adapter for {lang!r}; it has {len(self.rows)}: "
                             f"{' '.join(self.languages[:20])}{' ...' if len(self.rows) > 20 else ''}")
        weights = {from_hf_name(k): v for k, v in load_file(str(self.path / ADAPTER_FILE.format(lang))).items()}
        weight, bias = weights.pop("head.weight"), weights.pop("head.bias")
        if weight.shape[0] != len(self.rows[lang]):
            raise ValueError(f"{self.path / ADAPTER_FILE.format(lang)}: an output layer of {weight.shape[0]} rows "
                             f"for the {len(self.rows[lang])} tokens of {lang!r} in vocab.json")
        return {**weights, **_head_over(self.units, self.rows[lang], weight, bias)}


def _head_over(units: Units, rows: list[int], weight: torch.Tensor, bias: torch.Tensor) -> dict[str, torch.Tensor]:
    """An output layer over ``units`` from one vocabulary's (weight (V, D), bias (V,)), its token i at
    ``rows[i]``; the other rows closed (weight 0, bias -inf)."""
    index = torch.tensor(rows)
    full_w = weight.new_zeros(len(units), weight.shape[1]).index_copy_(0, index, weight)
    full_b = bias.new_full((len(units),), float("-inf")).index_copy_(0, index, bias)
    return {"head.weight": full_w, "head.bias": full_b}


def _symbols(vocab: dict[str, int], specials: dict[str, str | None], where: str) -> list[str]:
    """A vocabulary's tokens in id order as speechxl symbols (pad -> <blank>, unk -> <unk>, delimiter -> |)."""
    by_id = sorted(vocab.items(), key=lambda kv: kv[1])
    if [i for _, i in by_id] != list(range(len(by_id))):
        raise ValueError(f"{where}: token ids are not 0..{len(by_id) - 1}")
    names = {specials["pad"]: BLANK, specials["unk"]: UNK, specials["word"]: WORD}
    out = [names.get(t, t) for t, _ in by_id]
    for t in out:
        if not t or any(c.isspace() for c in t):
            raise ValueError(f"{where}: token {t!r} is empty or holds white space, which a unit cannot")
    if BLANK not in out:
        raise ValueError(f"{where}: no pad token {specials['pad']!r}, which transformers' CTC uses as the blank")
    return out


def _union(vocabularies: dict[str, list[str]]) -> Units:
    rest: dict[str, None] = {}
    for lang in sorted(vocabularies):
        rest.update(dict.fromkeys(s for s in vocabularies[lang] if s not in (BLANK, UNK, WORD)))
    has_word = any(WORD in v for v in vocabularies.values())
    return Units([BLANK, UNK] + ([WORD] if has_word else []) + list(rest))


def read_ctc_dir(model_dir: str | Path) -> CTCDir:
    """A transformers CTC dir (``is_hf_ctc_dir``), its language adapters listed, none read yet."""
    d = Path(model_dir)
    family, cfg = read_hf_config(d)
    tok = json.loads((d / "tokenizer_config.json").read_text(encoding="utf-8")) if (
        d / "tokenizer_config.json").is_file() else {}
    specials = {"pad": _token(tok, "pad_token", "<pad>"), "unk": _token(tok, "unk_token", "<unk>"),
                "word": _token(tok, "word_delimiter_token", "|")}
    kind = "phones" if tok.get("tokenizer_class") == "Wav2Vec2PhonemeCTCTokenizer" else "chars"
    vocab = json.loads((d / "vocab.json").read_text(encoding="utf-8"))
    nested = bool(vocab) and all(isinstance(v, dict) for v in vocab.values())
    langs = adapter_languages(d) if getattr(cfg.encoder, "adapter_dim", 0) else []
    model_type = read_hf_config_json(d).get("model_type", "wav2vec2")
    state = {n: v for k, v in read_hf_weights(d).items() if (n := from_hf_name(k, model_type)) is not None}
    if langs:
        missing = [lang for lang in langs if lang not in vocab] if nested else langs
        if missing:
            raise ValueError(f"{d / 'vocab.json'}: no vocabulary for the adapters of {' '.join(missing[:10])}")
        vocabularies = {lang: _symbols(vocab[lang], specials, f"{d / 'vocab.json'} [{lang}]") for lang in langs}
        units = _union(vocabularies)
        base = {k: v for k, v in state.items() if k not in HEAD and ".adapter_layer." not in k}
        return CTCDir(d, family, cfg, kind, units, {lang: Units(_specials_first(v)) for lang, v in vocabularies.items()},
                      base, {lang: [units.index[s] for s in v] for lang, v in vocabularies.items()})
    if nested:
        raise ValueError(f"{d}: vocab.json holds {len(vocab)} languages' vocabularies but there is no "
                         f"{ADAPTER_FILE.format('<lang>')} to go with them")
    if "head.weight" not in state:
        raise ValueError(f"{d}: no CTC output layer (lm_head) in its weights: a pretrained model, fine-tune it first")
    symbols = _symbols(vocab, specials, str(d / "vocab.json"))
    units = Units(_specials_first(symbols))
    state.update(_head_over(units, [units.index[s] for s in symbols], state["head.weight"], state["head.bias"]))
    return CTCDir(d, family, cfg, kind, units, {}, state)


def _specials_first(symbols: list[str]) -> list[str]:
    """A vocabulary's symbols as a unit inventory: <blank>, <unk> (added if absent), | first."""
    return [BLANK, UNK] + ([WORD] if WORD in symbols else []) + [s for s in symbols if s not in (BLANK, UNK, WORD)]
