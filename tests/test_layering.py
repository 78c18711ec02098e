"""No module imports one above it (docs/architecture.md, "Layers"); lazy imports count too."""

import ast
from pathlib import Path

import speechxl

# lowest first; a package may import itself and the packages of lower layers only
LAYERS = [
    {"errors"},
    {"atomic", "options", "workers", "versions", "cpu_threads", "untrusted", "published", "dir_lock"},
    {"config"},
    {"checkpoint", "data"},
    {"text"},
    {"corpora", "eval"},
    {"nn", "objectives"},
    {"models"},
    {"interop"},
    {"train", "decode"},
    {"cli"},
    {"__main__", "speechxl"},  # the package's own __init__ is the public face: speechxl.load
]
RANK = {name: i for i, layer in enumerate(LAYERS) for name in layer}
ROOT = Path(speechxl.__file__).parent


def _package(module: str) -> str:
    """speechxl.decode.run -> decode; speechxl.atomic -> atomic; speechxl -> speechxl."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "speechxl":
            found.add(node.module)
            if node.module == "speechxl":  # from speechxl import checkpoint
                found |= {f"speechxl.{a.name}" for a in node.names if (ROOT / f"{a.name}.py").exists()
                          or (ROOT / a.name).is_dir()}
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == "speechxl"}
    return found


def test_every_package_has_a_layer():
    packages = {p.stem if p.is_file() else p.name for p in ROOT.iterdir()
                if (p.suffix == ".py" and p.stem != "__init__") or (p / "__init__.py").is_file()}
    assert packages <= set(RANK), f"give {sorted(packages - set(RANK))} a layer in this test and the map"


def test_no_module_imports_one_above_it_or_beside_it():
    wrong = []
    for path in sorted(ROOT.rglob("*.py")):
        rel = path.relative_to(ROOT.parent).with_suffix("")
        here = _package(".".join(rel.parts[:-1] if rel.name == "__init__" else rel.parts))
        for module in _imports(path):
            there = _package(module)
            if there != here and there != "speechxl" and RANK[there] >= RANK[here]:
                wrong.append(f"{path.relative_to(ROOT.parent)} imports {module}")
    assert not wrong, "\n".join(wrong)
