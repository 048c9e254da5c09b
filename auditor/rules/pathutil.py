"""Helpers shared by the path rules: grouping flows and describing them."""

from __future__ import annotations

from auditor.findings import Evidence
from auditor.paths.analysis import Flow
from auditor.rules.context import AuditContext


def group_flows(flows: list[Flow], key) -> dict[tuple, list[Flow]]:
    groups: dict[tuple, list[Flow]] = {}
    for f in flows:
        groups.setdefault(key(f), []).append(f)
    return dict(sorted(groups.items(), key=lambda kv: tuple(str(k).lower() for k in kv[0])))


def merged_flow_dict(flows: list[Flow]) -> dict:
    """One contracts §2 `flow` for a group: the first flow's hops, all sources' subnets and prefixes."""
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
        out.append(Evidence("route", r.origin or hop.id or "", None,
                            f"{r.prefix_text if r.prefix is None else r.prefix} -> {r.next_hop_type}"
                            f"{' ' + r.next_hop_ip_text if r.next_hop_ip_text else ''} ({r.source})",
                            f"decides the hop from {hop.hop}"))
    return out


def source_label(flow: Flow, ctx: AuditContext) -> str:
    """How a message names a flow's source: `rt-name (snet-a, snet-b)`, a subnet, or on-premises with its
    prefixes. Memoised per audit: a context's flows to thousands of endpoints share their sources."""
    if flow.source_kind == "on-premises":
        return "on-premises (" + ", ".join(str(p) for p in flow.source_prefixes) + ")" if flow.source_prefixes \
            else "on-premises (prefixes unknown: set [network] on_premises)"
    key = (flow.source, tuple(flow.source_subnets))
    label = ctx.labels.get(key)
    if label is None:
        estate = ctx.estate
        names = ", ".join(sorted(estate.name_of(s) for s in flow.source_subnets))
        label = f"{estate.name_of(flow.source)} ({names})" if names and flow.source_subnets != [flow.source] else names
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
                out.append(Evidence("unresolved", app.firewall.policy_id or app.id, "ruleCollectionGroups",
                                    list(verdict.why), "the firewall's rules could not be resolved: the flow is not "
                                    "assumed to ride an application rule (which would SNAT it)"))
    return out
