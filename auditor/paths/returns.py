"""The return walk: private endpoints ignore UDRs for their replies, which go straight back, to the
appliance that SNATed or whose tag brings them back, or, under Virtual WAN routing intent, through the
next hop their VNet learned from the hub (one reply model for every rule).

A FlowAnalysis part (auditor.paths.analysis says what the parts share)."""

from __future__ import annotations

from dataclasses import replace

from auditor.estate.model import PrivateEndpoint
from auditor.ids import key
from auditor.ipnet import Cidr, fmt_ip
from auditor.paths.appliances import Appliance
from auditor.paths.flow import _MISSING, Flow, Mitigation
from auditor.paths.part import AnalysisPart
from auditor.paths.walk import Hop, fmt_prefixes, representative, route_dict
from auditor.routing.engine import (
    remove_reserved_on_default_override,
    select,
)
from auditor.routing.lpm import PrefixMap
from auditor.routing.table import EffectiveRoute, RouteTableView


class ReturnWalk(AnalysisPart):
    def return_verdict(self, flow: Flow) -> str:
        """symmetric | asymmetric | return-unroutable for a delivered flow (see return_hops_for)."""
        if flow.mitigation is not None:
            return "symmetric"
        if flow.source_kind == "on-premises" and flow.source_prefixes:
            route = self.system_route_from_pe(flow.pe, representative(flow.source_prefixes))
            if route is None or route.next_hop_type != "VirtualNetworkGateway":
                return "return-unroutable"
        return self.pair_verdict(flow.tail.appliances, None, flow.pe, flow.source_prefixes)

    def pair_verdict(
        self, forward: list[Appliance], mit: Mitigation | None, pe: PrivateEndpoint, sources: list[Cidr]
    ) -> str:
        """symmetric when the reply crosses exactly the stateful appliances the request crossed: the one
        that SNATed or whose tag brings replies back (the mitigation), or, under Virtual WAN routing
        intent, the next hop the private endpoint's VNet learned from the hub (reply_appliance);
        asymmetric otherwise, since private endpoints ignore UDRs for their replies."""
        if mit is not None:
            return "symmetric"
        if not self.routing.hub_of_vnet:  # no Virtual WAN: no reply crosses an appliance unmitigated
            return "asymmetric" if forward else "symmetric"
        reply = self.reply_appliance(pe, representative(sources))
        if reply is None:
            return "asymmetric" if forward else "symmetric"
        return "symmetric" if forward and all(a.id == reply.id for a in forward) else "asymmetric"

    def reply_appliance(self, pe: PrivateEndpoint, ip: int | None) -> Appliance | None:
        """The appliance a private endpoint's reply to `ip` crosses without any SNAT: under Virtual WAN
        routing intent the endpoint's VNet learns the private prefixes from the hub with the
        routing-intent next hop, and private endpoints ignore UDRs, not those routes: Microsoft's
        routing-intent page documents that endpoints in spokes send their replies to on-premises through
        the next hop (https://learn.microsoft.com/azure/virtual-wan/how-to-routing-policies). One model,
        used for every source: NET001 and NET008 read the same reply path."""
        memo = (key(pe.subnet_id or ""), ip)
        hit = self.cache.replies.get(memo, _MISSING)
        if hit is _MISSING:
            hit = None
            route = self.system_route_from_pe(pe, ip)
            if route is not None and route.kind == "vwan" and route.next_hop_ip is not None:
                view = self.routing.table_for_subnet(pe.subnet_id or "")
                target = self.appliances.resolve(route.next_hop_ip, view.key[0] if view is not None else None)
                hit = target if isinstance(target, Appliance) else None
            self.cache.replies[memo] = hit
        return hit

    def return_hops_for(self, flow: Flow) -> list[Hop]:
        """The reply's hops: to the appliance that SNATed (or whose tag brings it back), else straight to
        the source, since private endpoints ignore UDRs (https://learn.microsoft.com/azure/private-link/private-endpoint-overview)."""
        pe_hop = Hop(flow.pe.name, "private-endpoint", flow.pe.id, fmt_ip(flow.pe_ip))
        src_ip = representative(flow.source_prefixes)
        source_end = Hop(
            flow.source_hop.hop,
            flow.source_hop.kind,
            flow.source_hop.id,
            ip=",".join(fmt_prefixes(flow.source_prefixes)) or None,
        )
        if flow.mitigation is not None:
            app = flow.mitigation.appliance
            pe_hop.route_override = route_dict(f"{app.ip_text}/32", "PlatformReturn", "PrivateEndpoint")
            pe_hop.note = f"reply to {app.name}: {flow.mitigation.detail}"
            app_hop = Hop(app.name, app.kind, app.id, app.ip_text)
            if src_ip is not None and app.subnet_id:
                view = self.routing.table_for_subnet(app.subnet_id)
                if view is not None:
                    app_hop.route = view.lookup(src_ip)
            return [pe_hop, app_hop, source_end]
        reply = self.reply_appliance(flow.pe, src_ip)
        if reply is not None:
            pe_hop.route = self.system_route_from_pe(flow.pe, src_ip)
            pe_hop.note = (
                f"the reply follows the routes the endpoint's VNet learned from its virtual hub: routing "
                f"intent sends private traffic to {reply.name}"
            )
            return [pe_hop, Hop(reply.name, reply.kind, reply.id, reply.ip_text), source_end]
        if flow.source_kind == "on-premises" and not flow.source_prefixes:
            pe_hop.note = (
                "private endpoints ignore UDRs: the reply follows the system routes to the gateway "
                "(on-premises prefixes unknown: [network] on_premises)"
            )
            return [pe_hop, source_end]
        if flow.source_kind == "on-premises":
            route = self.system_route_from_pe(flow.pe, src_ip)
            if route is not None and route.next_hop_type == "VirtualNetworkGateway":
                pe_hop.route = route
                pe_hop.note = "private endpoints ignore UDRs: the reply follows system routes to the gateway"
                return [pe_hop, source_end]
            pe_hop.note = "no system route from the private endpoint's VNet reaches on-premises"
            return [pe_hop]
        route = self.system_route_from_pe(flow.pe, src_ip)
        if route is not None and route.next_hop_type in ("VnetLocal", "VNetPeering", "VNetGlobalPeering"):
            pe_hop.route = route
        else:
            pe_hop.route_override = route_dict(
                ",".join(fmt_prefixes(flow.source_prefixes)), "PlatformReturn", "PrivateEndpoint"
            )
        pe_hop.note = "private endpoints ignore UDRs for replies: straight back to the source (https://learn.microsoft.com/azure/private-link/inspect-traffic-with-azure-firewall)"
        return [pe_hop, source_end]

    def return_walk(self, flow: Flow) -> None:
        flow.verdict = self.return_verdict(flow)
        flow.return_hops = self.return_hops_for(flow)

    def system_route_from_pe(self, pe: PrivateEndpoint, ip: int | None) -> EffectiveRoute | None:
        """The best non-UDR route from the PE's subnet (PEs ignore UDRs for return traffic,
        https://learn.microsoft.com/azure/private-link/inspect-traffic-with-azure-firewall)."""
        if ip is None or not pe.subnet_id:
            return None
        view = self.routing.table_for_subnet(pe.subnet_id)
        if view is None:
            return None
        return self.system_routes(view).get(ip)

    def system_routes(self, view: RouteTableView) -> PrefixMap[EffectiveRoute]:
        """A context's routes as they would be without its UDRs: the UDRs are dropped and the system
        routes they had overridden (same prefix) take part in the selection again
        (https://learn.microsoft.com/azure/virtual-network/virtual-networks-udr-overview)."""
        hit = self.cache.system.get(view.key)
        if hit is None:
            routes = [replace(r, state="Active", reason=None) for r in view.routes if r.source != "User"]
            remove_reserved_on_default_override(routes)
            select(routes)
            hit = self.cache.system[view.key] = PrefixMap(
                (r.prefix, r) for r in routes if r.state == "Active" and r.prefix is not None
            )
        return hit
