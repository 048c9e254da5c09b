"""NET008: Virtual WAN routing intent with PE subnets lacking route policies (https://learn.microsoft.com/azure/virtual-wan/how-to-routing-policies).

Documented: on-premises traffic to private endpoints in spokes of a hub with a PrivateTraffic
routing policy bypasses the next hop, while the endpoints' replies go through it; enabling
route-table network policies on the PE subnets restores symmetry (/32 Private Traffic Prefixes do
not). The flow is built from that statement, not from a walk (Virtual WAN routing is not exported).
"""

from __future__ import annotations

from collections.abc import Iterator

from auditor.estate.model import HubGateway
from auditor.findings import Evidence, Finding
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
        hub = estate.virtual_hubs.get(intent.hub_id.lower())
        next_hop = private.next_hop or ""
        vnets = {
            c.remote_vnet_id.lower()
            for c in estate.hub_connections.values()
            if c.remote_vnet_id and c.hub_id.lower() == intent.hub_id.lower()
        }
        by_subnet: dict[str, list] = {}
        for pe in estate.private_endpoints.values():
            subnet = estate.subnets.get((pe.subnet_id or "").lower())
            if subnet is not None and subnet.vnet_id.lower() in vnets and pe.approved:
                by_subnet.setdefault(subnet.id.lower(), []).append(pe)
        gateways = sorted(
            (g for g in estate.hub_gateways.values() if (g.hub_id or "").lower() == intent.hub_id.lower()),
            key=lambda g: g.id.lower(),
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
            pes = sorted(by_subnet[sid], key=lambda p: p.id.lower())
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
