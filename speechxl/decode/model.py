"""A fine-tuned CTC model loaded for inference, with what decoding and scoring need around it:
its units, turning unit ids into text, references in units, and lexicons for word LMs. Built
from the checkpoint's model card alone (speechxl.models.card), never from the training code; or
from a transformers CTC dir (interop.hf_ctc), MMS's language adapters switched per language."""

from __future__ import annotations

import gc
import json
import logging
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch
from torch.overrides import TorchFunctionMode

from speechxl import checkpoint as ckpt
from speechxl import cpu_threads
from speechxl.data.manifest import Utterance
from speechxl.interop.frozen_base import BASE_FILE, base_weights
from speechxl.interop.hf_ctc import CTCDir, is_hf_ctc_dir, read_ctc_dir
from speechxl.models.adapters import merged_adapter
from speechxl.models.card import ModelCard, frame_shift_ms
from speechxl.models.ctc import CTCConfig
from speechxl.nn.conv_frontend import ConvFrontend
from speechxl.text.tokenize import BpeTokenizer, CharTokenizer, PhoneTokenizer, Tokenizer, load_tokenizer
from speechxl.text.units import WORD, Units

log = logging.getLogger(__name__)
PRECISIONS = ("fp32", "bf16", "int8")
"""How a loaded model computes: fp32; bf16 (matrix products in bfloat16 under autocast from bfloat16 weights,
norms, softmax and the log-mel frontend's own fp32 islands kept: AVX-512 BF16 / AMX CPUs, GPUs); int8 (its
Linear layers, and a waveform frontend's convolutions after its first, quantized dynamically to int8 weights
and activations, CPU only)."""


class LanguageAdapters:
    """A model's per-language weights (MMS: each layer's adapter and the output layer), put into it when
    audio of another language comes; a language's are read from disk when it is switched to."""

    def __init__(self, source: CTCDir, active: str):
        self.source, self.active = source, active

    def use(self, net: torch.nn.Module, lang: str | None) -> None:
        if lang == self.active:
            return
        if lang is None:
            raise ValueError(f"{self.source.path.name} has language adapters for {len(self.source.languages)} "
                             "languages: say which language the audio is in (--lang)")
        with torch.no_grad():
            for name, tensor in self.source.adapter(lang).items():
                net.get_parameter(name).copy_(tensor)
        self.active = lang


@dataclass
class LoadedModel:
    net: torch.nn.Module
    units: Units
    kind: str
    """chars, phones or bpe."""
    tokenizer: Tokenizer
    checkpoint: Path
    exp: Path
    card: ModelCard
    step: int
    language_units: dict[str, Units]
    """Each training language's own units (units_<lang>.txt; none for BPE)."""
    averaged: tuple[str, ...] = ()
    """The checkpoints whose weights were averaged, if any."""
    precision: str = "fp32"
    """One of PRECISIONS."""
    adapters: LanguageAdapters | None = None
    """Per-language weights (MMS), switched to the language of the audio."""

    def log_probs(self, wav: torch.Tensor, lengths: torch.Tensor, lang: str | None = None
                  ) -> tuple[torch.Tensor, torch.Tensor]:
        """wav (B, S), lengths (B,) on any device -> (log-probabilities (B, T, V) in fp32, frames (B,)),
        on the model's device, in its precision. ``lang``: the audio's language, for a model with
        language adapters (which it needs)."""
        device = next(self.net.parameters(), torch.empty(0)).device
        if device.type == "cpu":
            cpu_threads.follow_load()
        if self.adapters is not None:
            self.adapters.use(self.net, lang)
        with torch.inference_mode(), torch.autocast(device.type, torch.bfloat16, enabled=self.precision == "bf16"):
            return self.net.log_probs(wav.to(device), lengths.to(device))

    def own_units_mask(self, lang: str) -> torch.Tensor | None:
        """(V,) True for the units of ``lang``'s training text (with blank, <unk> and the word
        boundary); None for a language the model has no inventory of."""
        own = self.language_units.get(lang)
        if own is None:
            return None
        return torch.tensor([s in own for s in self.units.symbols])

    def detokenize(self, ids: list[int]) -> str:
        return self.tokenizer.text(self.units.decode(ids))

    def reference_units(self, utts: list[Utterance]) -> dict[str, list[str]]:
        """Each transcribed utterance's reference in the model's units (phones through G2P)."""
        done = [u for u in utts if u.text or u.phones]
        return {u.id: toks for u, toks in zip(done, self.tokenizer.tokenize(done))} | {
            u.id: [] for u in utts if not (u.text or u.phones)}

    def lexicon(self, arpa: Path, lang: str) -> dict[str, list[list[str]]]:
        """The words of an ARPA LM, each spelled in the model's units (one spelling each)."""
        words = arpa_words(arpa)
        tail = [WORD] if WORD in self.units else []
        return {w: [toks + tail] for w, toks in zip(words, self.word_tokens(words, lang)) if toks}

    def word_tokens(self, words: list[str], lang: str) -> list[list[str]]:
        """Each word of ``lang`` in the model's units (phones through G2P), tokenized alone."""
        return self.tokenizer.tokenize([Utterance(id=str(i), audio="", duration=0.0, lang=lang, speaker="", text=w)
                                        for i, w in enumerate(words)])

    def describe(self) -> dict:
        return {"checkpoint": str(self.checkpoint.resolve()), "step": self.step, "units": self.kind,
                "vocabulary": len(self.units), "init": self.card.provenance.get("init"), "family": self.card.family,
                "training_data": self.card.provenance.get("training_data"), "averaged": list(self.averaged),
                "parameters_m": round(sum(p.numel() for p in self.net.parameters()) / 1e6, 3),
                "precision": self.precision,
                "language_adapters": len(self.adapters.source.languages) if self.adapters else 0}


