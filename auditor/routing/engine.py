"""Effective routes per route context, as Azure computes them.

Sources (Microsoft Learn):
- default routes: each VNet range -> VnetLocal, 0.0.0.0/0 -> Internet, reserved ranges -> None;
  a VNet range equal to a reserved prefix turns that route into VnetLocal, a range containing one
  removes it (https://learn.microsoft.com/azure/virtual-network/virtual-networks-udr-overview).
  The doc speaks of the VNet's own address space; peered ranges are not applied to reserved routes.
- peering routes for Connected peerings, VNetGlobalPeering across regions (same page);
- gateway routes (local network gateway prefixes, config `on_premises`), also through a hub's
  gateway with useRemoteGateways/allowGatewayTransit, suppressed by disableBgpRoutePropagation
  (same page);
- service-endpoint routes as service-tag entries on the subnets that enable them (same page);
- private endpoint /32 InterfaceEndpoint routes in the PE's VNet and directly peered VNets
  (https://learn.microsoft.com/azure/private-link/disable-private-endpoint-network-policy);
- UDRs; selection by longest prefix, ties User > BGP > System, and BGP never beats VNet, peering
  or service-endpoint routes even when more specific
  (https://learn.microsoft.com/azure/virtual-network/virtual-networks-udr-overview);
- PE /32 invalidation (https://learn.microsoft.com/azure/private-link/disable-private-endpoint-network-policy):
  policies on the PE's own subnet in {Enabled,
  RouteTableEnabled}, a UDR of the source context covers the PE IP with a prefix no wider than the
  PE VNet range containing it (0.0.0.0/0 never); an identical /32 UDR wins by the tie rule anyway.
- Virtual WAN: spokes connected to a hub learn the hub range and other spokes through the hub
  (source VirtualNetworkGateway); with routing intent, private (and/or Internet) prefixes point at
  the policy's next hop. This part is INFERENCE from
  https://learn.microsoft.com/azure/virtual-wan/how-to-routing-policies; PE /32s are not propagated through a hub
  (undocumented, https://learn.microsoft.com/azure/firewall-manager/private-link-inspection-secure-virtual-hub).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from auditor.config import Config
from auditor.estate.model import Estate, HubGateway, Peering, PrivateEndpoint, Subnet
from auditor.ids import key
from auditor.ipnet import RFC1918, RFC6598, Cidr, fmt_ip, parse_cidr
from auditor.routing.table import PROTECTED_SYSTEM_HOPS, SOURCE_RANK, EffectiveRoute, RouteTableView

RESERVED = (*RFC1918, RFC6598)
ROUTE_TABLE_POLICIES = frozenset({"Enabled", "RouteTableEnabled"})
DEFAULT_ORDER = {
    "vnet": 0,
    "peering": 1,
    "private-endpoint": 2,
    "internet": 3,
    "reserved": 4,
    "service-endpoint": 5,
}
CONTEXT_ON_PREMISES = "on-premises"


@dataclass(frozen=True, slots=True)
class PeRoute:
    pe: PrivateEndpoint
    ip: int
    vnet_range: (
        Cidr | None
    )  # the PE VNet range containing the PE IP (limits invalidating UDRs), None if unknown
    policies: str  # privateEndpointNetworkPolicies of the PE's subnet
    subnet_id: str | None


@dataclass
class RoutingModel:
    estate: Estate
    config: Config = field(default_factory=Config)
    _tables: dict[tuple[str, str | None, tuple[str, ...]], RouteTableView] = field(default_factory=dict)

    # ------------------------------------------------------------------ shared per-estate facts

    @cached_property
    def subnet_keys(self) -> dict[str, tuple[str, str | None, tuple[str, ...]]]:
        keys = {}
        for sid, subnet in self.estate.subnets.items():
            keys[sid] = context_key(subnet)
        return keys

    @cached_property
    def contexts(self) -> dict[tuple[str, str | None, tuple[str, ...]], list[Subnet]]:
        groups: dict[tuple[str, str | None, tuple[str, ...]], list[Subnet]] = {}
        for sid in sorted(self.estate.subnets):
            subnet = self.estate.subnets[sid]
            groups.setdefault(self.subnet_keys[sid], []).append(subnet)
        return groups

    @cached_property
    def connected_peerings(self) -> dict[str, list[Any]]:
        """VNet (lower id) -> its Connected peerings (Peering, all with a remote_vnet_id: typed Any so that
        readers need not narrow it again)."""
        out: dict[str, list[Any]] = {}
        for p in self.estate.peerings.values():
            if p.state == "Connected" and p.remote_vnet_id:
                out.setdefault(key(p.vnet_id), []).append(p)
        for lst in out.values():
            lst.sort(key=lambda p: key(p.id))
        return out

    @cached_property
    def pe_routes_by_vnet(self) -> dict[str, list[PeRoute]]:
        """VNet (lower id) -> the PE /32s living in it."""
        out: dict[str, list[PeRoute]] = {}
        for pe in sorted(self.estate.private_endpoints.values(), key=lambda p: key(p.id)):
            subnet = self.estate.subnets.get(key(pe.subnet_id or ""))
            if subnet is None:
                continue
            vnet = self.estate.vnets.get(key(subnet.vnet_id))
            for ip in sorted(pe.ips):
                rng = None
                if vnet is not None:
                    rng = next((r for r in vnet.prefixes if r.contains_ip(ip)), None)
                out.setdefault(key(subnet.vnet_id), []).append(
                    PeRoute(pe, ip, rng, subnet.pe_policies, subnet.id)
                )
        return out

    @cached_property
    def gateway_prefixes(self) -> dict[str, list[tuple[Cidr, str]]]:
        """Virtual network gateway id (lower) -> on-premises prefixes it advertises, with their origin."""
        out: dict[str, list[tuple[Cidr, str]]] = {}
        for gw in self.estate.vnet_gateways.values():
            out[key(gw.id)] = []
        for conn in sorted(self.estate.connections.values(), key=lambda c: key(c.id)):
            if not conn.gateway_id or not conn.local_gateway_id:
                continue
            lgw = self.estate.local_gateways.get(key(conn.local_gateway_id))
            if lgw is None or key(conn.gateway_id) not in out:
                continue
            out[key(conn.gateway_id)].extend((p, lgw.id) for p in lgw.prefixes)
        for gid, lst in out.items():
            lst.extend((p, "config:network.on_premises") for p in self.config.on_premises)
            firsts: dict[Cidr, str] = {}  # each prefix once, with the first origin that names it
            for p, o in lst:
                firsts.setdefault(p, o)
            out[gid] = list(firsts.items())
        return out

    @cached_property
    def vnet_gateways(self) -> dict[str, list[str]]:
        """VNet (lower id) -> gateways whose routes it learns (its own, or a hub's via transit)."""
        own: dict[str, list[str]] = {}
        for gw in self.estate.vnet_gateways.values():
            if gw.vnet_id:
                own.setdefault(key(gw.vnet_id), []).append(gw.id)
        out = {k: sorted(v, key=str.lower) for k, v in own.items()}
        # (vnet, remote) -> does any Connected vnet->remote peering allow gateway transit; indexed once
        # so a hub with thousands of spokes is not rescanned per spoke
        transit: dict[tuple[str, str], bool] = {}
        for vnet_id, peerings in self.connected_peerings.items():
            for q in peerings:
                pair = (vnet_id, key(q.remote_vnet_id))
                transit[pair] = transit.get(pair, False) or q.allow_gateway_transit
        for vnet_id, peerings in self.connected_peerings.items():
            for p in peerings:
                if not p.use_remote_gateways:
                    continue
                remote = key(p.remote_vnet_id)
                if transit.get((remote, vnet_id)) is False:
                    continue  # the hub side is known and allows no gateway transit
                for gid in own.get(remote, []):
                    out.setdefault(vnet_id, []).append(gid)
        return out

    @cached_property
    def peering_to(self) -> dict[tuple[str, str], Peering]:
        """(VNet, remote VNet), both lower-case -> the Connected peering of the first to the second."""
        out: dict[tuple[str, str], Peering] = {}
        for vnet_id, peerings in self.connected_peerings.items():
            for p in peerings:
                out.setdefault((vnet_id, key(p.remote_vnet_id)), p)
        return out

    @cached_property
    def _reachable(self) -> dict[str, frozenset[str]]:
        out: dict[str, set[str]] = {}
        for vnet_id, remote in self.peering_to:
            out.setdefault(vnet_id, {vnet_id}).add(remote)
        for vnet_id, hub_id in self.hub_of_vnet.items():
            out.setdefault(vnet_id, {vnet_id}).add(key(hub_id))
        return {k: frozenset(v) for k, v in out.items()}

    def reachable_from(self, vnet_key: str) -> frozenset[str]:
        """Where a packet in this VNet can be handed over directly: the VNet itself, the VNets it is
        peered with (Connected) and, for a Virtual WAN spoke, its virtual hub (lower-case ids).

        Addresses are per VNet: two VNets that are not connected may use the same ranges (landing
        zones, dev/prod copies), so a next hop, an appliance or a private endpoint is looked up here,
        never estate-wide. A `VirtualAppliance` next hop must be directly reachable
        (https://learn.microsoft.com/azure/virtual-network/virtual-networks-udr-overview); peered
        VNets may not overlap, so inside this set an address is unambiguous
        (https://learn.microsoft.com/azure/virtual-network/virtual-network-peering-overview)."""
        return self._reachable.get(vnet_key, frozenset((vnet_key,)))

    def crossing_blocked(self, from_vnet: str, to_vnet: str, forwarded: bool) -> str | None:
        """Why a peering refuses a packet from one VNet into another, or None.

        `allowVirtualNetworkAccess` false on either side's peering blocks traffic between the two
        VNets; `allowForwardedTraffic` false on the receiving VNet's peering refuses traffic that did
        not originate in the sending VNet, i.e. what an NVA or firewall there forwards
        (https://learn.microsoft.com/azure/virtual-network/virtual-network-manage-peering). Traffic
        leaving an appliance counts as forwarded. Field reports say forwarded traffic sometimes flows
        anyway; the hop says which setting decided, so a reader can check."""
        if from_vnet == to_vnet:
            return None
        out_p = self.peering_to.get((from_vnet, to_vnet))
        back = self.peering_to.get((to_vnet, from_vnet))
        name = self.estate.name_of
        for p in (out_p, back):
            if p is not None and not p.allow_vnet_access:
                return (
                    f"blocked by peering setting: {name(p.id)} has allowVirtualNetworkAccess false, which blocks "
                    f"traffic between {name(p.vnet_id)} and {name(p.remote_vnet_id)}"
                )
        if forwarded and back is not None and not back.allow_forwarded_traffic:
            return (
                f"blocked by peering setting: {name(back.id)} ({name(to_vnet)} to {name(from_vnet)}) has "
                f"allowForwardedTraffic false, so {name(to_vnet)} refuses traffic an appliance in "
                f"{name(from_vnet)} forwards"
            )
        return None

    @cached_property
    def hub_of_vnet(self) -> dict[str, str]:
        return {
            key(c.remote_vnet_id): c.hub_id for c in self.estate.hub_connections.values() if c.remote_vnet_id
        }

    # ------------------------------------------------------------------ tables

    def table_for_subnet(self, subnet_id: str) -> RouteTableView | None:
        context = self.subnet_keys.get(key(subnet_id))
        return None if context is None else self.table(context)

    def table(self, key: tuple[str, str | None, tuple[str, ...]]) -> RouteTableView:
        view = self._tables.get(key)
        if view is None:
            view = self._compute(key)
            self._tables[key] = view
        return view

    def all_tables(self) -> list[RouteTableView]:
        return [self.table(k) for k in sorted(self.contexts, key=lambda k: (k[0], k[1] or "", k[2]))]

    def _compute(self, context: tuple[str, str | None, tuple[str, ...]]) -> RouteTableView:
        vnet_key, rt_key, service_endpoints = context
        estate = self.estate
        vnet = estate.vnets.get(vnet_key)
        rt = estate.route_tables.get(rt_key) if rt_key else None
        subnets = self.contexts.get(context, [])
        notes: list[str] = []
        dbp = bool(rt and rt.disable_bgp_route_propagation)
        routes: list[EffectiveRoute] = []

        def add(**kw: Any) -> None:
            routes.append(EffectiveRoute(disable_bgp_route_propagation=dbp, **kw))

        # Default routes (https://learn.microsoft.com/azure/virtual-network/virtual-networks-udr-overview)
        own_ranges = vnet.prefixes if vnet is not None else tuple(p for s in subnets for p in s.prefixes)
        if vnet is None:
            notes.append("VNet not in the estate: its subnets' prefixes stand in for its address space")
        for rng in own_ranges:
            add(
                source="Default",
                prefix=rng,
                prefix_text=str(rng),
                next_hop_type="VnetLocal",
                kind="vnet",
                origin=vnet.id if vnet else None,
            )
        add(
            source="Default",
            prefix=parse_cidr("0.0.0.0/0"),
            prefix_text="0.0.0.0/0",
            next_hop_type="Internet",
            kind="internet",
        )
        for reserved in RESERVED:
            if any(rng == reserved or rng.contains(reserved) for rng in own_ranges):
                continue  # replaced by the VnetLocal route of that range
            add(
                source="Default",
                prefix=reserved,
                prefix_text=str(reserved),
                next_hop_type="None",
                kind="reserved",
            )

        # Peering routes (https://learn.microsoft.com/azure/virtual-network/virtual-networks-udr-overview)
        location = (vnet.location if vnet else "").lower()
        peered_vnets: list[str] = []
        for p in self.connected_peerings.get(vnet_key, []):
            remote = estate.vnets.get(key(p.remote_vnet_id))
            prefixes = p.remote_prefixes or (remote.prefixes if remote else ())
            hop = "VNetPeering"
            if remote is not None and location and remote.location and remote.location.lower() != location:
                hop = "VNetGlobalPeering"
            peered_vnets.append(key(p.remote_vnet_id))
            for rng in prefixes:
                add(
                    source="Default",
                    prefix=rng,
                    prefix_text=str(rng),
                    next_hop_type=hop,
                    kind="peering",
                    origin=p.id,
                )

        # Private endpoint /32s of this VNet and directly peered VNets
        # (https://learn.microsoft.com/azure/private-link/disable-private-endpoint-network-policy)
        pe_routes: list[PeRoute] = []
        for vid in [vnet_key, *peered_vnets]:
            pe_routes.extend(self.pe_routes_by_vnet.get(vid, []))
        udrs = list(rt.routes) if rt else []
        udr_map = [(u.prefix, u) for u in udrs if u.prefix is not None]
        for per in pe_routes:
            cidr = Cidr(per.ip, 32)
            route = EffectiveRoute(
                source="Default",
                prefix=cidr,
                prefix_text=str(cidr),
                next_hop_type="InterfaceEndpoint",
                kind="private-endpoint",
                origin=per.pe.id,
                disable_bgp_route_propagation=dbp,
            )
            reason = invalidation(per, udr_map)
            if reason:
                route.state, route.reason = "Invalid", reason
            routes.append(route)

        # Service endpoints: public prefixes of the service, represented by its tag
        # (https://learn.microsoft.com/azure/virtual-network/virtual-networks-udr-overview)
        for service in service_endpoints:
            add(
                source="Default",
                prefix=None,
                prefix_text=service,
                next_hop_type="VirtualNetworkServiceEndpoint",
                kind="service-endpoint",
            )

        # Gateway routes (https://learn.microsoft.com/azure/virtual-network/virtual-networks-udr-overview)
        gateways = self.vnet_gateways.get(vnet_key, [])
        if gateways and dbp:
            notes.append("disableBgpRoutePropagation: gateway routes are not propagated to this route table")
        elif gateways:
            for gid in gateways:
                for prefix, origin in self.gateway_prefixes.get(key(gid), []):
                    add(
                        source="VirtualNetworkGateway",
                        prefix=prefix,
                        prefix_text=str(prefix),
                        next_hop_type="VirtualNetworkGateway",
                        kind="gateway",
                        origin=origin,
                    )
        hub_id = self.hub_of_vnet.get(vnet_key)
        if hub_id and not dbp:
            routes.extend(self._vwan_routes(hub_id, vnet_key, dbp))
        elif hub_id:
            notes.append(
                "disableBgpRoutePropagation on a Virtual WAN spoke: it learns no hub routes ("
                "https://learn.microsoft.com/azure/virtual-wan/how-to-routing-policies)"
            )

        # UDRs
        for u in udrs:
            add(
                source="User",
                prefix=u.prefix,
                prefix_text=u.prefix_text,
                next_hop_type=u.next_hop_type,
                next_hop_ip=u.next_hop_ip,
                next_hop_ip_text=u.next_hop_ip_text,
                kind="udr",
                origin=u.id,
                name=u.name,
            )

        remove_reserved_on_default_override(routes)
        select(routes)
        routes.sort(key=display_order)
        return RouteTableView(
            context,
            vnet.id if vnet else vnet_key,
            rt.id if rt else None,
            [s.id for s in subnets],
            routes,
            notes,
        )

    def hub_gateway_prefixes(self, gw: HubGateway) -> list[Cidr]:
        """On-premises prefixes behind a hub gateway: its VPN sites' address spaces and the config's
        [network] on_premises (ExpressRoute learns them over BGP: none in ARM)."""
        out: list[Cidr] = []
        for sid in gw.site_ids:
            site = self.estate.vpn_sites.get(key(sid))
            out += site.prefixes if site is not None else ()
        out += self.config.on_premises
        return list(dict.fromkeys(out))

    def intent(self, hub_id: str) -> tuple[str | None, str | None, str | None]:
        """(routing intent id, PrivateTraffic next hop id, Internet next hop id) of a hub."""
        intent = next(
            (
                ri
                for ri in sorted(self.estate.routing_intents.values(), key=lambda r: key(r.id))
                if key(ri.hub_id) == key(hub_id)
            ),
            None,
        )
        private_hop = internet_hop = None
        for pol in intent.policies if intent else []:
            dests = {d.lower() for d in pol.destinations}
            if "privatetraffic" in dests:
                private_hop = pol.next_hop
            if "internet" in dests:
                internet_hop = pol.next_hop
        return (intent.id if intent else None), private_hop, internet_hop

    def next_hop_ip(self, next_hop: str | None) -> int | None:
        """The address of a routing-intent next hop: the hub firewall's, or a hub NVA's first instance."""
        fw = self.estate.firewalls.get(key(next_hop or ""))
        if fw is not None and fw.private_ip is not None:
            return fw.private_ip
        nva = self.estate.hub_nvas.get(key(next_hop or ""))
        return nva.ips[0] if nva is not None and nva.ips else None

    def intent_private_ip(self, hub_id: str) -> int | None:
        return self.next_hop_ip(self.intent(hub_id)[1])

    def _vwan_routes(self, hub_id: str, vnet_key: str, dbp: bool) -> list[EffectiveRoute]:
        """INFERENCE (https://learn.microsoft.com/azure/virtual-wan/how-to-routing-policies): what a VWAN spoke learns from its hub."""
        estate = self.estate
        hub = estate.virtual_hubs.get(key(hub_id))
        out: list[EffectiveRoute] = []
        intent_id, private_hop, internet_hop = self.intent(hub_id)

        def add(prefix: Cidr, next_hop: str | None, origin: str) -> None:
            ip = self.next_hop_ip(next_hop)
            text = fmt_ip(ip) if ip is not None else None
            out.append(
                EffectiveRoute(
                    source="VirtualNetworkGateway",
                    prefix=prefix,
                    prefix_text=str(prefix),
                    next_hop_type="VirtualNetworkGateway",
                    next_hop_ip=ip,
                    next_hop_ip_text=text,
                    kind="vwan",
                    origin=origin,
                    disable_bgp_route_propagation=dbp,
                )
            )

        if private_hop:
            for rng in RFC1918:
                add(rng, private_hop, intent_id)  # type: ignore[arg-type]
        if internet_hop:
            add(parse_cidr("0.0.0.0/0"), internet_hop, intent_id)  # type: ignore[arg-type]
        # branches behind the hub's gateways (VPN site ranges, config on_premises) reach spokes through the hub
        for gw in sorted(estate.hub_gateways.values(), key=lambda g: key(g.id)):
            if key(gw.hub_id or "") == key(hub_id):
                for rng in self.hub_gateway_prefixes(gw):
                    add(rng, private_hop, gw.id)
        if hub is not None and hub.prefix is not None:
            add(hub.prefix, None, hub.id)
        for other, other_hub in sorted(self.hub_of_vnet.items()):
            if other == vnet_key or key(other_hub) != key(hub_id):
                continue
            remote = estate.vnets.get(other)
            for rng in remote.prefixes if remote else ():
                add(rng, private_hop, other_hub)
        return out


def context_key(subnet: Subnet) -> tuple[str, str | None, tuple[str, ...]]:
    return (
        key(subnet.vnet_id),
        key(subnet.route_table_id) if subnet.route_table_id else None,
        tuple(sorted(subnet.service_endpoints)),
    )


def invalidation(per: PeRoute, udrs: Sequence[tuple[Cidr, object]]) -> str | None:
    """Why a UDR of the source context invalidates this PE /32, or None
    (https://learn.microsoft.com/azure/private-link/disable-private-endpoint-network-policy)."""
    if per.policies not in ROUTE_TABLE_POLICIES:
        return None
    best = None
    for prefix, udr in udrs:
        if prefix.plen == 0 or not prefix.contains_ip(per.ip):
            # 0.0.0.0/0 never invalidates PE routes (same page)
            continue
        if per.vnet_range is not None and prefix.plen < per.vnet_range.plen:
            continue  # wider than the PE VNet range: does not invalidate (same page)
        if per.vnet_range is None:
            continue
        if best is None or prefix.plen > best[0].plen:
            best = (prefix, udr)
    if best is None:
        return None
    prefix, udr = best
    return (
        f"invalidated by UDR {getattr(udr, 'name', '')} {prefix}: PE subnet has privateEndpointNetworkPolicies "
        f"{per.policies} and /{prefix.plen} is no wider than the PE VNet range {per.vnet_range} (https://learn.microsoft.com/azure/private-link/disable-private-endpoint-network-policy)"
    )


UDR_OVERVIEW = "https://learn.microsoft.com/azure/virtual-network/virtual-networks-udr-overview"


def remove_reserved_on_default_override(routes: list[EffectiveRoute]) -> None:
    """A 0.0.0.0/0 override removes the reserved-range `None` routes (10/8, 172.16/12, 192.168/16,
    100.64/10) from the subnet's table: the UDR overview's routing example says so for a 0.0.0.0/0
    user-defined route, and says that a 0.0.0.0/0 learned over BGP (forced tunnelling) overrides the
    default route in the same way, so a BGP 0/0 is taken to remove them as well (marked inferred).
    This is what makes the landing-zone spoke with only `0.0.0.0/0 -> firewall` send traffic for
    other spokes to the firewall instead of dropping it. The routes stay listed as Invalid, which is
    how Azure's effective-route output shows them when it does not omit them (compare.py accepts both)."""
    udr = next(
        (r for r in routes if r.source == "User" and r.prefix is not None and r.prefix.plen == 0), None
    )
    bgp = next(
        (
            r
            for r in routes
            if r.source == "VirtualNetworkGateway"
            and r.prefix is not None
            and r.prefix.plen == 0
            and r.state == "Active"
        ),
        None,
    )
    if udr is None and bgp is None:
        return
    if udr is not None:
        why = (
            f"removed: the user-defined route {udr.name or ''} 0.0.0.0/0 -> {udr.next_hop_type} overrides the "
            f"default route, and Azure then removes the reserved-range None routes ({UDR_OVERVIEW}, "
            "routing example)"
        ).replace("route  0", "route 0")
    else:
        why = (
            f"removed (inferred): a 0.0.0.0/0 learned from the gateway ({bgp.next_hop_type}) overrides the "  # type: ignore[union-attr]
            "default route; the documentation says a 0.0.0.0/0 override removes the reserved-range None "
            f"routes, and shows it for a user-defined route ({UDR_OVERVIEW}, routing example)"
        )
    for r in routes:
        if r.kind == "reserved" and r.state == "Active":
            r.state, r.reason = "Invalid", why


def select(routes: list[EffectiveRoute]) -> None:
    """Mark losers Invalid: same-prefix ties (User > BGP > System) and BGP under protected system routes."""
    by_prefix: dict[Cidr, list[EffectiveRoute]] = {}
    protected: list[Cidr] = []
    for r in routes:
        if r.prefix is None or r.state != "Active":
            continue
        by_prefix.setdefault(r.prefix, []).append(r)
        if r.source == "Default" and r.next_hop_type in PROTECTED_SYSTEM_HOPS:
            protected.append(r.prefix)
    for prefix, group in by_prefix.items():
        if len(group) < 2:
            continue
        group.sort(key=lambda r: SOURCE_RANK.get(r.source, 3))
        best = group[0]
        system = next(
            (g for g in group if g.source == "Default" and g.next_hop_type in PROTECTED_SYSTEM_HOPS), None
        )
        if best.source != "User" and system is not None:
            # BGP never beats VNet/peering routes; a reserved-range None route gives way to the
            # VNet/peering route of the same prefix instead of winning by list order
            # (https://learn.microsoft.com/azure/virtual-network/virtual-networks-udr-overview)
            best = system
        for r in group:
            if r is best:
                continue
            r.state = "Invalid"
            if best is system and r.source == "Default":
                r.reason = (
                    f"same prefix {prefix} as the {best.next_hop_type} route: a range in use by a VNet or a "
                    "peered VNet replaces the reserved-range route (https://learn.microsoft.com/azure/virtual-network/virtual-networks-udr-overview)"
                )
            elif best is system:
                r.reason = (
                    f"same prefix {prefix} as the {best.next_hop_type} system route, which BGP routes never "
                    "override (https://learn.microsoft.com/azure/virtual-network/virtual-networks-udr-overview)"
                )
            else:
                r.reason = (
                    f"same prefix {prefix} as a {best.source} route, which has precedence "
                    "(User > BGP > System, https://learn.microsoft.com/azure/virtual-network/virtual-networks-udr-overview)"
                )
    for r in routes:
        if r.source == "VirtualNetworkGateway" and r.state == "Active" and r.prefix is not None:
            cover = next((p for p in protected if p.contains(r.prefix) and p != r.prefix), None)
            if cover is not None:
                r.state = "Invalid"
                r.reason = (
                    f"inside {cover}, a VNet/peering/service-endpoint system route that BGP routes never "
                    "override, even when more specific (https://learn.microsoft.com/azure/virtual-network/virtual-networks-udr-overview)"
                )


def display_order(r: EffectiveRoute) -> tuple[int, int, int, int, str, str, str]:
    source = SOURCE_RANK.get(r.source, 3)
    source = {"Default": 0, "VirtualNetworkGateway": 1, "User": 2}.get(r.source, 3)
    net = r.prefix.net if r.prefix else -1
    plen = r.prefix.plen if r.prefix else -1
    return (source, DEFAULT_ORDER.get(r.kind, 6), net, plen, r.prefix_text, r.next_hop_type, r.origin or "")
