"""NET007: user-defined route points at an unusable next hop (https://learn.microsoft.com/azure/virtual-network/virtual-networks-udr-overview)."""

from __future__ import annotations

from collections.abc import Iterator

from auditor.findings import Evidence, Finding
from auditor.paths.appliances import Blackhole
from auditor.rules.context import AuditContext


def check(ctx: AuditContext) -> Iterator[Finding]:
    """The next hop is resolved from each VNet the table's subnets are in (addresses are per VNet): an
    NVA in a hub the subnet is no longer peered with is unusable from there, whoever else it serves."""
    index = ctx.flows.appliances
    for tid in sorted(ctx.estate.route_tables):
        table = ctx.estate.route_tables[tid]
        vnets: list[str | None] = [*sorted({s.lower().split("/subnets/")[0] for s in table.subnet_ids})] or [
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
