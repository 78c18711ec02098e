"""Hugging Face Wav2Vec2 model directories: config.json + weights, both ways.

Five transformers model types map onto speechxl families and parts:
  wav2vec2            -> wav2vec2, conv frontend + Transformer (XLSR-53, XLS-R, ...)
  wav2vec2-conformer  -> wav2vec2, conv frontend + Conformer (relative or rotary)
  wav2vec2-bert       -> w2v-bert, log-mel frames + Conformer (w2v-BERT 2.0)
  hubert              -> hubert, conv frontend + Transformer (HubertModel is the encoder alone:
                         the k-means labels' head is not in transformers)
  unispeech           -> unispeech, conv frontend + Transformer (UniSpeechModel: the encoder alone;
                         UniSpeechForPreTraining's heads are laid out otherwise than speechxl's)
Weights map by a table of name prefixes, no surgery: speechxl's parts carry transformers'
names inside them. Wav2Vec2Conformer keeps a convolutional positional embedding it never
uses, and its rotary frequencies: both are dropped on import, and written on export so the file
is complete. A directory can hold ``model.safetensors``, a sharded
``model.safetensors.index.json``, or ``pytorch_model.bin`` (read with
``torch.load(weights_only=True)``, never full pickle). Old checkpoints name the positional
conv's weight norm ``weight_g``/``weight_v``; current ones ``parametrizations.weight.original0/1``:
both load, and exports use the current names.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from speechxl.config import from_dict
from speechxl.interop.hf_dir import read_hf_weights, write_hf_dir
from speechxl.models.hubert import HubertConfig
from speechxl.models.unispeech import UniSpeechConfig
from speechxl.models.w2v_bert import W2vBertConfig
from speechxl.models.wav2vec2 import Wav2Vec2Config
from speechxl.nn.conformer import ConformerConfig, rotary_frequencies
from speechxl.nn.conv_frontend import ConvFrontendConfig
from speechxl.nn.transformer import TransformerConfig

# transformers model_type -> (base model prefix in its weights, speechxl family)
MODEL_TYPES = {"wav2vec2": ("wav2vec2", "wav2vec2"), "wav2vec2-conformer": ("wav2vec2_conformer", "wav2vec2"),
               "wav2vec2-bert": ("wav2vec2_bert", "w2v-bert"), "hubert": ("hubert", "hubert"),
               "unispeech": ("unispeech", "unispeech")}
WEIGHT_NORM = [(".conv.weight_g", ".conv.parametrizations.weight.original0"),
               (".conv.weight_v", ".conv.parametrizations.weight.original1")]


def _prefixes(base: str) -> list[tuple[str, str]]:
    """(speechxl prefix, transformers prefix), most specific first."""
    return [("backbone.frontend.", f"{base}.feature_extractor."), ("backbone.", f"{base}."),
            ("target.", "quantizer."), ("objective.", ""), ("head.", "lm_head.")]


def to_hf_name(name: str, model_type: str = "wav2vec2") -> str:
    for ours, hf in WEIGHT_NORM:
        if name.endswith(ours):
            name = name[: -len(ours)] + hf
    for ours, hf in _prefixes(MODEL_TYPES[model_type][0]):
        if name.startswith(ours):
            return hf + name[len(ours):]
    raise KeyError(f"no transformers name for parameter {name}")


def from_hf_name(name: str, model_type: str = "wav2vec2") -> str | None:
    """speechxl's name of a transformers weight; None for weights speechxl does not use."""
    base = MODEL_TYPES[model_type][0]
    for ours, hf in WEIGHT_NORM:
        for old in (hf, ours):  # current and old transformers names
            if name.endswith(old):
                name = name[: -len(old)] + ours
    if not name.startswith((f"{base}.", "quantizer.", "project_", "lm_head.")):
        name = f"{base}.{name}"  # a bare base model has no prefix
    if model_type == "wav2vec2-conformer" and ".encoder.pos_conv_embed." in name:
        return None  # created by transformers' Wav2Vec2ConformerEncoder but never applied
    if name.endswith(".embed_positions.inv_freq"):
        return None  # rotary frequencies: derived from the config
    for ours, hf in _prefixes(base):
        if hf and name.startswith(hf):
            return ours + name[len(hf):]
    return "objective." + name  # project_hid, project_q