def arpa_words(path: Path) -> list[str]:
    """The words of an ARPA file's 1-grams, less <s>, </s> and <unk>."""
    words, inside = [], False
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if line.startswith("\\1-grams:"):
                inside = True
            elif line.startswith("\\"):
                if inside:
                    break
            elif inside and line:
                w = line.split("\t")[1]
                if w not in ("<s>", "</s>", "<unk>"):
                    words.append(w)
    return words


def with_mean_weights(card: ModelCard, checkpoints: list[Path]) -> torch.nn.Module:
    """The card's model with the mean of the checkpoints' weights (integer tensors, e.g. BatchNorm's batch
    count: the newest's), in fp32 on the CPU: built with the newest's, the others added a tensor at a time,
    so that the model and one tensor are held (three BASE checkpoints: 616 MiB at the peak, against 2351 when
    each checkpoint was read whole and the mean stacked)."""
    if (checkpoints[-1] / BASE_FILE).is_file():
        return with_frozen_base(card, checkpoints)
    net = built_with_weights(card, checkpoints[-1])
    for older in checkpoints[:-1]:
        ckpt.add_weights(net, older)
    with torch.no_grad():
        for tensor in net.state_dict().values():
            if tensor.is_floating_point():
                tensor.div_(len(checkpoints))
    return net


def with_frozen_base(card: ModelCard, checkpoints: list[Path]) -> torch.nn.Module:
    """An adapter run's model (its checkpoints hold what trained; ``base.json`` names the rest): the base's
    weights, then the mean of the checkpoints' own (one checkpoint: its own), LoRA's merged in, in fp32 on the
    CPU."""
    with torch.device("meta"), _DrawsSkipped():
        net = card.build()
    own = net.state_dict()
    base = {k: v for k, v in base_weights(checkpoints[-1]).items() if k in own and own[k].shape == v.shape}
    trained = ckpt.load_model_state(checkpoints[-1])
    for older in checkpoints[:-1]:
        for name, tensor in ckpt.load_model_state(older).items():
            trained[name] = trained[name] + tensor if tensor.is_floating_point() else trained[name]
    trained = {k: v / len(checkpoints) if v.is_floating_point() else v for k, v in trained.items()}
    weights = merged_adapter({**base, **trained}, card.adapter)  # LoRA's updates in the weights
    if unexpected := sorted(weights.keys() - own.keys()):
        raise ckpt.CheckpointError(f"{checkpoints[-1]}: {unexpected[:3]} are not in the model built for it")
    net.load_state_dict(weights, strict=False, assign=True)
    if left := [n for n, t in [*net.named_parameters(), *net.named_buffers()] if t.is_meta]:
        raise ckpt.CheckpointError(f"{checkpoints[-1]}: {left[:3]} are in neither it nor its base")
    return net


def in_precision(net: torch.nn.Module, precision: str) -> torch.nn.Module:
    """A model for inference in ``precision``, changed in place: bf16 stores its Linear and Conv1d layers'
    weights in bfloat16 (the operands autocast gives those layers: the same results, half their memory and no
    cast per call; norms and other parameters stay fp32; LoadedModel.log_probs runs it under autocast); int8
    quantizes its Linear layers (torch.ao's dynamic quantization: int8 weights, activations quantized per
    batch), with a waveform frontend's convolutions after its first (quantize_linears); fp32 leaves it as it is."""
    if precision == "bf16":
        for layer in net.modules():
            if isinstance(layer, (torch.nn.Linear, torch.nn.Conv1d)):
                layer.to(torch.bfloat16)
    elif precision == "int8":
        for name in reversed([n for n, _ in net.named_modules()]):  # by name: a list of modules would keep the
            quantize_linears(net.get_submodule(name))  # replaced Linear layers, and their fp32 weights, alive
    return net


