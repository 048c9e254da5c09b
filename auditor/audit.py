"""The audit pipeline: ingest (or live collection) -> estate -> rule evaluation -> findings document.

`run_audit` is the one function `pathaudit audit` calls; everything it returns is data, rendering
happens in `auditor.report`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from auditor import __version__
from auditor.catalog import Rule, canonical_rule_ids, load_catalog
from auditor.collect.progress import Reporter
from auditor.config import Config
from auditor.documents import FINDINGS_SCHEMA
from auditor.errors import InputError, UsageError
from auditor.estate import Estate, build_estate
from auditor.exitcodes import decide, fails
from auditor.findings import SEVERITIES, Finding, NotAssessed
from auditor.gcpause import gc_paused
from auditor.ingest.files import RawInputs, read_inputs
from auditor.packaged import demo_dir
from auditor.problems import EXPORT_INCOMPLETE, FILE_NOT_READ, Problem, sort_key
from auditor.rules.context import AuditContext
from auditor.rules.engine import evaluate
from auditor.rules.selection import Selection

if TYPE_CHECKING:
    from auditor.paths.analysis import FlowAnalysis


def demo_inputs() -> tuple[list[Path], dict[Path, str]]:
    """The bundled demo estate and the stable names its files carry in outputs (wherever it is installed)."""
    demo = demo_dir()
    display = {
        f: f"bundled:demo-contoso/{f.relative_to(demo).as_posix()}" for f in sorted(demo.rglob("*.json"))
    }
    return [demo], display


def select_inputs(
    paths: list[Path], demo: bool, command: str, *, live: bool = False
) -> tuple[list[Path], dict[Path, str]]:
    """The INPUT arguments, or the bundled demo estate with --demo (never both, never neither)."""
    if demo and paths:
        raise UsageError("--demo uses the bundled demo estate: give no INPUT with it")
    if demo:
        return demo_inputs()
    if not paths:
        example = " (pathaudit audit estate/)" if command == "audit" else ""
        live_hint = ", --live to collect from Azure," if live else ""
        raise UsageError(
            f"no INPUT given: name exported estate files or folders{example}{live_hint} "
            f"or --demo for the bundled demo estate"
        )
    return paths, {}


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
    # --rule / --skip-rule / --severity, with what --severity left out (the document's `filters`)
    selection: Selection = field(default_factory=Selection)

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
    filters = result.selection.echo()
    if filters is not None:
        doc["filters"] = filters
    if result.warnings:
        doc["warnings"] = [w.to_dict() for w in result.warnings]
    if result.baseline is not None:
        doc["baseline"] = result.baseline
    return doc


def preflight(
    formats: Sequence[str],
    out: Path | None,
    *,
    bundle: Path | None = None,
    rules: Iterable[str] | None = None,
    skip: Iterable[str] = (),
    severity: str | None = None,
) -> None:
    """What the command line asks that can be checked before any work (exit 2 at once, one line): the
    formats against --out, a destination that cannot be written, unknown rule ids."""
    from auditor.report.destination import check_destination, writes_folder
    from auditor.report.outputs import plan

    skip = tuple(skip)
    if rules is not None or skip or severity is not None:
        Selection.resolve(load_catalog(), rules, skip, severity)
    plan(list(formats), out)
    if out is not None:
        check_destination(out, "--out", folder=writes_folder(formats, out))
    if bundle is not None:
        check_destination(bundle, "--bundle", folder=False)


def filter_document(
    document: dict[str, Any], skip: Iterable[str] = (), severity: str | None = None
) -> tuple[dict[str, Any], list[str]]:
    """`pathaudit report --skip-rule/--severity`: the saved document with the selection applied, and the
    lines saying what it left out (auditor.rules.selection)."""
    selection = Selection.resolve(load_catalog(), None, skip, severity)
    if not selection.active:
        return document, []
    filtered = selection.filter_document(document)
    left_out = (filtered.get("filters") or {}).get("left_out") or {}
    before = (document.get("filters") or {}).get("left_out") or {}
    now = {s: left_out.get(s, 0) - before.get(s, 0) for s in left_out}
    return filtered, Selection(None, selection.skip, selection.severity, now).lines(saved=True)


def load_estate(inputs: list[Path], display: dict[Path, str] | None = None) -> Estate:
    raw: RawInputs = read_inputs(inputs, display)
    return build_estate(raw)


def load_query_estate(inputs: list[Path], display: dict[Path, str] | None = None) -> Estate:
    """The estate `trace` and `routes` answer from: an input named on the command line that cannot be
    read stops them (exit 2, the file named), since an answer from the other files could be wrong."""
    estate = load_estate(inputs, display)
    unread = sorted((p for p in estate.problems if p.effect == FILE_NOT_READ), key=sort_key)
    if unread:
        more = f" (and {len(unread) - 1} more input(s) not read)" if len(unread) > 1 else ""
        raise InputError(f"{unread[0].file}: {unread[0].problem}{more}")
    return estate


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


def drop_left_out(assessed: dict[str, list[str]], left_out: list[Finding]) -> None:
    """A resource whose finding --severity left out is not listed as assessed either: JUnit would
    otherwise show it as a passing case."""
    gone: dict[str, set[str]] = {}
    for f in left_out:
        gone.setdefault(f.rule_id, set()).add(f.resource_id.lower())
    for rid, ids in gone.items():
        if rid in assessed:
            assessed[rid] = [i for i in assessed[rid] if i.lower() not in ids]


def run_audit(
    inputs: list[Path],
    config: Config,
    display: dict[Path, str] | None = None,
    only: set[str] | None = None,
    *,
    today: dt.date | None = None,
    baseline: dict[str, Any] | None = None,
    skip: Iterable[str] = (),
    severity: str | None = None,
    progress: Reporter | None = None,
    estate: Estate | None = None,
    on_analysis: Callable[[FlowAnalysis], None] | None = None,
) -> AuditResult:
    """`today` decides which suppressions have expired (default: the local date); `baseline` is an
    older findings document to mark findings new/unchanged against. `only` / `skip` are --rule /
    --skip-rule, `severity` the --severity minimum (auditor.rules.selection); `progress` hears about
    each stage (auditor.collect.progress.stage_reporter); `on_analysis` sees the flow analysis before
    the rules do (whatif hands it the walks of the audit before a change: auditor.paths.reuse)."""
    from auditor.suppress import apply_baseline, apply_suppressions

    progress = progress or Reporter()
    catalog = load_catalog()
    selection = Selection.resolve(catalog, only, skip, severity)
    running = selection.running(catalog)
    canonical_rule_ids(
        [s.rule for s in config.suppressions], catalog, f"{config.path or 'config'}: [[suppressions]] rule"
    )
    progress.phase(f"loading {len(inputs)} input(s)")
    if estate is None:  # `whatif` builds its estates itself, from one read of the inputs
        estate = load_estate(inputs, display)
    with gc_paused():  # see auditor.gcpause: the rules and the catalog lost a fifth to collections
        ctx = AuditContext(estate=estate, config=config, catalog=catalog, on_analysis=on_analysis)
        ctx.only = running
        if any(rule.flows for rule in ctx.running.values()):
            # what the path rules would compute on first use anyway, here so the display can name it
            progress.phase(f"routing: {len(estate.subnets)} subnets")
            ctx.flows  # noqa: B018 - the routing model and the appliances, computed once for the rules
            progress.phase(f"flow analysis: {len(estate.private_endpoints)} private endpoints")
            ctx.reported_flows  # noqa: B018 - computed and memoised for the rules
        progress.phase(f"evaluating {len(ctx.running)} rules")
        findings, not_assessed = evaluate(ctx, running)
        not_assessed = sorted(
            [*not_assessed, *selection.not_assessed(catalog)], key=lambda n: (n.rule_id, n.reason)
        )
        estate.problems.extend(ctx.analysis_gaps())
        warnings = [
            w
            for w in apply_suppressions(findings, config.suppressions, today)
            if w.kind != "suppression-unused"
            or running is None
            or canonical_id(w.suppression.rule, catalog) in running
        ]
        left_out = [f for f in findings if not selection.reports(f.rule_id, f.severity)]
        if left_out:
            findings = [f for f in findings if selection.reports(f.rule_id, f.severity)]
        selection = selection.leaving_out(f.severity for f in left_out)
        summary = (
            apply_baseline(findings, selection.filter_baseline(baseline)) if baseline is not None else None
        )
        assessed = assessed_resources(estate, catalog, not_assessed, running)
        nothing_assessed = not any(assessed.values())
        drop_left_out(assessed, left_out)
        if nothing_assessed and not estate.problems:  # an unreadable input already says why
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
        return AuditResult(
            estate, findings, not_assessed, catalog, config, assessed, warnings, summary, ctx, selection
        )


def canonical_id(rule_id: str, catalog: dict[str, Rule]) -> str:
    """A rule id as the catalog spells it (ids compare case-insensitively)."""
    return next((rid for rid in catalog if rid.lower() == rule_id.strip().lower()), rule_id)
