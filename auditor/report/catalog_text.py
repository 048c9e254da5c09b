"""`pathaudit rules` output: the catalog as a table, one rule in full."""

from __future__ import annotations

from auditor.catalog import load_catalog
from auditor.errors import UsageError


def catalog_table() -> str:
    catalog = load_catalog()
    rows = [("ID", "SEVERITY", "FAMILY", "STATUS", "TITLE")]
    for rid, rule in catalog.items():
        rows.append((rid, rule.severity, rule.family, rule.default_status, rule.title))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = ["  ".join(r[i].ljust(widths[i]) for i in range(4)) + "  " + r[4] for r in rows]
    return "\n".join(lines) + "\n"


def rule_text(rule_id: str) -> str:
    catalog = load_catalog()
    rule = catalog.get(rule_id)
    if rule is None:
        raise UsageError(f"no rule {rule_id!r} (known: {', '.join(catalog)})")
    out = [
        f"{rule.id}: {rule.title}",
        f"severity: {rule.severity}   family: {rule.family}   status: {rule.default_status}",
        "",
    ]
    if rule.resource_types:
        out += [f"resource types: {', '.join(rule.resource_types)}", ""]
    out += ["Rationale", *indent(rule.rationale), "", "Remediation", *indent(rule.remediation), ""]
    if rule.notes:
        out += ["Notes", *indent(rule.notes), ""]
    out.append("References")
    out += [f"  - {r.get('title', '')}: {r.get('url', '')}" for r in rule.references]
    out += ["", "Mappings"]
    policies = rule.mappings.get("azure_policy") or []
    for p in policies:
        out.append(f"  Azure Policy {p.get('id')}: {p.get('name', '')}")
    if not policies:
        out.append("  Azure Policy: none built in")
    out.append(f"  MCSB: {', '.join(rule.mappings.get('mcsb') or []) or 'none'}")
    out.append(f"  NIST 800-53: {', '.join(rule.mappings.get('nist_800_53') or []) or 'none'}")
    return "\n".join(out) + "\n"


def indent(text: str) -> list[str]:
    return ["  " + line if line else "" for line in text.splitlines()]