def quantize_linears(module: torch.nn.Module) -> None:
    """``module``'s Linear layers quantized to int8 in place, their fp32 weights collected at once; a
    waveform frontend's convolutions too (ConvFrontend.unfold_convs). Applied to each module
    deepest first: torch.ao leaves a swapped Linear in a reference cycle (through its qconfig), so one call on
    the whole model held every fp32 weight beside every int8 one until the garbage collector ran (BASE peaked
    100 MiB higher)."""
    if isinstance(module, ConvFrontend):
        module.unfold_convs()
    if isinstance(module, torch.nn.Linear) or not any(isinstance(m, torch.nn.Linear) for m in module.modules()):
        return  # a Linear is swapped by its parent's call
    with warnings.catch_warnings():  # torch.ao.quantization's notices that torchao will replace it
        warnings.simplefilter("ignore")
        torch.ao.quantization.quantize_dynamic(module, {torch.nn.Linear}, dtype=torch.qint8, inplace=True)
    gc.collect()


class _DrawsSkipped(TorchFunctionMode):
    """Random initialisation of meta tensors skipped: there is nothing to draw, and torch's meta normal_ imports
    torch._dynamo (76 MiB, as much as a fifth of an int8 BASE model)."""

    DRAWS = {torch.Tensor.normal_, torch.Tensor.uniform_, torch.Tensor.erfinv_, torch.nn.init.normal_,
             torch.nn.init.uniform_, torch.nn.init.trunc_normal_, torch.nn.init.kaiming_uniform_}

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func in self.DRAWS:
            tensor = args[0] if args else kwargs["tensor"]  # torch.nn.init's functions are called either way
            if tensor.is_meta:
                return tensor
        return func(*args, **kwargs)


def built_with_weights(card: ModelCard, checkpoint: Path, precision: str = "fp32") -> torch.nn.Module:
    """The card's model with the checkpoint's weights, in ``precision``, on the CPU. Built on the meta device
    (no memory) and made real tensor by tensor as the weights are read, each in the precision it is kept in,
    int8 layers quantized as soon as read: only the final weights are ever held (BASE in int8 peaked at 379
    MiB, above the fp32 model, when built first and then quantized; now 145-180)."""
    if (Path(checkpoint) / BASE_FILE).is_file():
        return in_precision(with_frozen_base(card, [Path(checkpoint)]), precision)
    with torch.device("meta"), _DrawsSkipped():
        net = in_precision(card.build(), "bf16" if precision == "bf16" else "fp32")
    ckpt.load_weights(net, checkpoint, loaded=quantize_linears if precision == "int8" else None)
    return net


def _training_lang_dir(card: ModelCard, found: Path) -> Path | None:
    """The units dir training used (its G2P cache), where it still holds this checkpoint's units: the card
    may name it relative to a recipe's folder, and read from another folder that name is another model's
    (a released BPE model decoded beside another recipe's data would take that recipe's BPE model)."""
    named = card.provenance.get("lang_dir")
    own_bpe = card.units == "bpe" and (found / "bpe.model").is_file()
    if not named or not (Path(named) / "units.txt").is_file() or own_bpe:
        return None
    try:
        info = json.loads((Path(named) / "info.json").read_text(encoding="utf-8"))
        same = ((Path(named) / "units.txt").read_bytes() == (found / "units.txt").read_bytes()
                and info.get("kind") == card.units and info.get("voices") == card.voices)
    except (OSError, ValueError):
        return None
    return Path(named) if same else None


