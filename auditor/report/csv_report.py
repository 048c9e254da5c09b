"""CSV for spreadsheets and GRC tools: one row per finding, every cell safe to open in Excel/LibreOffice.

RFC 4180 (CRLF line ends, minimal quoting), UTF-8 without BOM. Cells starting with `= + - @` (or tab /
CR) get a leading `'` so spreadsheets show them as text instead of evaluating a formula.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

from auditor.report.text import csv_cell, short_name

COLUMNS = (
    "severity",
    "rule_id",
    "status",
    "resource_id",
    "resource_name",
    "title",
    "message",
    "fingerprint",
    "suppressed",
    "suppression_reason",
    "suppression_expires",
)


def rows(document: dict[str, Any]) -> list[list[str]]:
    out = []
    for f in document["findings"]:
        sup = f.get("suppression") or {}
        out.append(
            [
                csv_cell(v)
                for v in (
                    f["severity"],
                    f["rule_id"],
                    f["status"],
                    f["resource_id"],
                    short_name(f["resource_id"]),
                    f.get("title", ""),
                    f.get("message", ""),
                    f["fingerprint"],
                    bool(f.get("suppression")),
                    sup.get("reason", ""),
                    sup.get("expires", ""),
                )
            ]
        )
    return out


def iter_csv(document: dict[str, Any]) -> Iterator[bytes]:
    """The CSV in pieces of about 64 KiB."""
    buf = io.StringIO(newline="")
    writer = csv.writer(buf, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(COLUMNS)
    for row in rows(document):
        writer.writerow(row)
        if buf.tell() >= 1 << 16:
            yield buf.getvalue().encode("utf-8")
            buf.seek(0)
            buf.truncate()
    yield buf.getvalue().encode("utf-8")


def render_csv(document: dict[str, Any]) -> bytes:
    return b"".join(iter_csv(document))
