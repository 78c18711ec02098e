"""Hugging Face Wav2Vec2 model directories: config.json + weights, both ways.

Weights map by a table of name prefixes, no surgery: speechxl's parts carry transformers'
names inside them. A directory can hold ``model.safetensors``, a sharded
``model.safetensors.index.json``, or ``pytorch_model.bin`` (read with
``torch.load(weights_only=True)``, never full pickle). Old checkpoints name the positional
conv's weight norm ``weight_g``/``weight_v``; current ones ``parametrizations.weight.original0/1``:
both load, and exports use the current names.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from speechxl.config import from_dict
from speechxl.data.atomic import atomic_path, atomic_write
from speechxl.models.wav2vec2 import Wav2Vec2Config

# (speechxl prefix, transformers prefix), most specific first
PREFIXES = [
    ("backbone.frontend.", "wav2vec2.feature_extractor."),
    ("backbone.", "wav2vec2."),
    ("target.", "quantizer."),
    ("objective.", ""),
    ("head.", "lm_head."),
]
WEIGHT_NORM = [(".conv.weight_g", ".conv.parametrizations.weight.original0"),
               (".conv.weight_v", ".conv.parametrizations.weight.original1")]


def to_hf_name(name: str) -> str:
    for ours, hf in WEIGHT_NORM:
        if name.endswith(ours):
            name = name[: -len(ours)] + hf
    for ours, hf in PREFIXES:
        if name.startswith(ours):
            return hf + name[len(ours):]
    raise KeyError(f"no transformers name for parameter {name}")


def from_hf_name(name: str) -> str:
    for ours, hf in WEIGHT_NORM:
        for old in (hf, ours):  # current and old transformers names
            if name.endswith(old):
                name = name[: -len(old)] + ours
    if not name.startswith(("wav2vec2.", "quantizer.", "project_", "lm_head.")):
        name = "wav2vec2." + name  # a bare Wav2Vec2Model has no prefix
    for ours, hf in PREFIXES:
        if hf and name.startswith(hf):
            return ours + name[len(hf):]
    return "objective." + name  # project_hid, project_q


def config_from_hf(hf: dict) -> Wav2Vec2Config:
    """A speechxl config with the architecture of a transformers Wav2Vec2Config dict."""
    if hf.get("model_type") not in (None, "wav2vec2"):
        raise ValueError(f"not a wav2vec2 config: model_type {hf.get('model_type')!r}")
    for key in ("hidden_act", "feat_extract_activation"):
        if hf.get(key, "gelu") != "gelu":
            raise ValueError(f"{key}={hf[key]!r} is not supported (gelu only)")
    g = hf.get
    return from_dict(Wav2Vec2Config, {
        "frontend": {"conv_dim": list(g("conv_dim", [512] * 7)), "conv_kernel": list(g("conv_kernel", [10, 3, 3, 3, 3, 2, 2])),
                     "conv_stride": list(g("conv_stride", [5, 2, 2, 2, 2, 2, 2])), "conv_bias": g("conv_bias", False),
                     "norm": g("feat_extract_norm", "group")},
        "encoder": {"hidden_size": g("hidden_size", 768), "num_layers": g("num_hidden_layers", 12),
                    "num_heads": g("num_attention_heads", 12), "intermediate_size": g("intermediate_size", 3072),
                    "pre_norm": g("do_stable_layer_norm", False), "dropout": g("hidden_dropout", 0.1),
                    "attention_dropout": g("attention_dropout", 0.1), "activation_dropout": g("activation_dropout", 0.1),
                    "layerdrop": g("layerdrop", 0.1), "pos_conv_kernel": g("num_conv_pos_embeddings", 128),
                    "pos_conv_groups": g("num_conv_pos_embedding_groups", 16), "layer_norm_eps": g("layer_norm_eps", 1e-5)},
        "quantizer": {"groups": g("num_codevector_groups", 2), "entries": g("num_codevectors_per_group", 320),
                      "dim": g("codevector_dim", 256)},
        "objective": {"num_negatives": g("num_negatives", 100), "final_dim": g("proj_codevector_dim", 256),
                      "temperature": g("contrastive_logits_temperature", 0.1),
                      "diversity_weight": g("diversity_loss_weight", 0.1)},
        "projection_dropout": g("feat_proj_dropout", 0.0),
        "quantizer_input_dropout": g("feat_quantizer_dropout", 0.0),
    })


def config_to_hf(cfg: Wav2Vec2Config, architecture: str = "Wav2Vec2ForPreTraining") -> dict:
    """A transformers Wav2Vec2Config dict for ``cfg``."""
    f, e, q, o = cfg.frontend, cfg.encoder, cfg.quantizer, cfg.objective
    return {
        "model_type": "wav2vec2", "architectures": [architecture],
        "conv_dim": list(f.conv_dim), "conv_kernel": list(f.conv_kernel), "conv_stride": list(f.conv_stride),
        "conv_bias": f.conv_bias, "feat_extract_norm": f.norm, "feat_extract_activation": "gelu",
        "num_feat_extract_layers": len(f.conv_dim),
        "hidden_size": e.hidden_size, "num_hidden_layers": e.num_layers, "num_attention_heads": e.num_heads,
        "intermediate_size": e.intermediate_size, "hidden_act": "gelu", "do_stable_layer_norm": e.pre_norm,
        "hidden_dropout": e.dropout, "attention_dropout": e.attention_dropout,
        "activation_dropout": e.activation_dropout, "layerdrop": e.layerdrop,
        "num_conv_pos_embeddings": e.pos_conv_kernel, "num_conv_pos_embedding_groups": e.pos_conv_groups,
        "layer_norm_eps": e.layer_norm_eps, "feat_proj_dropout": cfg.projection_dropout,
        "feat_quantizer_dropout": cfg.quantizer_input_dropout,
        "num_codevector_groups": q.groups, "num_codevectors_per_group": q.entries, "codevector_dim": q.dim,
        "proj_codevector_dim": o.final_dim, "num_negatives": o.num_negatives,
        "contrastive_logits_temperature": o.temperature, "diversity_loss_weight": o.diversity_weight,
        "mask_time_prob": cfg.masking.prob, "mask_time_length": cfg.masking.length,
        "mask_time_min_masks": cfg.masking.min_masks,
    }


def read_hf_weights(model_dir: str | Path) -> dict[str, torch.Tensor]:
    """The state dict of a transformers model directory, with transformers' names."""
    d = Path(model_dir)
    if (d / "model.safetensors").is_file():
        return load_file(str(d / "model.safetensors"))
    if (d / "model.safetensors.index.json").is_file():
        index = json.loads((d / "model.safetensors.index.json").read_text())
        out: dict[str, torch.Tensor] = {}
        for shard in sorted(set(index["weight_map"].values())):
            out.update(load_file(str(d / shard)))
        return out
    if (d / "pytorch_model.bin").is_file():
        return torch.load(d / "pytorch_model.bin", map_location="cpu", weights_only=True)
    raise FileNotFoundError(f"{d}: no model.safetensors, model.safetensors.index.json or pytorch_model.bin")


