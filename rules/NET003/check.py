"""NET003: disableSnatOnPL tag present but not effective (https://learn.microsoft.com/azure/private-link/private-link-disable-snat)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from auditor.findings import Evidence, Finding
from auditor.ids import key
from auditor.paths.appliances import Appliance, TagFinding
from auditor.rules import remedy
from auditor.rules.context import AuditContext
from auditor.rules.pathutil import nva_name, nvas_to_endpoints


def unit_tags(app: Appliance, members: list[str]) -> tuple[list[TagFinding], list[TagFinding]] | None:
    """For one NVA (VM NIC or scale set) behind a next hop: None when this rule has nothing to say (an
    untagged member, which is NET002's; SNAT declared; an effective, unambiguous tag on every member),
    else (the tags that fail, the effective tags whose placement is ambiguous)."""
    if app.kind != "nva" or app.snat_declared:
        return None
    tagged = [app.nic_tags.get(m) or [] for m in members]
    if not all(tagged):
        return None
    failed = [t for tags in tagged if not any(x.effective for x in tags) for t in tags]
    if not failed and all(any(t.effective and not t.ambiguous for t in tags) for tags in tagged):
        return None
    ambiguous = [t for tags in tagged for t in tags if t.effective and t.ambiguous]
    return failed, ambiguous


def reports_tags(app: Appliance) -> bool:
    """Whether this rule reports on an appliance's tags (an NVA's failing or ambiguous ones, any on an
    Azure Firewall)."""
    if app.kind == "azure-firewall":
        return bool(app.tags)
    return any(unit_tags(app, members) is not None for members in app.units.values())


def check(ctx: AuditContext) -> Iterator[Finding]:
    for app, unit, members, flows in nvas_to_endpoints(ctx).values():
        judged = unit_tags(app, members)
        if judged is None:
            continue
        failed, ambiguous = judged
        pes = sorted({f.pe.id for f in flows})
        name = nva_name(ctx, unit)
        if ambiguous and not failed:
            t = ambiguous[0]
            yield ctx.finding(
                "NET003",
                unit,
                f"Scale-set NVA {name}: disableSnatOnPL=true is on {ctx.estate.name_of(t.resource_id)}; the "
                "documentation is ambiguous about scale-set placement (scale set vs instance), so the opt-in is "
                "claimed but not certain.",
                severity="low",
                evidence=[Evidence("property", t.resource_id, f"tags.{t.key}", t.value)],
                related_ids=pes,
            )
            continue
        problems = "; ".join(
            dict.fromkeys(f"{ctx.estate.name_of(t.resource_id)}: {t.problem}" for t in failed)
        )
        yield ctx.finding(
            "NET003",
            unit,
            f"NVA {name} carries a disableSnatOnPL tag that does not take effect ({problems}); replies from "
            "private endpoints still bypass it.",
            evidence=[
                Evidence("property", t.resource_id, f"tags.{t.key}", t.value, t.problem)
                for t in {(t.resource_id, t.key): t for t in failed}.values()
            ],
            related_ids=pes,
        )
    # Azure Firewall: the tag is not documented for it
    # (https://learn.microsoft.com/azure/private-link/private-link-disable-snat)
    seen: set[str] = set()
    for f in ctx.reported_flows:
        if f.outcome != "delivered":
            continue
        for app in f.tail.appliances:
            if app.kind == "azure-firewall" and app.tags and key(app.id) not in seen:
                seen.add(key(app.id))
                t = app.tags[0]
                yield ctx.finding(
                    "NET003",
                    app.id,
                    f"Azure Firewall {app.name} carries {t.key}={t.value!r}: {t.problem}.",
                    evidence=[Evidence("property", app.id, f"tags.{t.key}", t.value)],
                )


def fixes(finding: dict[str, Any], ctx: AuditContext) -> list[remedy.Fix]:
    """The tag goes on the NVA's NIC (or scale set) with the value `true`; on an Azure Firewall it has no
    effect, so it is removed (the firewall's own SNAT is NET004's)."""
    rid = finding["resource_id"]
    record = ctx.estate.records.get(rid.lower()) or {}
    present = sorted(k for k in (record.get("tags") or {}) if k.lower() == "disablesnatonpl")
    if rid.lower() in ctx.estate.firewalls or rid.lower() in ctx.estate.hub_nvas:
        return [
            remedy.Fix(
                title=f"remove the ineffective tag from {remedy.qualified_name(rid)}",
                changes=({"id": rid, "tags": dict.fromkeys(present), "reason": "NET003: tag has no effect"},),
                az=(remedy.untag_command(rid, present),) if present else (),
                side_effects=(
                    f"no flow changes: {remedy.qualified_name(rid)} does not read the tag (its SNAT is its own "
                    "configuration)",
                ),
            )
        ]
    wrong = [k for k in present if k != "disableSnatOnPL"]
    change: dict[str, Any] = {
        "id": rid,
        "tags": {**dict.fromkeys(wrong), "disableSnatOnPL": "true"},
        "reason": "NET003: tag not effective",
    }
    fix = remedy.opt_in([rid], remedy.qualified_name(rid), "NET003: tag not effective")
    # as the change set: the wrong-case keys deleted first (tag names are case-insensitive in Azure, so a
    # Merge alone may keep the old key's case), then the exact key merged
    delete = (remedy.untag_command(rid, wrong),) if wrong else ()
    return [
        remedy.Fix(
            title=f"{fix.title} (exact key and value)",
            changes=(change,),
            az=(*delete, *fix.az),
            bicep=fix.bicep,
            side_effects=fix.side_effects,
        )
    ]
