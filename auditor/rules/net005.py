"""NET005: the private endpoint /32 route bypasses the inspection route (azure-facts §3.4-3.5, R5).

Fires only where the appliance route would have won but for the PE /32: a 0.0.0.0/0 UDR that a
VNet or peering route beats anyway never meant to inspect this traffic (scenarios S10, S22).
"""

from __future__ import annotations

from collections.abc import Iterator

from auditor.findings import Evidence, Finding
from auditor.ipnet import fmt_ip
from auditor.routing.lpm import PrefixMap
from auditor.rules.context import AuditContext
from auditor.rules.pathutil import group_flows, merged_flow_dict, source_label


def shadowed_udr(flow, maps: dict | None = None):
    """The VirtualAppliance UDR that would win for the PE IP if the PE /32 were absent.

    That is the longest match among the view's other active routes (one active route per prefix after
    selection, §2.1-2.2), looked up in an LPM map of them built once per view (`maps`)."""
    view = flow.view
    route = flow.tail.route
    if view is None or route is None or route.kind != "private-endpoint" or flow.tail.appliances:
        return None
    maps = {} if maps is None else maps
    lpm = maps.get(id(view))
    if lpm is None:
        lpm = maps[id(view)] = PrefixMap((r.prefix, r) for r in view.routes
                                         if r.state == "Active" and r.prefix is not None and r.kind != "private-endpoint")
    best = lpm.get(flow.pe_ip)
    if best is not None and best.source == "User" and best.next_hop_type == "VirtualAppliance":
        return best
    return None


def check(ctx: AuditContext) -> Iterator[Finding]:
    estate = ctx.estate
    udrs: dict[int, object] = {}     # id(flow) -> its shadowed UDR
    seen: dict[tuple, object] = {}     # (view, PE IP) -> shadowed UDR: the same for every flow of a view
    maps: dict = {}
    for f in ctx.reported_flows:
        if f.outcome != "delivered" or f.tail.appliances or f.tail.route is None \
                or f.tail.route.kind != "private-endpoint":
            continue   # shadowed_udr would say None
        key = (id(f.view), f.pe_ip, id(f.tail.route))
        if key not in seen:
            seen[key] = shadowed_udr(f, maps)
        if seen[key] is not None:
            udrs[id(f)] = seen[key]
    hits = [f for f in ctx.reported_flows if id(f) in udrs]
    by_key = group_flows(hits, lambda f: (f.source, f.pe.id, udrs[id(f)].next_hop_ip_text))
    for (_source, pe_id, hop_ip), group in by_key.items():
        f = group[0]
        udr = udrs[id(f)]
        pe_subnet = estate.subnets.get((f.pe.subnet_id or "").lower())
        policies = pe_subnet.pe_policies if pe_subnet else "unknown"
        if policies not in ("Enabled", "RouteTableEnabled"):
            why = (f"the private endpoint's subnet has privateEndpointNetworkPolicies {policies}, so UDRs cannot "
                   "override its /32 route")
        else:
            why = (f"the UDR prefix {udr.prefix} is wider than the private endpoint's VNet range, so it does not "
                   "invalidate the /32 route")
        yield ctx.finding(
            "NET005", pe_id,
            f"{source_label(f, ctx)} sends {udr.prefix} to the appliance {hop_ip} (UDR {udr.name}), but traffic to "
            f"private endpoint {f.pe.name} ({fmt_ip(f.pe_ip)}) takes the more specific /32 InterfaceEndpoint route "
            f"instead: {why}. The appliance never inspects it.",
            evidence=[Evidence("route", udr.origin or "", None, f"{udr.prefix} -> VirtualAppliance {hop_ip} (User)",
                               "would have carried the flow"),
                      Evidence("route", f.pe.id, None, f"{fmt_ip(f.pe_ip)}/32 -> InterfaceEndpoint (Default)",
                               "wins")],
            related_ids=sorted({*(s for g in group for s in g.source_subnets), udr.origin or ""} - {""}),
            flow=merged_flow_dict(group),
        )