def is_hf_dir(path: str | Path) -> bool:
    p = Path(path)
    return (p / "config.json").is_file() and json.loads((p / "config.json").read_text()).get("model_type") == "wav2vec2"


def load_hf(model_dir: str | Path) -> tuple[Wav2Vec2Config, dict[str, torch.Tensor]]:
    """(config, state dict with speechxl names) of a transformers Wav2Vec2 directory; waveform
    normalisation comes from its preprocessor_config.json (do_normalize) where there is one."""
    d = Path(model_dir)
    cfg = config_from_hf(json.loads((d / "config.json").read_text(encoding="utf-8")))
    pre = d / "preprocessor_config.json"
    if pre.is_file():
        cfg.frontend.normalize_waveform = bool(json.loads(pre.read_text()).get("do_normalize", False))
    return cfg, {from_hf_name(k): v for k, v in read_hf_weights(d).items()}


def save_hf(state_dict: dict[str, torch.Tensor], cfg: Wav2Vec2Config, out_dir: str | Path,
            architecture: str = "Wav2Vec2ForPreTraining", extra_config: dict | None = None) -> Path:
    """Write config.json and model.safetensors that transformers loads offline."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    weights = {to_hf_name(k): v.detach().contiguous().cpu() for k, v in state_dict.items()}
    with atomic_path(out / "model.safetensors") as tmp:
        save_file(weights, str(tmp), metadata={"format": "pt"})
    hf_cfg = {**config_to_hf(cfg, architecture), **(extra_config or {})}
    atomic_write(out / "config.json", json.dumps(hf_cfg, indent=2) + "\n")
    return out
