"""`pathaudit whatif` and `pathaudit plan`: audit before and after a change in one run.

The inputs are read and parsed once; the estate is built twice from the same records, the second
time with the changes applied to copies of the records they touch (auditor.whatif.changes). Both
estates go through the same audit (same config, same rules), so the two findings documents differ
only by what the change does.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from auditor.audit import AuditResult, run_audit
from auditor.config import Config
from auditor.errors import UsageError
from auditor.estate import build_estate
from auditor.ingest.files import RawInputs, read_inputs
from auditor.rules.remedy import Fix
from auditor.whatif.changes import Change, apply_changes, parse_changes
from auditor.whatif.compare import (
    Comparison,
    compare_findings,
    compare_flows,
    compare_routes,
    flow_facts,
    route_table,
)


@dataclass
class WhatIf:
    changes: list[Change]
    before: AuditResult
    after: AuditResult
    before_doc: dict[str, Any]
    after_doc: dict[str, Any]
    comparison: Comparison


def audit_raw(
    raw: RawInputs, config: Config, changes: list[Change] | None = None, **kwargs: Any
) -> AuditResult:
    """One audit of the parsed inputs, with `changes` applied to the records first."""
    if changes:

        def edit(records: dict[str, dict[str, Any]], files: dict[str, str]) -> None:
            apply_changes(records, files, changes)

        estate = build_estate(raw, edit)
    else:
        estate = build_estate(raw)
    return run_audit([], config, estate=estate, **kwargs)


def gateway_subnets(result: AuditResult) -> set[str]:
    return {s.lower() for s in result.context.gateway_subnet_ids} if result.context is not None else set()


def ai_endpoints(result: AuditResult) -> set[str]:
    accounts = set(result.estate.ai_accounts)
    return {
        pe.id.lower()
        for pe in result.estate.private_endpoints.values()
        if any((c.target_id or "").lower() in accounts for c in pe.connections)
    }


# Above this many (route context x endpoint) pairs, only the flows the rules read are compared (every
# flow of a 10k-subnet estate is 547k flows, 20 s to walk twice); below, every flow, blocked ones included.
EVERY_FLOW_PAIRS = 200_000


def compared_flows(result: AuditResult, every_flow: bool) -> set[Any]:
    if result.context is None:
        return set()
    if every_flow:
        return flow_facts(result.context.flows.iter_flows())
    return flow_facts(result.context.reported_flows)


def run_whatif(
    inputs: list[Path],
    config: Config,
    changes: list[Change],
    display: dict[Path, str] | None = None,
    **kwargs: Any,
) -> WhatIf:
    if not changes:
        raise UsageError(
            "whatif needs a change: --change FILE, --tag ID KEY=VALUE, --set ID PATH=VALUE or --plan"
        )
    raw = read_inputs(inputs, display)
    before = audit_raw(raw, config, **kwargs)
    after = audit_raw(raw, config, changes, **kwargs)
    before_doc, after_doc = before.document(), after.document()
    comparison = Comparison()
    compare_findings(before_doc, after_doc, comparison)
    analysis = before.context.flows if before.context is not None else None
    pairs = len(analysis.source_groups) * len(analysis.endpoints) if analysis is not None else 0
    comparison.every_flow = pairs <= EVERY_FLOW_PAIRS
    compare_flows(
        compared_flows(before, comparison.every_flow),
        compared_flows(after, comparison.every_flow),
        gateway_subnets(before) | gateway_subnets(after),
        ai_endpoints(before),
        comparison,
        comparison.every_flow,
    )
    if before.context is not None and after.context is not None:
        compare_routes(
            route_table(before.context.flows.routing.all_tables()),
            route_table(after.context.flows.routing.all_tables()),
            comparison,
        )
    return WhatIf(changes, before, after, before_doc, after_doc, comparison)


def plans(result: AuditResult, document: dict[str, Any]) -> dict[str, list[Fix]]:
    """fingerprint -> the fixes its rule proposes, smallest blast radius first (auditor.rules.remedy)."""
    if result.context is None:
        return {}
    out: dict[str, list[Fix]] = {}
    for f in document["findings"]:
        module = result.catalog[f["rule_id"]].module()
        fixes = getattr(module, "fixes", None)
        out[f["fingerprint"]] = list(fixes(f, result.context)) if fixes is not None else []
    return out


def plan_document(result: AuditResult, document: dict[str, Any]) -> dict[str, Any]:
    """`pathaudit plan`: per finding, its fixes as change sets with the az command and Bicep beside."""
    fixes = plans(result, document)
    items = []
    for f in document["findings"]:
        items.append(
            {
                "fingerprint": f["fingerprint"],
                "rule_id": f["rule_id"],
                "resource_id": f["resource_id"],
                "severity": f["severity"],
                "fixes": [x.to_dict() for x in fixes.get(f["fingerprint"], [])],
            }
        )
    return {"schema": "pathaudit/plan@1", "estate": document["estate"], "plans": items}


def plan_changes(result: AuditResult, document: dict[str, Any], only: set[str] | None) -> list[Change]:
    """The first fix of each selected finding (by rule id or fingerprint), as changes."""
    picked = []
    fixes = plans(result, document)
    for f in document["findings"]:
        if only and f["rule_id"] not in only and f["fingerprint"] not in only:
            continue
        applicable = [x for x in fixes.get(f["fingerprint"], []) if x.changes]
        if applicable:
            picked.append((f, applicable[0]))
    changes: list[Change] = []
    seen: set[str] = set()
    for f, fix in picked:
        for i, c in enumerate(fix.changes, 1):
            sig = repr(sorted(c.items()))
            if sig in seen:  # two findings, one fix (the NIC tag resolves NET001 and NET002)
                continue
            seen.add(sig)
            changes += parse_changes(
                {"changes": [c]}, f"plan for {f['rule_id']} {f['resource_id'].rsplit('/', 1)[-1]} ({i})"
            )
    return changes
