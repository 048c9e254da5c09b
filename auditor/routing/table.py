"""A computed effective route table: every route Azure would list (Active and Invalid), LPM lookup,
and the explanation of a decision."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from auditor.ipnet import Cidr
from auditor.routing.lpm import PrefixMap

# Effective-route `source` values and their tie-break rank, User > BGP > System
# (https://learn.microsoft.com/azure/virtual-network/virtual-networks-udr-overview).
SOURCE_RANK = {"User": 0, "VirtualNetworkGateway": 1, "Default": 2}
# System routes that BGP can never override, even when BGP is more specific (same page).
PROTECTED_SYSTEM_HOPS = frozenset(
    {"VnetLocal", "VNetPeering", "VNetGlobalPeering", "VirtualNetworkServiceEndpoint"}
)


@dataclass(slots=True)
class EffectiveRoute:
    source: str  # Default | User | VirtualNetworkGateway
    prefix: Cidr | None  # None: a service tag (UDR tag prefix or service endpoint)
    prefix_text: str
    next_hop_type: str
    next_hop_ip: int | None = None
    next_hop_ip_text: str | None = None
    # vnet | internet | reserved | peering | gateway | vwan | service-endpoint | private-endpoint | udr
    kind: str = ""
    origin: str | None = None  # the resource that put it there (UDR, peering, PE, gateway ...)
    name: str | None = None  # UDR name
    state: str = "Active"
    reason: str | None = None  # why the route is Invalid
    disable_bgp_route_propagation: bool = False

    def to_azure(self) -> dict[str, Any]:
        """The `az network nic show-effective-route-table` item shape."""
        return {
            "disableBgpRoutePropagation": self.disable_bgp_route_propagation,
            "source": self.source,
            "state": self.state,
            "addressPrefix": [self.prefix_text if self.prefix is None else str(self.prefix)],
            "nextHopType": self.next_hop_type,
            "nextHopIpAddress": [self.next_hop_ip_text] if self.next_hop_ip_text else [],
            "name": self.name,
        }

    def describe(self) -> str:
        hop = self.next_hop_type + (f" {self.next_hop_ip_text}" if self.next_hop_ip_text else "")
        label = f"{self.source}/{self.kind}" if self.kind else self.source
        return f"{self.prefix_text if self.prefix is None else self.prefix} -> {hop} ({label})"


@dataclass(slots=True)
class Candidate:
    route: EffectiveRoute
    outcome: str  # won | less-specific | lost-tie | invalid
    why: str


@dataclass(slots=True)
class Decision:
    ip: int
    winner: EffectiveRoute | None
    candidates: list[Candidate]


@dataclass
class RouteTableView:
    """The effective routes of one route context: subnets sharing VNet, route table and service endpoints."""

    key: tuple[str, str | None, tuple[str, ...]]
    vnet_id: str
    route_table_id: str | None
    subnet_ids: list[str]
    routes: list[EffectiveRoute]
    notes: list[str] = field(default_factory=list)
    _lpm: PrefixMap[EffectiveRoute] | None = field(default=None, repr=False)

    @property
    def active(self) -> list[EffectiveRoute]:
        return [r for r in self.routes if r.state == "Active"]

    @property
    def lpm(self) -> PrefixMap[EffectiveRoute]:
        """The active routes as an LPM map, built on first use (many contexts are never looked up)."""
        if self._lpm is None:
            self._lpm = PrefixMap(
                (r.prefix, r) for r in self.routes if r.state == "Active" and r.prefix is not None
            )
        return self._lpm

    def lookup(self, ip: int) -> EffectiveRoute | None:
        lpm = self._lpm
        return (self.lpm if lpm is None else lpm).get(ip)

    def decide(self, ip: int) -> Decision:
        """Which route wins for `ip`, and why each other covering route lost."""
        winner = self.lookup(ip)
        out: list[Candidate] = []
        for r in self.routes:
            if r.prefix is None or not r.prefix.contains_ip(ip):
                continue
            if r is winner:
                out.append(Candidate(r, "won", win_reason(r, self.routes, ip)))
            elif r.state != "Active":
                out.append(Candidate(r, "invalid", r.reason or "Invalid"))
            elif winner is not None and r.prefix.plen < winner.prefix.plen:  # type: ignore[union-attr]
                out.append(
                    Candidate(
                        r,
                        "less-specific",
                        f"/{r.prefix.plen} is shorter than the winning /{winner.prefix.plen}",  # type: ignore[union-attr]
                    )
                )
            else:
                out.append(Candidate(r, "lost-tie", "same prefix, lower precedence (User > BGP > System)"))
        out.sort(key=lambda c: (c.outcome != "won", -(c.route.prefix.plen if c.route.prefix else 0)))
        return Decision(ip, winner, out)


def win_reason(route: EffectiveRoute, routes: list[EffectiveRoute], ip: int) -> str:
    same = [r for r in routes if r is not route and r.prefix == route.prefix]
    parts = [f"longest matching prefix (/{route.prefix.plen})"]  # type: ignore[union-attr]
    if same:
        parts.append(
            f"beats {len(same)} route(s) with the same prefix: {route.source} has precedence "
            "(User > BGP > System, https://learn.microsoft.com/azure/virtual-network/virtual-networks-udr-overview)"
        )
    return "; ".join(parts)
