"""fairseq wav2vec 2.0 checkpoints (XLSR-53, XLS-R, and CTC fine-tunings of them) in, without fairseq.

    speechxl import-fairseq xlsr_53_56k.pt exp/xlsr53                       # pretrained -> a transformers dir
    speechxl import-fairseq wav2vec2_ctc.pt exp/w2v_ctc --dict dict.ltr.txt  # fine-tuned -> a speechxl checkpoint

A fairseq checkpoint is a ``torch.save``'d dict: ``model`` (the state dict), ``cfg`` (the run's
config as plain containers) or, before Hydra, ``args`` (an ``argparse.Namespace``), and training
state. It is read with ``torch.load(weights_only=True)`` and an explicit allow-list of the few
classes fairseq stores (``argparse.Namespace``; numpy scalars and their dtypes): a checkpoint
holding any other class is refused with the class's name, before anything is unpickled.

Names map fairseq's modules (``fairseq/models/wav2vec/wav2vec2.py``, ``wav2vec2_asr.py``) onto
transformers' Wav2Vec2 names (the layout speechxl already reads and writes both ways), and the
config onto a transformers config. A pretrained model becomes a transformers model directory
(config.json, model.safetensors, preprocessor_config.json) that ``init=`` and transformers load.
A fine-tuned CTC model becomes a speechxl checkpoint (weights, model card, units: what decode,
transcribe and export-hf read). fairseq keeps the output dictionary outside the checkpoint, so
``--dict`` names it (``dict.ltr.txt``: ``<symbol> <count>`` lines, after fairseq's ``<s> <pad>
</s> <unk>``); the CTC blank is ``<s>``, as fairseq decodes; the rows of ``<pad>`` and ``</s>``,
which a CTC model is never trained to emit, are dropped, and upper-case letter sets are lower-cased
to match speechxl's normalised transcripts.
"""

from __future__ import annotations

import argparse
import ast
import json
import pickle
import re
import zipfile
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save_file

from speechxl.atomic import atomic_path, atomic_write
from speechxl.checkpoint import CheckpointError, require_safe_torch, save_release
from speechxl.interop.hf_wav2vec2 import WEIGHT_NORM, config_from_hf, from_hf_name
from speechxl.models.card import ModelCard, frame_shift_ms
from speechxl.models.ctc import CTCConfig
from speechxl.text.units import BLANK, UNK, WORD, Units

_SCALAR = getattr(np, "_core", np.core).multiarray.scalar
# the classes fairseq checkpoints hold besides tensors and containers, by the names pickle gives them
ALLOWED = [(argparse.Namespace, "argparse.Namespace"), (np.dtype, "numpy.dtype"),
           (_SCALAR, "numpy.core.multiarray.scalar"), (_SCALAR, "numpy._core.multiarray.scalar"),
           *[(type(np.dtype(t)), f"numpy.dtypes.{type(np.dtype(t)).__name__}")
             for t in ("float64", "float32", "int64", "int32", "bool")]]
FAIRSEQ_SPECIALS = ["<s>", "<pad>", "</s>", "<unk>"]  # fairseq Dictionary's first four symbols

# fairseq name (after the fine-tuning wrapper's prefix is taken off) -> transformers name
RENAMES = [
    (r"feature_extractor\.conv_layers\.(\d+)\.0\.", r"wav2vec2.feature_extractor.conv_layers.\1.conv."),
    (r"feature_extractor\.conv_layers\.(\d+)\.2\.1\.", r"wav2vec2.feature_extractor.conv_layers.\1.layer_norm."),
    (r"feature_extractor\.conv_layers\.0\.2\.", r"wav2vec2.feature_extractor.conv_layers.0.layer_norm."),
    (r"post_extract_proj\.", r"wav2vec2.feature_projection.projection."),
    (r"layer_norm\.", r"wav2vec2.feature_projection.layer_norm."),
    (r"mask_emb", r"wav2vec2.masked_spec_embed"),
    (r"encoder\.pos_conv\.0\.", r"wav2vec2.encoder.pos_conv_embed.conv."),
    (r"encoder\.layers\.(\d+)\.self_attn\.", r"wav2vec2.encoder.layers.\1.attention."),
    (r"encoder\.layers\.(\d+)\.self_attn_layer_norm\.", r"wav2vec2.encoder.layers.\1.layer_norm."),
    (r"encoder\.layers\.(\d+)\.fc1\.", r"wav2vec2.encoder.layers.\1.feed_forward.intermediate_dense."),
    (r"encoder\.layers\.(\d+)\.fc2\.", r"wav2vec2.encoder.layers.\1.feed_forward.output_dense."),
    (r"encoder\.layers\.(\d+)\.final_layer_norm\.", r"wav2vec2.encoder.layers.\1.final_layer_norm."),
    (r"encoder\.layer_norm\.", r"wav2vec2.encoder.layer_norm."),
    (r"quantizer\.vars", r"quantizer.codevectors"),
    (r"quantizer\.weight_proj\.", r"quantizer.weight_proj."),
    (r"project_q\.", r"project_q."),
    (r"final_proj\.", r"project_hid."),
    (r"proj\.", r"lm_head."),  # the fine-tuning wrapper's CTC head (w2v_encoder.proj)
]


