"""`pathaudit whatif` and `pathaudit plan`: audit before and after a change in one run.

The inputs are read and parsed once; the estate is built twice from the same records, the second
time with the changes applied to copies of the records they touch (auditor.whatif.changes). Both
estates go through the same audit (same config, same rules), so the two findings documents differ
only by what the change does.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from auditor.audit import AuditResult, run_audit
from auditor.config import Config
from auditor.errors import UsageError
from auditor.estate import Merged, build_estate, merge_inputs
from auditor.gcpause import gc_paused
from auditor.ids import key, qualified_name
from auditor.ingest.files import RawInputs, discover, read_inputs
from auditor.ipnet import PrefixError, parse_cidr
from auditor.paths.analysis import FlowAnalysis
from auditor.paths.reuse import WalkReuse
from auditor.problems import Problem
from auditor.report.plan_text import PLAN_SCHEMA
from auditor.report.whatif_report import GONE
from auditor.rules.remedy import Fix
from auditor.whatif.changes import Change, apply_changes, first_fixes
from auditor.whatif.compare import (
    Comparison,
    FlowFact,
    Routes,
    compare_findings,
    compare_flows,
    compare_reach,
    compare_routes,
    flow_facts,
    route_table,
)
from auditor.whatif.scope import walks_reusable


@dataclass
class WhatIf:
    changes: list[Change]
    before_doc: dict[str, Any]
    after_doc: dict[str, Any]
    after_problems: list[Problem]  # what the input could not show after the change (the CLI says so)
    comparison: Comparison
    reuse: WalkReuse | None = None  # the walks carried over from before the change (None: none were)
    why_not: str | None = None  # why the walks were not reused


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


@dataclass
class Sides:
    """The two audits of one what-if, the second reusing the first's forward walks where the change
    left them as they were (auditor.paths.reuse, auditor.whatif.scope)."""

    before: AuditResult
    after: AuditResult
    reuse: WalkReuse | None  # None: the change may move walks, every one was computed again
    why_not: str | None  # why walks were not reused


@dataclass
class Baseline:
    """The audit before a change and what the audit after it reuses: the merged records (built again
    with the change applied) and, held by its flow analysis, every forward walk it made."""

    result: AuditResult
    merged: Merged | None  # None: audited without keeping anything for reuse


def audit_before(raw: RawInputs, config: Config, reuse: bool = True, **kwargs: Any) -> Baseline:
    if not reuse:
        return Baseline(audit_raw(raw, config, **kwargs), None)

    def keep(analysis: FlowAnalysis) -> None:
        analysis.keep_walks = True

    merged = merge_inputs(raw)
    estate = build_estate(raw, merged=merged)
    return Baseline(run_audit([], config, estate=estate, on_analysis=keep, **kwargs), merged)


def audit_both(
    raw: RawInputs,
    config: Config,
    changes: list[Change],
    reuse: bool = True,
    before: Baseline | None = None,
    **kwargs: Any,
) -> Sides:
    """`before` (from audit_before) when the caller has audited the estate already (`whatif --plan`).
    Without `reuse` the audit after the change is made from scratch (tests compare both ways)."""
    base = before if before is not None else audit_before(raw, config, reuse, **kwargs)
    touched: set[str] = set()

    def edit(records: dict[str, dict[str, Any]], files: dict[str, str]) -> None:
        touched.update(apply_changes(records, files, changes))

    estate = build_estate(raw, edit, merged=base.merged if reuse else None)
    prior = base.result
    why_not = walks_reusable(prior.estate.records, estate.records, touched) if reuse else "reuse is off"
    shared: list[WalkReuse] = []

    def attach(analysis: FlowAnalysis) -> None:
        if prior.context is not None:
            shared.append(WalkReuse(prior.context.flows, analysis))
            analysis.reuse = shared[0]

    after = run_audit([], config, estate=estate, on_analysis=attach if why_not is None else None, **kwargs)
    return Sides(prior, after, shared[0] if shared else None, why_not)


def gateway_subnets(result: AuditResult) -> set[str]:
    return {s.lower() for s in result.context.gateway_subnet_ids} if result.context is not None else set()


def ai_endpoints(result: AuditResult) -> set[str]:
    accounts = set(result.estate.ai_accounts)
    return {
        pe.id.lower()
        for pe in result.estate.private_endpoints.values()
        if any((c.target_id or "").lower() in accounts for c in pe.connections)
    }


def gateway_reach(result: AuditResult, facts: set[FlowFact]) -> dict[str, str]:
    """Per AI account (id) the API gateway can reach, how: a delivered flow from a gateway
    subnet to one of its approved private endpoints, else its public endpoint when public network
    access is on and its network rules admit the gateway (open, an IP rule covering a gateway public
    IP, or a virtual network rule for a gateway subnet). Empty without a gateway in the estate.
    Connection approval: https://learn.microsoft.com/azure/private-link/manage-private-endpoint;
    network rules: https://learn.microsoft.com/azure/ai-services/cognitive-services-virtual-networks"""
    estate, context = result.estate, result.context
    gateways = gateway_subnets(result)
    if context is None or not (gateways or estate.apims):
        return {}
    public_ips = context.gateway_public_ips
    approved: dict[str, str] = {}  # PE id (as the flows carry it) -> account id
    for pe in estate.private_endpoints.values():
        for c in pe.connections:
            account = estate.ai_accounts.get(key(c.target_id or ""))
            if account is not None and c.status.lower() == "approved":
                approved[pe.id] = account.id
    reached: dict[str, set[str]] = {}
    from_gateway: dict[tuple[str, ...], bool] = {}
    for _ctx, subnets, pe_id, _port, verdict, _apps in facts:
        owner = approved.get(pe_id)
        if owner is None or verdict in GONE:
            continue
        hit = from_gateway.get(subnets)
        if hit is None:
            hit = from_gateway[subnets] = any(s.lower() in gateways for s in subnets)
        if hit:
            reached.setdefault(owner, set()).add(pe_id.rsplit("/", 1)[-1])
    out = {owner: f"private endpoint {min(names)}" for owner, names in reached.items()}
    for account in sorted(estate.ai_accounts.values(), key=lambda a: a.id.lower()):
        k = account.id
        if k in out or (account.public_network_access or "").lower() == "disabled":
            continue
        acls = account.network_acls
        if acls is None or (acls.default_action or "").lower() != "deny":
            out[k] = "its public endpoint, open to all networks"
            continue
        for rule in acls.ip_rules:
            try:
                admits = any(parse_cidr(rule).contains_ip(ip) for ip in public_ips)
            except PrefixError:  # unreadable: it may admit the gateway, so losing it must show
                out[k] = f"its public endpoint, perhaps through IP rule {rule!r} (not an address or prefix)"
                break
            if admits:
                out[k] = f"its public endpoint, through IP rule {rule}"
                break
        else:
            subnet = next((s for s in acls.virtual_network_rules if s.lower() in gateways), None)
            if subnet is not None:
                out[k] = f"its public endpoint, through the virtual network rule for {qualified_name(subnet)}"
    return out


