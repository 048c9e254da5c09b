"""CSV for spreadsheets and GRC tools: one row per finding, every cell safe to open in Excel/LibreOffice.

RFC 4180 (CRLF line ends, minimal quoting), UTF-8 without BOM. Cells starting with `= + - @` (or tab /
CR) get a leading `'` so spreadsheets show them as text instead of evaluating a formula.

Columns (docs/findings.md): the first eleven are fixed in position (consumers key on them); the ones
added since are appended after them, never inserted: `subscription` and `resource_group` (parsed from
the resource id; empty when it is not an ARM id), `remediation` (the finding's remediation text, one
cell) and `controls` (the rule's control mappings from the catalog, e.g.
`policy:71ef260a-8f18-47b7-abcb-62d0673d94dc; mcsb:IM-1; nist:AC-2,AC-3,IA-2`).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

from auditor.catalog import Rule
from auditor.ids import ResourceId, name_of
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
    # appended columns: keep every column above at its position
    "subscription",
    "resource_group",
    "remediation",
    "controls",
)


def id_parts(resource_id: str) -> tuple[str, str, str]:
    """(subscription, resource group, ARM name) of a resource id, read by auditor.ids; ARM names a child
    resource `parent/child` (`vnet-hub/snet-pe`). Text that is not a whole subscription-scoped id
    (`on-premises`, a hub NVA's key, a resource group's own id): ("", "", its last segment)."""
    rid = ResourceId.parse(resource_id or "")
    if rid is None:
        return "", "", name_of(resource_id or "")
    name = f"{name_of(rid.parent)}/{rid.name}" if rid.parent else rid.name
    return rid.subscription, rid.resource_group or "", name


def controls(rule: Rule | None) -> str:
    """The rule's control mappings in one cell: `policy:ID,ID; mcsb:NS-3; nist:AC-4,SC-7` (empty groups left out)."""
    if rule is None:
        return ""
    m = rule.mappings
    groups = (
        ("policy", [p["id"] for p in m.get("azure_policy") or []]),
        ("mcsb", list(m.get("mcsb") or [])),
        ("nist", list(m.get("nist_800_53") or [])),
    )
    return "; ".join(f"{label}:{','.join(ids)}" for label, ids in groups if ids)


def rows(document: dict[str, Any], catalog: dict[str, Rule] | None = None) -> list[list[str]]:
    if catalog is None:
        from auditor.catalog import load_catalog

        catalog = load_catalog()  # cached; the bundled rules, read in sorted order
    out = []
    for f in document["findings"]:
        sup = f.get("suppression") or {}
        sub, group, _name = id_parts(f["resource_id"])
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
                    sub,
                    group,
                    f.get("remediation", ""),
                    controls(catalog.get(f["rule_id"])),
                )
            ]
        )
    return out


def iter_csv(document: dict[str, Any], catalog: dict[str, Rule] | None = None) -> Iterator[bytes]:
    """The CSV in pieces of about 64 KiB. `catalog` (control mappings) defaults to the bundled one."""
    buf = io.StringIO(newline="")
    writer = csv.writer(buf, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(COLUMNS)
    for row in rows(document, catalog):
        writer.writerow(row)
        if buf.tell() >= 1 << 16:
            yield buf.getvalue().encode("utf-8")
            buf.seek(0)
            buf.truncate()
    yield buf.getvalue().encode("utf-8")


def render_csv(document: dict[str, Any], catalog: dict[str, Rule] | None = None) -> bytes:
    return b"".join(iter_csv(document, catalog))