def load_fairseq(path: str | Path) -> dict:
    """The checkpoint dict, unpickled with weights_only and the allow-list above only. torch's zip format
    (since torch 1.6) is mapped, not read: only the model's weights are ever read, not an optimizer state
    beside them; the legacy format (earlier fairseq releases) is read whole."""
    path = Path(path)
    require_safe_torch(path)
    allowed = {name for _, name in ALLOWED}
    zipped = zipfile.is_zipfile(path)
    if zipped:  # its globals are listed without unpickling: the refusal names every one outside the list
        try:
            found = set(torch.serialization.get_unsafe_globals_in_checkpoint(path))
        except Exception as e:
            raise CheckpointError(f"{path}: not a torch checkpoint ({type(e).__name__}: {e})") from None
        if found - allowed:
            raise CheckpointError(f"{path}: holds {', '.join(sorted(found - allowed))}, which speechxl does not "
                                  f"unpickle (loading it could run code); it allows {', '.join(sorted(allowed))}")
    try:
        with torch.serialization.safe_globals(ALLOWED):
            state = torch.load(path, map_location="cpu", weights_only=True, mmap=zipped)
    except pickle.UnpicklingError as e:  # the legacy format: the unpickler itself names the first global refused
        refused = re.search(r"Unsupported global: GLOBAL (\S+)", str(e))
        raise CheckpointError(f"{path}: holds {refused.group(1)}, which speechxl does not unpickle (loading it "
                              f"could run code); it allows {', '.join(sorted(allowed))}" if refused else
                              f"{path}: not a torch checkpoint ({str(e).splitlines()[0]})") from None
    except Exception as e:  # not a pickle stream at all
        raise CheckpointError(f"{path}: not a torch checkpoint ({type(e).__name__}: {e})") from None
    if not isinstance(state, dict) or not isinstance(state.get("model"), dict):
        raise CheckpointError(f"{path}: not a fairseq checkpoint (no 'model' state dict)")
    return state


def _plain(cfg) -> dict:
    return vars(cfg) if isinstance(cfg, argparse.Namespace) else dict(cfg or {})


def model_and_task(state: dict) -> tuple[dict, dict, bool]:
    """(the wav2vec 2.0 model's config, its task config, fine-tuned?) of a checkpoint."""
    if state.get("cfg"):
        model, task = _plain(state["cfg"].get("model")), _plain(state["cfg"].get("task"))
    else:  # before Hydra: one flat Namespace
        model = task = _plain(state.get("args"))
    if not model:
        raise CheckpointError("a fairseq checkpoint without cfg or args: its architecture is unknown")
    inner = model.get("w2v_args")
    if not inner:
        return model, task, False
    inner = _plain(inner)
    if "model" in inner:  # Hydra: the pretraining run's whole config
        return _plain(inner["model"]), _plain(inner.get("task")), True
    return inner, inner, True


MAX_CONV_LAYERS = 64
"""More convolutions than any wav2vec 2.0 frontend has (7): a config that asks for more is not one."""


