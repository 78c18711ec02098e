"""How well k-means labels match phones (HuBERT, Hsu et al. 2021, section IV-A).

Over frames that have both a phone y (from a forced alignment) and a label z, with p(y, z) their
joint frequencies:
  phone purity     E_z [max_y p(y | z)]   how pure in phones a cluster is (1: one phone each)
  cluster purity   E_y [max_z p(z | y)]   how much of a phone one cluster holds (falls as clusters grow)
  PNMI             I(y; z) / H(y)         the share of the phone's uncertainty a label removes
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from speechxl.atomic import atomic_write
from speechxl.eval.tables import md_table


def purity(joint: np.ndarray) -> dict[str, float]:
    """The three figures of a (phones, clusters) count matrix."""
    p = joint / max(joint.sum(), 1)
    py, pz = p.sum(1), p.sum(0)  # (Y,), (Z,)
    nz = p > 0
    mutual = float((p[nz] * np.log(p[nz] / np.outer(py, pz)[nz])).sum())
    entropy = float(-(py[py > 0] * np.log(py[py > 0])).sum())
    return {"phone_purity": float(p.max(0).sum()), "cluster_purity": float(p.max(1).sum()),
            "pnmi": mutual / entropy if entropy > 0 else 0.0}


def write_report(rows: dict[str, dict], out: str | Path, title: str, about: str) -> Path:
    """rows: label set -> figures (and counts); out.md and out.json."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    head = ["labels", "clusters", "frames", "phone purity", "cluster purity", "PNMI"]
    table = "\n".join(md_table(head, [[name, str(r["clusters"]), str(r["frames"]), f"{r['phone_purity']:.3f}",
                                       f"{r['cluster_purity']:.3f}", f"{r['pnmi']:.3f}"] for name, r in rows.items()]))
    atomic_write(out.with_suffix(".md"), f"# {title}\n\n{about}\n\n{table}\n")
    atomic_write(out.with_suffix(".json"), json.dumps(rows, indent=1) + "\n")
    return out.with_suffix(".md")
