"""Run the rules of the catalog (one folder each, auditor.catalog) over an audit context."""

from __future__ import annotations

from auditor.findings import Evidence, Finding, NotAssessed
from auditor.ids import key
from auditor.problems import MISSING
from auditor.rules.context import AuditContext


def evaluate(ctx: AuditContext, only: set[str] | None = None) -> tuple[list[Finding], list[NotAssessed]]:
    findings: list[Finding] = []
    not_assessed: list[NotAssessed] = []
    ctx.only = set(only) if only is not None else None
    gaps: dict[str, list] = {}
    for p in ctx.estate.problems:
        if p.effect == MISSING and p.resource_id:
            gaps.setdefault(key(p.resource_id), []).append(p)
    for rule in ctx.running.values():
        for item in rule.check()(ctx) or ():
            if isinstance(item, NotAssessed):
                not_assessed.append(item)
            else:
                item.fingerprint = item.compute_fingerprint()
                item.related_ids = related_ids(item)
                scrub_finding(item)
                for rid in (item.resource_id, *item.related_ids):
                    for p in gaps.get(key(rid), ()):
                        item.evidence.append(Evidence("unresolved", p.resource_id, p.field, None, p.problem))
                findings.append(item)
    findings.sort(key=Finding.sort_key)
    not_assessed.sort(key=lambda n: (n.rule_id, n.reason))
    return findings, not_assessed


def named_ids(value: object, out: set[str]) -> None:
    """Every Azure resource id a finding's flow or evidence names, at any depth."""
    if isinstance(value, str):
        if value.startswith("/subscriptions/") and "/providers/" in value.lower():
            out.add(value)
    elif isinstance(value, dict):
        for v in value.values():
            named_ids(v, out)
    elif isinstance(value, (list, tuple)):
        for v in value:
            named_ids(v, out)


def related_ids(finding: Finding) -> list[str]:
    """`related_ids` holds every resource the flow or the evidence names besides the primary one, so a
    consumer never parses messages (computed after the fingerprint, which keeps its own key)."""
    found: set[str] = set(finding.related_ids)
    named_ids(finding.flow, found)
    named_ids([(e.id, e.value) for e in finding.evidence], found)
    primary = key(finding.resource_id)
    seen: dict[str, str] = {}
    for rid in sorted(found):
        if key(rid) != primary:
            seen.setdefault(key(rid), rid)
    return sorted(seen.values(), key=str.lower)


def scrub_finding(finding: Finding) -> None:
    """Secret-looking values (a SAS URL in a tag, a connection string) never reach an output: the
    message and evidence values are scrubbed (auditor.collect.redact) before anything renders them."""
    from auditor.collect.redact import redact, scrub_text

    finding.message = scrub_text(finding.message)
    for e in finding.evidence:
        if e.value is not None:
            e.value = redact(e.value)[0]
        if e.note:
            e.note = scrub_text(e.note)