def _conv_layers(spec: str) -> list[tuple[int, int, int]]:
    """fairseq's conv_feature_layers, e.g. "[(512, 10, 5)] + [(512, 3, 2)] * 4", read without eval; a
    list that would grow past MAX_CONV_LAYERS (``[(1, 1, 1)] * 10**9``) is refused before it is built."""
    bad = ValueError(f"conv_feature_layers {spec[:80]!r}: not a list of at most {MAX_CONV_LAYERS} "
                     "(dim, kernel, stride)")

    def value(node):
        if isinstance(node, ast.Constant) and isinstance(node.value, int) and not isinstance(node.value, bool):
            return node.value
        if isinstance(node, (ast.List, ast.Tuple)) and len(node.elts) <= MAX_CONV_LAYERS:
            return [value(e) for e in node.elts]
        if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Mult)):
            a, b = value(node.left), value(node.right)
            if isinstance(node.op, ast.Add) and isinstance(a, list) and isinstance(b, list) \
                    and len(a) + len(b) <= MAX_CONV_LAYERS:
                return a + b
            if isinstance(node.op, ast.Mult) and isinstance(a, list) and isinstance(b, int) \
                    and 0 <= b and len(a) * b <= MAX_CONV_LAYERS:
                return a * b
            if isinstance(node.op, ast.Mult) and isinstance(a, int) and isinstance(b, int):
                return a * b if abs(a) < 2**31 and abs(b) < 2**31 else None
        raise bad
    try:
        layers = value(ast.parse(spec, mode="eval").body)
    except (SyntaxError, RecursionError, MemoryError):
        raise bad from None
    if not isinstance(layers, list) or not all(isinstance(x, list) and len(x) == 3 for x in layers):
        raise bad
    return [tuple(x) for x in layers]


def hf_config(model: dict, task: dict) -> dict:
    """A transformers Wav2Vec2 config with the architecture of a fairseq wav2vec 2.0 config."""
    for key, want in (("layer_type", "transformer"), ("pos_conv_depth", 1), ("activation_fn", "gelu")):
        if model.get(key, want) != want:
            raise CheckpointError(f"fairseq {key}={model[key]!r}: speechxl imports {key}={want!r} models only")
    g = model.get
    layers = _conv_layers(g("conv_feature_layers", "[(512, 10, 5)] + [(512, 3, 2)] * 4 + [(512,2,2)] * 2"))
    hidden = g("encoder_embed_dim", 768)
    final = g("final_dim", 0) or hidden
    return {
        "model_type": "wav2vec2", "conv_dim": [d for d, _, _ in layers], "conv_kernel": [k for _, k, _ in layers],
        "conv_stride": [s for _, _, s in layers], "conv_bias": g("conv_bias", False),
        "feat_extract_norm": "layer" if g("extractor_mode", "default") == "layer_norm" else "group",
        "feat_extract_activation": "gelu", "hidden_act": "gelu", "hidden_size": hidden,
        "num_hidden_layers": g("encoder_layers", 12), "num_attention_heads": g("encoder_attention_heads", 12),
        "intermediate_size": g("encoder_ffn_embed_dim", 3072), "do_stable_layer_norm": g("layer_norm_first", False),
        "num_conv_pos_embeddings": g("conv_pos", 128), "num_conv_pos_embedding_groups": g("conv_pos_groups", 16),
        "hidden_dropout": g("dropout", 0.1), "attention_dropout": g("attention_dropout", 0.1),
        "activation_dropout": g("activation_dropout", 0.0), "layerdrop": g("encoder_layerdrop", 0.0),
        "feat_proj_dropout": g("dropout_input", 0.0), "feat_quantizer_dropout": g("dropout_features", 0.0),
        "num_codevector_groups": g("latent_groups", 2), "num_codevectors_per_group": g("latent_vars", 320),
        "codevector_dim": g("latent_dim", 0) or final, "proj_codevector_dim": final,
        "num_negatives": g("num_negatives", 100), "contrastive_logits_temperature": g("logit_temp", 0.1),
        "mask_time_prob": g("mask_prob", 0.65), "mask_time_length": g("mask_length", 10), "layer_norm_eps": 1e-5,
        "do_normalize": bool(task.get("normalize", False)),
    }


