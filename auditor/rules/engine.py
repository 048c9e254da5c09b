"""Run every implemented rule of the catalog over an audit context."""

from __future__ import annotations

from auditor.catalog import Rule, implemented
from auditor.findings import Finding, NotAssessed
from auditor.rules.context import AuditContext


def evaluate(ctx: AuditContext, only: set[str] | None = None) -> tuple[list[Finding], list[NotAssessed]]:
    findings: list[Finding] = []
    not_assessed: list[NotAssessed] = []
    runnable: dict[str, Rule] = implemented(ctx.catalog)
    for rule_id, _rule in ctx.catalog.items():
        if only is not None and rule_id not in only:
            continue
        if rule_id not in runnable:
            not_assessed.append(NotAssessed(rule_id, "no check for this rule in this pathaudit version"))
            continue
        for item in runnable[rule_id].check()(ctx) or ():
            if isinstance(item, NotAssessed):
                not_assessed.append(item)
            else:
                item.fingerprint = item.compute_fingerprint()
                findings.append(item)
    findings.sort(key=Finding.sort_key)
    not_assessed.sort(key=lambda n: (n.rule_id, n.reason))
    return findings, not_assessed
