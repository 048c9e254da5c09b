"""NET008: Virtual WAN routing intent with PE subnets lacking route policies (https://learn.microsoft.com/azure/virtual-wan/how-to-routing-policies).

Documented: on-premises traffic to private endpoints in spokes of a hub with a PrivateTraffic
routing policy bypasses the next hop, while the endpoints' replies go through it; enabling
route-table network policies on the PE subnets restores symmetry (/32 Private Traffic Prefixes do
not). The flow is built from that statement, not from a walk (Virtual WAN routing is not exported).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from auditor.estate.model import HubGateway
from auditor.findings import Evidence, Finding
from auditor.ids import key
from auditor.rules import remedy
from auditor.rules.context import AuditContext
from auditor.rules.pathutil import grouped_flow


def check(ctx: AuditContext) -> Iterator[Finding]:
    estate = ctx.estate
    for iid in sorted(estate.routing_intents):
        intent = estate.routing_intents[iid]
        private = next(
            (p for p in intent.policies if any(d.lower() == "privatetraffic" for d in p.destinations)), None
        )
        if private is None:
            continue
        hub = estate.virtual_hubs.get(key(intent.hub_id))
        next_hop = private.next_hop or ""
        vnets = {
            key(c.remote_vnet_id)
            for c in estate.hub_connections.values()
            if c.remote_vnet_id and key(c.hub_id) == key(intent.hub_id)
        }
        by_subnet: dict[str, list] = {}
        for pe in estate.private_endpoints.values():
            subnet = estate.subnets.get(key(pe.subnet_id or ""))
            if subnet is not None and key(subnet.vnet_id) in vnets and pe.approved:
                by_subnet.setdefault(key(subnet.id), []).append(pe)
        gateways = sorted(
            (g for g in estate.hub_gateways.values() if key(g.hub_id or "") == key(intent.hub_id)),
            key=lambda g: key(g.id),
        )
        # no gateway in the input: on-premises still stands for whatever the hub connects
        entry = (
            gateways[0] if gateways else HubGateway(intent.hub_id, "on-premises", "vpn", intent.hub_id, ())
        )
        prefixes = ctx.flows.routing.hub_gateway_prefixes(entry)
        appliance = ctx.flows.intent_next_hop(intent.hub_id)
        for sid in sorted(by_subnet):
            subnet = estate.subnets[sid]
            if subnet.pe_policies in ("Enabled", "RouteTableEnabled"):
                continue
            pes = sorted(by_subnet[sid], key=lambda p: key(p.id))
            pe = pes[0]
            # the same model NET001 reads (FlowAnalysis.hub_flow / reply_appliance), not a separate story
            modelled = [ctx.flows.hub_flow(entry, prefixes, p, ip) for p in pes for ip in sorted(p.ips)]
            flow = grouped_flow(modelled) if modelled else None
            through = appliance.name if appliance is not None else estate.name_of(next_hop)
            yield ctx.finding(
                "NET008",
                subnet.id,
                f"Virtual hub {hub.name if hub else estate.name_of(intent.hub_id)} sends private traffic through "
                f"{estate.name_of(next_hop)} (routing intent), but subnet {subnet.name} hosting private endpoint(s) "
                f"{', '.join(p.name for p in pes)} has privateEndpointNetworkPolicies {subnet.pe_policies}: on-premises "
                f"traffic reaches the endpoints directly while their replies go through {through} (documented "
                "asymmetry: https://learn.microsoft.com/azure/virtual-wan/how-to-routing-policies). Enable route-table "
                "network policies on the subnet.",
                evidence=[
                    Evidence(
                        "property", subnet.id, "properties.privateEndpointNetworkPolicies", subnet.pe_policies
                    ),
                    Evidence("property", intent.id, "properties.routingPolicies", private.name),
                ],
                related_ids=sorted(
                    {intent.hub_id, intent.id, *(p.id for p in pes), *([next_hop] if next_hop else [])}
                ),
                flow=flow,
                key=(intent.hub_id,),
            )


def fixes(finding: dict[str, Any], ctx: AuditContext) -> list[remedy.Fix]:
    """Route-table network policies on the endpoints' subnet: on-premises traffic to them then takes the
    routing intent's next hop, as their replies already do."""
    hubs = [
        i.hub_id
        for rid in finding.get("related_ids") or []
        if (i := ctx.estate.routing_intents.get(key(rid))) is not None
    ]
    app = ctx.flows.intent_next_hop(hubs[0]) if hubs else None
    through = app.name if app is not None else "the routing intent's next hop"
    where = remedy.qualified_name(finding["resource_id"])
    return [
        remedy.pe_subnet_policies(
            ctx,
            finding["resource_id"],
            "RouteTable",
            "NET008: routing intent asymmetry",
            (
                f"on-premises traffic to the private endpoints in {where} goes through {through}, as their "
                "replies already do: its rules decide what reaches the endpoints",
            ),
        )
    ]