# Above this many (route context x endpoint) pairs, only the flows the rules read are compared (every
# flow of a 10k-subnet estate is 547k flows, 20 s to walk twice); below, every flow, blocked ones included.
EVERY_FLOW_PAIRS = 200_000


def compared_flows(result: AuditResult, every_flow: bool) -> set[Any]:
    if result.context is None:
        return set()
    if every_flow:
        return flow_facts(result.context.flows.iter_flows())
    return flow_facts(result.context.reported_flows)


@dataclass
class Side:
    """What the comparison reads of one audit. Plain data (it pickles), so the audit after a change can
    run in a second process (auditor.whatif.worker)."""

    document: dict[str, Any]
    problems: list[Problem]
    reported: set[FlowFact]  # the flows the rules read (the pairs compared on a large estate)
    every: set[FlowFact] | None  # every flow, blocked ones included; None above EVERY_FLOW_PAIRS pairs
    routes: Routes
    reach: dict[str, str]  # gateway_reach
    gateways: set[str]  # gateway_subnets
    ai: set[str]  # ai_endpoints


def summarize(result: AuditResult, every_flow_pairs: int | None = None) -> Side:
    """`every_flow_pairs`: the threshold (default EVERY_FLOW_PAIRS, read at call time)."""
    limit = EVERY_FLOW_PAIRS if every_flow_pairs is None else every_flow_pairs
    analysis = result.context.flows if result.context is not None else None
    pairs = len(analysis.source_groups) * len(analysis.endpoints) if analysis is not None else 0
    reported = compared_flows(result, False)
    every = compared_flows(result, True) if pairs <= limit else None
    return Side(
        result.document(),
        list(result.problems),
        reported,
        every,
        route_table(analysis.routing.all_tables()) if analysis is not None else {},
        # every delivered flow to an AI account's endpoint is among the reported ones
        gateway_reach(result, reported),
        gateway_subnets(result),
        ai_endpoints(result),
    )


def missing_pairs(facts: set[FlowFact], other: set[FlowFact]) -> dict[str, set[str]]:
    """Endpoint id -> the route contexts `other` holds a flow of to it and `facts` does not."""
    have = {(f[0], f[2]) for f in facts}
    pairs: dict[str, set[str]] = {}
    for context, endpoint in {(f[0], f[2]) for f in other} - have:
        pairs.setdefault(endpoint, set()).add(context)
    return pairs


def delivered_facts(result: AuditResult, pairs: dict[str, set[str]]) -> set[FlowFact]:
    """On a large estate each side holds the flows its own rules read. A pair (route context, endpoint)
    one side reported and the other did not (a tag makes an NVA's flows symmetric: no rule reads them
    any more) is asked of the other side too, delivered flows only as the rules read them, so both
    sides are compared on the same pairs and a flow missing from one side is one not delivered there."""
    if not pairs or result.context is None:
        return set()
    return flow_facts(result.context.flows.delivered_between(pairs))


# Above this many bytes of input (a .json.gz counts ten times its size), and with a second CPU, the
# audit after the change runs in a second process while this one audits the estate as it is
# (auditor.whatif.worker). Decided before reading, so that the worker reads and imports meanwhile. The
# 10k-subnet benchmark estate is 40 MB; the demo, 0.1 MB; a process costs about half a second.
PARALLEL_BYTES = 8_000_000


