"""Every text file speechxl reads or writes names its encoding: with Python's UTF-8 mode off and a
C or Latin-1 locale, the default encoding would misread IPA, Cyrillic or Devanagari."""

import ast
from pathlib import Path

SOURCES = sorted((Path(__file__).resolve().parents[1] / "speechxl").rglob("*.py"))


def text_io_without_encoding(tree: ast.AST) -> list[int]:
    lines = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or any(k.arg == "encoding" for k in node.keywords):
            continue
        name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
        if name in ("read_text", "write_text"):
            lines.append(node.lineno)
        elif name == "open" and not (isinstance(node.func, ast.Attribute) and getattr(node.func.value, "id", "") == "os"):
            mode = node.args[1] if len(node.args) > 1 else next((k.value for k in node.keywords if k.arg == "mode"), None)
            binary = isinstance(mode, ast.Constant) and "b" in str(mode.value)
            path_open = isinstance(node.func, ast.Attribute) and not node.args  # Path.open() with no mode
            if not binary and (node.args or path_open):
                lines.append(node.lineno)
    return lines


def test_every_text_read_and_write_names_its_encoding():
    found = {f"{p.relative_to(p.parents[1])}:{line}" for p in SOURCES
             for line in text_io_without_encoding(ast.parse(p.read_text(encoding="utf-8")))}
    assert not found, sorted(found)


def test_the_check_sees_what_it_looks_for():
    code = ('p.read_text()\np.write_text(s)\nopen(f, "w")\nopen(f)\np.open()\n'
            'open(f, "rb")\np.read_text(encoding="utf-8")\nopen(f, encoding="utf-8")\nos.open(f, os.O_RDONLY)\n')
    assert text_io_without_encoding(ast.parse(code)) == [1, 2, 3, 4, 5]
