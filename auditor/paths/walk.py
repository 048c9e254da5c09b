"""Forward and return walks of one flow (source -> private endpoint), hop by hop.

Forward: at each hop the effective route of that hop's route context decides (auditor.routing);
a VirtualAppliance next hop moves the walk to the appliance owning that IP, which forwards using
its own subnet's routes; an unowned or non-forwarding next hop drops the flow
(https://learn.microsoft.com/azure/virtual-network/virtual-networks-udr-overview).

Return: a private endpoint ignores UDRs for its replies
(https://learn.microsoft.com/azure/private-link/inspect-traffic-with-azure-firewall: "User-defined
routes (UDR) traffic is bypassed from private endpoints"; the PE "returns packets directly to the
source IP", https://davidsantiago.fr/filter-traffic-destined-to-a-private-endpoint). So the reply
reaches the source directly, skipping any appliance, unless the appliance SNATed the flow (the
reply is then addressed to the appliance) or a valid `disableSnatOnPL` tag makes the platform send
it back through the NVA (https://learn.microsoft.com/azure/private-link/private-link-disable-snat).
Replies towards on-premises need a gateway route in the PE VNet's system routes; without one the
return is unroutable.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from auditor.ipnet import Cidr, fmt_ip
from auditor.paths.appliances import Appliance, Blackhole
from auditor.routing.table import EffectiveRoute


@dataclass(slots=True)
class Hop:
    hop: str
    kind: str  # subnet | on-premises | nva | azure-firewall | gateway | private-endpoint | drop | internet
    id: str | None
    ip: str | None = None
    route: EffectiveRoute | None = None
    route_override: dict[str, Any] | None = None
    note: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"hop": self.hop, "kind": self.kind, "id": self.id, "ip": self.ip}
        if self.route_override is not None:
            out["route"] = self.route_override
        elif self.route is not None:
            r = self.route
            out["route"] = {
                "prefix": r.prefix_text if r.prefix is None else str(r.prefix),
                "next_hop_type": r.next_hop_type,
                "source": r.source,
            }
            if r.next_hop_ip_text:
                out["route"]["next_hop_ip"] = r.next_hop_ip_text
        else:
            out["route"] = None
        if self.note:
            out["note"] = self.note
        return out


@dataclass(slots=True)
class Tail:
    """The part of a forward walk that starts at a route context: shared by all its sources."""

    route: EffectiveRoute | None  # the route used at the starting context
    hops: list[Hop]  # hops after the starting context
    outcome: str  # delivered | dropped | left | loop
    reason: str = ""
    appliances: list[Appliance] = field(default_factory=list)
    blackhole: Blackhole | None = None
    blackhole_route: EffectiveRoute | None = None


def route_dict(prefix: str, next_hop_type: str, source: str) -> dict[str, Any]:
    return {"prefix": prefix, "next_hop_type": next_hop_type, "source": source}


def representative(prefixes: list[Cidr]) -> int | None:
    """An address standing for a source prefix in reply lookups (first host of the first prefix)."""
    if not prefixes:
        return None
    p = prefixes[0]
    return p.net + (4 if p.plen <= 29 else 0)


def fmt_prefixes(prefixes: list[Cidr]) -> list[str]:
    return [str(p) for p in prefixes]


def ip_text(ip: int | None) -> str | None:
    return fmt_ip(ip) if ip is not None else None
