"""`pathaudit trace`: one source to one destination, every hop with the route that decided it and why."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from auditor.config import Config
from auditor.errors import UsageError
from auditor.estate.lookup import resolve_subnet
from auditor.estate.model import Estate, PrivateEndpoint, Subnet
from auditor.ids import key, name_of
from auditor.ipnet import Cidr, PrefixError, fmt_ip, parse_ip
from auditor.paths.analysis import Flow, FlowAnalysis
from auditor.paths.walk import Hop
from auditor.routing.engine import CONTEXT_ON_PREMISES


@dataclass
class TraceResult:
    source_label: str
    destination_label: str
    port: int
    flows: list[Flow] = field(default_factory=list)
    decisions: list[list[dict[str, Any]]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        out = []
        for flow, decisions in zip(self.flows, self.decisions, strict=True):
            item = flow.to_dict()
            item["outcome"] = flow.outcome
            item["decisions"] = decisions
            item["nsg"] = flow.nsg
            item["notes"] = flow.notes
            item["appliances"] = [
                {"name": a.name, "kind": a.kind, "id": a.id, "ip": a.ip_text} for a in flow.tail.appliances
            ]
            if flow.mitigation is not None:
                item["mitigation"] = {
                    "appliance": flow.mitigation.appliance.id,
                    "how": flow.mitigation.how,
                    "detail": flow.mitigation.detail,
                }
            out.append(item)
        return {"from": self.source_label, "to": self.destination_label, "port": self.port, "flows": out}


def resolve_destinations(estate: Estate, spec: str) -> list[tuple[PrivateEndpoint, int]]:
    try:
        ip = parse_ip(spec)
    except PrefixError:
        ip = None
    if ip is not None:
        # addresses are per VNet: unconnected landing zones may each have an endpoint at this address
        found = [
            (estate.private_endpoints[key(o.id)], ip)
            for o in estate.owners_of(ip)
            if o.kind == "private-endpoint"
        ]
        if found:
            return found
        raise UsageError(
            f"--to {spec}: no private endpoint owns this address (trace follows flows to private endpoints)"
        )
    low = spec.lower()
    pes = [pe for pe in estate.private_endpoints.values() if key(pe.id) == low or pe.name.lower() == low]
    if not pes:
        accounts = [a for a in estate.ai_accounts.values() if key(a.id) == low or a.name.lower() == low]
        for account in accounts:
            pes += [
                pe
                for pe in estate.private_endpoints.values()
                if any(key(c.target_id or "") == key(account.id) for c in pe.connections)
            ]
        if accounts and not pes:
            raise UsageError(f"--to {spec}: the AI account has no private endpoint in the estate")
    if not pes:
        raise UsageError(
            f"--to {spec}: no private endpoint, AI account or private-endpoint IP by that name or id"
        )
    out: list[tuple[PrivateEndpoint, int]] = []
    for pe in sorted(pes, key=lambda p: key(p.id)):
        if not pe.ips:
            raise UsageError(f"--to {spec}: private endpoint {pe.name} has no known IP address")
        out.extend((pe, ip) for ip in sorted(pe.ips))
    return out


def resolve_source(estate: Estate, spec: str) -> Subnet | str:
    if spec.lower() in ("on-premises", "onprem", "on-prem"):
        return CONTEXT_ON_PREMISES
    try:
        ip = parse_ip(spec)
    except PrefixError:
        return resolve_subnet(estate, spec)
    best = None
    for s in estate.subnets.values():
        for p in s.prefixes:
            if p.contains_ip(ip) and (best is None or p.plen > best[0].plen):
                best = (p, s)
    if best is None:
        raise UsageError(f"--from {spec}: no subnet in the estate contains this address")
    return best[1]


def decisions_for(analysis: FlowAnalysis, flow: Flow) -> list[dict[str, Any]]:
    """For every forward hop that routes, the winning route and why the others lost."""
    out = []
    # the subnet each walk step starts from: a context without a route table is named by that subnet
    # (not by whichever subnet happens to come first in the shared routing view)
    gateway = analysis.estate.vnet_gateways.get(key(flow.entry_gateway or ""))
    first = flow.source_subnets[0] if flow.source_subnets else (gateway.subnet_id if gateway else None)
    steps = [(flow.source_hop.hop, flow.view, first)]
    for app in flow.tail.appliances:
        steps.append(
            (
                app.name,
                analysis.routing.table_for_subnet(app.subnet_id) if app.subnet_id else None,
                app.subnet_id,
            )
        )
    for name, view, subnet_id in steps:
        if view is None:
            continue
        d = view.decide(flow.pe_ip)
        context = view.route_table_id or subnet_id or (view.subnet_ids[0] if view.subnet_ids else None)
        out.append(
            {
                "at": name,
                "route_context": context,
                "candidates": [
                    {"route": c.route.describe(), "outcome": c.outcome, "why": c.why} for c in d.candidates
                ],
            }
        )
    return out


def trace(
    estate: Estate, config: Config, source_spec: str, destination_spec: str, port: int = 443
) -> TraceResult:
    analysis = FlowAnalysis(estate, config, port)
    source = resolve_source(estate, source_spec)
    destinations = resolve_destinations(estate, destination_spec)
    result = TraceResult(source_spec, destination_spec, port)
    for pe, ip in destinations:
        if source == CONTEXT_ON_PREMISES:
            flows = analysis.on_premises_flows(pe, ip)
            if not flows:
                raise UsageError(
                    "--from on-premises: the estate has no VPN/ExpressRoute gateway in a GatewaySubnet or "
                    f"in the virtual hub {pe.name}'s VNet is connected to"
                )
            result.flows.extend(flows)
        else:
            assert isinstance(source, Subnet)
            view = analysis.routing.table_for_subnet(source.id)
            assert view is not None
            prefixes: list[Cidr] = list(source.prefixes)
            flow = analysis.build_flow(
                analysis.context_id(source),
                "subnet",
                [source],
                prefixes,
                view,
                pe,
                ip,
                Hop(source.name, "subnet", source.id),
            )
            if flow.outcome == "delivered" and not analysis.nsg_check(flow, source, prefixes):
                flow.outcome, flow.verdict, flow.return_hops = "blocked", "blocked", []
                flow.notes.append("an NSG denies the flow")
            result.flows.append(flow)
    for flow in result.flows:
        if flow.outcome == "delivered" and flow.mitigation is None:
            flow.notes.extend(no_snat_reasons(analysis, flow))
        if not flow.pe.approved and flow.outcome == "delivered":
            status = ", ".join(sorted({c.status or "unknown" for c in flow.pe.connections})) or "none"
            flow.outcome, flow.verdict, flow.return_hops = "blocked", "blocked", []
            flow.notes.append(
                f"the private endpoint's connection is not Approved ({status}): only Approved "
                "connections pass traffic (https://learn.microsoft.com/azure/private-link/private-endpoint-overview)"
            )
    result.decisions = [decisions_for(analysis, f) for f in result.flows]
    return result


def no_snat_reasons(analysis: FlowAnalysis, flow: Flow) -> list[str]:
    """Why each appliance on a delivered, unmitigated path lets the reply bypass it (NET002-NET004)."""
    out = []
    for app in flow.tail.appliances:
        if app.kind == "azure-firewall" and app.firewall is not None:
            kind = analysis.rule_kind(app.firewall, flow.source_prefixes, flow.pe_ip)
            _, why = analysis.firewall_snat(app.firewall, flow.pe_ip)
            rule = {
                "network": "a network rule carries the flow",
                "unresolved": "the firewall's rules could not be resolved, so no application rule is assumed",
            }.get(kind, "no application rule is known to carry the flow")
            out.append(f"{app.name} does not SNAT it: {why}; {rule} (NET004)")
        elif app.kind == "nva":
            bad = "; ".join(
                f"{analysis.estate.name_of(t.resource_id)}: {t.problem}" for t in app.tags if t.problem
            )
            out.append(
                f"{app.name} does not SNAT it: no effective disableSnatOnPL tag on its NIC"
                + (f" ({bad})" if bad else "")
                + " and no SNAT declared in the config file"
            )
    return out


def render_trace(result: TraceResult) -> str:
    lines = []
    for item in result.to_dict()["flows"]:
        lines.append(
            f"Flow {result.source_label} -> {item['destination_ip']}:{result.port} "
            f"({name_of(item['destination'])})"
        )
        lines.append("  forward:")
        for hop in item["forward"]:
            lines.append("    " + _hop_line(hop))
        lines.append("  return:")
        for hop in item["return"] or [
            {"hop": "(none: the flow does not arrive)", "kind": "", "id": None, "ip": None, "route": None}
        ]:
            lines.append("    " + _hop_line(hop))
        if item["appliances"]:
            lines.append(
                "  appliances: "
                + ", ".join(f"{a['name']} ({a['kind']}, {a['ip']})" for a in item["appliances"])
            )
        if "mitigation" in item:
            lines.append(f"  mitigation: {item['mitigation']['how']}: {item['mitigation']['detail']}")
        for rec in item["nsg"]:
            unc = f"; may also match: {', '.join(rec['uncertain'])}" if rec["uncertain"] else ""
            lines.append(
                f"  NSG {name_of(rec['nsg'])} {rec['direction']}: {rec['decision']} by {rec['rule']}{unc}"
            )
        for d in item["decisions"]:
            lines.append(f"  route decision at {d['at']}:")
            for c in d["candidates"]:
                lines.append(f"    {'WINS ' if c['outcome'] == 'won' else 'loses'} {c['route']}: {c['why']}")
        for note in item["notes"]:
            lines.append(f"  note: {note}")
        lines.append(f"  verdict: {item['verdict'].upper()}")
        lines.append("")
    return "\n".join(lines)


def _hop_line(hop: dict[str, Any]) -> str:
    route = hop.get("route") or {}
    via = ""
    if route:
        via = f"  via {route.get('prefix')} -> {route.get('next_hop_type')}"
        if route.get("next_hop_ip"):
            via += f" {route['next_hop_ip']}"
        via += f" ({route.get('source')})"
    ip = f" {hop['ip']}" if hop.get("ip") else ""
    note = f"  [{hop['note']}]" if hop.get("note") else ""
    return f"{hop['hop']} ({hop['kind']}{ip}){via}{note}"


__all__ = ["TraceResult", "fmt_ip", "render_trace", "trace"]