def input_bytes(inputs: list[Path]) -> int:
    total = 0
    for path, error, _ in discover(inputs):
        if error is None:
            try:
                size = path.stat().st_size
            except OSError:
                continue
            total += size * 10 if path.name.endswith(".gz") else size
    return total


def cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def run_whatif(
    inputs: list[Path],
    config: Config,
    changes: list[Change],
    display: dict[Path, str] | None = None,
    *,
    raw: RawInputs | None = None,
    before: Baseline | None = None,
    parallel: bool | None = None,
    **kwargs: Any,
) -> WhatIf:
    """`raw` and `before` when the caller has read and audited the inputs already (`whatif --plan`).
    `parallel`: the audit after the change in a second process (None: when the estate is large and a
    second CPU is there); the answer is the same either way (tests/test_whatif_parallel.py)."""
    if not changes:
        raise UsageError(
            "whatif needs a change: --change FILE, --tag ID KEY=VALUE, --set ID PATH=VALUE or --plan"
        )
    if parallel is None:
        parallel = cpus() >= 2 and input_bytes(inputs) >= PARALLEL_BYTES
    with gc_paused():  # both audits and the comparison: millions of acyclic tuples (auditor.gcpause)
        if parallel:
            return _in_two_processes(inputs, display, raw, config, changes, before, kwargs)
        if raw is None:
            raw = read_inputs(inputs, display)
        return _run_whatif(raw, config, changes, before, **kwargs)


def _run_whatif(
    raw: RawInputs, config: Config, changes: list[Change], baseline: Baseline | None, **kwargs: Any
) -> WhatIf:
    sides = audit_both(raw, config, changes, before=baseline, **kwargs)
    before, after = summarize(sides.before), summarize(sides.after)
    return _compare(
        changes,
        before,
        after,
        lambda pairs: delivered_facts(sides.before, pairs),
        lambda pairs: delivered_facts(sides.after, pairs),
        sides.reuse,
        sides.why_not,
    )


def _in_two_processes(
    inputs: list[Path],
    display: dict[Path, str] | None,
    raw: RawInputs | None,
    config: Config,
    changes: list[Change],
    baseline: Baseline | None,
    kwargs: dict[str, Any],
) -> WhatIf:
    """The audit after the change in a second process (auditor.whatif.worker) while this one audits the
    estate as it is: the walks are not shared, the work is done at the same time. The changes are
    tried on the records here first, so a change that names nothing fails before the audit here (the
    worker reports the same error; it is stopped on the way out)."""
    from auditor.whatif.worker import Job, Worker

    with Worker.start(Job(inputs, display, config, changes, kwargs, EVERY_FLOW_PAIRS)) as worker:
        if raw is None:
            raw = read_inputs(inputs, display)
        merged = merge_inputs(raw)
        apply_changes(dict(merged.records), dict(merged.files), changes)  # usage errors before any audit
        result = (
            baseline.result
            if baseline is not None
            else run_audit([], config, estate=build_estate(raw, merged=merged), **kwargs)
        )
        before = summarize(result)
        after = worker.side()
        return _compare(
            changes,
            before,
            after,
            lambda pairs: delivered_facts(result, pairs),
            worker.delivered,
            None,
            "the audit after the change ran in a second process",
        )


def _compare(
    changes: list[Change],
    before: Side,
    after: Side,
    more_before: Any,
    more_after: Any,
    reuse: WalkReuse | None,
    why_not: str | None,
) -> WhatIf:
    comparison = Comparison()
    compare_findings(before.document, after.document, comparison)
    comparison.every_flow = before.every is not None and after.every is not None
    if comparison.every_flow:
        facts_before, facts_after = set(before.every or ()), set(after.every or ())
    else:
        facts_before, facts_after = set(before.reported), set(after.reported)
        facts_after |= more_after(missing_pairs(facts_after, facts_before))
        facts_before |= more_before(missing_pairs(facts_before, facts_after))
    compare_reach(before.reach, after.reach, comparison)
    compare_flows(
        facts_before,
        facts_after,
        before.gateways | after.gateways,
        before.ai,
        comparison,
        comparison.every_flow,
    )
    compare_routes(before.routes, after.routes, comparison)
    return WhatIf(changes, before.document, after.document, after.problems, comparison, reuse, why_not)


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
    return {"schema": PLAN_SCHEMA, "estate": document["estate"], "plans": items}


def plan_changes(result: AuditResult, document: dict[str, Any], only: set[str] | None) -> list[Change]:
    """The first fix of each selected finding (by rule id or fingerprint), as changes."""
    fixes = plans(result, document)
    picked = []
    for f in document["findings"]:
        if only and f["rule_id"] not in only and f["fingerprint"] not in only:
            continue
        applicable = [x for x in fixes.get(f["fingerprint"], []) if x.changes]
        if applicable:
            picked.append((f["rule_id"], f["resource_id"], list(applicable[0].changes)))
    return first_fixes(picked)
