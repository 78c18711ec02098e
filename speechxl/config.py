"""Configs: keyword-only dataclasses, loaded from YAML with dotted overrides.

A YAML preset may name another with ``base: other.yaml`` (relative to itself); its keys are
merged over the base's, recursively. Overrides ``a.b=c`` are applied last; ``c`` is parsed as
YAML, so ``optim.lr=5e-4``, ``train.precision=bf16`` and ``model.encoder.layers=4`` all work.
Unknown keys are errors that name the key and list the known ones. A field typed by a union of
part configs (``encoder: TransformerConfig | ConformerConfig``) takes the one its ``type`` names
(``encoder: {type: conformer, hidden_size: 256}``); without ``type``, the field's default part.

    cfg = load_config(PretrainConfig, "recipes/pretrain/wav2vec2_tiny.yaml", ["optim.lr=1e-3"])
"""

from __future__ import annotations

import ast
import inspect
import textwrap
import types
import typing
from dataclasses import MISSING, Field, fields, is_dataclass
from pathlib import Path
from typing import Any, TypeVar

import yaml

from speechxl.atomic import atomic_write
from speechxl.errors import SpeechxlError

T = TypeVar("T")


class ConfigError(SpeechxlError, ValueError):
    """A config that cannot be built: the message names the key."""


def at_least(obj: Any, minimum: float, *names: str) -> None:
    """ConfigError naming the first field of ``names`` below ``minimum`` (for validate())."""
    for name in names:
        if not getattr(obj, name) >= minimum:
            raise ConfigError(f"{name} is at least {minimum}, not {getattr(obj, name)!r}")


