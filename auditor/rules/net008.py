"""NET008: Virtual WAN routing intent with PE subnets lacking route policies (azure-facts §10.3, R6).

Documented: on-premises traffic to private endpoints in spokes of a hub with a PrivateTraffic
routing policy bypasses the next hop, while the endpoints' replies go through it; enabling
route-table network policies on the PE subnets restores symmetry (/32 Private Traffic Prefixes do
not). The flow is built from that statement, not from a walk (Virtual WAN routing is not exported).
"""

from __future__ import annotations

from collections.abc import Iterator

from auditor.findings import Evidence, Finding
from auditor.ipnet import fmt_ip
from auditor.rules.context import AuditContext


def check(ctx: AuditContext) -> Iterator[Finding]:
    estate = ctx.estate
    for iid in sorted(estate.routing_intents):
        intent = estate.routing_intents[iid]
        private = next((p for p in intent.policies if any(d.lower() == "privatetraffic" for d in p.destinations)), None)
        if private is None:
            continue
        hub = estate.virtual_hubs.get(intent.hub_id.lower())
        next_hop = private.next_hop or ""
        fw = estate.firewalls.get(next_hop.lower())
        vnets = {c.remote_vnet_id.lower() for c in estate.hub_connections.values()
                 if c.remote_vnet_id and c.hub_id.lower() == intent.hub_id.lower()}
        by_subnet: dict[str, list] = {}
        for pe in estate.private_endpoints.values():
            subnet = estate.subnets.get((pe.subnet_id or "").lower())
            if subnet is not None and subnet.vnet_id.lower() in vnets and pe.approved:
                by_subnet.setdefault(subnet.id.lower(), []).append(pe)
        gateways = sorted(r["id"] for r in estate.records.values()
                          if r["type"] in ("microsoft.network/vpngateways", "microsoft.network/expressroutegateways")
                          and str((r.get("properties") or {}).get("virtualHub", {}).get("id", "")).lower()
                          == intent.hub_id.lower())
        for sid in sorted(by_subnet):
            subnet = estate.subnets[sid]
            if subnet.pe_policies in ("Enabled", "RouteTableEnabled"):
                continue
            pes = sorted(by_subnet[sid], key=lambda p: p.id.lower())
            pe = pes[0]
            ip = fmt_ip(pe.ips[0]) if pe.ips else None
            fw_ip = fmt_ip(fw.private_ip) if fw and fw.private_ip is not None else None
            gw_hop = {"hop": "on-premises", "kind": "gateway", "id": gateways[0] if gateways else intent.hub_id,
                      "ip": None, "route": None}
            flow = {
                "source": "on-premises",
                "source_subnets": [],
                "source_prefixes": [str(p) for p in ctx.config.on_premises],
                "destination": pe.id,
                "destination_ip": ip or "",
                "port": 443,
                "forward": [dict(gw_hop, route={"prefix": str(subnet.prefixes[0]), "next_hop_type": "HubConnection",
                                                "source": "VirtualHub"},
                                 note="on-premises traffic to spoke private endpoints bypasses the routing-intent "
                                      "next hop (azure-facts §10.3)"),
                            {"hop": pe.name, "kind": "private-endpoint", "id": pe.id, "ip": ip, "route": None}],
                "return": [{"hop": pe.name, "kind": "private-endpoint", "id": pe.id, "ip": ip,
                            "route": {"prefix": "0.0.0.0/0 or private prefixes", "next_hop_type": "VirtualNetworkGateway",
                                      "source": "VirtualNetworkGateway"}},
                           {"hop": estate.name_of(next_hop) or "routing-intent next hop",
                            "kind": "azure-firewall" if fw else "nva", "id": next_hop or None, "ip": fw_ip,
                            "route": None},
                           dict(gw_hop)],
                "verdict": "asymmetric",
            }
            yield ctx.finding(
                "NET008", subnet.id,
                f"Virtual hub {hub.name if hub else estate.name_of(intent.hub_id)} sends private traffic through "
                f"{estate.name_of(next_hop)} (routing intent), but subnet {subnet.name} hosting private endpoint(s) "
                f"{', '.join(p.name for p in pes)} has privateEndpointNetworkPolicies {subnet.pe_policies}: on-premises "
                "traffic reaches the endpoints directly while their replies go through the firewall (documented "
                "asymmetry). Enable route-table network policies on the subnet.",
                evidence=[Evidence("property", subnet.id, "properties.privateEndpointNetworkPolicies", subnet.pe_policies),
                          Evidence("property", intent.id, "properties.routingPolicies", private.name)],
                related_ids=sorted({intent.hub_id, intent.id, *(p.id for p in pes), *([next_hop] if next_hop else [])}),
                flow=flow,
            )
