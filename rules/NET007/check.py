"""NET007: user-defined route points at an unusable next hop (https://learn.microsoft.com/azure/virtual-network/virtual-networks-udr-overview)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from auditor.findings import Evidence, Finding
from auditor.ids import key
from auditor.paths.appliances import Blackhole
from auditor.rules import remedy
from auditor.rules.context import AuditContext


def check(ctx: AuditContext) -> Iterator[Finding]:
    """The next hop is resolved from each VNet the table's subnets are in (addresses are per VNet): an
    NVA in a hub the subnet is no longer peered with is unusable from there, whoever else it serves."""
    index = ctx.flows.appliances
    for tid in sorted(ctx.estate.route_tables):
        table = ctx.estate.route_tables[tid]
        vnets: list[str | None] = [*sorted({key(s).split("/subnets/")[0] for s in table.subnet_ids})] or [
            None
        ]
        bad = []
        for route in table.routes:
            if route.next_hop_type != "VirtualAppliance":
                continue
            if route.next_hop_ip is None:
                bad.append((route, "VirtualAppliance route without a next-hop IP address"))
                continue
            target = next(
                (t for t in (index.resolve(route.next_hop_ip, v) for v in vnets) if isinstance(t, Blackhole)),
                None,
            )
            if target is not None:
                bad.append((route, target.reason))
        if not bad:
            continue
        names = "; ".join(
            f"{r.name} ({r.prefix_text} -> {r.next_hop_ip_text or '?'}): {why}" for r, why in bad
        )
        attached = (
            f" It is attached to {len(table.subnet_ids)} subnet(s), whose matching traffic is dropped."
            if table.subnet_ids
            else " It is attached to no subnet."
        )
        yield ctx.finding(
            "NET007",
            table.id,
            f"Route table {table.name} sends traffic to unusable next hops: {names}.{attached}",
            evidence=[
                Evidence("route", r.id, "properties.nextHopIpAddress", r.next_hop_ip_text, why)
                for r, why in bad
            ],
            related_ids=sorted(table.subnet_ids),
        )


def fixes(finding: dict[str, Any], ctx: AuditContext) -> list[remedy.Fix]:
    """A next hop held by a NIC that does not forward: turn forwarding on. A next hop nobody holds: which
    appliance was meant is a design decision a plan cannot make."""
    out: list[remedy.Fix] = []
    for e in finding.get("evidence") or []:
        nic = ctx.estate.nics.get(str(e.get("id") or "").lower())
        if nic is not None and e.get("path") == "properties.enableIPForwarding":
            out.append(
                remedy.set_property(
                    nic.id,
                    "properties.enableIPForwarding",
                    True,
                    "NET007: next hop without IP forwarding",
                    (f"{nic.name} starts forwarding traffic addressed to others",),
                )
            )
    return out or [
        remedy.cannot(
            "point the route at the appliance meant",
            "the route's next hop is held by no appliance in the estate: which appliance was meant (or whether "
            "the route should go) is a design decision",
        )
    ]
