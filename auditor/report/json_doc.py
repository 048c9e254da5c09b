"""The findings document as bytes: fixed key order, two-space indent, UTF-8, trailing newline."""

from __future__ import annotations

from typing import Any

import orjson


def dumps(document: dict[str, Any]) -> bytes:
    return orjson.dumps(document, option=orjson.OPT_INDENT_2) + b"\n"
