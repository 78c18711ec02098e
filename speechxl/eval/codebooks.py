"""Which codewords each language uses, and how much the languages share (XLSR, Conneau et al. 2020,
section 5; CLSRIL-23 and IndicWav2Vec did the same).

Input: each language's code ids, one per frame, over equal durations of speech (a frame's codes of
its G groups combined into one id, as XLSR counted them: V^G possible ids). Output: per language the
frames, the distinct ids used and the perplexity of their distribution (exp of its entropy: the
number of equally used ids it is worth) and its self-affinity (its first half of frames against
its second: what sampling alone leaves of a perfect 1, the ceiling for a pair); the affinity of each pair (1 - Jensen-Shannon distance,
base 2: 1 = the same distribution, 0 = no id in common); the languages clustered by that distance
(average linkage, scipy) and placed in 2-D (classical multidimensional scaling); and affinity against
how related the languages are (speechxl.text.language_families). Written as codebooks.json,
codebooks.md and a self-contained codebooks.html (heat map, dendrogram, 2-D map).
"""

from __future__ import annotations

import base64
import html
import io
import itertools
import json
from pathlib import Path

import numpy as np

from speechxl.atomic import atomic_write
from speechxl.eval.tables import STYLE, html_table, md_table
from speechxl.text.language_families import family, relatedness


def combined_ids(codes: np.ndarray, entries: int) -> np.ndarray:
    """codes (N, G) of G groups of ``entries`` codewords -> (N,) ids in [0, entries ** G)."""
    ids = np.zeros(codes.shape[0], dtype=np.int64)
    for g in range(codes.shape[1]):
        ids = ids * entries + codes[:, g]
    return ids


def perplexity(counts: np.ndarray) -> float:
    p = counts[counts > 0] / counts.sum()
    return float(np.exp(-(p * np.log(p)).sum()))


def js_distance(p: np.ndarray, q: np.ndarray) -> float:
    """Jensen-Shannon distance (the square root of the divergence), base 2: in [0, 1]."""
    from scipy.spatial.distance import jensenshannon

    return float(jensenshannon(p, q, base=2))


def classical_mds(distance: np.ndarray, dims: int = 2) -> np.ndarray:
    """Points (L, dims) whose Euclidean distances best keep ``distance`` (L, L) (Torgerson's scaling)."""
    n = distance.shape[0]
    centre = np.eye(n) - np.ones((n, n)) / n
    gram = -0.5 * centre @ (distance ** 2) @ centre
    values, vectors = np.linalg.eigh(gram)
    top = np.argsort(values)[::-1][:dims]
    return vectors[:, top] * np.sqrt(np.clip(values[top], 0, None))


def analyse(ids: dict[str, np.ndarray], space: int) -> dict:
    """ids: language -> its frames' code ids (equal durations); space: the number of possible ids."""
    from scipy.cluster.hierarchy import linkage
    from scipy.spatial.distance import squareform

    langs = sorted(ids)
    counts = {lang: np.bincount(ids[lang], minlength=space).astype(np.float64) for lang in langs}
    probs = {lang: c / max(c.sum(), 1.0) for lang, c in counts.items()}
    affinity = np.ones((len(langs), len(langs)))
    for i, j in itertools.combinations(range(len(langs)), 2):
        affinity[i, j] = affinity[j, i] = 1.0 - js_distance(probs[langs[i]], probs[langs[j]])
    distance = 1.0 - affinity
    tree = linkage(squareform(distance, checks=False), method="average") if len(langs) > 1 else np.zeros((0, 4))
    used_by_all = np.logical_and.reduce([counts[lang] > 0 for lang in langs])
    pairs = [{"a": langs[i], "b": langs[j], "affinity": float(affinity[i, j]),
              "shared_levels": relatedness(langs[i], langs[j])}
             for i, j in itertools.combinations(range(len(langs)), 2)]
    return {
        "space": space,
        "languages": {lang: {"frames": int(counts[lang].sum()), "codes_used": int((counts[lang] > 0).sum()),
                             "perplexity": perplexity(counts[lang]), "self_affinity": _self_affinity(ids[lang], space),
                             "family": " > ".join(family(lang)) or "unknown"}
                      for lang in langs},
        "codes_used_by_all": int(used_by_all.sum()),
        "affinity": {"languages": langs, "matrix": affinity.round(6).tolist()},
        "linkage": tree.tolist(),
        "embedding": dict(zip(langs, classical_mds(distance).round(6).tolist())) if len(langs) > 2 else {},
        "pairs": sorted(pairs, key=lambda p: -p["affinity"]),
        "by_relatedness": _by_relatedness(pairs),
    }


