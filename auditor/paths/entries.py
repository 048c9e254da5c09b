"""Where flows come from: private endpoints that carry traffic, route contexts that are flow sources, and
on-premises entries (VNet gateways and Virtual WAN hub gateways) with their flows.

A FlowAnalysis part (auditor.paths.analysis says what the parts share)."""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, cast

from auditor.estate.model import HubGateway, PrivateEndpoint, Subnet
from auditor.ids import key
from auditor.ipnet import Cidr
from auditor.paths.appliances import Appliance
from auditor.paths.flow import PLATFORM_SUBNETS, UNKNOWN_ON_PREMISES, Flow, SourceGroup
from auditor.paths.part import AnalysisPart
from auditor.paths.walk import Hop, Tail
from auditor.problems import ASSUMED, UNRESOLVED, Problem
from auditor.routing.engine import (
    CONTEXT_ON_PREMISES,
    ROUTE_TABLE_POLICIES,
)
from auditor.routing.table import RouteTableView

if TYPE_CHECKING:
    from auditor.paths.analysis import FlowAnalysis


class SourcesAndEntries(AnalysisPart):
    @cached_property
    def endpoints(self) -> list[tuple[PrivateEndpoint, int]]:
        """Private endpoints that carry traffic: an Approved connection and a known IP
        (https://learn.microsoft.com/azure/private-link/private-endpoint-overview)."""
        out: list[tuple[PrivateEndpoint, int]] = []
        for pe in sorted(self.estate.private_endpoints.values(), key=lambda p: key(p.id)):
            if pe.approved:
                out.extend((pe, ip) for ip in sorted(pe.ips))
        return out

    def context_id(self, subnet: Subnet) -> str:
        return subnet.route_table_id or subnet.id

    @cached_property
    def endpoint_only_subnets(self) -> frozenset[str]:
        """Subnets (lower-case ids) that hold private endpoints or private link services and nothing
        else: nothing in them opens connections, so they are no flow sources. A subnet with a VM or
        scale-set NIC, a delegation, an API Management service, an address held by anything else, or
        about which nothing is known stays a source."""
        estate = self.estate
        pe_nics = {key(n) for pe in estate.private_endpoints.values() for n in pe.nic_ids}
        pe_nics |= {key(n.id) for n in estate.nics.values() if n.private_endpoint_id}
        endpoint_subnets = {key(pe.subnet_id or "") for pe in estate.private_endpoints.values()}
        busy: set[str] = {key(a.subnet_id or "") for a in estate.apims.values()}
        for nic in estate.nics.values():
            if key(nic.id) not in pe_nics:
                busy.update(key(c.subnet_id or "") for c in nic.ip_configs)
        out = set()
        for sid, subnet in estate.subnets.items():
            if subnet.delegations or sid in busy:
                continue
            holders = {key(c).split("/ipconfigurations/")[0] for c in subnet.ip_config_ids}
            links = {h for h in holders if "/privatelinkservices/" in h}
            if not holders or holders - links - pe_nics:
                continue  # nothing known about who holds addresses there, or something else does
            if sid in endpoint_subnets or links:
                out.add(sid)
        return frozenset(out)

    @cached_property
    def sources(self) -> list[tuple[RouteTableView, list[Subnet]]]:
        out = []
        skip = self.endpoint_only_subnets
        for context, subnets in sorted(
            self.routing.contexts.items(), key=lambda kv: (kv[0][0], kv[0][1] or "", kv[0][2])
        ):
            workload = [
                s for s in subnets if s.name.lower() not in PLATFORM_SUBNETS and key(s.id) not in skip
            ]
            if workload:
                out.append((self.routing.table(context), workload))
        return out

    @cached_property
    def source_groups(self) -> list[SourceGroup]:
        """`sources` split by route context id, in the order flows are reported."""
        out: list[SourceGroup] = []
        for view, subnets in self.sources:
            groups: dict[str, list[Subnet]] = {}
            for s in subnets:
                groups.setdefault(self.context_id(s), []).append(s)
            for ctx_id, members in sorted(groups.items()):
                with_nsg = [s for s in members if s.nsg_id and key(s.nsg_id) in self.estate.nsgs]
                out.append(
                    SourceGroup(
                        ("context", len(out)),
                        ctx_id,
                        self.estate.name_of(ctx_id),
                        view,
                        members,
                        [s.id for s in members],
                        [p for s in members for p in s.prefixes],
                        with_nsg,
                        id(view),
                    )
                )
        return out

    @cached_property
    def on_premises_entries(self) -> list[tuple[str, RouteTableView, list[Cidr]]]:
        """(gateway id, GatewaySubnet route view, on-premises prefixes) per VPN/ExpressRoute gateway."""
        out = []
        for gw in sorted(self.estate.vnet_gateways.values(), key=lambda g: key(g.id)):
            view = self.routing.table_for_subnet(gw.subnet_id) if gw.subnet_id else None
            if view is None:  # on-premises traffic through it cannot be followed: said, never dropped quietly
                self._entry_gap(
                    gw.id,
                    "properties.ipConfigurations",
                    f"gateway {gw.name}: its GatewaySubnet "
                    f"{gw.subnet_id or '(none)'} is not in the input, so on-premises flows through it "
                    "are not analysed",
                    UNRESOLVED,
                )
                continue
            prefixes = [p for p, _ in self.routing.gateway_prefixes.get(key(gw.id), [])]
            if not prefixes:
                # ExpressRoute or BGP-only VPN: the prefixes are learned over BGP and in no ARM resource.
                # The entry is still analysed through the GatewaySubnet's routes; coverage says what is missing
                self._entry_gap(
                    gw.id, "on-premises prefixes", f"gateway {gw.name}: {UNKNOWN_ON_PREMISES}", ASSUMED
                )
            out.append((gw.id, view, prefixes))
        return out

    def on_premises_flows(self, pe: PrivateEndpoint, ip: int) -> list[Flow]:
        """Flows from on-premises to one endpoint: through each VNet gateway (walked from its
        GatewaySubnet's routes) and each Virtual WAN hub gateway of the hub the endpoint's VNet is
        connected to (hub_flow)."""
        out = []
        for gw_id, view, prefixes in self.on_premises_entries:
            flow = self.build_flow(
                CONTEXT_ON_PREMISES,
                "on-premises",
                [],
                prefixes,
                view,
                pe,
                ip,
                Hop("on-premises", "gateway", gw_id),
                gw_id,
            )
            flow.source_key = ("on-premises", gw_id)
            out.append(self._nsg_gate(flow))
        pe_vnet = key(pe.subnet_id or "").split("/subnets/")[0]
        hub = self.routing.hub_of_vnet.get(pe_vnet)
        if hub:
            for gw, prefixes in self.hub_entries:
                if key(gw.hub_id or "") == key(hub):
                    out.append(self._nsg_gate(self.hub_flow(gw, prefixes, pe, ip)))
        return out

    @cached_property
    def hub_entries(self) -> list[tuple[HubGateway, list[Cidr]]]:
        """(Virtual WAN hub gateway, on-premises prefixes: its VPN sites' address spaces and the config's
        [network] on_premises) per VPN/ExpressRoute gateway in a hub."""
        out = []
        for gw in sorted(self.estate.hub_gateways.values(), key=lambda g: key(g.id)):
            if not gw.hub_id:
                self._entry_gap(
                    gw.id,
                    "properties.virtualHub",
                    f"gateway {gw.name} names no virtual hub, so "
                    "on-premises flows through it are not analysed",
                    UNRESOLVED,
                )
                continue
            prefixes = self.routing.hub_gateway_prefixes(gw)
            if not prefixes:
                self._entry_gap(
                    gw.id, "on-premises prefixes", f"gateway {gw.name}: {UNKNOWN_ON_PREMISES}", ASSUMED
                )
            out.append((gw, prefixes))
        return out

    def _entry_gap(self, gw_id: str, field_name: str, text: str, effect: str) -> None:
        self.coverage_gaps.setdefault(
            (key(gw_id), text),
            Problem(self.estate.files.get(key(gw_id)), gw_id, field_name, text, effect),
        )

    def intent_next_hop(self, hub_id: str) -> Appliance | None:
        """The appliance a hub's PrivateTraffic routing policy sends private traffic to, if any."""
        ip = self.routing.intent_private_ip(hub_id)
        target = self.appliances.resolve(ip, key(hub_id)) if ip is not None else None
        return target if isinstance(target, Appliance) else None

    def hub_flow(self, gw: HubGateway, prefixes: list[Cidr], pe: PrivateEndpoint, ip: int) -> Flow:
        """On-premises to an endpoint in a VNet connected to the gateway's hub. Microsoft's routing-intent
        page: such traffic bypasses the routing-intent next hop unless route-table network policies are
        enabled on the endpoint's subnet, while the endpoint's replies go through it
        (https://learn.microsoft.com/azure/virtual-wan/how-to-routing-policies). Without routing intent
        the hub router delivers it. Hub routing is not exported, so the forward path is built from that
        statement, and the reply from the endpoint VNet's routes (reply_appliance)."""
        hub_id = gw.hub_id or ""
        pe_hop = self.destination_hop(ip, ("pe", pe.id))
        next_hop = self.intent_next_hop(hub_id)
        subnet = self.estate.subnets.get(key(pe.subnet_id or ""))
        policies = subnet.pe_policies if subnet is not None else "Disabled"
        source_hop = Hop("on-premises", "gateway", gw.id)
        if next_hop is not None and policies in ROUTE_TABLE_POLICIES:
            source_hop.note = f"routing intent sends private traffic to {next_hop.name}"
            app_hop = Hop(next_hop.name, next_hop.kind, next_hop.id, next_hop.ip_text)
            tail = Tail(None, [app_hop, pe_hop], "delivered", appliances=[next_hop])
        else:
            source_hop.note = (
                f"on-premises traffic to private endpoints in spokes bypasses the routing-intent next "
                f"hop {next_hop.name} (privateEndpointNetworkPolicies {policies})"
                if next_hop is not None
                else "the hub router delivers to the connected VNet"
            )
            tail = Tail(None, [pe_hop], "delivered")
        flow = Flow(
            CONTEXT_ON_PREMISES,
            "on-premises",
            [],
            prefixes,
            pe,
            ip,
            self.port,
            tail,
            source_hop,
            "delivered",
            "",
            entry_gateway=gw.id,
            source_key=("on-premises", gw.id),
            _analysis=cast("FlowAnalysis", self),
        )  # a part: `self` is the FlowAnalysis
        flow.mitigation = self.mitigation(tail, prefixes, ip)
        if flow.mitigation is not None and flow.mitigation.how == "denied":
            flow.outcome, flow.verdict, flow.return_hops = "blocked", "blocked", []
            flow.notes.append(flow.mitigation.detail)
            return flow
        flow.verdict = self.return_verdict(flow)
        return flow
