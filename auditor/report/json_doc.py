"""The findings document as bytes: fixed key order, two-space indent, UTF-8, trailing newline, written
in pieces (`iter_json`) so that no renderer holds the whole output as one bytes object."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson

_MARK = "\x00pathaudit-stream\x00"


def iter_indented(skeleton: dict[str, Any], path: tuple[str | int, ...], items: list[Any]) -> Iterator[bytes]:
    """The bytes of `orjson.dumps(skeleton with items at path, OPT_INDENT_2) + b"\\n"`, one list item at a
    time: the skeleton is dumped with a marker in place of the list, split there, and each item is dumped
    on its own and indented to its depth (same bytes as dumping the whole, without building them)."""
    if not items:
        holder = _set(skeleton, path, [])
        yield orjson.dumps(holder, option=orjson.OPT_INDENT_2) + b"\n"
        return
    holder = _set(skeleton, path, [_MARK])
    text = orjson.dumps(holder, option=orjson.OPT_INDENT_2) + b"\n"
    marker = orjson.dumps(_MARK)
    at = text.index(marker)
    line_start = text.rindex(b"\n", 0, at) + 1
    indent = text[line_start:at]
    yield text[:line_start]
    newline = b"\n" + indent
    for i, item in enumerate(items):
        yield (
            (b",\n" if i else b"")
            + indent
            + orjson.dumps(item, option=orjson.OPT_INDENT_2).replace(b"\n", newline)
        )
    yield text[at + len(marker) :]


def _set(obj: Any, path: tuple[str | int, ...], value: Any) -> Any:
    """A shallow copy of `obj` with `value` at `path` (dict keys, or an int index for a list)."""
    head, *rest = path
    out: Any = list(obj) if isinstance(obj, list) else dict(obj)
    out[head] = value if not rest else _set(obj[head], tuple(rest), value)
    return out


def iter_json(document: dict[str, Any]) -> Iterator[bytes]:
    """A findings document one finding at a time; any other JSON document whole."""
    if isinstance(document, dict) and isinstance(document.get("findings"), list):
        return iter_indented(document, ("findings",), document["findings"])
    return iter((orjson.dumps(document, option=orjson.OPT_INDENT_2) + b"\n",))


def dumps(document: Any) -> bytes:
    return b"".join(iter_json(document))
