"""NET002: NVA forwards to private endpoints without disableSnatOnPL or SNAT (https://learn.microsoft.com/azure/private-link/private-endpoint-overview)."""

from __future__ import annotations

from collections.abc import Iterator

from auditor.findings import Evidence, Finding
from auditor.paths.appliances import Appliance
from auditor.rules.context import AuditContext
from auditor.rules.pathutil import source_label


def untagged_units(app: Appliance) -> list[tuple[str, list[str]]]:
    """The NVAs behind this next hop that this rule reports, as (NVA id, its members): a VM NVA (its NIC)
    or a scale set, with no disableSnatOnPL-like tag on some member (NET003 judges tags that exist) and
    no SNAT declared for it, which is a mitigation. Behind an ILB every NVA needs its own opt-in: one
    untagged backend loses the replies of the connections it carries, and SNAT declared on its twin
    does not speak for it. Virtual WAN hub NVAs are not VM-based:
    the tag is not theirs to carry, so this rule does not speak for them (NET001 still does)."""
    if app.kind != "nva" or app.snat_declared or app.managed:
        return []
    return [(unit, members) for unit, members in sorted(app.units.items())
            if unit not in app.declared_units and not all(app.nic_tags.get(m) for m in members)]


def nva_name(ctx: AuditContext, unit: str) -> str:
    """How messages name an NVA: its VM for a VM NVA's NIC, else the scale set or hub NVA itself."""
    nic = ctx.estate.nics.get(unit.lower())
    vm = ctx.estate.vms.get((nic.vm_id or "").lower()) if nic is not None else None
    return vm.name if vm is not None else ctx.estate.name_of(unit)


def nvas_to_endpoints(ctx: AuditContext) -> dict[str, tuple]:
    """NVA unit id (lower) -> (appliance, unit id, members, delivered flows through it) over all flows;
    worked out once per audit (NET002 and NET003 both read it)."""
    hit = ctx.memo.get("nvas_to_endpoints")
    if hit is not None:
        return hit
    out: dict[str, tuple] = {}
    seen: dict[int, list] = {}        # id(tail.appliances) -> the (unit lists) it feeds: tails share lists
    for f in ctx.reported_flows:
        if f.outcome != "delivered" or not f.tail.appliances:
            continue
        targets = seen.get(id(f.tail.appliances))
        if targets is None:
            targets = seen[id(f.tail.appliances)] = [
                out.setdefault(unit.lower(), (app, unit, members, []))[3]
                for app in f.tail.appliances if app.kind == "nva" for unit, members in sorted(app.units.items())]
        for flows in targets:
            flows.append(f)
    hit = ctx.memo["nvas_to_endpoints"] = dict(sorted(out.items()))
    return hit


def check(ctx: AuditContext) -> Iterator[Finding]:
    for app, unit, members, flows in nvas_to_endpoints(ctx).values():
        if (unit, members) not in untagged_units(app):
            continue
        pes = sorted({f.pe.name for f in flows})
        sources = sorted({source_label(f, ctx) for f in flows})
        untagged = [m for m in members if not app.nic_tags.get(m)]
        name = nva_name(ctx, unit)
        behind = f" behind load balancer {app.name} ({app.ip_text})" if len(app.units) > 1 or unit != app.id else \
            f" ({app.ip_text})"
        where = "its NIC" if untagged == [unit] and not unit.lower().split("/providers/")[-1].startswith(
            "microsoft.compute/virtualmachinescalesets") else ", ".join(sorted(ctx.estate.name_of(n) for n in untagged))
        yield ctx.finding(
            "NET002",
            unit,
            f"NVA {name}{behind} forwards traffic to private endpoints {', '.join(pes)} (from {'; '.join(sources)}) "
            f"with no disableSnatOnPL tag on {where} and no SNAT declared in the config file: replies from the "
            "private endpoints bypass it.",
            evidence=[Evidence("property", m, "tags.disableSnatOnPL", None, "tag absent") for m in untagged],
            related_ids=sorted({f.pe.id for f in flows} | {app.id}),
        )
