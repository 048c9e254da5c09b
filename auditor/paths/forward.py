"""The forward walk: the winning route at each hop, appliances behind next hops, peering crossings and
where a walk delivers (addresses resolved per VNet).

A FlowAnalysis part (auditor.paths.analysis says what the parts share)."""

from __future__ import annotations

from auditor.ids import key
from auditor.ipnet import fmt_ip
from auditor.paths.appliances import Appliance, Blackhole, owner_place
from auditor.paths.flow import DELIVERING_HOPS, MAX_HOPS
from auditor.paths.part import AnalysisPart
from auditor.paths.walk import Hop, Tail
from auditor.routing.table import EffectiveRoute, RouteTableView


class ForwardWalk(AnalysisPart):
    def tail(self, view: RouteTableView, dst: int, visited: tuple[str, ...] = ()) -> Tail:
        return self._walk(view, dst, visited, self.cache.tails)

    def _walk(self, view: RouteTableView, dst: int, visited: tuple[str, ...], cache: dict) -> Tail:
        key = (id(view), dst, visited)  # views live as long as the routing model: ids are stable
        hit = cache.get(key)
        if hit is None:
            hit = cache[key] = self._tail(view, dst, visited, cache)
        return hit

    def destination_hop(self, dst: int, where: tuple[str, str] | None = None) -> Hop:
        """Who receives `dst` where a walk delivers it: `where` is ("pe", PE id) for a PE /32 route,
        else ("place", VNet or virtual hub id) and the owner of the address there. Addresses are per
        VNet (RoutingModel.reachable_from): an estate-wide lookup would pick another landing zone's
        resource that happens to use the same address."""
        key = (dst, where)
        hop = self.cache.dest_hops.get(key)
        if hop is None:
            hop = self.cache.dest_hops[key] = self._destination_hop(dst, where)
        return hop

    def _destination_hop(self, dst: int, where: tuple[str, str] | None) -> Hop:
        estate = self.estate
        if where is not None and where[0] == "pe":
            pe = estate.private_endpoints.get(key(where[1]))
            if pe is not None:
                return Hop(pe.name, "private-endpoint", pe.id, fmt_ip(dst))
        owners = estate.owners_of(dst)
        if where is not None:
            owners = [o for o in owners if owner_place(estate, o) in (where[1], None)]
        if owners:
            o = owners[0]
            return Hop(estate.name_of(o.id), o.kind, o.id, fmt_ip(dst))
        return Hop(fmt_ip(dst), "address", None, fmt_ip(dst))

    def _delivery(
        self, vnet: str, route: EffectiveRoute, dst: int
    ) -> tuple[tuple[str, str] | None, str | None]:
        """For a delivering route: where the packet ends (destination_hop's `where`) and the VNet it
        enters on the way (None when no peering is crossed)."""
        t, estate = route.next_hop_type, self.estate
        if t == "InterfaceEndpoint":
            pe = estate.private_endpoints.get(key(route.origin or ""))
            into = key(pe.subnet_id).split("/subnets/")[0] if pe is not None and pe.subnet_id else None
            return ("pe", route.origin or ""), into
        if t == "VnetLocal":
            return ("place", vnet), None
        if t in ("VNetPeering", "VNetGlobalPeering"):
            peering = estate.peerings.get(key(route.origin or ""))
            remote = key(peering.remote_vnet_id or "") if peering is not None else ""
            return ("place", remote), remote or None
        place = self.hub_target(route.origin, dst)  # a Virtual WAN hub router (no peering crossed)
        return (("place", place) if place else None), None

    def _tail(self, view: RouteTableView, dst: int, visited: tuple[str, ...], cache: dict) -> Tail:
        if self.reuse is not None:  # whatif: the walk before the change, where the change left it as it was
            reused = self.reuse.tail(view, dst, visited)
            if reused is not None:
                return reused
        route = view.lookup(dst)
        t = route.next_hop_type if route is not None else None
        vnet = view.key[0]
        blocked: tuple[str, Hop] | None = None
        if route is not None and (t in DELIVERING_HOPS or self._hub_router_delivers(route, dst)):
            where, into = self._delivery(vnet, route, dst)
            why = self.routing.crossing_blocked(vnet, into, bool(visited)) if into else None
            if why is None:
                return Tail(route, [self.destination_hop(dst, where)], "delivered")
            blocked = (why, Hop(fmt_ip(dst), "drop", None, fmt_ip(dst), note=why))
        elif route is not None and (
            (t == "VirtualAppliance" and route.next_hop_ip is not None)
            or (t == "VirtualNetworkGateway" and route.kind == "vwan" and route.next_hop_ip)
        ):
            target = self.appliances.resolve(route.next_hop_ip, vnet)
            if not isinstance(target, Blackhole):
                why = (
                    self.routing.crossing_blocked(vnet, target.subnet_vnet, bool(visited))
                    if target.subnet_vnet
                    else None
                )
                if why is None:
                    # the lists are shared by every view sending dst to this appliance: never mutated
                    return Tail(route, *self._via(target, dst, visited, cache))
                blocked = (why, Hop(target.name, target.kind, target.id, target.ip_text, note=why))
        # walks that stop at this hop without reaching anything do not depend on the destination
        fixed_key = (id(view), id(route), visited)
        hit = self.cache.fixed.get(fixed_key if blocked is None else (*fixed_key, dst))
        if hit is not None:
            return hit
        if blocked is not None:  # its hop names the destination: cached per destination, not per route
            return self._fix((*fixed_key, dst), Tail(route, [blocked[1]], "dropped", blocked[0]))
        if route is None:
            return self._fix(
                fixed_key,
                Tail(None, [Hop("drop", "drop", None, note="no active route")], "dropped", "no active route"),
            )
        if t == "VirtualAppliance" or (
            t == "VirtualNetworkGateway" and route.kind == "vwan" and route.next_hop_ip
        ):
            if route.next_hop_ip is None:
                return self._fix(
                    fixed_key,
                    Tail(
                        route,
                        [Hop("drop", "drop", None, note="next hop has no IP")],
                        "dropped",
                        "VirtualAppliance route without a next-hop IP",
                    ),
                )
            target = self.appliances.resolve(route.next_hop_ip, vnet)
            assert isinstance(target, Blackhole)  # the others returned above (or were cached as `blocked`)
            return self._fix(
                fixed_key,
                Tail(
                    route,
                    [Hop(fmt_ip(target.ip), "drop", target.owner_id, fmt_ip(target.ip), note=target.reason)],
                    "dropped",
                    target.reason,
                    blackhole=target,
                    blackhole_route=route,
                ),
            )
        if t == "VirtualNetworkGateway":
            return self._fix(
                fixed_key,
                Tail(
                    route,
                    [Hop("on-premises", "gateway", route.origin, None)],
                    "left",
                    "routed to the virtual network gateway (on-premises)",
                ),
            )
        if t == "Internet":
            return self._fix(
                fixed_key, Tail(route, [Hop("internet", "internet", None)], "left", "routed to the Internet")
            )
        return self._fix(
            fixed_key,
            Tail(route, [Hop("drop", "drop", None, note=f"next hop {t}")], "dropped", f"next hop type {t}"),
        )

    def _fix(self, key: tuple, tail: Tail) -> Tail:
        self.cache.fixed[key] = tail
        return tail

    def _via(self, target: Appliance, dst: int, visited: tuple[str, ...], cache: dict) -> tuple:
        """The walk from an appliance on: the same for every view whose route sends `dst` to it."""
        memo = ("via", target.id, target.ip, dst, visited)
        hit = cache.get(memo)
        if hit is not None:
            return hit
        if self.reuse is not None:
            reused = self.reuse.via(target, dst, visited)
            if reused is not None:
                cache[memo] = reused
                return reused
        app_hop = Hop(target.name, target.kind, target.id, target.ip_text)
        out: tuple[list[Hop], str, str, list[Appliance], Blackhole | None, EffectiveRoute | None]
        if key(target.id) in visited or len(visited) >= MAX_HOPS:
            app_hop.note = "routing loop"
            out = ([app_hop], "loop", f"routing loop through {target.name}", [target], None, None)
        elif target.hub_id or target.subnet_id is None:
            # a secured virtual hub's firewall forwards with the hub's routes: it reaches the VNets
            # connected to that hub (and the hub itself), nothing else (INFERENCE, https://learn.microsoft.com/azure/virtual-wan/how-to-routing-policies)
            place = self.hub_target(target.hub_id, dst)
            if place is not None:
                out = (
                    [app_hop, self.destination_hop(dst, ("place", place))],
                    "delivered",
                    "",
                    [target],
                    None,
                    None,
                )
            else:
                app_hop.note = "the virtual hub has no route to the destination"
                out = (
                    [app_hop],
                    "dropped",
                    f"virtual hub of {target.name} has no route to {fmt_ip(dst)}",
                    [target],
                    None,
                    None,
                )
        else:
            next_view = self.routing.table_for_subnet(target.subnet_id)
            if next_view is None:
                app_hop.note = "appliance subnet not in the estate"
                out = ([app_hop], "dropped", "appliance subnet not in the estate", [target], None, None)
            else:
                rest = self._walk(next_view, dst, (*visited, key(target.id)), cache)
                app_hop.route = rest.route
                out = (
                    [app_hop, *rest.hops],
                    rest.outcome,
                    rest.reason,
                    [target, *rest.appliances],
                    rest.blackhole,
                    rest.blackhole_route,
                )
        cache[memo] = out
        return out

    def _hub_router_delivers(self, route: EffectiveRoute, dst: int) -> bool:
        """A Virtual WAN route without a routing-intent next hop: the hub's router forwards to the VNets
        connected to it (any-to-any by default, https://learn.microsoft.com/azure/virtual-wan/how-to-routing-policies INFERENCE), without inspecting
        anything. `origin` names the hub (auditor.routing.engine._vwan_routes)."""
        return (
            route.kind == "vwan"
            and route.next_hop_type == "VirtualNetworkGateway"
            and not route.next_hop_ip
            and self.hub_target(route.origin, dst) is not None
        )

    def hub_target(self, hub_id: str | None, dst: int) -> str | None:
        """Where a virtual hub's router delivers `dst`: the hub itself (lower-case id) when the address is
        in the hub's range, else the connected VNet whose range holds it; None when nothing does."""
        if not hub_id:
            return None
        hub = self.estate.virtual_hubs.get(key(hub_id))
        if hub is not None and hub.prefix is not None and hub.prefix.contains_ip(dst):
            return key(hub_id)
        for vnet_key, connected_hub in sorted(self.routing.hub_of_vnet.items()):
            if key(connected_hub) != key(hub_id):
                continue
            vnet = self.estate.vnets.get(vnet_key)
            if vnet is not None and any(p.contains_ip(dst) for p in vnet.prefixes):
                return vnet_key
        return None

    def _appliance_of(self, route: EffectiveRoute, vnet: str) -> Appliance | None:
        """The appliance a route hands traffic to (VirtualAppliance, or a Virtual WAN hub next hop with an
        IP), None for every other route and for a next hop that is a blackhole (_tail drops those)."""
        t = route.next_hop_type
        if (t == "VirtualAppliance" and route.next_hop_ip is not None) or (
            t == "VirtualNetworkGateway" and route.kind == "vwan" and route.next_hop_ip
        ):
            target = self.appliances.resolve(route.next_hop_ip, vnet)
            return None if isinstance(target, Blackhole) else target
        return None
