"""Values that come from other people's files: names checked before use, paths kept inside the output.

Every id, speaker, language code, tier name and path inside a corpus, manifest, annotation, model
dir or exp dir may be hostile or broken. Two rules keep speechxl safe with them
(``docs/guarantees.md``, "What speechxl trusts"):

- A value from data that becomes a name (an utterance id, a speaker, a language code) is checked
  where it enters (``name_problem``, ``lang_problem``): a bad one is a reject or a one-line error
  naming it, never silently renamed.
- Every write whose path is built from such a value goes through ``inside(root, ...)``, which
  refuses a path that resolves outside ``root`` (``..``, an absolute part, a symlink out).

>>> name_problem("common_voice_es_1")
>>> name_problem("../x")
"has '/'"
>>> lang_problem("zh-CN"), lang_problem("../L")
(None, "not a language code (letters, digits, '-' and '_', at most 64)")
"""

from __future__ import annotations

import re
from pathlib import Path

from speechxl.errors import SpeechxlError

MAX_NAME = 200
"""Characters of an id or speaker: a file name of it (plus a suffix) stays under the 255-byte limit."""
LANG = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
"""A language code: CommonVoice's locales (es, zh-CN, rm-sursilv), ISO 639-3 (ain), BCP 47 (sr-Latn)."""


class UnsafePath(SpeechxlError):
    """A path built from data that would leave the directory it was meant for."""


def shown(value: object, limit: int = 60) -> str:
    """``value`` as one printable line for a message or a TSV cell: repr's escapes, cut to ``limit``."""
    text = ascii(value) if isinstance(value, str) and not value.isprintable() else str(value)
    text = text.replace("\t", "\\t")
    return text if len(text) <= limit else text[:limit - 3] + "..."


def name_problem(value: object) -> str | None:
    """Why ``value`` cannot be an utterance id, a speaker or a recording id, or None.

    Such a name is written into line-based files (Kaldi's, rejects.tsv, trn files) and may become
    part of a file name: no tab, line break or other control character, no path separator, not ``.``
    or ``..``, valid Unicode (not the undecodable bytes of a non-UTF-8 file), at most MAX_NAME
    characters. A space is allowed (ELAN participants and recording names have them).
    """
    if not isinstance(value, str):
        return f"not text ({type(value).__name__})"
    if not value:
        return "empty"
    if len(value) > MAX_NAME:
        return f"{len(value)} characters (at most {MAX_NAME})"
    if undecodable(value):
        return "not valid UTF-8"
    if "/" in value or "\\" in value:
        return f"has {'/' if '/' in value else chr(92)!r}"
    if value in (".", ".."):
        return f"is {value!r}"
    if any(c.isspace() and c != " " for c in value):
        return "has a tab or line break"
    if not value.isprintable():
        return "has a control character"
    return None


def undecodable(text: str) -> bool:
    """Whether ``text`` holds bytes that were not UTF-8 (read with ``surrogateescape``): it cannot be written."""
    return any(0xD800 <= ord(c) <= 0xDFFF for c in text)


def lang_problem(value: object) -> str | None:
    """Why ``value`` cannot be a language code (it names files: ``lm/<lang>.arpa``), or None."""
    if isinstance(value, str) and LANG.fullmatch(value):
        return None
    return "not a language code (letters, digits, '-' and '_', at most 64)"


def check_name(value: object, what: str, where: str) -> str:
    """``value`` if it can be a name (``what``: "utterance id", "speaker"), else a ValueError naming
    ``where`` (a file and line) and the value."""
    if problem := name_problem(value):
        raise ValueError(f"{where}: {what} {shown(value)}: {problem}")
    return value  # type: ignore[return-value]


def check_lang(value: object, where: str) -> str:
    """``value`` if it is a language code, else a ValueError naming ``where`` and the value."""
    if problem := lang_problem(value):
        raise ValueError(f"{where}: language {shown(value)}: {problem}")
    return value  # type: ignore[return-value]


def inside(root: str | Path, *parts: str | Path) -> Path:
    """``root`` joined with ``parts``, refused (UnsafePath) unless it resolves to a place below
    ``root`` (a part that is absolute, holds ``..``, or passes through a symlink out of it)."""
    root = Path(root)
    path = root.joinpath(*parts)
    base = root.resolve()
    target = path.resolve()
    if target == base or not target.is_relative_to(base):
        raise UnsafePath(f"{shown(str(path), 120)}: outside {root}, where it was to be written; "
                         "a name in the input is not a plain name")
    return path


def file_name(name: str, limit: int = 80) -> str:
    """A file-name-safe form of a name from data, for a file whose name also holds a unique key
    (a store's copy of a recording): characters other than letters, digits, ``._-`` become ``_``."""
    safe = re.sub(r"[^\w.-]", "_", str(name), flags=re.ASCII)[:limit].lstrip(".")
    return safe or "_"
