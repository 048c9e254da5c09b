"""NET005: the private endpoint /32 route bypasses the inspection route (https://learn.microsoft.com/azure/private-link/disable-private-endpoint-network-policy).

Fires only where the appliance route would have won but for the PE /32: a 0.0.0.0/0 UDR that a
VNet or peering route beats anyway never meant to inspect this traffic (scenarios S10, S22).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from auditor.findings import Evidence, Finding
from auditor.ids import key
from auditor.ipnet import fmt_ip
from auditor.paths.flow import Flow
from auditor.routing.lpm import PrefixMap
from auditor.routing.table import EffectiveRoute
from auditor.rules import remedy
from auditor.rules.context import AuditContext
from auditor.rules.pathutil import group_flows, grouped_flow, source_label


def shadowed_udr(
    flow: Flow, maps: dict[int, PrefixMap[EffectiveRoute]] | None = None
) -> EffectiveRoute | None:
    """The VirtualAppliance UDR that would win for the PE IP if the PE /32 were absent.

    That is the longest match among the view's other active routes (one active route per prefix after
    selection, https://learn.microsoft.com/azure/virtual-network/virtual-networks-udr-overview),
    looked up in an LPM map of them built once per view (`maps`)."""
    view = flow.view
    route = flow.tail.route
    if view is None or route is None or route.kind != "private-endpoint" or flow.tail.appliances:
        return None
    maps = {} if maps is None else maps
    lpm = maps.get(id(view))
    if lpm is None:
        lpm = maps[id(view)] = PrefixMap(
            (r.prefix, r)
            for r in view.routes
            if r.state == "Active" and r.prefix is not None and r.kind != "private-endpoint"
        )
    best = lpm.get(flow.pe_ip)
    if best is not None and best.source == "User" and best.next_hop_type == "VirtualAppliance":
        return best
    return None


def check(ctx: AuditContext) -> Iterator[Finding]:
    estate = ctx.estate
    udrs: dict[int, EffectiveRoute] = {}  # id(flow) -> its shadowed UDR
    seen: dict[tuple[int, int, int], EffectiveRoute | None] = {}  # (view, PE IP, route) -> shadowed UDR
    maps: dict[int, PrefixMap[EffectiveRoute]] = {}
    for f in ctx.reported_flows:
        if (
            f.outcome != "delivered"
            or f.tail.appliances
            or f.tail.route is None
            or f.tail.route.kind != "private-endpoint"
        ):
            continue  # shadowed_udr would say None
        memo = (id(f.view), f.pe_ip, id(f.tail.route))
        if memo not in seen:
            seen[memo] = shadowed_udr(f, maps)
        udr = seen[memo]
        if udr is not None:
            udrs[id(f)] = udr
    hits = [f for f in ctx.reported_flows if id(f) in udrs]
    for (subnet_id,), group in group_flows(hits, lambda f: ((f.pe.subnet_id or f.pe.id),)).items():
        flow = grouped_flow(group)
        f = next(g for g in group if g.pe.id == flow["destinations"][0]["id"])
        pe_subnet = estate.subnets.get(key(subnet_id))
        policies = pe_subnet.pe_policies if pe_subnet else "unknown"
        shadowed: dict[str, tuple[EffectiveRoute, Flow]] = {}
        for g in group:
            shadowed.setdefault(udrs[id(g)].origin or "", (udrs[id(g)], g))
        wider = [u for u, _ in shadowed.values() if policies in ("Enabled", "RouteTableEnabled")]
        if not wider:
            why = (
                f"the private endpoints' subnet has privateEndpointNetworkPolicies {policies}, so UDRs cannot "
                "override their /32 routes"
            )
        else:
            why = "the UDR prefixes are wider than the private endpoints' VNet range, so they do not invalidate the /32 routes"
        sources = sorted({source_label(g, ctx) for g in group}, key=str.lower)
        pes = sorted({g.pe.name for g in group}, key=str.lower)
        udr_text = "; ".join(f"{u.name} {u.prefix} -> {u.next_hop_ip_text}" for u, _ in shadowed.values())
        yield ctx.finding(
            "NET005",
            subnet_id,
            f"{'; '.join(sources)} send(s) traffic for {len(pes)} private endpoint(s) in subnet "
            f"{estate.name_of(subnet_id)} ({', '.join(pes[:5])}{' ...' if len(pes) > 5 else ''}) to an appliance "
            f"(UDR {udr_text}), but the more specific /32 InterfaceEndpoint routes win instead: {why}. The "
            "appliance never inspects that traffic.",
            evidence=[
                *(
                    Evidence(
                        "route",
                        u.origin or "",
                        None,
                        f"{u.prefix} -> VirtualAppliance {u.next_hop_ip_text} (User)",
                        "would have carried the flow",
                    )
                    for u, _ in shadowed.values()
                ),
                Evidence(
                    "route", f.pe.id, None, f"{fmt_ip(f.pe_ip)}/32 -> InterfaceEndpoint (Default)", "wins"
                ),
            ],
            related_ids=sorted(
                {
                    *(s for g in group for s in g.source_subnets),
                    *(u.origin or "" for u, _ in shadowed.values()),
                }
                - {""}
            ),
            flow=flow,
        )


def fixes(finding: dict[str, Any], ctx: AuditContext) -> list[remedy.Fix]:
    """Let the UDR apply (route-table network policies on the endpoints' subnet). That puts the
    appliance the UDR names on the path; if it would not bring the replies back, the same fix makes it
    do so, or the change would trade this finding for an asymmetric flow (NET001)."""
    subnet_id = finding["resource_id"]
    apps: dict[str, str] = {}  # every appliance a shadowed UDR names: the flows move through it
    extra: dict[str, remedy.Fix] = {}
    maps: dict[int, PrefixMap[EffectiveRoute]] = {}
    for f in ctx.reported_flows:
        if (f.pe.subnet_id or "").lower() != subnet_id.lower() or f.view is None:
            continue
        udr = shadowed_udr(f, maps)
        app = ctx.flows._appliance_of(udr, f.view.key[0]) if udr is not None else None
        if app is None:
            continue
        apps[app.id.lower()] = app.name
        if app.id.lower() in extra or ctx.flows.quiet(app, f.pe_ip, lambda a: False):
            continue
        if app.firewall is not None:
            extra[app.id.lower()] = remedy.firewall_snat(
                ctx, app.firewall.id, "NET005: the UDR's firewall must SNAT"
            )
        else:
            extra[app.id.lower()] = remedy.nva_opt_in(
                ctx, app, "NET005: the UDR's NVA must bring replies back"
            )[0]
    through = ", ".join(apps[k] for k in sorted(apps)) or "the appliance the UDR names"
    where = remedy.qualified_name(subnet_id)
    moved = (
        f"traffic the endpoints' /32 routes delivered to {where} directly now follows the UDR through "
        f"{through}: its rules decide what reaches the endpoints",
    )
    base = remedy.pe_subnet_policies(ctx, subnet_id, "RouteTable", "NET005: PE route bypasses the UDR", moved)
    if not extra:
        return [base]
    more = [extra[k] for k in sorted(extra)]
    lost = ", ".join(apps[k] for k in sorted(extra))
    alone = remedy.costing(
        base,
        f"{lost} does not bring the replies back: the flows it now carries become asymmetric (NET001) "
        "until it does (fix 1)",
    )
    return [remedy.combine(base.title + " and " + "; ".join(x.title for x in more), [base, *more]), alone]