def hf_weights(model_state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """fairseq's weights under transformers' names (weight norm as transformers names it today)."""
    out = {}
    for name, tensor in model_state.items():
        bare = name.removeprefix("w2v_encoder.w2v_model.").removeprefix("w2v_encoder.")
        for pattern, to in RENAMES:
            if m := re.match(pattern, bare):
                hf = m.expand(to) + bare[m.end():]
                break
        else:
            raise CheckpointError(f"fairseq weight {name!r} has no transformers counterpart speechxl knows")
        for old, current in WEIGHT_NORM:
            if hf.endswith(old):
                hf = hf[: -len(old)] + current
        out[hf] = tensor
    return out


def _preprocessor(cfg: dict) -> dict:
    return {"feature_extractor_type": "Wav2Vec2FeatureExtractor", "feature_size": 1, "sampling_rate": 16000,
            "padding_side": "right", "padding_value": 0.0, "do_normalize": cfg["do_normalize"],
            "return_attention_mask": cfg["feat_extract_norm"] == "layer"}


def _write_hf(cfg: dict, weights: dict[str, torch.Tensor], out: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    with atomic_path(out / "model.safetensors") as tmp:
        save_file({k: v.contiguous() for k, v in weights.items()}, str(tmp), metadata={"format": "pt"})
    config = {k: v for k, v in cfg.items() if k != "do_normalize"}
    atomic_write(out / "config.json", json.dumps({**config, "architectures": ["Wav2Vec2ForPreTraining"]}, indent=2) + "\n")
    atomic_write(out / "preprocessor_config.json", json.dumps(_preprocessor(cfg), indent=2) + "\n")
    return out


def read_dict(path: Path, rows: int) -> list[str]:
    """fairseq's output symbols: its four specials, then the dict file's first column."""
    symbols = list(FAIRSEQ_SPECIALS)
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            symbols.append(line.split()[0])
    if len(symbols) != rows:
        raise CheckpointError(f"--dict {path}: {len(symbols) - 4} symbols + fairseq's 4 specials = {len(symbols)}, "
                              f"but the checkpoint's CTC head has {rows} outputs: not the dictionary it was trained with")
    return symbols


def _ctc_checkpoint(cfg: dict, weights: dict[str, torch.Tensor], symbols: list[str], out: Path,
                    source: Path, step: int) -> Path:
    """A speechxl checkpoint of a fairseq CTC model: the head's rows in speechxl's unit order."""
    letters = [s for s in symbols if s not in FAIRSEQ_SPECIALS]
    lower = not any(c.islower() for s in letters for c in s)  # LibriSpeech-style upper-case letters
    kept = [symbols.index("<s>"), symbols.index(UNK)] + ([symbols.index(WORD)] if WORD in symbols else [])
    kept += [symbols.index(s) for s in letters if s != WORD]
    names = [BLANK, UNK] + [symbols[i].lower() if lower else symbols[i] for i in kept[2:]]
    units = Units(names)
    weights = {**weights, "lm_head.weight": weights["lm_head.weight"][kept], "lm_head.bias": weights["lm_head.bias"][kept]}
    family, model_cfg = config_from_hf(cfg)
    model_cfg.frontend.normalize_waveform = cfg["do_normalize"]
    card = ModelCard(family=family, model=model_cfg, ctc=CTCConfig(), vocabulary=len(units), units="chars",
                     provenance={"init": source.name, "imported_from": "fairseq", "lower_cased": lower})
    with torch.device("meta"):  # the checkpoint's tensors become the model's own (assign): no second copy
        net = card.build()
    state = {from_hf_name(k): v for k, v in weights.items()}
    missing, unexpected = net.load_state_dict({k: v for k, v in state.items() if k is not None}, strict=False,
                                              assign=True)
    if missing or unexpected:
        raise CheckpointError(f"{source}: weights do not fit the model its config describes "
                              f"(missing {missing[:3]}, unexpected {unexpected[:3]})")
    card.frame_shift_ms = frame_shift_ms(net.backbone.frontend)
    out.mkdir(parents=True, exist_ok=True)
    card.save(out / "card.json")
    units.save(out / "units.txt")
    save_release(out, net.state_dict(), source.name, step)  # its name: where it lies is the user's business
    return out


def import_fairseq(checkpoint: str | Path, out: str | Path, dictionary: str | Path | None = None) -> Path:
    """Write ``out``: a transformers dir (pretrained) or a speechxl checkpoint (fine-tuned, with ``dictionary``)."""
    source = Path(checkpoint).resolve()
    state = load_fairseq(source)
    model, task, finetuned = model_and_task(state)
    cfg = hf_config(model, task)
    weights = hf_weights(state["model"])
    if not finetuned:
        return _write_hf(cfg, weights, Path(out))
    if dictionary is None:
        raise CheckpointError(f"{source}: a fine-tuned CTC model; give --dict, the dict.ltr.txt it was trained with "
                              "(fairseq keeps it beside the data, not in the checkpoint)")
    symbols = read_dict(Path(dictionary), weights["lm_head.weight"].shape[0])
    step = int((state.get("optimizer_history") or [{}])[-1].get("num_updates", 0))
    return _ctc_checkpoint(cfg, weights, symbols, Path(out), source, step)