def _conv_frontend(g) -> dict:
    return {"conv_dim": list(g("conv_dim", [512] * 7)), "conv_kernel": list(g("conv_kernel", [10, 3, 3, 3, 3, 2, 2])),
            "conv_stride": list(g("conv_stride", [5, 2, 2, 2, 2, 2, 2])), "conv_bias": g("conv_bias", False),
            "norm": g("feat_extract_norm", "group")}


def _conformer(g, bert: bool) -> dict:
    position = g("position_embeddings_type", "relative_key" if bert else "relative") or "none"
    return {"hidden_size": g("hidden_size", 1024), "num_layers": g("num_hidden_layers", 24),
            "num_heads": g("num_attention_heads", 16), "intermediate_size": g("intermediate_size", 4096),
            "activation": g("hidden_act", "swish"), "position": position,
            "rotary_base": g("rotary_embedding_base", 10000), "max_positions": g("max_source_positions", 5000),
            "left_max_positions": g("left_max_position_embeddings", 64),
            "right_max_positions": g("right_max_position_embeddings", 8),
            "conv_kernel": g("conv_depthwise_kernel_size", 31), "conv_norm": "layer" if bert else "batch",
            "final_norm": not bert, "dropout": g("hidden_dropout", 0.1), "attention_dropout": g("attention_dropout", 0.1),
            "activation_dropout": g("activation_dropout", 0.1), "conv_dropout": g("conformer_conv_dropout", 0.1),
            "layerdrop": g("layerdrop", 0.1), "layer_norm_eps": g("layer_norm_eps", 1e-5)}


