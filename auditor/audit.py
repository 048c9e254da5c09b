"""The audit pipeline: ingest (or live collection) -> estate -> rule evaluation -> findings document.

`run_audit` is the one function `pathaudit audit` calls; everything it returns is data, rendering
happens in `auditor.report`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from auditor import __version__
from auditor.catalog import Rule, canonical_rule_ids, load_catalog
from auditor.config import Config
from auditor.documents import FINDINGS_SCHEMA
from auditor.estate import Estate, build_estate
from auditor.exitcodes import decide, fails
from auditor.findings import SEVERITIES, Finding, NotAssessed
from auditor.gcpause import gc_paused
from auditor.ingest.files import RawInputs, read_inputs
from auditor.packaged import demo_dir
from auditor.problems import EXPORT_INCOMPLETE, FILE_NOT_READ, Problem, sort_key
from auditor.rules.context import AuditContext
from auditor.rules.engine import evaluate


def demo_inputs() -> tuple[list[Path], dict[Path, str]]:
    """The bundled demo estate and the stable names its files carry in outputs (wherever it is installed)."""
    demo = demo_dir()
    display = {
        f: f"bundled:demo-contoso/{f.relative_to(demo).as_posix()}" for f in sorted(demo.rglob("*.json"))
    }
    return [demo], display


@dataclass
class AuditResult:
    estate: Estate
    findings: list[Finding]
    not_assessed: list[NotAssessed]
    catalog: dict[str, Rule]
    config: Config
    # rule id -> ids of the estate resources of the rule's resource_types (JUnit pass/fail cases);
    # rules not evaluated or not assessed are absent. Not part of the findings document.
    assessed: dict[str, list[str]] = field(default_factory=dict)
    # expired suppressions (auditor.suppress.SuppressionWarning) and the --baseline summary
    warnings: list[Any] = field(default_factory=list)
    baseline: dict[str, Any] | None = None
    context: AuditContext | None = None  # the rules' context: its flow analysis feeds --format flows

    def flow_rows(self, document: dict[str, Any]) -> Iterator[tuple[Any, ...]]:
        """Every analysed flow as a row (auditor.paths.export), each with the finding that covers it."""
        from auditor.paths.export import flow_rows
        from auditor.report.flows import covering

        ctx = self.context or AuditContext(estate=self.estate, config=self.config, catalog=self.catalog)
        return flow_rows(ctx.flows, covering(document))

    @property
    def problems(self) -> list[Problem]:
        return sorted(self.estate.problems, key=sort_key)

    @property
    def complete(self) -> bool:
        return not self.estate.problems

    @property
    def unreadable(self) -> list[Problem]:
        return [p for p in self.problems if p.effect == FILE_NOT_READ]

    def failing(self, fail_on: str) -> list[Finding]:
        return [
            f
            for f in self.findings
            if fails(f.severity, f.status, f.suppression is not None, fail_on, f.baseline == "unchanged")
        ]

    def exit_code(self, fail_on: str, allow_incomplete: bool) -> int:
        return decide(
            unreadable=bool(self.unreadable),
            failing=bool(self.failing(fail_on)),
            complete=self.complete,
            allow_incomplete=allow_incomplete,
        )

    def document(self) -> dict[str, Any]:
        return findings_document(self)


def estate_sha256(estate: Estate) -> str:
    """Hash of the canonicalised estate: one record per id, sorted, keys sorted.

    Canonical records are shape-independent (normalize.canonical), so the same estate exported as
    Resource Graph rows, an ARM array or az CLI output hashes the same.
    """
    digest = hashlib.sha256()
    for key in sorted(estate.records):
        digest.update(orjson.dumps(estate.records[key], option=orjson.OPT_SORT_KEYS))
        digest.update(b"\n")
    for nic in sorted(estate.effective_routes):
        digest.update(orjson.dumps({nic: estate.effective_routes[nic]}, option=orjson.OPT_SORT_KEYS))
    return digest.hexdigest()


def findings_document(result: AuditResult) -> dict[str, Any]:
    with gc_paused():  # it hashes the whole estate (auditor.gcpause)
        return _findings_document(result)


def _findings_document(result: AuditResult) -> dict[str, Any]:
    estate = result.estate
    summary = {s: 0 for s in SEVERITIES}
    suppressed = 0
    for f in result.findings:
        if f.suppression is not None:
            suppressed += 1
        else:
            summary[f.severity] = summary.get(f.severity, 0) + 1
    summary["suppressed"] = suppressed
    doc = {
        "schema": FINDINGS_SCHEMA,
        "tool": {"name": "pathaudit", "version": __version__},
        "estate": {
            "sha256": estate_sha256(estate),
            "collected_at": estate.collected_at,
            "resources": estate.resource_count,
            "inputs": list(estate.inputs),
        },
        "coverage": {
            "complete": result.complete,
            "skipped": [p.to_dict() for p in result.problems],
            "not_assessed": [n.to_dict() for n in result.not_assessed],
        },
        "summary": summary,
        "findings": [f.to_dict() for f in result.findings],
    }
    # optional keys (docs/conventions.md "Suppressions and baselines"): present only when they say something
    echo = result.config.echo()
    if echo is not None:
        doc["config"] = echo
    if result.warnings:
        doc["warnings"] = [w.to_dict() for w in result.warnings]
    if result.baseline is not None:
        doc["baseline"] = result.baseline
    return doc


def load_estate(inputs: list[Path], display: dict[Path, str] | None = None) -> Estate:
    raw: RawInputs = read_inputs(inputs, display)
    return build_estate(raw)


def assessed_resources(
    estate: Estate, catalog: dict[str, Rule], not_assessed: list[NotAssessed], only: set[str] | None
) -> dict[str, list[str]]:
    """Per evaluated rule, the ids (as found in the input) of the estate resources of its resource_types."""
    # one sort of every record, then a filter per rule: a sort per rule cost ~0.3 s at 24k records
    records = estate.records  # keyed by lower-case id: key order is (id.lower(), id) order
    ordered = [(rec["type"].lower(), rec["id"]) for rec in (records[k] for k in sorted(records))]
    skipped = {n.rule_id for n in not_assessed}
    out: dict[str, list[str]] = {}
    for rid, rule in catalog.items():
        if (only is not None and rid not in only) or rid in skipped:
            continue
        types = {t.lower() for t in rule.resource_types}
        out[rid] = [i for t, i in ordered if t in types]
    return out


def run_audit(
    inputs: list[Path],
    config: Config,
    display: dict[Path, str] | None = None,
    only: set[str] | None = None,
    *,
    today: dt.date | None = None,
    baseline: dict[str, Any] | None = None,
) -> AuditResult:
    """`today` decides which suppressions have expired (default: the local date); `baseline` is an
    older findings document to mark findings new/unchanged against."""
    from auditor.suppress import apply_baseline, apply_suppressions

    catalog = load_catalog()
    if only is not None:
        only = set(canonical_rule_ids(sorted(only), catalog, "--rule"))
    canonical_rule_ids(
        [s.rule for s in config.suppressions], catalog, f"{config.path or 'config'}: [[suppressions]] rule"
    )
    estate = load_estate(inputs, display)
    with gc_paused():  # see auditor.gcpause: the rules and the catalog lost a fifth to collections
        ctx = AuditContext(estate=estate, config=config, catalog=catalog)
        findings, not_assessed = evaluate(ctx, only)
        estate.problems.extend(ctx.analysis_gaps())
        warnings = apply_suppressions(findings, config.suppressions, today)
        summary = apply_baseline(findings, baseline) if baseline is not None else None
        assessed = assessed_resources(estate, catalog, not_assessed, only)
        if not any(assessed.values()) and not estate.problems:  # an unreadable input already says why
            estate.problems.append(
                Problem(
                    None,
                    None,
                    None,
                    "the input holds no resource that any rule assesses (an "
                    "empty export, the wrong subscription, or a query that returned nothing): "
                    "nothing was audited",
                    EXPORT_INCOMPLETE,
                )
            )
        return AuditResult(estate, findings, not_assessed, catalog, config, assessed, warnings, summary, ctx)
