"""Any speechxl model as a ``torch.export`` program: the export for models transformers has no class
for (BEST-RQ, wav2vec 2.0 on log-mel frames), and a torch-only one for the others.

    speechxl export-torch exp/pretrain_bestrq out_dir     # out_dir/encoder.pt2
    speechxl export-torch exp/ctc_chars out_dir           # out_dir/model.pt2, units.txt, card.json

Loading needs torch only, not speechxl:

    program = torch.export.load("out_dir/model.pt2").module()
    log_probs, frames = program(wav, lengths)   # wav (B, S) float32 at 16 kHz, lengths (B,) int64 samples

A pretrained model's program gives ``hidden (B, T, D), valid (B, T)`` (the encoder's output and which
frames are real), a fine-tuned one's ``log_probs (B, T, V), frames (B,)`` over units.txt (line 0
the CTC blank). Batch size and length are dynamic; the program is the model in eval mode (no
dropout or masking), and it is checked against the model on a batch of another shape before it is
written.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import torch

from speechxl import checkpoint as ckpt
from speechxl.atomic import atomic_path
from speechxl.decode.model import load_model
from speechxl.models.registry import saved_architecture
from speechxl.models.speech_encoder import build_encoder
from speechxl.published import project_folder


class _Encoder(torch.nn.Module):
    def __init__(self, backbone: torch.nn.Module):
        super().__init__()
        self.backbone = backbone

    def forward(self, wav: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out = self.backbone(wav, lengths)
        return out.hidden, out.valid


class _CTC(torch.nn.Module):
    def __init__(self, net: torch.nn.Module):
        super().__init__()
        self.net = net

    def forward(self, wav: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.net.log_probs(wav, lengths)


def _export(module: torch.nn.Module, path: Path) -> Path:
    module.eval()
    auto = torch.export.Dim.AUTO
    example = (torch.randn(2, 32000), torch.tensor([32000, 20000]))
    # size-oblivious: a dimension traced at 2 holds for 1 too (one utterance, the usual call)
    with torch.no_grad(), torch.fx.experimental._config.patch(backed_size_oblivious=True):
        program = torch.export.export(module, example, dynamic_shapes=({0: auto, 1: auto}, {0: auto}))
    checks = [(torch.randn(3, 40000) * 0.1, torch.tensor([40000, 31000, 16000])),  # another length modulo the strides
              (torch.randn(1, 25727) * 0.1, torch.tensor([25727]))]
    with torch.no_grad():
        for check in checks:
            for got, want in zip(program.module()(*check), module(*check)):
                if got.shape != want.shape or (got.float() - want.float()).abs().max() > 1e-4:
                    raise RuntimeError(f"{path}: the exported program and the model disagree on a batch of shape "
                                       f"{tuple(check[0].shape)}; not written")
    with atomic_path(path) as tmp:
        torch.export.save(program, str(tmp))
    return path


def pretrained_encoder(found: Path) -> torch.nn.Module:
    """The speech encoder (the model's ``backbone``) of a pretraining checkpoint dir, with its weights."""
    _, cfg = saved_architecture(found)
    encoder = build_encoder(cfg)
    state = ckpt.load_model_state(found)
    encoder.load_state_dict({k.removeprefix("backbone."): v for k, v in state.items() if k.startswith("backbone.")})
    return encoder


def export_torch(model_dir: str | Path, out_dir: str | Path, keep_paths: bool = False) -> Path:
    """``out_dir`` with encoder.pt2 (pretrained) or model.pt2 + units (fine-tuned); returns the program's path."""
    found, out = ckpt.find_checkpoint(model_dir), Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if not (found / "units.txt").is_file():  # a pretraining checkpoint: its speech encoder
        return _export(_Encoder(pretrained_encoder(found)), out / "encoder.pt2")
    m = load_model(found)
    for f in sorted(found.glob("units*.txt")):
        if f.is_symlink():
            raise ValueError(f"{f}: a link; an export copies the checkpoint's own files only")
        shutil.copyfile(f, out / f.name)
    (m.card if keep_paths else m.card.with_public_paths(project_folder(m.exp))).save(out / "card.json")
    return _export(_CTC(m.net), out / "model.pt2")