def config_from_hf(hf: dict) -> tuple[str, object]:
    """(speechxl family, config) with the architecture of a transformers Wav2Vec2/-Conformer/-Bert config."""
    model_type = hf.get("model_type", "wav2vec2")
    if model_type not in MODEL_TYPES:
        raise ValueError(f"model_type {model_type!r} is not one speechxl reads; known: {sorted(MODEL_TYPES)}")
    g = hf.get
    if g("feat_extract_activation", "gelu") != "gelu" or (model_type == "wav2vec2" and g("hidden_act", "gelu") != "gelu"):
        raise ValueError("only gelu activations are supported in wav2vec2 frontends and Transformers")
    if g("add_adapter") or g("use_intermediate_ffn_before_adapter"):
        raise ValueError("the output adapter (add_adapter: strided convolutions after the encoder) is not supported")
    common = {
        "quantizer": {"groups": g("num_codevector_groups", 2), "entries": g("num_codevectors_per_group", 320),
                      "dim": g("codevector_dim", 256)},
        "objective": {"num_negatives": g("num_negatives", 100), "final_dim": g("proj_codevector_dim", 256),
                      "temperature": g("contrastive_logits_temperature", 0.1),
                      "diversity_weight": g("diversity_loss_weight", 0.1)},
        "projection_dropout": g("feat_proj_dropout", 0.0),
        "quantizer_input_dropout": g("feat_quantizer_dropout", 0.0),
    }
    family = MODEL_TYPES[model_type][1]
    if model_type in ("wav2vec2", "hubert", "unispeech"):
        encoder = {"hidden_size": g("hidden_size", 768), "num_layers": g("num_hidden_layers", 12),
                   "num_heads": g("num_attention_heads", 12), "intermediate_size": g("intermediate_size", 3072),
                   "pre_norm": g("do_stable_layer_norm", False), "dropout": g("hidden_dropout", 0.1),
                   "attention_dropout": g("attention_dropout", 0.1), "activation_dropout": g("activation_dropout", 0.1),
                   "layerdrop": g("layerdrop", 0.1), "pos_conv_kernel": g("num_conv_pos_embeddings", 128),
                   "pos_conv_groups": g("num_conv_pos_embedding_groups", 16), "layer_norm_eps": g("layer_norm_eps", 1e-5)}
        if model_type == "wav2vec2" and g("do_stable_layer_norm", False):  # transformers' only layers with them
            encoder["adapter_dim"] = g("adapter_attn_dim") or 0  # MMS's language adapters
        if model_type == "wav2vec2":
            return family, from_dict(Wav2Vec2Config, {"frontend": _conv_frontend(g), "encoder": encoder, **common})
        if model_type == "unispeech":
            return family, from_dict(UniSpeechConfig, {"frontend": _conv_frontend(g), "encoder": encoder, **common,
                                                       "replace_prob": g("replace_prob", 0.5)})
        if not g("feat_proj_layer_norm", True) or g("conv_pos_batch_norm", False):
            raise ValueError("HuBERT without the feature projection's layer norm, or with a batch-normed positional "
                             "conv, is not supported")
        return family, from_dict(HubertConfig, {"frontend": _conv_frontend(g), "encoder": encoder,
                                                "projection_dropout": g("feat_proj_dropout", 0.0)})
    if model_type == "wav2vec2-conformer":
        return family, from_dict(Wav2Vec2Config, {"frontend": _conv_frontend(g),
                                                  "encoder": {"type": "conformer", **_conformer(g, bert=False)},
                                                  **common})
    dim = g("feature_projection_input_dim", 160)
    layers = g("num_hidden_layers", 24)
    return family, from_dict(W2vBertConfig, {
        "frontend": {"n_mels": 80, "stack": dim // 80, "subsampling": "stack"}, "encoder": _conformer(g, bert=True),
        "contrastive_layers": max(1, layers // 3), **common})


def hf_model_type(cfg) -> str | None:
    """The transformers model type of a speechxl model config (by its family and part types), or
    None where transformers has no counterpart (e.g. wav2vec 2.0 on log-mel frames, BEST-RQ)."""
    if isinstance(cfg, W2vBertConfig):
        return "wav2vec2-bert"
    if isinstance(cfg, (HubertConfig, UniSpeechConfig)):  # transformers has them with a conv frontend and a Transformer
        if not (isinstance(cfg.frontend, ConvFrontendConfig) and isinstance(cfg.encoder, TransformerConfig)):
            return None
        return "hubert" if isinstance(cfg, HubertConfig) else "unispeech"
    if isinstance(cfg, Wav2Vec2Config) and isinstance(cfg.frontend, ConvFrontendConfig):
        return {TransformerConfig: "wav2vec2", ConformerConfig: "wav2vec2-conformer"}[type(cfg.encoder)]
    return None


def config_to_hf(cfg, architecture: str) -> dict:
    """A transformers config dict for a speechxl config that has a counterpart (hf_model_type)."""
    model_type = hf_model_type(cfg)
    if model_type is None:
        raise ValueError(f"a {type(cfg).__name__} with a {type(cfg.frontend).__name__} and a "
                         f"{type(cfg.encoder).__name__} has no transformers counterpart")
    e = cfg.encoder
    out = {
        "architectures": [architecture], "hidden_size": e.hidden_size, "num_hidden_layers": e.num_layers,
        "num_attention_heads": e.num_heads, "intermediate_size": e.intermediate_size, "hidden_dropout": e.dropout,
        "attention_dropout": e.attention_dropout, "activation_dropout": e.activation_dropout,
        "layerdrop": e.layerdrop, "layer_norm_eps": e.layer_norm_eps, "feat_proj_dropout": cfg.projection_dropout,
        "mask_time_prob": cfg.masking.prob, "mask_time_length": cfg.masking.length,
        "mask_time_min_masks": cfg.masking.min_masks,
    }
    if model_type != "hubert":  # the contrastive task's parts
        q, o = cfg.quantizer, cfg.objective
        out.update(feat_quantizer_dropout=cfg.quantizer_input_dropout, num_codevector_groups=q.groups,
                   num_codevectors_per_group=q.entries, codevector_dim=q.dim, proj_codevector_dim=o.final_dim,
                   num_negatives=o.num_negatives, contrastive_logits_temperature=o.temperature,
                   diversity_loss_weight=o.diversity_weight)
    if model_type in ("wav2vec2-conformer", "wav2vec2-bert"):
        out.update(hidden_act=e.activation, position_embeddings_type=None if e.position == "none" else e.position,
                   rotary_embedding_base=e.rotary_base, max_source_positions=e.max_positions,
                   left_max_position_embeddings=e.left_max_positions,
                   right_max_position_embeddings=e.right_max_positions, conv_depthwise_kernel_size=e.conv_kernel,
                   conformer_conv_dropout=e.conv_dropout)
    if model_type == "wav2vec2-bert":
        f = cfg.frontend
        if f.subsampling != "stack" or e.conv_norm != "layer" or e.final_norm or e.position == "relative":
            raise ValueError("transformers' Wav2Vec2Bert needs stacked frames, conv_norm layer, no final norm, "
                             "and rotary, relative_key or no positions")
        return {**out, "model_type": "wav2vec2-bert", "feature_projection_input_dim": f.n_mels * f.stack}
    f = cfg.frontend
    out.update(conv_dim=list(f.conv_dim), conv_kernel=list(f.conv_kernel), conv_stride=list(f.conv_stride),
               conv_bias=f.conv_bias, feat_extract_norm=f.norm, feat_extract_activation="gelu",
               num_feat_extract_layers=len(f.conv_dim))
    if model_type == "wav2vec2-conformer":
        if e.conv_norm != "batch" or not e.final_norm:
            raise ValueError("transformers' Wav2Vec2Conformer needs conv_norm batch and a final norm")
        return {**out, "model_type": "wav2vec2-conformer", "num_conv_pos_embeddings": 128,
                "num_conv_pos_embedding_groups": 16}
    if e.adapter_dim and (model_type != "wav2vec2" or not e.pre_norm):
        raise ValueError("language adapters (adapter_dim) have a transformers counterpart in pre-norm wav2vec2 "
                         "Transformers only (MMS's layout)")
    return {**out, "model_type": model_type, "hidden_act": "gelu", "do_stable_layer_norm": e.pre_norm,
            **({"adapter_attn_dim": e.adapter_dim} if e.adapter_dim else {}),
            "num_conv_pos_embeddings": e.pos_conv_kernel, "num_conv_pos_embedding_groups": e.pos_conv_groups,
            **({"feat_proj_layer_norm": True} if model_type == "hubert" else {}),
            **({"num_ctc_classes": cfg.vocabulary, "replace_prob": cfg.replace_prob} if model_type == "unispeech" else {})}


def is_hf_dir(path: str | Path) -> bool:
    p = Path(path)
    return (p / "config.json").is_file() and json.loads((p / "config.json").read_text(encoding="utf-8")).get("model_type") in MODEL_TYPES


def read_hf_config(model_dir: str | Path) -> tuple[str, object]:
    """(speechxl family, config) of a transformers model dir, without its weights; a wav2vec2
    model's waveform normalisation comes from its preprocessor_config.json (do_normalize)."""
    d = Path(model_dir)
    family, cfg = config_from_hf(json.loads((d / "config.json").read_text(encoding="utf-8")))
    pre = d / "preprocessor_config.json"
    if pre.is_file() and hasattr(cfg.frontend, "normalize_waveform"):
        cfg.frontend.normalize_waveform = bool(json.loads(pre.read_text(encoding="utf-8")).get("do_normalize", False))
    return family, cfg


def load_hf(model_dir: str | Path) -> tuple[str, object, dict[str, torch.Tensor]]:
    """(speechxl family, config (read_hf_config), state dict with speechxl names) of a transformers model dir."""
    d = Path(model_dir)
    family, cfg = read_hf_config(d)
    model_type = json.loads((d / "config.json").read_text(encoding="utf-8")).get("model_type", "wav2vec2")
    state = {}
    for k, v in read_hf_weights(d).items():
        name = from_hf_name(k, model_type)
        if name is not None:
            state[name] = v
    return family, cfg, state


def save_hf(state_dict: dict[str, torch.Tensor], cfg, out_dir: str | Path,
            architecture: str = "Wav2Vec2ForPreTraining", extra_config: dict | None = None) -> Path:
    """Write config.json and model.safetensors that transformers loads offline."""
    out = Path(out_dir)
    hf_cfg = {**config_to_hf(cfg, architecture), **(extra_config or {})}
    model_type = hf_cfg["model_type"]
    weights = {to_hf_name(k, model_type): v for k, v in state_dict.items()}
    if model_type == "wav2vec2-conformer":  # the positional conv transformers creates and never applies
        base, d, k, g = MODEL_TYPES[model_type][0], cfg.encoder.hidden_size, 128, 16
        gen = torch.Generator().manual_seed(0)
        weights[f"{base}.encoder.pos_conv_embed.conv.parametrizations.weight.original0"] = torch.ones(1, 1, k)
        weights[f"{base}.encoder.pos_conv_embed.conv.parametrizations.weight.original1"] = (
            torch.randn(d, d // g, k, generator=gen) * 0.02)
        weights[f"{base}.encoder.pos_conv_embed.conv.bias"] = torch.zeros(d)
        if cfg.encoder.position == "rotary":  # transformers saves the frequencies, derived from the config
            weights[f"{base}.encoder.embed_positions.inv_freq"] = rotary_frequencies(
                d // cfg.encoder.num_heads, cfg.encoder.rotary_base)
    return write_hf_dir(out, weights, hf_cfg)
