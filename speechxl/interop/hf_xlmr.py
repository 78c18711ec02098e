"""transformers' XLM-RoBERTa directories (XLM-R, InfoXLM) both ways, for the text encoder.

A directory of ``XLMRobertaModel`` or ``XLMRobertaForMaskedLM`` (``model_type: xlm-roberta``;
``roberta`` loads the same way) gives a ``TextMLMConfig``, the weights of ``models.text_encoder.TextMLM``
(the LM head's where it has one; a bare encoder's head starts fresh) and its tokenizer
(``sentencepiece.bpe.model``). A speechxl text model goes out as ``XLMRobertaForMaskedLM`` with
that tokenizer file, which ``AutoModelForMaskedLM`` and ``AutoTokenizer`` load offline. Names map
by a table of patterns; the pooler, the position-id buffer and the LM head's decoder (tied to the
word embedding) are left out on the way in.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import torch

from speechxl import checkpoint as ckpt
from speechxl.atomic import atomic_write
from speechxl.config import from_dict, read_yaml
from speechxl.interop.hf_dir import read_hf_config_json, read_hf_weights, write_hf_dir
from speechxl.models.text_encoder import TextMLMConfig
from speechxl.text.xlmr_tokenizer import MODEL_FILE, SPECIALS

MODEL_TYPES = ("xlm-roberta", "roberta")
# (speechxl name, transformers name inside the encoder); {n}: a layer's number
NAMES = [
    ("embed.words.", "embeddings.word_embeddings."),
    ("embed.positions.", "embeddings.position_embeddings."),
    ("embed.token_types.", "embeddings.token_type_embeddings."),
    ("embed.layer_norm.", "embeddings.LayerNorm."),
    ("layers.{n}.attention.q_proj.", "encoder.layer.{n}.attention.self.query."),
    ("layers.{n}.attention.k_proj.", "encoder.layer.{n}.attention.self.key."),
    ("layers.{n}.attention.v_proj.", "encoder.layer.{n}.attention.self.value."),
    ("layers.{n}.attention.out_proj.", "encoder.layer.{n}.attention.output.dense."),
    ("layers.{n}.layer_norm.", "encoder.layer.{n}.attention.output.LayerNorm."),
    ("layers.{n}.feed_forward.intermediate_dense.", "encoder.layer.{n}.intermediate.dense."),
    ("layers.{n}.feed_forward.output_dense.", "encoder.layer.{n}.output.dense."),
    ("layers.{n}.final_layer_norm.", "encoder.layer.{n}.output.LayerNorm."),
]
HEAD = [("head.dense.", "lm_head.dense."), ("head.layer_norm.", "lm_head.layer_norm."), ("head.bias", "lm_head.bias")]


def is_xlmr_dir(path: str | Path) -> bool:
    return read_hf_config_json(path).get("model_type") in MODEL_TYPES


def _swap(name: str, table: list[tuple[str, str]], to_hf: bool) -> str | None:
    """``name`` with the first prefix of ``table`` it starts with replaced by its counterpart."""
    for ours, hf in table:
        src, dst = (ours, hf) if to_hf else (hf, ours)
        m = re.match(re.escape(src).replace(r"\{n\}", r"(\d+)"), name)
        if m:
            return dst.replace("{n}", m.group(1) if m.groups() else "") + name[m.end():]
    return None


def to_hf_name(name: str) -> str:
    """transformers' ``XLMRobertaForMaskedLM`` name of a ``TextMLM`` weight."""
    head = _swap(name, HEAD, to_hf=True)
    if head:
        return head
    inner = _swap(name.removeprefix("encoder."), NAMES, to_hf=True)
    if inner is None:
        raise KeyError(f"no transformers name for {name}")
    return "roberta." + inner


def from_hf_name(name: str) -> str | None:
    """``TextMLM``'s name of a transformers weight; None for those it does not keep."""
    head = _swap(name, HEAD, to_hf=False)
    if head:
        return head
    inner = _swap(re.sub(r"^(roberta|xlm_roberta)\.", "", name), NAMES, to_hf=False)
    return "encoder." + inner if inner else None


