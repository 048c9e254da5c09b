"""Helpers shared by the path rules: grouping flows and describing them."""

from __future__ import annotations

from typing import Any

from auditor.findings import Evidence
from auditor.ids import key
from auditor.ipnet import fmt_ip
from auditor.paths.analysis import Flow
from auditor.rules.context import AuditContext


def group_flows(flows: list[Flow], key) -> dict[tuple, list[Flow]]:
    groups: dict[tuple, list[Flow]] = {}
    for f in flows:
        groups.setdefault(key(f), []).append(f)
    return dict(sorted(groups.items(), key=lambda kv: tuple(str(k).lower() for k in kv[0])))


# Lists inside a finding stop at this many entries; `destinations_total` (and the flows export,
# `--format flows`, which is always complete) say how many there are (docs/findings.md). 100 keeps the
# worst case of tests/bench/scale.py (200 spokes each asymmetric to 2,000 endpoints) under 50 MB.
LIST_CAP = 100
PATHS_SHOWN = 10  # AOAI005: bypassing sources whose evidence carries a whole forward path


def grouped_flow(flows: list[Flow]) -> dict[str, Any]:
    """The findings@2 `flow` of a group of flows: its sources (route contexts), the appliances on their
    forward paths, every destination (capped at LIST_CAP, with the total), and one representative flow
    with its hops (`example`: the first destination, in sort order, with the subnets and prefixes of all
    the group's flows to it). Only the example is rendered hop by hop: the work is per group, not per
    flow."""
    sources = sorted({f.source for f in flows}, key=str.lower)
    appliances: dict[str, None] = {}
    for f in flows:
        for app in f.tail.appliances:
            appliances.setdefault(app.id, None)
    dests: dict[tuple[str, int, int], Flow] = {}
    for f in flows:
        dests.setdefault((f.pe.id, f.pe_ip, f.port), f)
    order = sorted(dests, key=lambda d: (key(d[0]), d[1], d[2]))
    first = order[0]
    example = merged_flow_dict(
        [f for f in flows if (f.pe.id, f.pe_ip, f.port) == first and f.source == dests[first].source]
    )
    return {
        "sources": sources,
        "appliances": list(appliances),
        "destinations": [
            {"id": pe_id, "ip": fmt_ip(ip), "port": port} for pe_id, ip, port in order[:LIST_CAP]
        ],
        "destinations_total": len(order),
        "example": example,
    }


def merged_flow_dict(flows: list[Flow]) -> dict:
    """One docs/findings.md `flow` for a group: the first flow's hops, all sources' subnets and prefixes."""
    first = flows[0].to_dict()
    subnets = sorted({s for f in flows for s in f.source_subnets}, key=str.lower)
    prefixes: list[str] = []
    for f in flows:
        for p in f.to_dict()["source_prefixes"]:
            if p not in prefixes:
                prefixes.append(p)
    first["source_subnets"] = subnets
    first["source_prefixes"] = prefixes
    return first


def route_evidence(flow: Flow) -> list[Evidence]:
    out = []
    for hop in flow.forward_hops:
        r = hop.route
        if r is None:
            continue
        out.append(
            Evidence(
                "route",
                r.origin or hop.id or "",
                None,
                f"{r.prefix_text if r.prefix is None else r.prefix} -> {r.next_hop_type}"
                f"{' ' + r.next_hop_ip_text if r.next_hop_ip_text else ''} ({r.source})",
                f"decides the hop from {hop.hop}",
            )
        )
    return out


def source_label(flow: Flow, ctx: AuditContext) -> str:
    """How a message names a flow's source: `rt-name (snet-a, snet-b)`, a subnet, or on-premises with its
    prefixes. Memoised per audit: a context's flows to thousands of endpoints share their sources."""
    if flow.source_kind == "on-premises":
        return (
            "on-premises (" + ", ".join(str(p) for p in flow.source_prefixes) + ")"
            if flow.source_prefixes
            else "on-premises (prefixes unknown: set [network] on_premises)"
        )
    key = (flow.source, tuple(flow.source_subnets))
    label = ctx.labels.get(key)
    if label is None:
        estate = ctx.estate
        names = ", ".join(sorted(estate.name_of(s) for s in flow.source_subnets))
        label = (
            f"{estate.name_of(flow.source)} ({names})"
            if names and flow.source_subnets != [flow.source]
            else names
        )
        ctx.labels[key] = label
    return label


def unresolved_evidence(ctx: AuditContext, flow: Flow) -> list[Evidence]:
    """An `unresolved` item per firewall on the flow whose rules could not decide which kind of rule
    carries it: the finding stands (nothing is assumed to SNAT) and says what was missing."""
    out = []
    for app in flow.tail.appliances:
        if app.kind == "azure-firewall" and app.firewall is not None:
            verdict = ctx.flows.rule_verdict(app.firewall, flow.source_prefixes, flow.pe_ip, flow.source_key)
            if verdict.kind == "unresolved":
                out.append(
                    Evidence(
                        "unresolved",
                        app.firewall.policy_id or app.id,
                        "ruleCollectionGroups",
                        list(verdict.why),
                        "the firewall's rules could not be resolved: the flow is not "
                        "assumed to ride an application rule (which would SNAT it)",
                    )
                )
    return out


def context_resource(f: Flow) -> str:
    """The route context as a resource: its route table, the subnet when it has none; for on-premises the
    GatewaySubnet's route table (or the GatewaySubnet), or the hub gateway it enters through."""
    if f.source_kind != "on-premises":
        return f.source
    if f.view is not None:
        return f.view.route_table_id or (
            f.view.subnet_ids[0] if f.view.subnet_ids else f.entry_gateway or f.source
        )
    return f.entry_gateway or f.source


def nva_name(ctx: AuditContext, unit: str) -> str:
    """How messages name an NVA: its VM for a VM NVA's NIC, else the scale set or hub NVA itself."""
    nic = ctx.estate.nics.get(key(unit))
    vm = ctx.estate.vms.get(key(nic.vm_id or "")) if nic is not None else None
    return vm.name if vm is not None else ctx.estate.name_of(unit)


def nvas_to_endpoints(ctx: AuditContext) -> dict[str, tuple]:
    """NVA unit id (lower) -> (appliance, unit id, members, delivered flows through it) over all flows;
    worked out once per audit (NET002 and NET003 both read it)."""
    flows = ctx.reported_flows
    memo_key = ("nvas_to_endpoints", id(flows))  # the flows differ with the rules an audit runs
    hit = ctx.memo.get(memo_key)
    if hit is not None:
        return hit
    out: dict[str, tuple] = {}
    seen: dict[int, list] = {}  # id(tail.appliances) -> the (unit lists) it feeds: tails share lists
    for f in flows:
        if f.outcome != "delivered" or not f.tail.appliances:
            continue
        targets = seen.get(id(f.tail.appliances))
        if targets is None:
            targets = seen[id(f.tail.appliances)] = [
                out.setdefault(key(unit), (app, unit, members, []))[3]
                for app in f.tail.appliances
                if app.kind == "nva"
                for unit, members in sorted(app.units.items())
            ]
        for bucket in targets:
            bucket.append(f)
    hit = ctx.memo[memo_key] = dict(sorted(out.items()))
    return hit