def load_model(path: str | Path, lang_dir: str | Path | None = None, device: str = "cpu",
               average: int = 1, precision: str = "fp32") -> LoadedModel:
    """The best (else last) checkpoint of an experiment dir, or a checkpoint dir, in eval mode on
    ``device`` (cpu, cuda, cuda:1, ...); with ``average`` N > 1, the mean weights of the experiment's
    newest N checkpoints (as ESPnet and icefall average; train.keep_last says how many are kept).
    ``lang_dir``: the model's units dir (its G2P cache, BPE model), if not where training found it;
    ``precision``: one of PRECISIONS."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision {precision!r}: not one of {', '.join(PRECISIONS)}")
    try:
        target = torch.device(device)
        torch.empty(0, device=target)
    except (RuntimeError, AssertionError) as e:
        raise ValueError(f"device {device!r} cannot be used here: {str(e).splitlines()[0]}") from None
    if target.type == "cpu":
        cpu_threads.follow_load()  # a first look at the load, so that the first batch already follows it
    if is_hf_ctc_dir(path):
        return _transformers_model(Path(path), target, average, precision)
    found = ckpt.find_checkpoint(path)
    card = ModelCard.load(found)
    if card.task == "lid":
        raise ValueError(f"{found}: a language-ID model has no units to transcribe with; `speechxl decode` "
                         "gives each utterance's language")
    units = Units.load(found / "units.txt")
    if len(units) != card.vocabulary:
        raise ValueError(f"{found}: units.txt has {len(units)} units, the model card {card.vocabulary}")
    if precision == "int8" and target.type != "cpu":
        raise ValueError(f"precision int8 is dynamic quantization for the CPU, not {device}; use bf16 there")
    averaged: tuple[str, ...] = ()
    if average > 1:
        kept = sorted(p for p in found.parent.glob("step_*") if (p / "model.safetensors").is_file())
        if len(kept) < average:
            raise ValueError(f"--average {average}: {found.parent} keeps {len(kept)} checkpoints "
                             f"({' '.join(p.name for p in kept)}); train with a larger train.keep_last")
        found, averaged = kept[-1], tuple(p.name for p in kept[-average:])
        net = in_precision(with_mean_weights(card, kept[-average:]), precision)
        log.info("weights averaged over %s", " ".join(averaged))
    else:
        net = built_with_weights(card, found, precision)
    net = net.eval().to(target)
    lang_dir = Path(lang_dir) if lang_dir else _training_lang_dir(card, found) or found
    if card.units == "bpe" and lang_dir == found and (found / "bpe.model").is_file():
        tokenizer = BpeTokenizer(found / "bpe.model")  # the checkpoint's own, whatever is in the current directory
    elif (lang_dir / "info.json").is_file():
        tokenizer = load_tokenizer(lang_dir)
    elif card.units == "bpe":
        tokenizer = BpeTokenizer(found / "bpe.model")
    elif card.units == "phones":
        tokenizer = PhoneTokenizer(g2p_dir=None, voices=card.voices)  # no lang dir at hand: G2P without a cache
    else:
        tokenizer = CharTokenizer()
    exp = found.parent.parent if found.parent.name == "checkpoints" else found
    step = (int(ckpt.load_trainer_state(found)["step"]) if (found / "trainer.pt").is_file()
            else int(json.loads((found / ckpt.RELEASE).read_text(encoding="utf-8"))["step"]))  # a slim release
    # checkpoints from before the language inventories travelled with them: the lang dir's
    language_files = sorted(found.glob("units_*.txt")) or sorted(lang_dir.glob("units_*.txt"))
    language_units = {f.stem.removeprefix("units_"): Units.load(f) for f in language_files}
    return LoadedModel(net, units, card.units, tokenizer, found, exp, card, step, language_units, averaged, precision)


def _transformers_model(path: Path, target: torch.device, average: int, precision: str) -> LoadedModel:
    """A transformers CTC dir (interop.hf_ctc) for inference: its one set of weights; with MMS's language
    adapters, the first language's in place until another's audio comes."""
    if average > 1:
        raise ValueError(f"--average {average}: {path} is a transformers model dir, with one set of weights")
    found = read_ctc_dir(path)
    if found.rows and precision == "int8":
        raise ValueError(f"{path}: precision int8 quantizes the layers whose weights each language switches; "
                         "use fp32 or bf16 with language adapters")
    card = ModelCard(family=found.family, model=found.model, ctc=CTCConfig(), vocabulary=len(found.units),
                     units=found.kind, provenance={"init": path.name, "imported_from": "transformers"})
    with torch.device("meta"), _DrawsSkipped():
        net = card.build()
    first = found.languages[0] if found.rows else None
    missing, unexpected = net.load_state_dict({**found.base, **(found.adapter(first) if first else {})},
                                              strict=False, assign=True)
    if missing or unexpected:
        raise ValueError(f"{path}: weights do not fit the model its config.json describes (missing "
                         f"{missing[:3]}, unexpected {unexpected[:3]})")
    card.frame_shift_ms = frame_shift_ms(net.backbone.frontend)
    net = in_precision(net, precision).eval().to(target)
    tokenizer = PhoneTokenizer(g2p_dir=None) if found.kind == "phones" else CharTokenizer()
    return LoadedModel(net, found.units, found.kind, tokenizer, path, path, card, 0, found.language_units,
                       precision=precision, adapters=LanguageAdapters(found, first) if first else None)