def config_from_hf(hf: dict) -> TextMLMConfig:
    return TextMLMConfig(vocab_size=hf["vocab_size"], hidden_size=hf["hidden_size"],
                         num_layers=hf["num_hidden_layers"], num_heads=hf["num_attention_heads"],
                         intermediate_size=hf["intermediate_size"], max_positions=hf["max_position_embeddings"],
                         type_vocab_size=hf.get("type_vocab_size", 1), pad_id=hf.get("pad_token_id", 1),
                         mask_id=hf["vocab_size"] - 1, dropout=hf.get("hidden_dropout_prob", 0.1),
                         attention_dropout=hf.get("attention_probs_dropout_prob", 0.1),
                         layer_norm_eps=hf.get("layer_norm_eps", 1e-5))


def config_to_hf(cfg: TextMLMConfig) -> dict:
    return {"architectures": ["XLMRobertaForMaskedLM"], "model_type": "xlm-roberta", "vocab_size": cfg.vocab_size,
            "hidden_size": cfg.hidden_size, "num_hidden_layers": cfg.num_layers, "num_attention_heads": cfg.num_heads,
            "intermediate_size": cfg.intermediate_size, "hidden_act": "gelu", "hidden_dropout_prob": cfg.dropout,
            "attention_probs_dropout_prob": cfg.attention_dropout, "max_position_embeddings": cfg.max_positions,
            "type_vocab_size": cfg.type_vocab_size, "initializer_range": 0.02, "layer_norm_eps": cfg.layer_norm_eps,
            "pad_token_id": cfg.pad_id, "bos_token_id": SPECIALS["<s>"], "eos_token_id": SPECIALS["</s>"],
            "tie_word_embeddings": True, "position_embedding_type": "absolute"}


def load_xlmr(model_dir: str | Path) -> tuple[TextMLMConfig, dict[str, torch.Tensor]]:
    """(config, ``TextMLM`` state dict) of a transformers XLM-R directory."""
    d = Path(model_dir)
    hf = read_hf_config_json(d)
    if hf.get("model_type") not in MODEL_TYPES:
        raise ValueError(f"{d}: not an XLM-R directory (model_type {hf.get('model_type')!r}, not one of "
                         f"{', '.join(MODEL_TYPES)})")
    state = {}
    for k, v in read_hf_weights(d).items():
        name = from_hf_name(k)
        if name is not None:
            state[name] = v
    return config_from_hf(hf), state


def tokenizer_file(model_dir: str | Path) -> Path:
    """The SentencePiece model of an XLM-R directory (or of a speechxl text checkpoint)."""
    path = Path(model_dir) / MODEL_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{model_dir}: no {MODEL_FILE} (the tokenizer's SentencePiece model)")
    return path


def save_xlmr(state: dict[str, torch.Tensor], cfg: TextMLMConfig, tokenizer: str | Path, out_dir: str | Path) -> Path:
    """An ``XLMRobertaForMaskedLM`` directory with its tokenizer, which transformers loads offline."""
    weights = {to_hf_name(k): v for k, v in state.items()}
    weights["lm_head.decoder.weight"] = weights["roberta.embeddings.word_embeddings.weight"]
    weights["lm_head.decoder.bias"] = weights["lm_head.bias"]
    out = write_hf_dir(out_dir, {k: v.clone() for k, v in weights.items()}, config_to_hf(cfg))
    shutil.copyfile(tokenizer, out / MODEL_FILE)
    atomic_write(out / "tokenizer_config.json", '{"tokenizer_class": "XLMRobertaTokenizer", '
                 '"model_max_length": %d}\n' % (cfg.max_positions - cfg.pad_id - 1))
    return out


def load_text_encoder(path: str | Path) -> tuple[TextMLMConfig, dict[str, torch.Tensor], Path]:
    """(config, ``TextMLM`` weights, tokenizer file) of an XLM-R dir or a speechxl text checkpoint
    (``pretrain-text``'s exp dir or one of its checkpoints)."""
    if is_xlmr_dir(path):
        cfg, state = load_xlmr(path)
        return cfg, state, tokenizer_file(path)
    try:
        found = ckpt.find_checkpoint(path)
    except FileNotFoundError:
        raise ValueError(f"{path}: neither an XLM-R directory nor a speechxl text checkpoint") from None
    saved = read_yaml(found / "config.yaml")
    if "tokenizer" not in saved:
        raise ValueError(f"{path}: a speechxl checkpoint, but not of a text encoder (pretrain-text)")
    return from_dict(TextMLMConfig, saved["model"], "model"), ckpt.load_model_state(found), tokenizer_file(found)
