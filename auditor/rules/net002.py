"""NET002: NVA forwards to private endpoints without disableSnatOnPL or SNAT (azure-facts §4.1, §4.5)."""

from __future__ import annotations

from collections.abc import Iterator

from auditor.findings import Evidence, Finding
from auditor.paths.appliances import Appliance
from auditor.rules.context import AuditContext
from auditor.rules.pathutil import source_label


def untagged_nics(app: Appliance) -> list[str]:
    """The NVA NICs this rule reports: no disableSnatOnPL-like tag anywhere (NET003 judges tags that
    exist) and no SNAT declared, which is a mitigation. Behind an ILB every backend NIC needs its own
    tag, so one untagged backend is enough (§4.5)."""
    if app.kind != "nva" or app.snat_declared:
        return []
    if app.nic_tags:
        return [nic for nic in app.nic_ids if not app.nic_tags.get(nic)]
    return [] if app.tags else list(app.nic_ids)


def nvas_to_endpoints(ctx: AuditContext) -> dict[str, tuple]:
    """NVA id -> (appliance, delivered flows through it) over all flows to private endpoints."""
    out: dict[str, tuple] = {}
    for f in ctx.reported_flows:
        if f.outcome != "delivered":
            continue
        for app in f.tail.appliances:
            if app.kind == "nva":
                out.setdefault(app.id.lower(), (app, []))[1].append(f)
    return dict(sorted(out.items()))


def check(ctx: AuditContext) -> Iterator[Finding]:
    for app, flows in nvas_to_endpoints(ctx).values():
        untagged = untagged_nics(app)
        if not untagged:
            continue
        pes = sorted({f.pe.name for f in flows})
        sources = sorted({source_label(f, ctx) for f in flows})
        where = "its NIC" if len(app.nic_ids) <= 1 else \
            "backend NIC(s) " + ", ".join(sorted(ctx.estate.name_of(n) for n in untagged))
        yield ctx.finding(
            "NET002",
            app.primary_resource,
            f"NVA {app.name} ({app.ip_text}) forwards traffic to private endpoints {', '.join(pes)} (from "
            f"{'; '.join(sources)}) with no disableSnatOnPL tag on {where} and no SNAT declared in the config file: "
            "replies from the private endpoints bypass it.",
            evidence=[Evidence("property", nic, "tags.disableSnatOnPL", None, "tag absent") for nic in untagged],
            related_ids=sorted({f.pe.id for f in flows}),
        )
