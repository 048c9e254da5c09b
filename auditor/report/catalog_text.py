"""`pathaudit rules` output: the catalog as a table or JSON, one rule in full or as JSON."""

from __future__ import annotations

import json
from typing import Any

from auditor.catalog import Rule, load_catalog
from auditor.errors import UsageError

# `pathaudit rules --format json`: each rule's keys, always all of them and in this order
RULE_JSON_KEYS = (
    "id",
    "title",
    "synopsis",
    "severity",
    "severity_note",
    "family",
    "default_status",
    "resource_types",
    "references",
    "mappings",
)


def catalog_table() -> str:
    catalog = load_catalog()
    rows = [("ID", "SEVERITY", "FAMILY", "STATUS", "TITLE")]
    for rid, rule in catalog.items():
        rows.append((rid, rule.severity, rule.family, rule.default_status, rule.title))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = ["  ".join(r[i].ljust(widths[i]) for i in range(4)) + "  " + r[4] for r in rows]
    return "\n".join(lines) + "\n"


def find_rule(rule_id: str) -> Rule:
    """A rule by id, compared case-insensitively; an unknown id is a usage error naming the known ones."""
    catalog = load_catalog()
    rule = catalog.get(rule_id) or next(
        (r for rid, r in catalog.items() if rid.lower() == rule_id.lower()), None
    )
    if rule is None:
        raise UsageError(f"no rule {rule_id!r} (known: {', '.join(catalog)})")
    return rule


def rule_json(rule: Rule) -> dict[str, Any]:
    """One rule as `rules --format json` shows it: RULE_JSON_KEYS in order, nested keys sorted."""
    values = {
        "id": rule.id,
        "title": rule.title,
        "synopsis": rule.synopsis,
        "severity": rule.severity,
        "severity_note": rule.severity_note,
        "family": rule.family,
        "default_status": rule.default_status,
        "resource_types": list(rule.resource_types),
        "references": [sorted_keys(r) for r in rule.references],
        "mappings": sorted_keys(rule.mappings),
    }
    return {key: values[key] for key in RULE_JSON_KEYS}


def sorted_keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): sorted_keys(value[k]) for k in sorted(value, key=str)}
    if isinstance(value, (list, tuple)):
        return [sorted_keys(v) for v in value]
    return value


def catalog_json(rule_id: str | None = None) -> str:
    """The catalog (a JSON array, by rule id) or one rule (a JSON object), deterministic, ending in a newline."""
    data: Any = (
        rule_json(find_rule(rule_id))
        if rule_id is not None
        else [rule_json(rule) for _, rule in sorted(load_catalog().items())]
    )
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def rule_text(rule_id: str) -> str:
    rule = find_rule(rule_id)
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
