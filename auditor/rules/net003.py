"""NET003: disableSnatOnPL tag present but not effective (azure-facts §4.5)."""

from __future__ import annotations

from collections.abc import Iterator

from auditor.findings import Evidence, Finding
from auditor.paths.appliances import Appliance, TagFinding
from auditor.rules.context import AuditContext
from auditor.rules.net002 import nvas_to_endpoints


def failed_tags(app: Appliance) -> list[TagFinding] | None:
    """None when this rule has nothing to say about an NVA's tags (none, SNAT declared, or an effective
    unambiguous one on every tagged NIC), else the tags that fail (empty: only ambiguous ones).
    Judged per NVA NIC (an ILB fronts several): NICs whose tags all fail are the problem."""
    if app.kind != "nva" or not app.tags or app.snat_declared:
        return None
    tagged = [tags for tags in (app.nic_tags or {app.id: app.tags}).values() if tags]
    failed = [t for tags in tagged if not any(x.effective for x in tags) for t in tags]
    if not failed and all(any(t.effective and not t.ambiguous for t in tags) for tags in tagged):
        return None
    return failed


def reports_tags(app: Appliance) -> bool:
    """Whether this rule reports on an appliance's tags (an NVA's failing or ambiguous ones, any on an
    Azure Firewall)."""
    if app.kind == "azure-firewall":
        return bool(app.tags)
    return failed_tags(app) is not None


def check(ctx: AuditContext) -> Iterator[Finding]:
    for app, flows in nvas_to_endpoints(ctx).values():
        failed = failed_tags(app)
        if failed is None:
            continue
        pes = sorted({f.pe.id for f in flows})
        ambiguous = [t for t in app.tags if t.effective and t.ambiguous]
        if ambiguous and not failed:
            t = ambiguous[0]
            yield ctx.finding(
                "NET003", app.primary_resource,
                f"Scale-set NVA {app.name}: disableSnatOnPL=true is on {ctx.estate.name_of(t.resource_id)}; the "
                "documentation is ambiguous about scale-set placement (scale set vs instance), so the opt-in is "
                "claimed but not certain.",
                severity="low",
                evidence=[Evidence("property", t.resource_id, f"tags.{t.key}", t.value)],
                related_ids=pes,
            )
            continue
        problems = "; ".join(f"{ctx.estate.name_of(t.resource_id)}: {t.problem}" for t in failed)
        yield ctx.finding(
            "NET003", app.primary_resource,
            f"NVA {app.name} carries a disableSnatOnPL tag that does not take effect ({problems}); replies from "
            "private endpoints still bypass it.",
            evidence=[Evidence("property", t.resource_id, f"tags.{t.key}", t.value, t.problem) for t in failed],
            related_ids=pes,
        )
    # Azure Firewall: the tag is not documented for it (§4.5)
    seen: set[str] = set()
    for f in ctx.reported_flows:
        if f.outcome != "delivered":
            continue
        for app in f.tail.appliances:
            if app.kind == "azure-firewall" and app.tags and app.id.lower() not in seen:
                seen.add(app.id.lower())
                t = app.tags[0]
                yield ctx.finding("NET003", app.id, f"Azure Firewall {app.name} carries {t.key}={t.value!r}: {t.problem}.",
                                  evidence=[Evidence("property", app.id, f"tags.{t.key}", t.value)])