def merge_dicts(base: dict, over: dict) -> dict:
    """``over`` merged into ``base``, recursively (a new dict)."""
    out = dict(base)
    for k, v in over.items():
        out[k] = merge_dicts(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def read_yaml(path: str | Path, _chain: tuple[Path, ...] = ()) -> dict:
    """A YAML preset with its ``base:`` chain resolved (a chain that comes back to a preset is an error)."""
    path = Path(path)
    if path.resolve() in _chain:
        raise ConfigError(f"{path}: its base: chain comes back to it ({' -> '.join(p.name for p in _chain)} -> "
                          f"{path.name})")
    if not path.is_file():
        raise ConfigError(f"{path}: no such config file")
    try:
        d = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as e:  # one line: where, and what the parser expected
        mark = getattr(e, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise ConfigError(f"{path}: not valid YAML: {where}{getattr(e, 'problem', None) or e}") from None
    if not isinstance(d, dict):
        raise ConfigError(f"{path}: a config is a mapping of keys to values")
    base = d.pop("base", None)
    if base is not None and not isinstance(base, str):
        raise ConfigError(f"{path}: base: names one preset file, not {base!r}")
    return merge_dicts(read_yaml(path.parent / base, _chain + (path.resolve(),)), d) if base else d


def apply_overrides(d: dict, overrides: list[str]) -> dict:
    """``["a.b=1", "c=x"]`` merged into ``d``; values are parsed as YAML."""
    for item in overrides:
        key, eq, raw = item.partition("=")
        if not eq or not key:
            raise ConfigError(f"override {item!r}: expected key=value, e.g. optim.lr=5e-4")
        try:
            value = yaml.safe_load(raw) if raw else None
        except yaml.YAMLError:
            raise ConfigError(f"override {item!r}: {raw!r} is not a YAML value "
                              "(quote it, or write a list as [a, b])") from None
        node: dict = {}
        nested = node
        parts = key.split(".")
        for p in parts[:-1]:
            nested[p] = {}
            nested = nested[p]
        nested[parts[-1]] = value
        d = merge_dicts(d, node)
    return d


def _tag(cls: type) -> str | None:
    """A part config's tag: the default of its ``type`` field (``encoder: {type: conformer}``)."""
    return next((f.default for f in fields(cls) if f.name == "type"), None)


def _tagged(options: list[type], value: Any, where: str, default: type | None) -> type:
    """Which of the dataclasses ``options`` a mapping (or a tag alone) is: the one its ``type`` names, else
    ``default``."""
    tag = value.get("type") if isinstance(value, dict) else None
    if tag is None:
        return default if default in options else options[0]
    for cls in options:
        if _tag(cls) == tag:
            return cls
    raise ConfigError(f"{where}.type: {tag!r} is not one this takes: {', '.join(str(_tag(c)) for c in options)}")


def part_config(cls: type, name: str, value: Any) -> type | None:
    """The part config class that field ``name`` of dataclass ``cls`` reads the mapping ``value`` as
    (by its ``type``); None when the field is not a part."""
    f = next((f for f in fields(cls) if f.name == name), None)
    if f is None or not isinstance(value, dict):
        return None
    options = _options(typing.get_type_hints(cls)[name])
    if not all(is_dataclass(a) for a in options):
        return None
    return _tagged(options, value, name, _default_type(f))


def _options(tp: Any) -> list[Any]:
    """The types a field of type ``tp`` may hold (a union's members, None left out)."""
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        return [a for a in typing.get_args(tp) if a is not type(None)]
    return [tp]


def _coerce(tp: Any, value: Any, where: str, default: type | None = None) -> Any:
    origin = typing.get_origin(tp)
    if isinstance(value, str) and all(is_dataclass(a) and _tag(a) for a in _options(tp)):
        value = {"type": value}  # a part named by its tag alone: its defaults (adapter=lora)
    if origin in (typing.Union, types.UnionType):
        args = _options(tp)
        if value is None:
            return None
        if all(is_dataclass(a) for a in args):  # a part chosen by its tag
            return from_dict(_tagged(args, value, where, default), value, where)
        return _coerce(args[0], value, where) if len(args) == 1 else value
    if is_dataclass(tp):
        return from_dict(_tagged([tp], value, where, tp), value, where)
    if origin is dict and isinstance(value, dict):  # dict[str, SomeConfig]: named sections
        kind = typing.get_args(tp)[1] if typing.get_args(tp) else Any
        return {k: _coerce(kind, v, f"{where}.{k}") for k, v in value.items()}
    if origin in (list, tuple) and not isinstance(value, (list, tuple)):
        raise ConfigError(f"{where}: expected a list, e.g. [0.9, 0.98], got {value!r}")
    if origin in (list, tuple):
        args = typing.get_args(tp)
        if origin is tuple and args and args[-1] is not Ellipsis:  # tuple[int, float]: fixed length
            if len(value) != len(args):
                raise ConfigError(f"{where}: expected {len(args)} values, got {value!r}")
            kinds = list(args)
        else:  # list[int], tuple[int, ...]
            kinds = [args[0] if args else Any] * len(value)
        items = [_coerce(k, v, f"{where}[{i}]") for i, (k, v) in enumerate(zip(kinds, value))]
        return tuple(items) if origin is tuple else items
    if tp is float and isinstance(value, (int, str)) and not isinstance(value, bool):
        try:  # YAML 1.1 reads 5e-4 (no dot) as a string
            return float(value)
        except ValueError:
            raise ConfigError(f"{where}: expected float, got {value!r}") from None
    if tp in (int, float, str, bool) and not isinstance(value, tp):
        raise ConfigError(f"{where}: expected {tp.__name__}, got {value!r}")
    return value


def _default_type(f: Field) -> type | None:
    return type(f.default_factory()) if f.default_factory is not MISSING else None


def from_dict(cls: type[T], d: dict, where: str = "") -> T:
    """Build dataclass ``cls`` from a nested dict; unknown keys are errors."""
    if not isinstance(d, dict):
        raise ConfigError(f"{where or cls.__name__}: expected a mapping, got {d!r}")
    hints = typing.get_type_hints(cls)
    known = {f.name: f for f in fields(cls) if f.init}
    unknown = sorted(set(d) - set(known))
    if unknown:
        raise ConfigError(f"{where + '.' if where else ''}{unknown[0]}: unknown key; known: {sorted(known)}")
    kwargs = {k: _coerce(hints[k], v, f"{where + '.' if where else ''}{k}", _default_type(known[k]))
              for k, v in d.items()}
    try:
        obj = cls(**kwargs)
    except TypeError as e:
        raise ConfigError(f"{where or cls.__name__}: {e}") from None
    return obj


def to_dict(obj: Any) -> Any:
    """A dataclass as plain nested dicts and lists (for YAML and JSON)."""
    if is_dataclass(obj):
        return {f.name: to_dict(getattr(obj, f.name)) for f in fields(obj)}
    if isinstance(obj, (list, tuple)):
        return [to_dict(v) for v in obj]
    if isinstance(obj, dict):
        return {k: to_dict(v) for k, v in obj.items()}
    return obj


def validate(obj: Any, where: str = "") -> None:
    """Call ``validate()`` on ``obj`` and every dataclass inside it."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            validate(v, f"{where}.{k}")
        return
    if not is_dataclass(obj):
        return
    for f in fields(obj):
        validate(getattr(obj, f.name), f"{where}.{f.name}" if where else f.name)
    check = getattr(obj, "validate", None)
    if check is not None:
        try:
            check()
        except ConfigError as e:
            raise ConfigError(f"{where}: {e}" if where else str(e)) from None


def load_config(cls: type[T], path: str | Path | None = None, overrides: list[str] = ()) -> T:
    """``cls`` from a YAML preset (or its defaults) plus dotted overrides, validated."""
    d = read_yaml(path) if path else {}
    cfg = from_dict(cls, apply_overrides(d, list(overrides)))
    validate(cfg)
    return cfg


def field_docs(cls: type) -> dict[str, str]:
    """The first line of each field's docstring (the string literal under it) in ``cls`` and its bases."""
    docs: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if not is_dataclass(klass):
            continue
        body = ast.parse(textwrap.dedent(inspect.getsource(klass))).body[0].body
        for field_node, doc in zip(body, body[1:]):
            if (isinstance(field_node, ast.AnnAssign) and isinstance(field_node.target, ast.Name)
                    and isinstance(doc, ast.Expr) and isinstance(doc.value, ast.Constant)):
                docs[field_node.target.id] = str(doc.value.value).strip().splitlines()[0]
    return docs


def commented_yaml(cfg: Any, indent: int = 0) -> str:
    """``cfg`` as YAML with each field's one-line doc as a comment (``--print_config``)."""
    docs = field_docs(type(cfg))
    lines = []
    for f in fields(cfg):
        value, pad = getattr(cfg, f.name), " " * indent
        comment = f"  # {docs[f.name]}" if f.name in docs else ""
        if is_dataclass(value):
            lines.append(f"{pad}{f.name}:{comment}\n{commented_yaml(value, indent + 2)}")
        else:
            dumped = yaml.safe_dump(to_dict(value), default_flow_style=True, allow_unicode=True, width=10**6)
            lines.append(f"{pad}{f.name}: {dumped.strip().removesuffix('...').strip()}{comment}")
    return "\n".join(lines)


def save_config(cfg: Any, path: str | Path) -> None:
    atomic_write(path, yaml.safe_dump(to_dict(cfg), sort_keys=False, allow_unicode=True))
