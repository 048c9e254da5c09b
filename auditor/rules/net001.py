"""NET001: asymmetric private endpoint flow (azure-facts §3.2, §4.1-4.5, R3-R4).

One finding per (source route context, private endpoint, appliance). Status `suspected`: the
configuration implies the asymmetry; `pathaudit confirm` looks for traffic evidence (§4.4).
"""

from __future__ import annotations

from collections.abc import Iterator

from auditor.findings import Evidence, Finding
from auditor.rules.context import AuditContext
from auditor.rules.pathutil import (
    group_flows,
    merged_flow_dict,
    route_evidence,
    source_label,
    unresolved_evidence,
)

STORAGE_NOTE = (" Field reports describe the platform keeping Storage private endpoint flows symmetric without SNAT; "
                "Microsoft documents no such exception, so this stays suspected until traffic evidence speaks.")


def check(ctx: AuditContext) -> Iterator[Finding]:
    analysis = ctx.flows
    flows = [f for f in ctx.reported_flows
             if f.outcome == "delivered" and f.tail.appliances and f.verdict in ("asymmetric", "return-unroutable")]
    for (_source, pe_id, _app_id), group in group_flows(flows, lambda f: (f.source, f.pe.id, f.appliance.id)).items():
        f = group[0]
        app = f.appliance
        assert app is not None
        kind = "Azure Firewall" if app.kind == "azure-firewall" else "NVA"
        reply = ("the reply has no route back at all (no system route from the private endpoint's VNet reaches the "
                 "source)" if f.verdict == "return-unroutable"
                 else "the reply goes straight back to the source, because private endpoints ignore UDRs for return "
                      "traffic")
        if app.kind == "azure-firewall":
            fix = "use application rules or make the firewall always SNAT (snat.privateRanges 255.255.255.255/32)"
        else:
            fix = "SNAT at the NVA, or tag its NIC disableSnatOnPL=true"
        message = (f"Traffic from {source_label(f, ctx)} to private endpoint {f.pe.name} "
                   f"({f.to_dict()['destination_ip']}:{f.port}) passes {kind} {app.name} ({app.ip_text}) on the way "
                   f"in, but {reply}: the stateful appliance sees half of each connection. Fix: {fix}.")
        if analysis.is_storage(f.pe):
            message += STORAGE_NOTE
        evidence = route_evidence(f) + unresolved_evidence(ctx, f)
        if app.kind == "nva":
            evidence.append(Evidence("property", app.id, "tags.disableSnatOnPL",
                                     next((t.value for t in app.tags), None),
                                     "no valid disableSnatOnPL tag and no SNAT declared in the config file"))
        related = [app.id, *app.nic_ids, *(s for g in group for s in g.source_subnets)]
        if f.source != "on-premises":
            related.append(f.source)
        elif f.entry_gateway:
            related.append(f.entry_gateway)
        yield ctx.finding("NET001", pe_id, message, evidence=evidence, related_ids=sorted(set(related)),
                          flow=merged_flow_dict(group))
