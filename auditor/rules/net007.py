"""NET007: user-defined route points at an unusable next hop (azure-facts §2.6)."""

from __future__ import annotations

from collections.abc import Iterator

from auditor.findings import Evidence, Finding
from auditor.paths.appliances import ApplianceIndex, Blackhole
from auditor.rules.context import AuditContext


def check(ctx: AuditContext) -> Iterator[Finding]:
    index = ApplianceIndex(ctx.estate, ctx.config)
    for tid in sorted(ctx.estate.route_tables):
        table = ctx.estate.route_tables[tid]
        bad = []
        for route in table.routes:
            if route.next_hop_type != "VirtualAppliance":
                continue
            if route.next_hop_ip is None:
                bad.append((route, "VirtualAppliance route without a next-hop IP address"))
                continue
            target = index.resolve(route.next_hop_ip)
            if isinstance(target, Blackhole):
                bad.append((route, target.reason))
        if not bad:
            continue
        names = "; ".join(f"{r.name} ({r.prefix_text} -> {r.next_hop_ip_text or '?'}): {why}" for r, why in bad)
        attached = f" It is attached to {len(table.subnet_ids)} subnet(s), whose matching traffic is dropped." \
            if table.subnet_ids else " It is attached to no subnet."
        yield ctx.finding(
            "NET007", table.id,
            f"Route table {table.name} sends traffic to unusable next hops: {names}.{attached}",
            evidence=[Evidence("route", r.id, "properties.nextHopIpAddress", r.next_hop_ip_text, why) for r, why in bad],
            related_ids=sorted(table.subnet_ids),
        )
