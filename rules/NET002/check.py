"""NET002: NVA forwards to private endpoints without disableSnatOnPL or SNAT (https://learn.microsoft.com/azure/private-link/private-endpoint-overview)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from auditor.findings import Evidence, Finding
from auditor.ids import type_of
from auditor.paths.appliances import Appliance
from auditor.rules import remedy
from auditor.rules.context import AuditContext
from auditor.rules.pathutil import nva_name, nvas_to_endpoints, source_label


def untagged_units(app: Appliance) -> list[tuple[str, list[str]]]:
    """The NVAs behind this next hop that this rule reports, as (NVA id, its members): a VM NVA (its NIC)
    or a scale set, with no disableSnatOnPL-like tag on some member (NET003 judges tags that exist) and
    no SNAT declared for it, which is a mitigation. Behind an ILB every NVA needs its own opt-in: one
    untagged backend loses the replies of the connections it carries, and SNAT declared on its twin
    does not speak for it. Virtual WAN hub NVAs are not VM-based:
    the tag is not theirs to carry, so this rule does not speak for them (NET001 still does)."""
    if app.kind != "nva" or app.snat_declared or app.managed:
        return []
    return [
        (unit, members)
        for unit, members in sorted(app.units.items())
        if unit not in app.declared_units and not all(app.nic_tags.get(m) for m in members)
    ]


def check(ctx: AuditContext) -> Iterator[Finding]:
    for app, unit, members, flows in nvas_to_endpoints(ctx).values():
        if (unit, members) not in untagged_units(app):
            continue
        pes = sorted({f.pe.name for f in flows})
        sources = sorted({source_label(f, ctx) for f in flows})
        untagged = [m for m in members if not app.nic_tags.get(m)]
        name = nva_name(ctx, unit)
        behind = (
            f" behind load balancer {app.name} ({app.ip_text})"
            if len(app.units) > 1 or unit != app.id
            else f" ({app.ip_text})"
        )
        where = (
            "its NIC"
            if untagged == [unit]
            and not type_of(unit).startswith("microsoft.compute/virtualmachinescalesets")
            else ", ".join(sorted(ctx.estate.name_of(n) for n in untagged))
        )
        yield ctx.finding(
            "NET002",
            unit,
            f"NVA {name}{behind} forwards traffic to private endpoints {', '.join(pes)} (from {'; '.join(sources)}) "
            f"with no disableSnatOnPL tag on {where} and no SNAT declared in the config file: replies from the "
            "private endpoints bypass it.",
            evidence=[Evidence("property", m, "tags.disableSnatOnPL", None, "tag absent") for m in untagged],
            related_ids=sorted({f.pe.id for f in flows} | {app.id}),
        )


def fixes(finding: dict[str, Any], ctx: AuditContext) -> list[remedy.Fix]:
    """The NVA's opt-in, or its own SNAT declared: the same two fixes NET001 proposes for its appliance."""
    unit = finding["resource_id"]
    name = remedy.qualified_name(unit)
    return [
        remedy.opt_in([unit], name, "NET002: NVA without disableSnatOnPL"),
        remedy.snat_declaration([unit], name),
    ]
