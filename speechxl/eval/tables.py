"""Tables of strings as the reports write them: Markdown rows, and an HTML table (cells escaped)."""

from __future__ import annotations

import html

# a plain report page: numbers right-aligned, a table's first column (names) left-aligned
STYLE = ("body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}"
         "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}"
         "td:first-child,th:first-child{text-align:left}")


def md_text(text: object) -> str:
    """``text`` (an id, a transcript: anything from data) as Markdown shows it, not as Markdown: ``&`` and
    ``<`` escaped (no tag or entity of the data's reaches a page; ``>`` alone opens none), a backtick or
    line break made harmless."""
    shown = str(text).replace("&", "&amp;").replace("<", "&lt;").replace("`", "\\`")
    return " ".join(shown.splitlines())


def md_cell(text: object) -> str:
    """``md_text`` in a table cell: ``|`` escaped too, so that a table stays a table."""
    return md_text(text).replace("|", "\\|")


def md_code(text: object) -> str:
    """``text`` as an inline code span (a command, a path) that no backtick or ``|`` of its own breaks."""
    return "`" + " ".join(str(text).replace("`", "'").replace("|", "\\|").splitlines()) + "`"


def md_table(head: list[str], rows: list[list[str]]) -> list[str]:
    """The lines of a Markdown table; every cell escaped (``md_cell``)."""
    line = lambda cells: "| " + " | ".join(md_cell(c) for c in cells) + " |"  # noqa: E731
    return [line(head), "|" + "---|" * len(head)] + [line(r) for r in rows]


def html_table(head: list[str], rows: list[list[str]]) -> str:
    e = html.escape
    return ("<table><tr>" + "".join(f"<th>{e(h)}</th>" for h in head) + "</tr>"
            + "".join("<tr>" + "".join(f"<td>{e(c)}</td>" for c in r) + "</tr>" for r in rows) + "</table>")