def _self_affinity(ids: np.ndarray, space: int) -> float:
    half = len(ids) // 2
    if half == 0:
        return float("nan")
    first, second = (np.bincount(part, minlength=space) for part in (ids[:half], ids[half:2 * half]))
    return 1.0 - js_distance(first / half, second / half)


def _by_relatedness(pairs: list[dict]) -> list[dict]:
    """Mean affinity of the pairs that share 0, 1, 2, ... levels of their family trees."""
    out = []
    for levels in sorted({p["shared_levels"] for p in pairs}):
        group = [p["affinity"] for p in pairs if p["shared_levels"] == levels]
        out.append({"shared_levels": levels, "pairs": len(group), "mean_affinity": float(np.mean(group))})
    return out


def write_report(result: dict, out_dir: str | Path, title: str) -> Path:
    """codebooks.json, codebooks.md and codebooks.html (figures embedded) in ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write(out / "codebooks.json", json.dumps(result, indent=1) + "\n")
    atomic_write(out / "codebooks.md", "\n".join(_markdown(result, title)) + "\n")
    atomic_write(out / "codebooks.html", _html(result, title))
    return out


def _tables(result: dict) -> list[tuple[list[str], list[list[str]]]]:
    usage = (["language", "frames", "codes used", "perplexity", "self-affinity", "family"],
             [[lang, str(s["frames"]), str(s["codes_used"]), f"{s['perplexity']:.1f}", f"{s['self_affinity']:.3f}",
               s["family"]] for lang, s in result["languages"].items()])
    langs, matrix = result["affinity"]["languages"], result["affinity"]["matrix"]
    affinity = ([""] + langs, [[a] + [f"{v:.3f}" for v in row] for a, row in zip(langs, matrix)])
    related = (["family levels shared", "pairs", "mean affinity"],
               [[str(r["shared_levels"]), str(r["pairs"]), f"{r['mean_affinity']:.3f}"] for r in result["by_relatedness"]])
    pairs = (["pair", "affinity", "family levels shared"],
             [[f"{p['a']}-{p['b']}", f"{p['affinity']:.3f}", str(p["shared_levels"])] for p in result["pairs"]])
    return [usage, affinity, related, pairs]


CAPTIONS = ("Codes used per language", "Affinity (1 - Jensen-Shannon distance)",
            "Affinity by relatedness", "Pairs, most alike first")


def _markdown(result: dict, title: str) -> list[str]:
    md = [f"# {title}", "", f"{result['space']} possible code ids; {result['codes_used_by_all']} used by every language."]
    for caption, (head, rows) in zip(CAPTIONS, _tables(result)):
        md += ["", f"## {caption}", ""] + md_table(head, rows)
    return md


def _figure(result: dict) -> bytes:
    """PNG: the affinity heat map, the dendrogram and the 2-D map side by side."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from scipy.cluster.hierarchy import dendrogram

    langs, matrix = result["affinity"]["languages"], np.array(result["affinity"]["matrix"])
    fig, (heat, tree, plane) = plt.subplots(1, 3, figsize=(13, 4.2), dpi=100)
    im = heat.imshow(matrix, cmap="viridis")
    heat.set_xticks(range(len(langs)), langs)
    heat.set_yticks(range(len(langs)), langs)
    for i, j in itertools.product(range(len(langs)), repeat=2):
        heat.text(j, i, f"{matrix[i, j]:.2f}", ha="center", va="center", fontsize=7,
                  color="black" if matrix[i, j] > 0.5 * (matrix.max() + matrix.min()) else "white")
    heat.set_title("affinity")
    fig.colorbar(im, ax=heat, fraction=0.046)
    if result["linkage"]:
        dendrogram(np.array(result["linkage"]), labels=langs, ax=tree, color_threshold=0)
    tree.set_title("average-linkage clusters")
    tree.set_ylabel("Jensen-Shannon distance")
    for lang, (x, y) in result["embedding"].items():
        plane.scatter(x, y, color="tab:blue")
        plane.annotate(lang, (x, y), textcoords="offset points", xytext=(4, 4))
    plane.set_title("2-D map (classical MDS)")
    plane.margins(0.2)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()


def _html(result: dict, title: str) -> str:
    e = html.escape
    page = [f"<!doctype html><meta charset='utf-8'><title>{e(title)}</title>"
            f"<style>{STYLE}td:last-child{{text-align:left}}img{{max-width:100%}}</style>",
            f"<h1>{e(title)}</h1>",
            f"<p>{result['space']} possible code ids; {result['codes_used_by_all']} used by every language.</p>",
            f"<img alt='affinity, clusters and map' src='data:image/png;base64,{base64.b64encode(_figure(result)).decode()}'>"]
    for caption, (head, rows) in zip(CAPTIONS, _tables(result)):
        page += [f"<h2>{e(caption)}</h2>", html_table(head, rows)]
    return "\n".join(page) + "\n"
