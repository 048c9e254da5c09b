"""All-pairs flow analysis: every (route context x private endpoint) and every on-premises entry.

Sources are route contexts, not subnet pairs: subnets with the same VNet and route table share a
forward walk, and only NSG checks are per subnet. Which (context, endpoint) pairs are walked at all
comes from sweeping each routing view's LPM intervals over the endpoint addresses in order: a route
that goes nowhere rules out all the endpoints it covers at once, and the walk on from an appliance is
worked out once per (appliance, endpoint). The rules read `reported_flows`, which also leaves out the
flows no rule can report on (symmetric through appliances that always bring the reply back, or
direct to endpoints no AI account owns): at 10k subnets that is 13k flows instead of 547k.
Per private endpoint, each view is walked once, NSG checks are made per class of subnets that the
NSG's rules cannot tell apart, and firewall rule kinds, SNAT decisions and mitigations are cached;
return hops are built only when a flow is rendered (tests/bench/paths.py prints the figures).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any

from auditor.config import Config
from auditor.estate.model import Estate, HubGateway, NetworkSecurityGroup, PrivateEndpoint, Subnet
from auditor.gcpause import gc_paused
from auditor.ipnet import Cidr, fmt_ip
from auditor.paths import nsg as nsgs
from auditor.paths.appliances import Appliance, ApplianceIndex, Blackhole, firewall_snats, owner_place
from auditor.paths.firewall_rules import FirewallRules, Verdict, decide, firewall_rules
from auditor.paths.walk import Hop, Tail, fmt_prefixes, ip_text, representative, route_dict
from auditor.problems import ASSUMED, Problem
from auditor.routing.engine import (
    CONTEXT_ON_PREMISES,
    ROUTE_TABLE_POLICIES,
    RoutingModel,
    remove_reserved_on_default_override,
    select,
)
from auditor.routing.lpm import PrefixMap
from auditor.routing.table import EffectiveRoute, RouteTableView

UNKNOWN = Verdict("unknown")
UNKNOWN_ON_PREMISES = ("the on-premises prefixes behind it are unknown (ExpressRoute or BGP-only VPN: learned over BGP, "
                       "in no ARM resource); its traffic is analysed through the GatewaySubnet's routes, but which "
                       "addresses it concerns, and NSG decisions on them, are not known: list them under "
                       "[network] on_premises in pathaudit.toml")
NSG_POLICIES = frozenset({"Enabled", "NetworkSecurityGroupEnabled"})
# Subnets that host platform components, not workloads: never flow sources of their own (on-premises
# traffic entering through GatewaySubnet is modelled as the `on-premises` source).
PLATFORM_SUBNETS = frozenset({"gatewaysubnet", "azurefirewallsubnet", "azurefirewallmanagementsubnet",
                              "routeserversubnet"})
MAX_HOPS = 8
STORAGE_TYPE = "microsoft.storage/storageaccounts"
DELIVERING_HOPS = frozenset({"InterfaceEndpoint", "VnetLocal", "VNetPeering", "VNetGlobalPeering"})
SNAT_HOW = ("snat", "snat-declared")
_MISSING = object()
ALL: Any = frozenset({"all"})     # _blocked_members: every member of the group is blocked


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
    mitigation: Mitigation | None = None
    nsg: list[dict[str, Any]] = field(default_factory=list)   # NSG decisions (nsg_check: trace, on-premises)
    notes: list[str] = field(default_factory=list)
    entry_gateway: str | None = None
    view: RouteTableView | None = None
    source_key: object = None         # identifies source_prefixes for the analysis' caches
    _return: list[Hop] | None = None  # built on first use (FlowAnalysis.return_hops_for)
    _analysis: FlowAnalysis | None = None

    @property
    def return_hops(self) -> list[Hop]:
        if self._return is None:
            self._return = self._analysis.return_hops_for(self) if self._analysis is not None else []
        return self._return

    @return_hops.setter
    def return_hops(self, hops: list[Hop]) -> None:
        self._return = hops

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


@dataclass(slots=True)
class SourceGroup:
    """The subnets of one routing view sharing a route context id (route table, or the subnet itself)."""

    key: tuple[str, int]              # source_key of its flows
    ctx_id: str
    name: str
    view: RouteTableView
    members: list[Subnet]
    member_ids: list[str]
    prefixes: list[Cidr]
    nsg_members: list[Subnet]         # members with an NSG in the estate (outbound checks)
    vid: int = 0                      # id(view): the key of its walks
    hops: dict[int, Hop] = field(default_factory=dict)                 # id(route) -> source hop
    in_results: dict[tuple, Any] = field(default_factory=dict)         # inbound NSG outcome per PE-side key
    out_classes: list[tuple[NetworkSecurityGroup, tuple, list[Subnet]]] | None = None
    in_classes: dict[str, list[tuple[tuple, list[Subnet]]]] = field(default_factory=dict)


@dataclass
class FlowAnalysis:
    estate: Estate
    config: Config
    port: int = 443
    routing: RoutingModel = field(init=False)
    appliances: ApplianceIndex = field(init=False)
    _tails: dict[tuple, Tail] = field(default_factory=dict)
    _system: dict[tuple, PrefixMap[EffectiveRoute]] = field(default_factory=dict)
    _fixed: dict[tuple, Tail] = field(default_factory=dict)
    _dest_hops: dict[tuple, Hop] = field(default_factory=dict)
    _fw_rules: dict[str, FirewallRules | None] = field(default_factory=dict)
    _fw_candidates: dict[tuple, tuple] = field(default_factory=dict)
    _fw_kinds: dict[tuple, Verdict] = field(default_factory=dict)
    _ip_names: dict[int, tuple[str, ...]] = field(default_factory=dict)
    _replies: dict[tuple, Appliance | None] = field(default_factory=dict)
    # what the analysis could not resolve and that mattered (firewall rules it read): incomplete coverage
    coverage_gaps: dict[tuple[str, str], Problem] = field(default_factory=dict)
    _fw_snat: dict[tuple, tuple[bool, str]] = field(default_factory=dict)
    _mitigations: dict[tuple, Mitigation | None] = field(default_factory=dict)
    _mit_memo: dict[tuple, tuple[list, Mitigation | None]] = field(default_factory=dict)
    _canon: dict[tuple, tuple] = field(default_factory=dict)
    _nsg_rules: dict[tuple[str, str], tuple[nsgs.CompiledRule, ...]] = field(default_factory=dict)
    _rulesets: dict[tuple, tuple[nsgs.CompiledRule, ...]] = field(default_factory=dict)
    _vnet_tags: dict[tuple, tuple[list[Cidr], PrefixMap[bool]]] = field(default_factory=dict)
    _verdicts: dict[tuple, bool | None] = field(default_factory=dict)     # -> denied (None: per member)
    _pe_nsgs: dict[str, tuple | None] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.routing = RoutingModel(self.estate, self.config)
        self.appliances = ApplianceIndex(self.estate, self.config, self.routing.reachable_from)

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
    def endpoint_only_subnets(self) -> frozenset[str]:
        """Subnets (lower-case ids) that hold private endpoints or private link services and nothing
        else: nothing in them opens connections, so they are no flow sources. A subnet with a VM or
        scale-set NIC, a delegation, an API Management service, an address held by anything else, or
        about which nothing is known stays a source."""
        estate = self.estate
        pe_nics = {n.lower() for pe in estate.private_endpoints.values() for n in pe.nic_ids}
        pe_nics |= {n.id.lower() for n in estate.nics.values() if n.private_endpoint_id}
        endpoint_subnets = {(pe.subnet_id or "").lower() for pe in estate.private_endpoints.values()}
        busy: set[str] = {(a.subnet_id or "").lower() for a in estate.apims.values()}
        for nic in estate.nics.values():
            if nic.id.lower() not in pe_nics:
                busy.update((c.subnet_id or "").lower() for c in nic.ip_configs)
        out = set()
        for sid, subnet in estate.subnets.items():
            if subnet.delegations or sid in busy:
                continue
            holders = {c.lower().split("/ipconfigurations/")[0] for c in subnet.ip_config_ids}
            links = {h for h in holders if "/privatelinkservices/" in h}
            if holders - links - pe_nics:
                continue   # something else holds an address there
            if sid in endpoint_subnets or links:
                out.add(sid)
        return frozenset(out)

    @cached_property
    def sources(self) -> list[tuple[RouteTableView, list[Subnet]]]:
        out = []
        skip = self.endpoint_only_subnets
        for key, subnets in sorted(self.routing.contexts.items(), key=lambda kv: (kv[0][0], kv[0][1] or "", kv[0][2])):
            workload = [s for s in subnets if s.name.lower() not in PLATFORM_SUBNETS and s.id.lower() not in skip]
            if workload:
                out.append((self.routing.table(key), workload))
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
                with_nsg = [s for s in members if s.nsg_id and s.nsg_id.lower() in self.estate.nsgs]
                out.append(SourceGroup(("context", len(out)), ctx_id, self.estate.name_of(ctx_id), view, members,
                                       [s.id for s in members], [p for s in members for p in s.prefixes], with_nsg,
                                       id(view)))
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
            if not prefixes:
                # ExpressRoute or BGP-only VPN: the prefixes are learned over BGP and in no ARM resource.
                # The entry is still analysed through the GatewaySubnet's routes; coverage says what is missing
                self.coverage_gaps.setdefault((gw.id.lower(), UNKNOWN_ON_PREMISES), Problem(
                    self.estate.files.get(gw.id.lower()), gw.id, "on-premises prefixes",
                    f"gateway {gw.name}: {UNKNOWN_ON_PREMISES}", ASSUMED))
            out.append((gw.id, view, prefixes))
        return out

    # ------------------------------------------------------------------ forward

    def tail(self, view: RouteTableView, dst: int, visited: tuple[str, ...] = ()) -> Tail:
        return self._walk(view, dst, visited, self._tails)

    def _walk(self, view: RouteTableView, dst: int, visited: tuple[str, ...], cache: dict) -> Tail:
        key = (id(view), dst, visited)       # views live as long as the routing model: ids are stable
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
        hop = self._dest_hops.get(key)
        if hop is None:
            hop = self._dest_hops[key] = self._destination_hop(dst, where)
        return hop

    def _destination_hop(self, dst: int, where: tuple[str, str] | None) -> Hop:
        estate = self.estate
        if where is not None and where[0] == "pe":
            pe = estate.private_endpoints.get(where[1].lower())
            if pe is not None:
                return Hop(pe.name, "private-endpoint", pe.id, fmt_ip(dst))
        owners = estate.owners_of(dst)
        if where is not None:
            owners = [o for o in owners if owner_place(estate, o) in (where[1], None)]
        if owners:
            o = owners[0]
            return Hop(estate.name_of(o.id), o.kind, o.id, fmt_ip(dst))
        return Hop(fmt_ip(dst), "address", None, fmt_ip(dst))

    def _delivery(self, vnet: str, route: EffectiveRoute, dst: int) -> tuple[tuple[str, str] | None, str | None]:
        """For a delivering route: where the packet ends (destination_hop's `where`) and the VNet it
        enters on the way (None when no peering is crossed)."""
        t, estate = route.next_hop_type, self.estate
        if t == "InterfaceEndpoint":
            pe = estate.private_endpoints.get((route.origin or "").lower())
            into = pe.subnet_id.lower().split("/subnets/")[0] if pe is not None and pe.subnet_id else None
            return ("pe", route.origin or ""), into
        if t == "VnetLocal":
            return ("place", vnet), None
        if t in ("VNetPeering", "VNetGlobalPeering"):
            peering = estate.peerings.get((route.origin or "").lower())
            remote = (peering.remote_vnet_id or "").lower() if peering is not None else ""
            return ("place", remote), remote or None
        place = self.hub_target(route.origin, dst)   # a Virtual WAN hub router (no peering crossed)
        return (("place", place) if place else None), None

    def _tail(self, view: RouteTableView, dst: int, visited: tuple[str, ...], cache: dict) -> Tail:
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
        elif route is not None and ((t == "VirtualAppliance" and route.next_hop_ip is not None)
                                    or (t == "VirtualNetworkGateway" and route.kind == "vwan" and route.next_hop_ip)):
            target = self.appliances.resolve(route.next_hop_ip, vnet)  # type: ignore[arg-type]
            if not isinstance(target, Blackhole):
                why = self.routing.crossing_blocked(vnet, target.subnet_vnet, bool(visited)) \
                    if target.subnet_vnet else None
                if why is None:
                    # the lists are shared by every view sending dst to this appliance: never mutated
                    return Tail(route, *self._via(target, dst, visited, cache))
                blocked = (why, Hop(target.name, target.kind, target.id, target.ip_text, note=why))
        # walks that stop at this hop without reaching anything do not depend on the destination
        fixed_key = (id(view), id(route), visited)
        hit = self._fixed.get(fixed_key)
        if hit is not None:
            return hit
        if blocked is not None:
            return self._fix(fixed_key, Tail(route, [blocked[1]], "dropped", blocked[0]))
        if route is None:
            return self._fix(fixed_key, Tail(None, [Hop("drop", "drop", None, note="no active route")], "dropped",
                                             "no active route"))
        if t == "VirtualAppliance" or (t == "VirtualNetworkGateway" and route.kind == "vwan" and route.next_hop_ip):
            if route.next_hop_ip is None:
                return self._fix(fixed_key, Tail(route, [Hop("drop", "drop", None, note="next hop has no IP")],
                                                 "dropped", "VirtualAppliance route without a next-hop IP"))
            target = self.appliances.resolve(route.next_hop_ip, vnet)   # a Blackhole: the others returned above
            return self._fix(fixed_key, Tail(route, [Hop(fmt_ip(target.ip), "drop", target.owner_id,
                                                         fmt_ip(target.ip), note=target.reason)],
                                             "dropped", target.reason, blackhole=target, blackhole_route=route))
        if t == "VirtualNetworkGateway":
            return self._fix(fixed_key, Tail(route, [Hop("on-premises", "gateway", route.origin, None)], "left",
                                             "routed to the virtual network gateway (on-premises)"))
        if t == "Internet":
            return self._fix(fixed_key, Tail(route, [Hop("internet", "internet", None)], "left",
                                             "routed to the Internet"))
        return self._fix(fixed_key, Tail(route, [Hop("drop", "drop", None, note=f"next hop {t}")], "dropped",
                                         f"next hop type {t}"))

    def _fix(self, key: tuple, tail: Tail) -> Tail:
        self._fixed[key] = tail
        return tail

    def _via(self, target: Appliance, dst: int, visited: tuple[str, ...], cache: dict) -> tuple:
        """The walk from an appliance on: the same for every view whose route sends `dst` to it."""
        key = ("via", target.id, target.ip, dst, visited)
        hit = cache.get(key)
        if hit is not None:
            return hit
        app_hop = Hop(target.name, target.kind, target.id, target.ip_text)
        if target.id.lower() in visited or len(visited) >= MAX_HOPS:
            app_hop.note = "routing loop"
            out = ([app_hop], "loop", f"routing loop through {target.name}", [target], None, None)
        elif target.hub_id or target.subnet_id is None:
            # a secured virtual hub's firewall forwards with the hub's routes: it reaches the VNets
            # connected to that hub (and the hub itself), nothing else (INFERENCE, azure-facts §10.2)
            place = self.hub_target(target.hub_id, dst)
            if place is not None:
                out = ([app_hop, self.destination_hop(dst, ("place", place))], "delivered", "", [target], None, None)
            else:
                app_hop.note = "the virtual hub has no route to the destination"
                out = ([app_hop], "dropped", f"virtual hub of {target.name} has no route to {fmt_ip(dst)}", [target],
                       None, None)
        else:
            next_view = self.routing.table_for_subnet(target.subnet_id)
            if next_view is None:
                app_hop.note = "appliance subnet not in the estate"
                out = ([app_hop], "dropped", "appliance subnet not in the estate", [target], None, None)
            else:
                rest = self._walk(next_view, dst, (*visited, target.id.lower()), cache)
                app_hop.route = rest.route
                out = ([app_hop, *rest.hops], rest.outcome, rest.reason, [target, *rest.appliances], rest.blackhole,
                       rest.blackhole_route)
        cache[key] = out
        return out

    def _hub_router_delivers(self, route: EffectiveRoute, dst: int) -> bool:
        """A Virtual WAN route without a routing-intent next hop: the hub's router forwards to the VNets
        connected to it (any-to-any by default, azure-facts §10.2 INFERENCE), without inspecting
        anything. `origin` names the hub (auditor.routing.engine._vwan_routes)."""
        return (route.kind == "vwan" and route.next_hop_type == "VirtualNetworkGateway" and not route.next_hop_ip
                and self.hub_target(route.origin, dst) is not None)

    def hub_target(self, hub_id: str | None, dst: int) -> str | None:
        """Where a virtual hub's router delivers `dst`: the hub itself (lower-case id) when the address is
        in the hub's range, else the connected VNet whose range holds it; None when nothing does."""
        if not hub_id:
            return None
        hub = self.estate.virtual_hubs.get(hub_id.lower())
        if hub is not None and hub.prefix is not None and hub.prefix.contains_ip(dst):
            return hub_id.lower()
        for vnet_key, connected_hub in sorted(self.routing.hub_of_vnet.items()):
            if connected_hub.lower() != hub_id.lower():
                continue
            vnet = self.estate.vnets.get(vnet_key)
            if vnet is not None and any(p.contains_ip(dst) for p in vnet.prefixes):
                return vnet_key
        return None

    # ------------------------------------------------------------------ firewall rules and SNAT (cached)

    def rule_kind(self, fw, sources: list[Cidr], dst: int, source_key: object = None) -> str:
        """network | application | unresolved | unknown (auditor.paths.firewall_rules)."""
        return self.rule_verdict(fw, sources, dst, source_key).kind

    def rule_verdict(self, fw, sources: list[Cidr], dst: int, source_key: object = None) -> Verdict:
        """The firewall rule kind carrying the flow, with the firewall's rules parsed once and, given a
        `source_key` naming `sources`, the rules admitting those sources found once."""
        rules = self._firewall_rules(fw)
        if rules is None:
            return UNKNOWN
        fqdns = self.names_of_ip(dst)
        if source_key is None:
            return rules.verdict(sources, dst, fqdns)
        cand = self._candidates(fw.id, rules, sources, source_key)
        key = (id(cand), dst)
        verdict = self._fw_kinds.get(key)
        if verdict is None:
            verdict = self._fw_kinds[key] = decide(cand, rules.gaps, dst, fqdns)
        return verdict

    def _firewall_rules(self, fw) -> FirewallRules | None:
        rules = self._fw_rules.get(fw.id, _MISSING)
        if rules is _MISSING:
            rules = self._fw_rules[fw.id] = firewall_rules(self.estate, fw, self.port, self.endpoint_names)
            for p in rules.problems if rules is not None else ():
                self.coverage_gaps.setdefault((p.resource_id or "", p.problem), p)
        return rules  # type: ignore[return-value]

    @cached_property
    def endpoint_names(self) -> frozenset[str]:
        return frozenset(n for pe in self.estate.private_endpoints.values() for n in pe.fqdns)

    def names_of_ip(self, ip: int) -> tuple[str, ...]:
        """The FQDNs of the private endpoints at an address (firewall rules name destinations by FQDN)."""
        hit = self._ip_names.get(ip)
        if hit is None:
            hit = self._ip_names[ip] = tuple(sorted({n for o in self.estate.owners_of(ip) if o.kind == "private-endpoint"
                                                     for n in self.estate.private_endpoints[o.id.lower()].fqdns}))
        return hit

    def _candidates(self, fw_id: str, rules: FirewallRules, sources: list[Cidr], source_key: object) -> tuple:
        """The rules admitting `sources`; equal answers share one (long-lived) tuple."""
        key = (fw_id, source_key)
        cand = self._fw_candidates.get(key)
        if cand is None:
            found = rules.candidates(sources)
            cand = self._fw_candidates[key] = self._canon.setdefault((fw_id, found), found)
        return cand

    def firewall_snat(self, fw, dst: int) -> tuple[bool, str]:
        key = (fw.id, dst)
        hit = self._fw_snat.get(key)
        if hit is None:
            hit = self._fw_snat[key] = firewall_snats(self.estate, fw, dst)
        return hit

    # ------------------------------------------------------------------ return

    def mitigation(self, tail: Tail, sources: list[Cidr], dst: int, source_key: object = None) -> Mitigation | None:
        apps = tail.appliances
        if not apps:
            return None
        if source_key is None:
            return self._find_mitigation(apps, sources, dst, None)
        # the answer depends on the walk behind the first hop (its appliance list, one per destination and
        # appliance, shared by every view sending the destination there) and, per firewall, on which of its
        # rules admit the sources: memoised on those, so sources sharing them share the work. The memo keeps
        # the list itself, so its id cannot be reused while the entry exists.
        sig: tuple = ()
        for app in apps:
            if app.kind == "azure-firewall" and app.firewall is not None:
                rules = self._firewall_rules(app.firewall)
                sig += (id(self._candidates(app.firewall.id, rules, sources, source_key)) if rules else None,)
        key = (id(apps), dst, sig)
        hit = self._mit_memo.get(key)
        if hit is None or hit[0] is not apps:
            hit = self._mit_memo[key] = (apps, self._find_mitigation(apps, sources, dst, source_key))
        return hit[1]

    def _find_mitigation(self, apps: list[Appliance], sources: list[Cidr], dst: int,
                         source_key: object) -> Mitigation | None:
        for app in apps:
            if app.kind == "azure-firewall" and app.firewall is not None:
                kind = self.rule_kind(app.firewall, sources, dst, source_key)
                if kind == "application":
                    return self._mitigation((app.id, app.ip, "application"), lambda a=app: Mitigation(
                        a, "snat", "an application rule carries the flow: application rules always SNAT"))
                snat, why = self.firewall_snat(app.firewall, dst)
                if snat:
                    return self._mitigation((app.id, app.ip, dst), lambda a=app, w=why: Mitigation(a, "snat", w))
            elif app.kind == "nva":
                found = self._mitigation((app.id, app.ip, "nva"), lambda a=app: self._nva_mitigation(a))
                if found is not None:
                    return found
        return None

    def _mitigation(self, key: tuple, make) -> Mitigation | None:
        hit = self._mitigations.get(key, _MISSING)
        if hit is _MISSING:
            hit = self._mitigations[key] = make()
        return hit  # type: ignore[return-value]

    def _nva_mitigation(self, app: Appliance) -> Mitigation | None:
        if app.snat_declared:
            return Mitigation(app, "snat-declared", "the config file declares SNAT on this NVA")
        tag = app.valid_tag
        if tag is not None:
            how = "tag-ambiguous" if tag.ambiguous else "tag"
            return Mitigation(app, how, f"{tag.key}={tag.value} on {self.estate.name_of(tag.resource_id)}")
        return None

    def return_verdict(self, flow: Flow) -> str:
        """symmetric | asymmetric | return-unroutable for a delivered flow (see return_hops_for)."""
        if flow.mitigation is not None:
            return "symmetric"
        if flow.source_kind == "on-premises" and flow.source_prefixes:
            route = self.system_route_from_pe(flow.pe, representative(flow.source_prefixes))
            if route is None or route.next_hop_type != "VirtualNetworkGateway":
                return "return-unroutable"
        return self.pair_verdict(flow.tail.appliances, None, flow.pe, flow.source_prefixes)

    def pair_verdict(self, forward: list[Appliance], mit: Mitigation | None, pe: PrivateEndpoint,
                     sources: list[Cidr]) -> str:
        """symmetric when the reply crosses exactly the stateful appliances the request crossed: the one
        that SNATed or whose tag brings replies back (the mitigation), or, under Virtual WAN routing
        intent, the next hop the private endpoint's VNet learned from the hub (reply_appliance);
        asymmetric otherwise, since private endpoints ignore UDRs for their replies."""
        if mit is not None:
            return "symmetric"
        if not self.routing.hub_of_vnet:     # no Virtual WAN: no reply crosses an appliance unmitigated
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
        key = ((pe.subnet_id or "").lower(), ip)
        hit = self._replies.get(key, _MISSING)
        if hit is _MISSING:
            hit = None
            route = self.system_route_from_pe(pe, ip)
            if route is not None and route.kind == "vwan" and route.next_hop_ip is not None:
                view = self.routing.table_for_subnet(pe.subnet_id or "")
                target = self.appliances.resolve(route.next_hop_ip, view.key[0] if view is not None else None)
                hit = target if isinstance(target, Appliance) else None
            self._replies[key] = hit
        return hit  # type: ignore[return-value]

    def return_hops_for(self, flow: Flow) -> list[Hop]:
        """The reply's hops: to the appliance that SNATed (or whose tag brings it back), else straight to
        the source, since private endpoints ignore UDRs (azure-facts §4.1-4.2, §4.5)."""
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
            return [pe_hop, app_hop, source_end]
        reply = self.reply_appliance(flow.pe, src_ip)
        if reply is not None:
            pe_hop.route = self.system_route_from_pe(flow.pe, src_ip)
            pe_hop.note = (f"the reply follows the routes the endpoint's VNet learned from its virtual hub: routing "
                           f"intent sends private traffic to {reply.name}")
            return [pe_hop, Hop(reply.name, reply.kind, reply.id, reply.ip_text), source_end]
        if flow.source_kind == "on-premises" and not flow.source_prefixes:
            pe_hop.note = ("private endpoints ignore UDRs: the reply follows the system routes to the gateway "
                           "(on-premises prefixes unknown: [network] on_premises)")
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
            pe_hop.route_override = route_dict(",".join(fmt_prefixes(flow.source_prefixes)), "PlatformReturn",
                                               "PrivateEndpoint")
        pe_hop.note = "private endpoints ignore UDRs for replies: straight back to the source (azure-facts §4.2)"
        return [pe_hop, source_end]

    def return_walk(self, flow: Flow) -> None:
        flow.verdict = self.return_verdict(flow)
        flow.return_hops = self.return_hops_for(flow)

    def system_route_from_pe(self, pe: PrivateEndpoint, ip: int | None) -> EffectiveRoute | None:
        """The best non-UDR route from the PE's subnet (PEs ignore UDRs for return traffic, §4.2)."""
        if ip is None or not pe.subnet_id:
            return None
        view = self.routing.table_for_subnet(pe.subnet_id)
        if view is None:
            return None
        return self.system_routes(view).get(ip)

    def system_routes(self, view: RouteTableView) -> PrefixMap[EffectiveRoute]:
        """A context's routes as they would be without its UDRs: the UDRs are dropped and the system
        routes they had overridden (same prefix, §2.2) take part in the selection again (§2.2-2.3)."""
        hit = self._system.get(view.key)
        if hit is None:
            routes = [replace(r, state="Active", reason=None) for r in view.routes if r.source != "User"]
            remove_reserved_on_default_override(routes)
            select(routes)
            hit = self._system[view.key] = PrefixMap((r.prefix, r) for r in routes
                                                     if r.state == "Active" and r.prefix is not None)
        return hit

    # ------------------------------------------------------------------ NSG

    def virtual_network_tag(self, view: RouteTableView) -> list[Cidr]:
        """The VirtualNetwork service tag as seen from a context (addendum A2)."""
        return self._vnet_tag(view)[0]

    def _vnet_tag(self, view: RouteTableView) -> tuple[list[Cidr], PrefixMap[bool]]:
        hit = self._vnet_tags.get(view.key)
        if hit is None:
            tag = [r.prefix for r in view.routes
                   if r.prefix is not None and r.state == "Active"
                   and (r.kind in ("vnet", "peering", "gateway", "vwan") or (r.kind == "udr" and r.prefix.plen > 0))]
            hit = self._vnet_tags[view.key] = (tag, PrefixMap((p, True) for p in tag))
        return hit

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
        pe_nsg = self.pe_nsg(flow.pe)
        if pe_nsg is not None:
            nsg, view, pe_subnet = pe_nsg
            snat = flow.mitigation is not None and flow.mitigation.how in SNAT_HOW
            srcs = [Cidr(flow.mitigation.appliance.ip, 32)] if snat else sources  # type: ignore[union-attr]
            v = nsgs.evaluate(nsg, "Inbound", srcs, dest, self.port, self.virtual_network_tag(view))
            flow.nsg.append({"subnet": pe_subnet.id, "direction": "Inbound", **v.to_dict()})
            if v.decision == "deny":
                return False
        return True

    def pe_nsg(self, pe: PrivateEndpoint) -> tuple[NetworkSecurityGroup, RouteTableView, Subnet] | None:
        """The NSG enforced on a PE's subnet (policies Enabled / NetworkSecurityGroupEnabled, §3.6), its view."""
        key = (pe.subnet_id or "").lower()
        hit = self._pe_nsgs.get(key, _MISSING)
        if hit is _MISSING:
            hit = None
            pe_subnet = self.estate.subnets.get(key)
            if pe_subnet is not None and pe_subnet.nsg_id and pe_subnet.pe_policies in NSG_POLICIES:
                nsg = self.estate.nsgs.get(pe_subnet.nsg_id.lower())
                view = self.routing.table_for_subnet(pe_subnet.id)
                if nsg is not None and view is not None:
                    hit = (nsg, view, pe_subnet)
            self._pe_nsgs[key] = hit
        return hit  # type: ignore[return-value]

    def _rules(self, nsg: NetworkSecurityGroup, direction: str) -> tuple[nsgs.CompiledRule, ...]:
        """Compiled rules; NSGs with the same rules share one tuple, so classes and verdicts computed for
        one serve them all (estates stamp the same NSG out per spoke)."""
        key = (nsg.id, direction)
        hit = self._nsg_rules.get(key)
        if hit is None:
            rules = tuple(nsgs.compile_rules(nsg, direction, self.port))
            hit = self._nsg_rules[key] = self._rulesets.setdefault(rules, rules)
        return hit

    def _inbound(self, pe_side: tuple | None, ip: int) -> tuple | None:
        """Per destination: the PE subnet NSG's compiled inbound rules and their destination matches."""
        if pe_side is None:
            return None
        nsg, pe_view, _ = pe_side
        rules = self._rules(nsg, "Inbound")
        vnet_list, vnet_map = self._vnet_tag(pe_view)
        return rules, pe_view, vnet_list, tuple(r.dst.match_ip(ip, vnet_map) for r in rules)

    def _blocked_members(self, g: SourceGroup, ip: int, inbound: tuple | None, mit: Mitigation | None):
        """The members of `g` an NSG definitely blocks towards `ip` (outbound on their own subnet, inbound
        on the PE subnet), decided per class of members the rules cannot tell apart: None when none is,
        ALL when all are, else the set of their ids."""
        blocked: set[int] = set()
        if g.nsg_members:
            if g.out_classes is None:
                vnet_list = self._vnet_tag(g.view)[0]
                classes: dict[tuple, tuple] = {}
                for s in g.nsg_members:
                    nsg = self.estate.nsgs[s.nsg_id.lower()]  # type: ignore[union-attr]
                    rules = self._rules(nsg, "Outbound")
                    vec = tuple(r.src.match(list(s.prefixes), vnet_list) for r in rules)
                    classes.setdefault((id(rules), vec), (rules, vec, []))[2].append(s)
                g.out_classes = list(classes.values())  # type: ignore[assignment]
            vnet_map = self._vnet_tag(g.view)[1]
            for rules, vec, members in g.out_classes:  # type: ignore[misc]
                dvec = tuple(r.dst.match_ip(ip, vnet_map) for r in rules)
                key = (id(rules), vec, dvec)
                denied = self._verdicts.get(key)
                if denied is None:
                    denied = self._verdicts[key] = nsgs.decide("", rules, lambda i, _s, vec=vec: vec[i],
                                                               lambda i, _s, d=dvec: d[i]).decision == "deny"
                if denied:
                    if len(members) == len(g.members):
                        return ALL
                    blocked.update(id(s) for s in members)
        if inbound is not None:
            snat_ip = mit.appliance.ip if mit is not None and mit.how in SNAT_HOW else None
            rules, pe_view, _, dvec = inbound
            key = (id(rules), id(pe_view), dvec, snat_ip)
            result = g.in_results.get(key, _MISSING)
            if result is _MISSING:
                result = g.in_results[key] = self._inbound_blocked(g, inbound, snat_ip)
            if result is ALL:
                return ALL
            if result:
                blocked |= result
        if len(blocked) == len(g.members):
            return ALL
        return blocked or None

    def _inbound_blocked(self, g: SourceGroup, inbound: tuple, snat_ip: int | None):
        """The members the PE subnet's NSG denies (ALL, a set of ids, or None); the same for every PE of
        that subnet with the same destination matches."""
        blocked: set[int] = set()
        rules, pe_view, vnet_list, dvec = inbound
        if snat_ip is not None:
            # the PE sees the appliance's address (§4.1)
            src = [Cidr(snat_ip, 32)]
            denied = nsgs.decide("", rules, lambda _i, s: s.match(src, vnet_list),
                                 lambda i, _s: dvec[i]).decision == "deny"
            return ALL if denied else None
        in_classes = g.in_classes.get(id(rules))
        if in_classes is None:
            by_vec: dict[tuple, list[Subnet]] = {}
            for s in g.members:
                by_vec.setdefault(tuple(r.src.fixed(list(s.prefixes)) for r in rules), []).append(s)
            in_classes = g.in_classes[id(rules)] = list(by_vec.items())
        for vec, members in in_classes:
            key = (id(rules), vec, dvec)
            denied = self._verdicts.get(key, _MISSING)  # type: ignore[arg-type]
            if denied is _MISSING:
                denied = self._verdicts[key] = self._class_denies(rules, vec, dvec)
            if denied is not None:
                if denied:
                    if len(members) == len(g.members):
                        return ALL
                    blocked.update(id(s) for s in members)
                continue
            for s in members:  # a VirtualNetwork rule was reached: its match depends on the member
                mkey = (id(rules), s.id, id(pe_view), dvec)
                mdenied = self._verdicts.get(mkey)
                if mdenied is None:
                    prefixes = list(s.prefixes)
                    mdenied = self._verdicts[mkey] = nsgs.decide(
                        "", rules, lambda _i, side, p=prefixes: side.match(p, vnet_list),
                        lambda i, _s: dvec[i]).decision == "deny"
                if mdenied:
                    blocked.add(id(s))
        if len(blocked) == len(g.members):
            return ALL
        return blocked or None

    @staticmethod
    def _class_denies(rules: tuple[nsgs.CompiledRule, ...], vec: tuple, dvec: tuple) -> bool | None:
        """Whether the rules deny every member whose rule matches are `vec`, or None when deciding needs
        the VirtualNetwork tag's match of each member's own prefixes."""
        class NeedsMember(Exception):
            pass

        def src(i: int, side: nsgs.Side) -> str:
            if side.needs_vnet(vec[i]):
                raise NeedsMember
            return vec[i]

        try:
            return nsgs.decide("", rules, src, lambda i, _s: dvec[i]).decision == "deny"  # type: ignore[arg-type]
        except NeedsMember:
            return None

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

    def _appliance_of(self, route: EffectiveRoute, vnet: str) -> Appliance | None:
        """The appliance a route hands traffic to (VirtualAppliance, or a Virtual WAN hub next hop with an
        IP), None for every other route and for a next hop that is a blackhole (_tail drops those)."""
        t = route.next_hop_type
        if (t == "VirtualAppliance" and route.next_hop_ip is not None) or (
                t == "VirtualNetworkGateway" and route.kind == "vwan" and route.next_hop_ip):
            target = self.appliances.resolve(route.next_hop_ip, vnet)  # type: ignore[arg-type]
            return None if isinstance(target, Blackhole) else target
        return None

    def _groups_per_endpoint(self, keep: Keep | None) -> list[list[SourceGroup]]:
        """Per endpoint (index in `endpoints`): the source groups, in order, whose flow to it may be
        delivered and, given `keep`, may matter to it.

        Instead of one route lookup per (view, endpoint), each view's LPM intervals are swept over the
        endpoint addresses in ascending order: an interval whose route goes nowhere skips all of its
        endpoints at once, a delivering one takes them all (or, with `keep`, the watched ones and those
        of a PE /32), and an appliance's one takes those whose walk on from the appliance delivers
        (and passes `keep`), worked out once per appliance and endpoint (_Through)."""
        ips = [ip for _, ip in self.endpoints]
        order = sorted(range(len(ips)), key=ips.__getitem__)
        sorted_ips = [ips[i] for i in order]
        watched = [p for p, i in enumerate(order)
                   if keep is not None and self.endpoints[i][0].id.lower() in keep.watched]
        watched_set = set(watched)
        through: dict[tuple[str, int], _Through] = {}
        out: list[list[SourceGroup]] = [[] for _ in ips]
        per_view: dict[int, list[int]] = {}
        for g in self.source_groups:
            idx = per_view.get(g.vid)
            if idx is None:
                positions: list[int] = []
                for first, last, route in g.view.lpm.intervals():
                    if route is None:
                        continue
                    a = bisect_left(sorted_ips, first)
                    b = bisect_right(sorted_ips, last, a)
                    if a == b:
                        continue
                    if route.next_hop_type in DELIVERING_HOPS or (route.kind == "vwan" and not route.next_hop_ip):
                        if keep is None or route.kind == "private-endpoint":
                            positions.extend(range(a, b))
                        else:
                            positions.extend(watched[bisect_left(watched, a):bisect_left(watched, b)])
                        continue
                    target = self._appliance_of(route, g.view.key[0])
                    if target is not None:
                        t = through.get((target.id, target.ip))
                        if t is None:
                            t = through[(target.id, target.ip)] = _Through(self, target, sorted_ips, keep, watched_set)
                        positions.extend(t.kept(a, b))
                idx = per_view[g.vid] = sorted(order[p] for p in positions)
            for i in idx:
                out[i].append(g)
        return out

    def quiet(self, app: Appliance, dst: int, reported: Callable[[Appliance], bool]) -> bool:
        """Whether a flow reaching `app` on its way to `dst` is of no interest to a question that reports
        the appliances `reported` names: the appliance brings every such reply back (an NVA's SNAT or
        valid tag, a firewall's SNAT for this destination, whatever the source) and is not reported."""
        if reported(app):
            return False
        if app.kind == "azure-firewall":
            return app.firewall is not None and self.firewall_snat(app.firewall, dst)[0]
        if app.kind == "nva":
            return self._mitigation((app.id, app.ip, "nva"), lambda a=app: self._nva_mitigation(a)) is not None
        return False

    def _flows(self, pe: PrivateEndpoint, ip: int, delivered_only: bool,
               groups: list[SourceGroup] | None = None) -> list[Flow]:
        out: list[Flow] = []
        cache: dict = {}          # walks to this destination, per view
        pe_id = pe.id.lower()
        inbound = self._inbound(self.pe_nsg(pe), ip)
        port = self.port
        for g in self.source_groups if groups is None else groups:
            key = (g.vid, ip, ())
            tail = cache.get(key)
            if tail is None:
                tail = cache[key] = self._tail(g.view, ip, (), cache)
            last = tail.hops[-1].id
            if tail.outcome != "delivered" or last is None or last.lower() != pe_id:
                if not delivered_only:
                    out.append(Flow(g.ctx_id, "subnet", list(g.member_ids), g.prefixes, pe, ip, port, tail,
                                    self._source_hop(g, tail), "blocked", "blocked",
                                    notes=[tail.reason or "not delivered"], view=g.view, source_key=g.key, _return=[]))
                continue
            mit = self.mitigation(tail, g.prefixes, ip, g.key)
            blocked_ids = self._blocked_members(g, ip, inbound, mit) if (inbound or g.nsg_members) else None
            if blocked_ids is None:
                # return_verdict for a subnet source
                verdict = self.pair_verdict(tail.appliances, mit, pe, g.prefixes)
                out.append(Flow(g.ctx_id, "subnet", g.member_ids, g.prefixes, pe, ip, port, tail,
                                self._source_hop(g, tail), "delivered", verdict, mit, view=g.view, source_key=g.key,
                                _analysis=self))
                continue
            if blocked_ids is ALL:
                if delivered_only:
                    continue
                delivered, blocked = [], g.members
            else:
                delivered = [s for s in g.members if id(s) not in blocked_ids]
                blocked = [s for s in g.members if id(s) in blocked_ids]
            hop = self._source_hop(g, tail)
            if delivered:
                prefixes = [p for s in delivered for p in s.prefixes]
                flow = Flow(g.ctx_id, "subnet", [s.id for s in delivered], prefixes, pe, ip, port, tail, hop,
                            "delivered", "", self.mitigation(tail, prefixes, ip), view=g.view, _analysis=self)
                flow.verdict = self.return_verdict(flow)
                out.append(flow)
            if not delivered_only:
                prefixes = [p for s in blocked for p in s.prefixes]
                out.append(Flow(g.ctx_id, "subnet", [s.id for s in blocked], prefixes, pe, ip, port, tail, hop,
                                "blocked", "blocked", self.mitigation(tail, prefixes, ip),
                                notes=["an NSG denies the flow"], view=g.view, _return=[]))
        out += [f for f in self.on_premises_flows(pe, ip) if f.outcome == "delivered" or not delivered_only]
        return out

    def on_premises_flows(self, pe: PrivateEndpoint, ip: int) -> list[Flow]:
        """Flows from on-premises to one endpoint: through each VNet gateway (walked from its
        GatewaySubnet's routes) and each Virtual WAN hub gateway of the hub the endpoint's VNet is
        connected to (hub_flow)."""
        out = []
        for gw_id, view, prefixes in self.on_premises_entries:
            flow = self.build_flow(CONTEXT_ON_PREMISES, "on-premises", [], prefixes, view, pe, ip,
                                   Hop("on-premises", "gateway", gw_id), gw_id)
            flow.source_key = ("on-premises", gw_id)
            out.append(self._nsg_gate(flow))
        pe_vnet = (pe.subnet_id or "").lower().split("/subnets/")[0]
        hub = self.routing.hub_of_vnet.get(pe_vnet)
        for gw, prefixes in self.hub_entries if hub else ():
            if (gw.hub_id or "").lower() == hub.lower():  # type: ignore[union-attr]
                out.append(self._nsg_gate(self.hub_flow(gw, prefixes, pe, ip)))
        return out

    def _nsg_gate(self, flow: Flow) -> Flow:
        if flow.outcome == "delivered" and flow.source_prefixes and not self.nsg_check(flow, None, flow.source_prefixes):
            flow.outcome, flow.verdict, flow.return_hops = "blocked", "blocked", []
            flow.notes.append("an NSG denies the flow")
        return flow

    @cached_property
    def hub_entries(self) -> list[tuple[HubGateway, list[Cidr]]]:
        """(Virtual WAN hub gateway, on-premises prefixes: its VPN sites' address spaces and the config's
        [network] on_premises) per VPN/ExpressRoute gateway in a hub."""
        out = []
        for gw in sorted(self.estate.hub_gateways.values(), key=lambda g: g.id.lower()):
            if not gw.hub_id:
                continue
            prefixes = self.routing.hub_gateway_prefixes(gw)
            if not prefixes:
                self.coverage_gaps.setdefault((gw.id.lower(), UNKNOWN_ON_PREMISES), Problem(
                    self.estate.files.get(gw.id.lower()), gw.id, "on-premises prefixes",
                    f"gateway {gw.name}: {UNKNOWN_ON_PREMISES}", ASSUMED))
            out.append((gw, prefixes))
        return out

    def intent_next_hop(self, hub_id: str) -> Appliance | None:
        """The appliance a hub's PrivateTraffic routing policy sends private traffic to, if any."""
        ip = self.routing.intent_private_ip(hub_id)
        target = self.appliances.resolve(ip, hub_id.lower()) if ip is not None else None
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
        subnet = self.estate.subnets.get((pe.subnet_id or "").lower())
        policies = subnet.pe_policies if subnet is not None else "Disabled"
        source_hop = Hop("on-premises", "gateway", gw.id)
        if next_hop is not None and policies in ROUTE_TABLE_POLICIES:
            source_hop.note = f"routing intent sends private traffic to {next_hop.name}"
            app_hop = Hop(next_hop.name, next_hop.kind, next_hop.id, next_hop.ip_text)
            tail = Tail(None, [app_hop, pe_hop], "delivered", appliances=[next_hop])
        else:
            source_hop.note = (f"on-premises traffic to private endpoints in spokes bypasses the routing-intent next "
                               f"hop {next_hop.name} (privateEndpointNetworkPolicies {policies})"
                               if next_hop is not None else "the hub router delivers to the connected VNet")
            tail = Tail(None, [pe_hop], "delivered")
        flow = Flow(CONTEXT_ON_PREMISES, "on-premises", [], prefixes, pe, ip, self.port, tail, source_hop, "delivered",
                    "", entry_gateway=gw.id, source_key=("on-premises", gw.id), _analysis=self)
        flow.mitigation = self.mitigation(tail, prefixes, ip)
        flow.verdict = self.return_verdict(flow)
        return flow

    @staticmethod
    def _source_hop(g: SourceGroup, tail: Tail) -> Hop:
        hop = g.hops.get(id(tail.route))
        if hop is None:
            hop = g.hops[id(tail.route)] = Hop(g.name, "subnet", g.ctx_id, route=tail.route)
        return hop

    @cached_property
    def all_flows(self) -> list[Flow]:
        """Every flow, blocked ones included (what trace-like consumers and tests look at)."""
        return list(self.iter_flows())

    def iter_flows(self) -> Iterator[Flow]:
        """Every flow, blocked ones included, one endpoint at a time: what the flows export streams
        without holding the whole matrix (route contexts x endpoints) in memory."""
        for pe, ip in self.endpoints:
            with gc_paused():
                flows = self._flows(pe, ip, delivered_only=False)
            yield from flows

    @cached_property
    def delivered_flows(self) -> list[Flow]:
        """The flows that reach their private endpoint, in `all_flows` order."""
        return self._delivered(None)

    def reported_flows(self, reported: Callable[[Appliance], bool], watched: Collection[str]) -> list[Flow]:
        """`delivered_flows` less the ones no question can report on: the flows to endpoints not in
        `watched` (PE ids) that are either delivered directly by a route other than a PE /32, or pass
        only appliances that are `quiet` for them. Those are symmetric, cross no reported appliance
        and are shadowed by no /32, and they are most of an estate's flows (tests/bench/paths.py):
        the rules read this (AuditContext.reported_flows); tests check they find the same with all."""
        return self._delivered(Keep(reported, frozenset(w.lower() for w in watched)))

    def _delivered(self, keep: Keep | None) -> list[Flow]:
        flows: list[Flow] = []
        with gc_paused():
            groups = self._groups_per_endpoint(keep)
            for i, (pe, ip) in enumerate(self.endpoints):
                flows.extend(self._flows(pe, ip, delivered_only=True, groups=groups[i]))
        return flows

    def is_storage(self, pe: PrivateEndpoint) -> bool:
        return any((c.target_id or "").lower().split("/providers/")[-1].startswith("microsoft.storage/storageaccounts")
                   for c in pe.connections)


@dataclass(frozen=True, slots=True)
class Keep:
    """Which delivered flows a caller needs (FlowAnalysis.reported_flows)."""

    reported: Callable[[Appliance], bool]     # appliances some question reports on
    watched: frozenset[str]                    # PE ids (lower case) every flow to which is needed


class _Through:
    """For one appliance: the endpoints (positions in address order) whose walk on from it delivers and
    is kept. Worked out over the span of positions asked for so far and widened on demand, so an
    appliance that only a spoke's own range reaches costs that range, not every endpoint."""

    __slots__ = ("analysis", "found", "hi", "ips", "keep", "lo", "target", "watched")

    def __init__(self, analysis: FlowAnalysis, target: Appliance, ips: list[int], keep: Keep | None,
                 watched: set[int]) -> None:
        self.analysis, self.target, self.ips, self.keep, self.watched = analysis, target, ips, keep, watched
        self.lo = self.hi = 0
        self.found: list[int] = []

    def kept(self, a: int, b: int) -> list[int]:
        if self.lo == self.hi:
            self.lo, self.hi, self.found = a, b, self._scan(a, b)
        else:
            if a < self.lo:
                self.found[:0] = self._scan(a, self.lo)
                self.lo = a
            if b > self.hi:
                self.found.extend(self._scan(self.hi, b))
                self.hi = b
        found = self.found
        return found[bisect_left(found, a):bisect_left(found, b)]

    def _scan(self, a: int, b: int) -> list[int]:
        analysis, target, keep = self.analysis, self.target, self.keep
        cache = analysis._tails
        out = []
        for p in range(a, b):
            dst = self.ips[p]
            _hops, outcome, _reason, apps, *_ = analysis._via(target, dst, (), cache)
            if outcome != "delivered":
                continue
            if keep is None or p in self.watched or not all(analysis.quiet(app, dst, keep.reported) for app in apps):
                out.append(p)
        return out


def hop_text(h: Hop) -> str:
    return f"{h.hop} ({h.kind}{', ' + h.ip if h.ip else ''})"


__all__ = ["Flow", "FlowAnalysis", "Mitigation", "hop_text", "ip_text"]
