"""All-pairs flow analysis: every (route context x private endpoint) and every on-premises entry.

Sources are route contexts, not subnet pairs: subnets with the same VNet and route table share a
forward walk (computed once and cached per context and destination), and only NSG checks are per
subnet. This keeps `audit` close to linear in contexts x endpoints (tests/bench/paths.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from auditor.config import Config
from auditor.estate.model import Estate, PrivateEndpoint, Subnet
from auditor.ipnet import Cidr, fmt_ip
from auditor.paths import nsg as nsgs
from auditor.paths.appliances import Appliance, ApplianceIndex, Blackhole, firewall_rule_kind, firewall_snats
from auditor.paths.walk import Hop, Tail, fmt_prefixes, ip_text, representative, route_dict
from auditor.routing.engine import CONTEXT_ON_PREMISES, RoutingModel
from auditor.routing.table import EffectiveRoute, RouteTableView

NSG_POLICIES = frozenset({"Enabled", "NetworkSecurityGroupEnabled"})
# Subnets that host platform components, not workloads: never flow sources of their own (on-premises
# traffic entering through GatewaySubnet is modelled as the `on-premises` source).
PLATFORM_SUBNETS = frozenset({"gatewaysubnet", "azurefirewallsubnet", "azurefirewallmanagementsubnet",
                              "routeserversubnet"})
MAX_HOPS = 8
STORAGE_TYPE = "microsoft.storage/storageaccounts"


@dataclass(slots=True)
class Mitigation:
    appliance: Appliance
    how: str             # snat | snat-declared | tag | tag-ambiguous
    detail: str


@dataclass(slots=True)
class Flow:
    source: str                       # route context id (route table or subnet id) or "on-premises"
    source_kind: str                  # subnet | on-premises
    source_subnets: list[str]
    source_prefixes: list[Cidr]
    pe: PrivateEndpoint
    pe_ip: int
    port: int
    tail: Tail
    source_hop: Hop
    outcome: str                      # delivered | blocked
    verdict: str                      # symmetric | asymmetric | return-unroutable | blocked
    return_hops: list[Hop] = field(default_factory=list)
    mitigation: Mitigation | None = None
    nsg: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    entry_gateway: str | None = None
    view: RouteTableView | None = None

    @property
    def appliance(self) -> Appliance | None:
        return self.tail.appliances[0] if self.tail.appliances else None

    @property
    def forward_hops(self) -> list[Hop]:
        return [self.source_hop, *self.tail.hops]

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "source_subnets": sorted(self.source_subnets, key=str.lower),
            "source_prefixes": fmt_prefixes(self.source_prefixes),
            "destination": self.pe.id,
            "destination_ip": fmt_ip(self.pe_ip),
            "port": self.port,
            "forward": [h.to_dict() for h in self.forward_hops],
            "return": [h.to_dict() for h in self.return_hops],
            "verdict": self.verdict,
        }


@dataclass
class FlowAnalysis:
    estate: Estate
    config: Config
    port: int = 443
    routing: RoutingModel = field(init=False)
    appliances: ApplianceIndex = field(init=False)
    _tails: dict[tuple, Tail] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.routing = RoutingModel(self.estate, self.config)
        self.appliances = ApplianceIndex(self.estate, self.config)

    # ------------------------------------------------------------------ destinations and sources

    @cached_property
    def endpoints(self) -> list[tuple[PrivateEndpoint, int]]:
        """Private endpoints that carry traffic: an Approved connection and a known IP (§3.7)."""
        out = []
        for pe in sorted(self.estate.private_endpoints.values(), key=lambda p: p.id.lower()):
            if pe.approved:
                out.extend((pe, ip) for ip in sorted(pe.ips))
        return out

    def context_id(self, subnet: Subnet) -> str:
        return subnet.route_table_id or subnet.id

    @cached_property
    def sources(self) -> list[tuple[RouteTableView, list[Subnet]]]:
        out = []
        for key, subnets in sorted(self.routing.contexts.items(), key=lambda kv: (kv[0][0], kv[0][1] or "", kv[0][2])):
            workload = [s for s in subnets if s.name.lower() not in PLATFORM_SUBNETS]
            if workload:
                out.append((self.routing.table(key), workload))
        return out

    @cached_property
    def on_premises_entries(self) -> list[tuple[str, RouteTableView, list[Cidr]]]:
        """(gateway id, GatewaySubnet route view, on-premises prefixes) per VPN/ExpressRoute gateway."""
        out = []
        for gw in sorted(self.estate.vnet_gateways.values(), key=lambda g: g.id.lower()):
            if not gw.subnet_id:
                continue
            view = self.routing.table_for_subnet(gw.subnet_id)
            if view is None:
                continue
            prefixes = [p for p, _ in self.routing.gateway_prefixes.get(gw.id.lower(), [])]
            out.append((gw.id, view, prefixes))
        return out

    # ------------------------------------------------------------------ forward

    def tail(self, view: RouteTableView, dst: int, visited: tuple[str, ...] = ()) -> Tail:
        key = (view.key, dst, visited)
        hit = self._tails.get(key)
        if hit is None:
            hit = self._tails[key] = self._tail(view, dst, visited)
        return hit

    def destination_hop(self, dst: int) -> Hop:
        owners = self.estate.owners_of(dst)
        if owners:
            o = owners[0]
            kind = "private-endpoint" if o.kind == "private-endpoint" else o.kind
            return Hop(self.estate.name_of(o.id), kind, o.id, fmt_ip(dst))
        return Hop(fmt_ip(dst), "address", None, fmt_ip(dst))

    def _tail(self, view: RouteTableView, dst: int, visited: tuple[str, ...]) -> Tail:
        route = view.lookup(dst)
        if route is None:
            return Tail(None, [Hop("drop", "drop", None, note="no active route")], "dropped", "no active route")
        t = route.next_hop_type
        if t in ("InterfaceEndpoint", "VnetLocal", "VNetPeering", "VNetGlobalPeering"):
            return Tail(route, [self.destination_hop(dst)], "delivered")
        if t == "VirtualAppliance" or (t == "VirtualNetworkGateway" and route.kind == "vwan" and route.next_hop_ip):
            if route.next_hop_ip is None:
                return Tail(route, [Hop("drop", "drop", None, note="next hop has no IP")], "dropped",
                            "VirtualAppliance route without a next-hop IP")
            target = self.appliances.resolve(route.next_hop_ip)
            if isinstance(target, Blackhole):
                return Tail(route, [Hop(fmt_ip(target.ip), "drop", target.owner_id, fmt_ip(target.ip),
                                        note=target.reason)], "dropped", target.reason, blackhole=target,
                            blackhole_route=route)
            app_hop = Hop(target.name, target.kind, target.id, target.ip_text)
            if target.id.lower() in visited or len(visited) >= MAX_HOPS:
                app_hop.note = "routing loop"
                return Tail(route, [app_hop], "loop", f"routing loop through {target.name}", [target])
            if target.hub_id or target.subnet_id is None:
                # a secured virtual hub's firewall forwards with the hub's routes: it reaches the VNets
                # connected to that hub (and the hub itself), nothing else (INFERENCE, azure-facts §10.2)
                if self.hub_reaches(target.hub_id, dst):
                    return Tail(route, [app_hop, self.destination_hop(dst)], "delivered", appliances=[target])
                app_hop.note = "the virtual hub has no route to the destination"
                return Tail(route, [app_hop], "dropped", f"virtual hub of {target.name} has no route to {fmt_ip(dst)}",
                            [target])
            next_view = self.routing.table_for_subnet(target.subnet_id)
            if next_view is None:
                app_hop.note = "appliance subnet not in the estate"
                return Tail(route, [app_hop], "dropped", "appliance subnet not in the estate", [target])
            rest = self.tail(next_view, dst, (*visited, target.id.lower()))
            app_hop.route = rest.route
            return Tail(route, [app_hop, *rest.hops], rest.outcome, rest.reason, [target, *rest.appliances],
                        rest.blackhole, rest.blackhole_route)
        if t == "VirtualNetworkGateway":
            return Tail(route, [Hop("on-premises", "gateway", route.origin, None)], "left",
                        "routed to the virtual network gateway (on-premises)")
        if t == "Internet":
            return Tail(route, [Hop("internet", "internet", None)], "left", "routed to the Internet")
        return Tail(route, [Hop("drop", "drop", None, note=f"next hop {t}")], "dropped", f"next hop type {t}")

    def hub_reaches(self, hub_id: str | None, dst: int) -> bool:
        if not hub_id:
            return False
        hub = self.estate.virtual_hubs.get(hub_id.lower())
        if hub is not None and hub.prefix is not None and hub.prefix.contains_ip(dst):
            return True
        for vnet_key, connected_hub in self.routing.hub_of_vnet.items():
            if connected_hub.lower() != hub_id.lower():
                continue
            vnet = self.estate.vnets.get(vnet_key)
            if vnet is not None and any(p.contains_ip(dst) for p in vnet.prefixes):
                return True
        return False

    # ------------------------------------------------------------------ return

    def mitigation(self, tail: Tail, sources: list[Cidr], dst: int) -> Mitigation | None:
        for app in tail.appliances:
            if app.kind == "azure-firewall" and app.firewall is not None:
                kind = firewall_rule_kind(self.estate, app.firewall, sources, dst, self.port)
                if kind == "application":
                    return Mitigation(app, "snat", "an application rule carries the flow: application rules always SNAT")
                snat, why = firewall_snats(self.estate, app.firewall, dst)
                if snat:
                    return Mitigation(app, "snat", why)
            elif app.kind == "nva":
                if app.snat_declared:
                    return Mitigation(app, "snat-declared", "the config file declares SNAT on this NVA")
                tag = app.valid_tag
                if tag is not None:
                    how = "tag-ambiguous" if tag.ambiguous else "tag"
                    return Mitigation(app, how, f"{tag.key}={tag.value} on {self.estate.name_of(tag.resource_id)}")
        return None

    def return_walk(self, flow: Flow) -> None:
        pe_hop = Hop(flow.pe.name, "private-endpoint", flow.pe.id, fmt_ip(flow.pe_ip))
        src_ip = representative(flow.source_prefixes)
        source_end = Hop(flow.source_hop.hop, flow.source_hop.kind, flow.source_hop.id,
                         ip=",".join(fmt_prefixes(flow.source_prefixes)) or None)
        if flow.mitigation is not None:
            app = flow.mitigation.appliance
            pe_hop.route_override = route_dict(f"{app.ip_text}/32", "PlatformReturn", "PrivateEndpoint")
            pe_hop.note = f"reply to {app.name}: {flow.mitigation.detail}"
            app_hop = Hop(app.name, app.kind, app.id, app.ip_text)
            if src_ip is not None and app.subnet_id:
                view = self.routing.table_for_subnet(app.subnet_id)
                if view is not None:
                    app_hop.route = view.lookup(src_ip)
            flow.return_hops = [pe_hop, app_hop, source_end]
            flow.verdict = "symmetric"
            return
        if flow.source_kind == "on-premises":
            route = self.system_route_from_pe(flow.pe, src_ip)
            if route is not None and route.next_hop_type == "VirtualNetworkGateway":
                pe_hop.route = route
                pe_hop.note = "private endpoints ignore UDRs: the reply follows system routes to the gateway"
                flow.return_hops = [pe_hop, Hop("on-premises", "gateway", route.origin), source_end]
                flow.verdict = "asymmetric" if flow.tail.appliances else "symmetric"
            else:
                pe_hop.note = "no system route from the private endpoint's VNet reaches on-premises"
                flow.return_hops = [pe_hop]
                flow.verdict = "return-unroutable"
            return
        route = self.system_route_from_pe(flow.pe, src_ip)
        if route is not None and route.next_hop_type in ("VnetLocal", "VNetPeering", "VNetGlobalPeering"):
            pe_hop.route = route
        else:
            pe_hop.route_override = route_dict(",".join(fmt_prefixes(flow.source_prefixes)), "PlatformReturn",
                                               "PrivateEndpoint")
        pe_hop.note = "private endpoints ignore UDRs for replies: straight back to the source (azure-facts §4.2)"
        flow.return_hops = [pe_hop, source_end]
        flow.verdict = "asymmetric" if flow.tail.appliances else "symmetric"

    def system_route_from_pe(self, pe: PrivateEndpoint, ip: int | None) -> EffectiveRoute | None:
        """The best non-UDR route from the PE's subnet (PEs ignore UDRs for return traffic)."""
        if ip is None or not pe.subnet_id:
            return None
        view = self.routing.table_for_subnet(pe.subnet_id)
        if view is None:
            return None
        best = None
        for r in view.routes:
            if r.state != "Active" or r.source == "User" or r.prefix is None or not r.prefix.contains_ip(ip):
                continue
            if best is None or r.prefix.plen > best.prefix.plen:
                best = r
        return best

    # ------------------------------------------------------------------ NSG

    def virtual_network_tag(self, view: RouteTableView) -> list[Cidr]:
        """The VirtualNetwork service tag as seen from a context (addendum A2)."""
        return [r.prefix for r in view.routes
                if r.prefix is not None and r.state == "Active"
                and (r.kind in ("vnet", "peering", "gateway", "vwan") or (r.kind == "udr" and r.prefix.plen > 0))]

    def nsg_check(self, flow: Flow, subnet: Subnet | None, sources: list[Cidr]) -> bool:
        """False when an NSG definitely blocks the flow (source subnet outbound, PE subnet inbound)."""
        dest = [Cidr(flow.pe_ip, 32)]
        if subnet is not None and subnet.nsg_id:
            nsg = self.estate.nsgs.get(subnet.nsg_id.lower())
            view = self.routing.table_for_subnet(subnet.id)
            if nsg is not None and view is not None:
                v = nsgs.evaluate(nsg, "Outbound", list(subnet.prefixes), dest, self.port, self.virtual_network_tag(view))
                flow.nsg.append({"subnet": subnet.id, "direction": "Outbound", **v.to_dict()})
                if v.decision == "deny":
                    return False
        pe_subnet = self.estate.subnets.get((flow.pe.subnet_id or "").lower())
        if pe_subnet is not None and pe_subnet.nsg_id and pe_subnet.pe_policies in NSG_POLICIES:
            nsg = self.estate.nsgs.get(pe_subnet.nsg_id.lower())
            view = self.routing.table_for_subnet(pe_subnet.id)
            if nsg is not None and view is not None:
                snat = flow.mitigation is not None and flow.mitigation.how in ("snat", "snat-declared")
                srcs = [Cidr(flow.mitigation.appliance.ip, 32)] if snat else sources  # type: ignore[union-attr]
                v = nsgs.evaluate(nsg, "Inbound", srcs, dest, self.port, self.virtual_network_tag(view))
                flow.nsg.append({"subnet": pe_subnet.id, "direction": "Inbound", **v.to_dict()})
                if v.decision == "deny":
                    return False
        return True

    # ------------------------------------------------------------------ flows

    def build_flow(self, source: str, kind: str, subnets: list[Subnet], prefixes: list[Cidr], view: RouteTableView,
                   pe: PrivateEndpoint, ip: int, hop: Hop, gateway: str | None = None) -> Flow:
        tail = self.tail(view, ip)
        hop.route = tail.route
        flow = Flow(source, kind, [s.id for s in subnets], prefixes, pe, ip, self.port, tail, hop,
                    "delivered" if tail.outcome == "delivered" else "blocked", "blocked", entry_gateway=gateway,
                    view=view)
        if tail.outcome != "delivered" or tail.hops[-1].id is None or tail.hops[-1].id.lower() != pe.id.lower():
            flow.outcome, flow.verdict = "blocked", "blocked"
            flow.notes.append(tail.reason or "not delivered")
            flow.return_hops = []
            return flow
        flow.mitigation = self.mitigation(tail, prefixes, ip)
        self.return_walk(flow)
        return flow

    def flows_to(self, pe: PrivateEndpoint, ip: int) -> list[Flow]:
        """Every source's flow to one PE IP, one Flow per (context, subnet NSG outcome)."""
        out: list[Flow] = []
        for view, subnets in self.sources:
            groups: dict[tuple[str, bool], list[Subnet]] = {}
            for s in subnets:
                groups.setdefault((self.context_id(s), True), []).append(s)
            for (ctx_id, _), members in sorted(groups.items()):
                prefixes = [p for s in members for p in s.prefixes]
                delivered: list[Subnet] = []
                blocked: list[Subnet] = []
                nsg_records: list[dict[str, Any]] = []
                template = self.build_flow(ctx_id, "subnet", members, prefixes, view, pe, ip,
                                           Hop(self.estate.name_of(ctx_id), "subnet", ctx_id))
                if template.outcome != "delivered":
                    out.append(template)
                    continue
                for s in members:
                    probe = Flow(ctx_id, "subnet", [s.id], list(s.prefixes), pe, ip, self.port, template.tail,
                                 template.source_hop, "delivered", template.verdict, mitigation=template.mitigation)
                    ok = self.nsg_check(probe, s, list(s.prefixes))
                    nsg_records.extend(probe.nsg)
                    (delivered if ok else blocked).append(s)
                if delivered:
                    flow = self.build_flow(ctx_id, "subnet", delivered, [p for s in delivered for p in s.prefixes],
                                           view, pe, ip, Hop(self.estate.name_of(ctx_id), "subnet", ctx_id))
                    flow.nsg = [n for n in nsg_records if n["subnet"].lower() in {s.id.lower() for s in delivered}
                                or n["direction"] == "Inbound"]
                    out.append(flow)
                if blocked:
                    flow = self.build_flow(ctx_id, "subnet", blocked, [p for s in blocked for p in s.prefixes],
                                           view, pe, ip, Hop(self.estate.name_of(ctx_id), "subnet", ctx_id))
                    flow.outcome, flow.verdict, flow.return_hops = "blocked", "blocked", []
                    flow.notes.append("an NSG denies the flow")
                    flow.nsg = nsg_records
                    out.append(flow)
        for gw_id, view, prefixes in self.on_premises_entries:
            flow = self.build_flow(CONTEXT_ON_PREMISES, "on-premises", [], prefixes, view, pe, ip,
                                   Hop("on-premises", "gateway", gw_id), gw_id)
            if flow.outcome == "delivered" and not self.nsg_check(flow, None, prefixes):
                flow.outcome, flow.verdict, flow.return_hops = "blocked", "blocked", []
                flow.notes.append("an NSG denies the flow")
            out.append(flow)
        return out

    @cached_property
    def all_flows(self) -> list[Flow]:
        flows: list[Flow] = []
        for pe, ip in self.endpoints:
            flows.extend(self.flows_to(pe, ip))
        return flows

    def is_storage(self, pe: PrivateEndpoint) -> bool:
        return any((c.target_id or "").lower().split("/providers/")[-1].startswith("microsoft.storage/storageaccounts")
                   for c in pe.connections)


def hop_text(h: Hop) -> str:
    return f"{h.hop} ({h.kind}{', ' + h.ip if h.ip else ''})"


__all__ = ["Flow", "FlowAnalysis", "Mitigation", "hop_text", "ip_text"]
