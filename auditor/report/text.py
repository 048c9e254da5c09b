"""Escaping for every output format. Every string that comes from an estate is attacker-controlled.

One helper per context, each total (any value in, safe text out): `h` (HTML text and quoted
attribute values, also inline SVG), `xml_text` / `xml_attr` (XML 1.0: also drops the characters
XML cannot carry), `md` / `md_code` (Markdown text and code spans, table-safe), `csv_cell`
(formula injection). Tests feed them hostile strings; renderers never build markup another way.
`text` (display text) and `terminal` (terminal-safe text) live in `auditor.safetext`, which live
collection and the CLI use too.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from typing import Any

from auditor.ids import name_of
from auditor.safetext import text

# Markdown: backslash-escape what starts emphasis, code, links, tables, strikethrough; entities for HTML.
_MD_PUNCT = re.compile(r"([\\`*_\[\]|~!#])")
_FORMULA_LEAD = ("=", "+", "-", "@", "\t", "\r")


def h(value: Any) -> str:
    """HTML-escape for text nodes and double- or single-quoted attribute values."""
    return html.escape(text(value), quote=True)


def xml_text(value: Any) -> str:
    return text(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def xml_attr(value: Any) -> str:
    """For double-quoted XML attributes; newlines/tabs kept as character references (not normalised away)."""
    return (
        xml_text(value)
        .replace('"', "&quot;")
        .replace("'", "&apos;")
        .replace("\n", "&#10;")
        .replace("\r", "&#13;")
        .replace("\t", "&#9;")
    )


def md(value: Any) -> str:
    """Markdown inline text, safe inside a GFM table cell: one line, no markup, no raw HTML."""
    s = text(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    s = _MD_PUNCT.sub(r"\\\1", s)
    return " ".join(s.split())


def md_code(value: Any) -> str:
    """A Markdown code span holding `value` literally (fence longer than any backtick run inside).

    Pipes are escaped (GFM splits table cells on them even inside code spans); newlines become spaces.
    Values holding `<`, `>` or `&` are rendered with `md` instead: no raw angle bracket ever reaches
    the Markdown, whatever renderer (and however lax its code-span parsing) reads it.
    """
    raw = text(value)
    if any(c in raw for c in "<>&"):
        return md(raw)
    s = " ".join(raw.split()).replace("|", "\\|")
    if not s:
        return ""
    longest = max((len(m) for m in re.findall(r"`+", s)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if s.startswith("`") or s.endswith("`") else ""
    return f"{fence}{pad}{s}{pad}{fence}"


_INNER_FORMULA = re.compile(r"([,;\t|\r\n]\s*)([=+\-@])")


def csv_cell(value: Any) -> str:
    """A CSV cell that spreadsheets show as text: leading = + - @ (and tab/CR) neutralised with a quote."""
    if isinstance(value, bool):
        return "true" if value else "false"
    s = text(value)
    # a cell a spreadsheet may split again on another separator (; tab | newline) must not start a formula
    # there either: a quote goes before every = + - @ that follows a separator
    s = _INNER_FORMULA.sub(lambda m: m.group(1) + "'" + m.group(2), s)
    if s.startswith(_FORMULA_LEAD):
        return "'" + s
    return s


def short_name(resource_id: str) -> str:
    """The last segment of a resource id (its name); the id itself when it has no '/'."""
    return name_of(resource_id or "") or resource_id or ""


def truncate(s: str, limit: int) -> str:
    return s if len(s) <= limit else s[: max(limit - 1, 0)] + "…"


CHUNK = 1 << 16


def encode_lines(lines: list[str]) -> Iterator[bytes]:
    """Lines as UTF-8 bytes, newline-terminated, in pieces of about 64 KiB: outputs are written as they
    are encoded, never as one bytes object the size of the report."""
    batch: list[str] = []
    size = 0
    for line in lines:
        batch.append(line)
        size += len(line) + 1
        if size >= CHUNK:
            yield ("\n".join(batch) + "\n").encode("utf-8")
            batch, size = [], 0
    if batch:
        yield ("\n".join(batch) + "\n").encode("utf-8")
