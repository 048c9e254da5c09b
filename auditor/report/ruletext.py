"""Rule text as HTML: the small, safe Markdown subset of rules/*/rule.yaml (rationale, remediation, notes).

Everything is escaped first (`h`); only then are these recognised in the escaped text:
paragraphs (separated by a blank line, or by a list), bullet lists (`- ` / `* `), numbered lists
(`1. `), continuation lines (indented under a list item), code spans (`` `x` ``), bold (`**x**`) and
https links (`[text](https://...)` or a bare `https://...`, as `<a rel="noopener noreferrer">`).
Nothing else becomes markup: raw HTML stays text, and a link to any other scheme (`javascript:`,
`data:`, `http:`) or to a relative path stays literal text, not a link.

Only the rule catalog's own text goes through here. Estate-derived strings (finding messages, names,
tags) and anything read from a findings document are never Markdown-rendered, only escaped.
"""

from __future__ import annotations

import re
from typing import Any

from auditor.report.text import h, text

_ITEM = re.compile(r"^(\s*)([-*]|\d{1,3}[.)])\s+(\S.*)$")
# in the escaped text: a code span (no backtick inside), a Markdown link, a bare https URL, bold
_CODE = re.compile(r"`([^`]+)`")
_INLINE = re.compile(
    r"\[(?P<label>[^\[\]]+)\]\((?P<url>[^()\s]+)\)"
    r"|(?P<bare>https://(?:[A-Za-z0-9\-._~:/?#@!$%+,;=*]|&amp;)+)"
    r"|\*\*(?P<bold>\S(?:.*?\S)?)\*\*"
)
# what a link may point at: https, a host name, an optional port and path (escaped text: & is &amp;)
_SAFE_URL = re.compile(
    r"https://[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?(?::\d{1,5})?(?:[/?#][^\s<>\"'`]*)?"
)
_TRAILING = ".,;:!?"
REL = "noopener noreferrer"


def _url(escaped: str) -> str | None:
    """The escaped URL when it is an https URL a report may link to, else None."""
    return escaped if _SAFE_URL.fullmatch(escaped) else None


def _links_and_bold(escaped: str, links: bool = True) -> str:
    """Links and bold in escaped prose; `links=False` inside a link's label (no nested anchors)."""

    def sub(m: re.Match[str]) -> str:
        if m.group("label") is not None:
            url = _url(m.group("url"))
            if url is None or not links:
                return m.group(0)  # not an https URL: left as the (escaped) text it is
            return f'<a href="{url}" rel="{REL}">{_links_and_bold(m.group("label"), False)}</a>'
        if m.group("bare") is not None:
            if not links:
                return m.group(0)
            raw = m.group("bare")
            core = raw.rstrip(_TRAILING)
            url = _url(core)
            if url is None:
                return raw
            return f'<a class="bare" href="{url}" rel="{REL}">{url}</a>{raw[len(core) :]}'
        return f"<strong>{_links_and_bold(m.group('bold'), links)}</strong>"

    return _INLINE.sub(sub, escaped)


def inline(value: Any) -> str:
    """One paragraph's text: escaped, then code spans, links and bold (never inside a code span)."""
    escaped = h(value)
    out: list[str] = []
    pos = 0
    for m in _CODE.finditer(escaped):
        out.append(_links_and_bold(escaped[pos : m.start()]))
        out.append(f"<code>{m.group(1)}</code>")
        pos = m.end()
    out.append(_links_and_bold(escaped[pos:]))
    return "".join(out)


def _blocks(source: str) -> list[tuple[str, list[str], int]]:
    """(kind, texts, start): ("p", [paragraph], 0), ("ul", items, 0), ("ol", items, first number)."""
    blocks: list[tuple[str, list[str], int]] = []
    para: list[str] = []
    items: list[list[str]] | None = None
    kind, start, indent = "", 1, 0

    def flush_para() -> None:
        if para:
            blocks.append(("p", [" ".join(para)], 0))
            para.clear()

    def close_list() -> None:
        nonlocal items
        if items:
            blocks.append((kind, [" ".join(i) for i in items], start))
        items = None

    for line in source.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        if not line.strip():
            flush_para()
            close_list()
            continue
        m = _ITEM.match(line)
        if m:
            flush_para()
            marker = m.group(2)
            k = "ol" if marker[0].isdigit() else "ul"
            if items is None or k != kind:
                close_list()
                kind, items = k, []
                start = int(marker[:-1]) if k == "ol" else 0
            items.append([m.group(3).strip()])
            indent = len(m.group(1))
            continue
        if items is not None and len(line) - len(line.lstrip()) > indent:
            items[-1].append(line.strip())
            continue
        close_list()
        para.append(line.strip())
    flush_para()
    close_list()
    return blocks


def rule_html(value: Any) -> str:
    """Rule text (Markdown subset) as HTML block elements; empty text gives an empty string."""
    out: list[str] = []
    for kind, texts, start in _blocks(text(value)):
        if kind == "p":
            out.append(f"<p>{inline(texts[0])}</p>")
            continue
        attr = f' start="{start}"' if kind == "ol" and start != 1 else ""
        out.append(f"<{kind}{attr}>" + "".join(f"<li>{inline(t)}</li>" for t in texts) + f"</{kind}>")
    return "\n".join(out)
