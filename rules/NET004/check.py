"""NET004: Azure Firewall does not SNAT traffic to private endpoints (https://learn.microsoft.com/azure/firewall/snat-private-range)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from auditor.findings import Evidence, Finding
from auditor.ids import key
from auditor.paths.appliances import firewall_private_ranges
from auditor.rules import remedy
from auditor.rules.context import AuditContext
from auditor.rules.pathutil import unresolved_evidence


def check(ctx: AuditContext) -> Iterator[Finding]:
    estate = ctx.estate
    hits: dict[str, tuple] = {}
    for f in ctx.reported_flows:
        if f.outcome != "delivered":
            continue
        for app in f.tail.appliances:
            if app.kind != "azure-firewall" or app.firewall is None:
                continue
            if ctx.flows.rule_kind(app.firewall, f.source_prefixes, f.pe_ip, f.source_key) == "application":
                continue
            snat, why = ctx.flows.firewall_snat(app.firewall, f.pe_ip)
            if not snat:
                hits.setdefault(key(app.id), (app, why, []))[2].append(f)
    for app, why, flows in (hits[k] for k in sorted(hits)):
        ranges, origin = firewall_private_ranges(estate, app.firewall)
        pes = sorted({f.pe.name for f in flows})
        unresolved = next((e for f in flows for e in unresolved_evidence(ctx, f)), None)
        if app.hub_id:
            # a secured hub's firewall as routing-intent next hop: the reply model says the endpoints' replies
            # come back through it; the secured-hub page still asks for SNAT on network rules
            consequence = (
                "Microsoft's pages disagree on what follows: the routing-intent page says private endpoints in "
                "connected spokes send their replies through the routing-intent next hop "
                "(https://learn.microsoft.com/azure/virtual-wan/how-to-routing-policies), so the flows may be "
                "symmetric, while the secured-hub private-endpoint page asks for 'Always perform SNAT' on network-rule "
                "traffic to private endpoints "
                "(https://learn.microsoft.com/azure/firewall-manager/private-link-inspection-secure-virtual-hub). "
                "This stays suspected until traffic evidence speaks."
            )
            status = "suspected"
        else:
            consequence = "Replies from the private endpoints bypass the firewall."
            status = None
        yield ctx.finding(
            "NET004",
            app.id,
            f"Azure Firewall {app.name} forwards traffic to private endpoints {', '.join(pes)} without SNAT: {why}. "
            + consequence,
            status=status,
            evidence=[
                Evidence(
                    "property",
                    app.firewall.policy_id or app.id,
                    "properties.snat.privateRanges",
                    ranges,
                    origin,
                ),
                *([unresolved] if unresolved else []),
            ],
            related_ids=sorted(
                {f.pe.id for f in flows} | ({app.firewall.policy_id} if app.firewall.policy_id else set())
            ),
        )


def fixes(finding: dict[str, Any], ctx: AuditContext) -> list[remedy.Fix]:
    return [
        remedy.firewall_snat(
            ctx, finding["resource_id"], "NET004: firewall does not SNAT to private endpoints"
        )
    ]
