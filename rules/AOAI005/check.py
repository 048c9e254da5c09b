"""AOAI005: a private path to an AI account bypasses the gateway (docs/landing-zones.md;
https://learn.microsoft.com/azure/virtual-network/network-security-groups-overview,
https://learn.microsoft.com/azure/virtual-network/service-tags-overview).

Sources are every workload subnet (grouped by route context) and on-premises; the gateway's own
subnets (API Management in a VNet, config-declared gateways) are the only intended callers. A
source bypasses when its forward path delivers to one of the account's Approved private endpoints
and no enforced NSG on the endpoint's subnet stops it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from auditor.findings import Evidence, Finding, NotAssessed
from auditor.ids import key
from auditor.rules import remedy
from auditor.rules.context import AuditContext
from auditor.rules.pathutil import LIST_CAP, PATHS_SHOWN


def check(ctx: AuditContext) -> Iterator[Finding | NotAssessed]:
    estate = ctx.estate
    if not ctx.gateway_subnet_ids:
        if estate.ai_accounts:
            yield NotAssessed(
                "AOAI005",
                "no API gateway in the estate (no API Management in a VNet and no [[gateways]] "
                "in the config file): cannot tell gateway traffic from bypass",
            )
        return
    gateway = ctx.gateway_subnet_ids
    flows_by_pe: dict[str, list] = {}
    for f in ctx.reported_flows:
        if f.outcome == "delivered":
            flows_by_pe.setdefault(key(f.pe.id), []).append(f)
    pes_of: dict[str, list] = {}  # account id -> its Approved private endpoints, in id order
    for pe in sorted(estate.private_endpoints.values(), key=lambda p: key(p.id)):
        if pe.approved:
            for aid in sorted({key(c.target_id or "") for c in pe.connections if c.status == "Approved"}):
                if aid in estate.ai_accounts:
                    pes_of.setdefault(aid, []).append(pe)
    names: dict[tuple[str, ...], str] = {}
    for aid in sorted(estate.ai_accounts):
        account = estate.ai_accounts[aid]
        pes = pes_of.get(aid, [])
        bypass = []
        for pe in pes:
            for f in flows_by_pe.get(key(pe.id), []):
                subnets = [s for s in f.source_subnets if key(s) not in gateway]
                if f.source_kind == "subnet" and not subnets:
                    continue
                bypass.append((f, subnets))
        if not bypass:
            continue
        keys_on = account.disable_local_auth is not True
        labels: dict[str, None] = {}  # in order of first appearance
        per_source: dict[tuple, list] = {}
        for f, subnets in bypass:
            per_source.setdefault((f.source, tuple(subnets)), []).append(f)
        evidence = []
        for n, ((_source, subnets), flows) in enumerate(per_source.items()):
            f = flows[0]
            if f.source_kind == "on-premises":
                label = "on-premises"
            else:
                label = names.get(subnets) or names.setdefault(subnets, subnets_label(ctx, f.source, subnets))
            labels[label] = None
            if n >= LIST_CAP:
                continue
            # one item per bypassing source (not per source and endpoint): its subnets and endpoints, and for
            # the first PATHS_SHOWN sources one whole forward path (the flows export has every path)
            value: dict[str, Any] = {
                "source_subnets_total": len(subnets),
                "destinations": sorted({g.pe.id for g in flows}, key=str.lower)[:LIST_CAP],
                "destination": f.pe.id,
            }
            if n < PATHS_SHOWN:
                value["source_subnets"] = sorted(subnets, key=str.lower)[:PATHS_SHOWN]
                value["forward"] = [h.to_dict() for h in f.forward_hops]
            evidence.append(
                Evidence("path", f.source, None, value, f"{label} reaches {f.pe.name} without the gateway")
            )
        if (
            ctx.config.gateways
        ):  # config values that changed the verdict are named (the config echo, docs/findings.md)
            evidence.append(
                Evidence(
                    "property",
                    f"config:{ctx.config.path}",
                    "gateways",
                    [g.name for g in ctx.config.gateways],
                    "declared gateway subnets are the intended callers, not bypass",
                )
            )
        severity = "high" if keys_on else "medium"
        yield ctx.finding(
            "AOAI005",
            account.id,
            f"{account.kind or 'AI'} account {account.name} is reachable over its private endpoint(s) from sources other "
            f"than the API gateway: {'; '.join(list(labels)[:PATHS_SHOWN])}"
            f"{f' and {len(labels) - PATHS_SHOWN} more sources' if len(labels) > PATHS_SHOWN else ''}."
            + (" API keys are enabled too (AOAI001), so these callers need no identity." if keys_on else ""),
            severity=severity,
            evidence=evidence,
            related_ids=sorted({pe.id for pe in pes}),
        )


def subnets_label(ctx: AuditContext, context: str, subnets: tuple[str, ...]) -> str:
    """A bypassing source in a message: its subnets by name, or its route context and how many subnets."""
    if len(subnets) <= 5:
        return ", ".join(sorted(ctx.estate.name_of(s) for s in subnets))
    return f"{ctx.estate.name_of(context)} ({len(subnets)} subnets)"


def fixes(finding: dict[str, Any], ctx: AuditContext) -> list[remedy.Fix]:
    return [
        remedy.cannot(
            "admit only the gateway to the account's private endpoints",
            "the fix is an NSG on each private-endpoint subnet that admits only the gateway's subnets, with NSG "
            "network policies enabled; its rules depend on the other callers you mean to keep, so pathaudit "
            "does not write it for you (see the rule's remediation)",
        )
    ]
