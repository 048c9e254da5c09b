"""NET001: asymmetric private endpoint flow (docs/landing-zones.md; private endpoints ignore UDRs for
their replies: https://learn.microsoft.com/azure/private-link/private-endpoint-overview).

One finding per (source route context, appliance): the misconfigured object is the route table that
sends private-endpoint traffic through a stateful appliance whose replies do not come back, not each
endpoint it reaches. The endpoints are listed in `flow.destinations`. Status `suspected`: the
configuration implies the asymmetry; `pathaudit confirm` looks for traffic evidence.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from auditor.findings import Evidence, Finding
from auditor.rules import remedy
from auditor.rules.context import AuditContext
from auditor.rules.pathutil import (
    context_resource,
    group_flows,
    grouped_flow,
    route_evidence,
    source_label,
    unresolved_evidence,
)

STORAGE_NOTE = (
    " Field reports describe the platform keeping Storage private endpoint flows symmetric without SNAT; "
    "Microsoft documents no such exception, so this stays suspected until traffic evidence speaks."
)
NAMES_SHOWN = 5


def names_list(names: list[str]) -> str:
    shown = ", ".join(names[:NAMES_SHOWN])
    return shown + (f" and {len(names) - NAMES_SHOWN} more" if len(names) > NAMES_SHOWN else "")


def check(ctx: AuditContext) -> Iterator[Finding]:
    analysis = ctx.flows
    flows = [
        f
        for f in ctx.reported_flows
        if f.outcome == "delivered" and f.tail.appliances and f.verdict in ("asymmetric", "return-unroutable")
    ]
    for (resource, app_id), group in group_flows(
        flows, lambda f: (context_resource(f), f.appliance.id)
    ).items():
        flow = grouped_flow(group)
        f = next(g for g in group if g.pe.id == flow["destinations"][0]["id"])
        app = f.appliance
        assert app is not None
        kind = "Azure Firewall" if app.kind == "azure-firewall" else "NVA"
        unroutable = any(g.verdict == "return-unroutable" for g in group)
        reply = (
            "the replies go straight back to the source, because private endpoints ignore UDRs for return "
            "traffic" + ("; some have no route back at all" if unroutable else "")
        )
        if app.kind == "azure-firewall":
            fix = "use application rules or make the firewall always SNAT (snat.privateRanges 255.255.255.255/32)"
        else:
            fix = "SNAT at the NVA, or tag its NIC disableSnatOnPL=true"
        pes = sorted({g.pe.name for g in group}, key=str.lower)
        message = (
            f"Traffic from {source_label(f, ctx)} to {len(pes)} private endpoint(s) ({names_list(pes)}) "
            f"passes {kind} {app.name} ({app.ip_text}) on the way in, but {reply}: the stateful appliance "
            f"sees half of each connection. Fix: {fix}."
        )
        if any(analysis.is_storage(g.pe) for g in group):
            message += STORAGE_NOTE
        evidence = route_evidence(f)
        unresolved: dict[tuple, Evidence] = {}  # one item per firewall, over every flow of the group
        for g in group:
            for e in unresolved_evidence(ctx, g):
                unresolved.setdefault((e.id, tuple(e.value or ())), e)
        evidence += list(unresolved.values())
        declared = [str(p) for p in ctx.config.on_premises if p in f.source_prefixes]
        if f.source_kind == "on-premises" and declared:
            evidence.append(
                Evidence(
                    "property",
                    f"config:{ctx.config.path}",
                    "network.on_premises",
                    declared,
                    "on-premises ranges from the config file",
                )
            )
        if app.kind == "nva":
            evidence.append(
                Evidence(
                    "property",
                    app.id,
                    "tags.disableSnatOnPL",
                    next((t.value for t in app.tags), None),
                    "no valid disableSnatOnPL tag and no SNAT declared in the config file",
                )
            )
        members = {id(g.source_subnets): g.source_subnets for g in group}  # flows of a context share the list
        related = {app.id, *app.nic_ids, *(s for m in members.values() for s in m)}
        if f.source != "on-premises":
            related.add(f.source)
        elif f.entry_gateway:
            related.add(f.entry_gateway)
        yield ctx.finding(
            "NET001",
            resource,
            message,
            evidence=evidence,
            related_ids=sorted(related),
            flow=flow,
            key=(app_id,),
        )


def fixes(finding: dict[str, Any], ctx: AuditContext) -> list[remedy.Fix]:
    """Bring the replies back through the appliance: the NVA's opt-in (or its SNAT), or the firewall's
    SNAT. Changing the routes instead moves traffic off the inspection path: not proposed."""
    out: list[remedy.Fix] = []
    for app_id in (finding.get("flow") or {}).get("appliances") or []:
        fw = ctx.estate.firewalls.get(app_id.lower())
        if fw is not None:
            out.append(remedy.firewall_snat(ctx, fw.id, "NET001: asymmetric private endpoint flow"))
            continue
        app = remedy.appliance(ctx, app_id)
        if app is not None:
            out.extend(remedy.nva_opt_in(ctx, app, "NET001: asymmetric private endpoint flow"))
    return out or [remedy.cannot("bring the replies back", "the appliance on this path is not in the input")]
