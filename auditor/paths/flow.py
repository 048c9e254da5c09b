"""The flows the analysis produces and the constants its parts share."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, Any, Final

from auditor.estate.model import PrivateEndpoint, Subnet
from auditor.ipnet import Cidr, fmt_ip
from auditor.paths.appliances import Appliance
from auditor.paths.firewall_rules import Verdict
from auditor.paths.walk import Hop, Tail, fmt_prefixes
from auditor.routing.table import RouteTableView

if TYPE_CHECKING:
    from auditor.paths.analysis import FlowAnalysis
    from auditor.paths.nsg import CompiledRule

UNKNOWN = Verdict("unknown")
UNKNOWN_ON_PREMISES = (
    "the on-premises prefixes behind it are unknown (ExpressRoute or BGP-only VPN: learned over BGP, "
    "in no ARM resource); its traffic is analysed through the GatewaySubnet's routes, but which "
    "addresses it concerns, and NSG decisions on them, are not known: list them under "
    "[network] on_premises in pathaudit.toml"
)
NSG_POLICIES = frozenset({"Enabled", "NetworkSecurityGroupEnabled"})
# Subnets that host platform components, not workloads: never flow sources of their own (on-premises
# traffic entering through GatewaySubnet is modelled as the `on-premises` source).
PLATFORM_SUBNETS = frozenset(
    {"gatewaysubnet", "azurefirewallsubnet", "azurefirewallmanagementsubnet", "routeserversubnet"}
)
MAX_HOPS = 8
STORAGE_TYPE = "microsoft.storage/storageaccounts"
DELIVERING_HOPS = frozenset({"InterfaceEndpoint", "VnetLocal", "VNetPeering", "VNetGlobalPeering"})
SNAT_HOW = ("snat", "snat-declared")


class _Missing(Enum):
    """A cache lookup's default where None is a cached answer; an enum member so `is _MISSING` narrows types."""

    MISSING = "missing"


_MISSING: Final = _Missing.MISSING
ALL: Any = frozenset({"all"})  # _blocked_members: every member of the group is blocked


@dataclass(slots=True)
class Mitigation:
    appliance: Appliance
    how: str  # snat | snat-declared | tag | tag-ambiguous | denied (a firewall rule drops it)
    detail: str


@dataclass(slots=True)
class Flow:
    source: str  # route context id (route table or subnet id) or "on-premises"
    source_kind: str  # subnet | on-premises
    source_subnets: list[str]
    source_prefixes: list[Cidr]
    pe: PrivateEndpoint
    pe_ip: int
    port: int
    tail: Tail
    source_hop: Hop
    outcome: str  # delivered | blocked
    verdict: str  # symmetric | asymmetric | return-unroutable | blocked
    mitigation: Mitigation | None = None
    nsg: list[dict[str, Any]] = field(default_factory=list)  # NSG decisions (nsg_check: trace, on-premises)
    notes: list[str] = field(default_factory=list)
    entry_gateway: str | None = None
    view: RouteTableView | None = None
    source_key: object = None  # identifies source_prefixes for the analysis' caches
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

    key: tuple[str, int]  # source_key of its flows
    ctx_id: str
    name: str
    view: RouteTableView
    members: list[Subnet]
    member_ids: list[str]
    prefixes: list[Cidr]
    nsg_members: list[Subnet]  # members with an NSG in the estate (outbound checks)
    vid: int = 0  # id(view): the key of its walks
    hops: dict[int, Hop] = field(default_factory=dict)  # id(route) -> source hop
    in_results: dict[tuple[Any, ...], Any] = field(
        default_factory=dict
    )  # inbound NSG outcome per PE-side key
    # outbound: (compiled rules, their source matches, the members that have them) per class of members
    out_classes: list[tuple[tuple[CompiledRule, ...], tuple[str, ...], list[Subnet]]] | None = None
    # inbound: id(compiled rules) -> (source matches without the VirtualNetwork tag, members) per class
    in_classes: dict[int, list[tuple[tuple[str, ...], list[Subnet]]]] = field(default_factory=dict)
