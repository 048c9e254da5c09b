"""Confirming a findings document: `confirm_document` gathers evidence for every flow finding.

The package docstring (auditor/confirm/__init__.py) describes the sources and the statuses; this
module holds the run itself: `ConfirmResult`, reading and checking the document (`load_findings`,
`check_document`), the evidence each source attaches and the recomputed summary.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from auditor.confirm.flows import FlowTarget, TargetSet, targets_from_document
from auditor.confirm.verdict import INCONCLUSIVE, REFUTED, Observation, Verdict, combine
from auditor.documents import document_problem
from auditor.errors import InputError
from auditor.exitcodes import decide, fails_doc
from auditor.findings import SEVERITIES
from auditor.ids import name_of
from auditor.problems import EXPORT_INCOMPLETE, FILE_NOT_READ, SCOPE_FAILED, VALUE_IGNORED, Problem, sort_key

EVIDENCE_KINDS_REPLACED = ("log", "pcap")


@dataclass
class ConfirmResult:
    document: dict[str, Any]
    problems: list[Problem] = field(default_factory=list)
    statuses: dict[int, str] = field(default_factory=dict)  # finding index -> new status
    reasons: dict[int, str] = field(default_factory=dict)  # finding index -> why

    def lines(self) -> list[str]:
        """One line per confirmed-stage finding, for stderr."""
        out = []
        for i, status in sorted(self.statuses.items()):
            f = self.document["findings"][i]
            flow = f.get("flow")
            flow = flow if isinstance(flow, dict) else {}
            example = flow.get("example")
            example = example if isinstance(example, dict) else {}
            name = name_of(str(example.get("destination") or f.get("resource_id", "")))
            total = flow.get("destinations_total")
            if isinstance(total, int) and total > 1:
                name += f" (+{total - 1} more)"
            src = name_of(str(example.get("source", "")))
            out.append(f"{f.get('rule_id')} {src} -> {name}: {status}: {self.reasons.get(i, '')}")
        return out

    @property
    def complete(self) -> bool:
        cov = self.document.get("coverage") or {}
        return bool(cov.get("complete", True)) and not self.problems

    def failing(self, fail_on: str) -> list[dict[str, Any]]:
        """Findings at/above `fail_on` that still stand: refuted and suppressed findings never fail."""
        return [f for f in self.document.get("findings", []) if fails_doc(f, fail_on)]

    def exit_code(self, fail_on: str, allow_incomplete: bool) -> int:
        return decide(
            unreadable=any(p.effect == FILE_NOT_READ for p in self.problems),
            failing=bool(self.failing(fail_on)),
            complete=self.complete,
            allow_incomplete=allow_incomplete,
        )


def load_findings(path: str | Path) -> dict[str, Any]:
    """A findings document from a file, or from standard input for `-`."""
    if str(path) == "-":
        import sys

        import orjson

        try:
            doc = orjson.loads(sys.stdin.buffer.read())
        except orjson.JSONDecodeError as exc:
            raise InputError(f"standard input: not valid JSON ({exc})") from None
        check_document(doc, "standard input")
        return doc
    from auditor.suppress import load_document

    return load_document(Path(path))


def check_document(doc: Any, name: str = "findings document") -> None:
    problem = document_problem(doc)
    if problem is not None:
        raise InputError(f"{name}: {problem}")


def _evidence(
    kind: str, ident: str, path: str | None, value: dict[str, Any], verdict: Verdict
) -> dict[str, Any]:
    value = {**value, "verdict": verdict.status}
    return {"kind": kind, "id": ident, "path": path, "value": value, "note": verdict.reason}


def _counts(obs: Observation) -> dict[str, Any]:
    from auditor.confirm.pcap import iso

    return {
        "forward": dict(sorted(obs.forward.items())),
        "reverse": dict(sorted(obs.reverse.items())),
        "first_seen": iso(obs.first_seen),
        "last_seen": iso(obs.last_seen),
        "samples": obs.samples,
        **({"snat": sorted(obs.snat)} if obs.snat else {}),
    }


def _pcap_evidence(scan: Any, target: FlowTarget) -> tuple[dict[str, Any], Verdict]:
    from auditor.confirm import pcap

    obs, v = pcap.assess(scan, target)
    value = {
        "capture": scan.summary(),
        "flow": target.describe(),
        "connections": {
            "answered": obs.answered,
            "unanswered": obs.unanswered,
            "pending": obs.pending,
            "replies_without_syn": obs.orphan_replies,
        },
        **_counts(obs),
    }
    if scan.notes:
        value["capture"]["notes"] = list(scan.notes)
    return _evidence("pcap", scan.path, target.bpf(), value, v), v


def _log_evidence(
    data: Any, target: FlowTarget, ident: str, path: str | None
) -> tuple[dict[str, Any], Verdict]:
    from auditor.confirm import logs
    from auditor.confirm.verdict import log_verdict

    obs = logs.observe(data, target)
    succeeded = [s for s in data.sources if s.get("status", "success") != "error"]
    if data.errors and not succeeded:
        v = Verdict(INCONCLUSIVE, "; ".join(data.errors))
    else:
        v = log_verdict(
            obs, target, flowtrace_rows=data.flowtrace_rows, partial=data.partial, where=data.label
        )
        if data.errors:
            v = Verdict(v.status, v.reason + " [" + "; ".join(data.errors) + "]")
    value: dict[str, Any] = {
        "sources": data.sources,
        "flow": target.describe(),
        "tables": dict(sorted(data.totals.items())),
        **_counts(obs),
    }
    if obs.other_firewall_rows:
        value["other_firewall_rows"] = obs.other_firewall_rows
    if data.notes:
        value["notes"] = list(data.notes)
    return _evidence("log", ident, path, value, v), v


def _summary(findings: list[dict[str, Any]]) -> dict[str, int]:
    summary = {s: 0 for s in SEVERITIES}
    suppressed = refuted = 0
    for f in findings:
        if f.get("suppression") is not None:
            suppressed += 1
        elif f.get("status") == REFUTED:
            refuted += 1
        else:
            sev = str(f.get("severity"))  # the schema check made it one of SEVERITIES
            summary[sev] = summary.get(sev, 0) + 1
    summary["suppressed"] = suppressed
    summary["refuted"] = refuted
    return summary


def confirm_document(
    doc: dict[str, Any],
    *,
    pcaps: list[str] | tuple[str, ...] = (),
    flow_traces: list[str] | tuple[str, ...] = (),
    workspace: str | None = None,
    timespan: str = "P1D",
    logs_client: Any = None,
    duckdb_memory_limit: str = "1GB",
    duckdb_temp_dir: str | None = None,
) -> ConfirmResult:
    """Confirm or refute every flow finding of `doc` (not modified; a copy is returned).

    `logs_client` is a LogsQueryClient (or anything with its `query_workspace`), required with
    `workspace`. Unreadable captures/exports raise InputError; query failures become evidence and
    coverage problems.
    """
    check_document(doc)
    if workspace:
        from auditor.confirm.loganalytics import parse_timespan

        parse_timespan(timespan)  # a usage error before any file is scanned
    out = copy.deepcopy(doc)
    findings = out["findings"]
    result = ConfirmResult(out)
    targets = targets_from_document(out)
    targeted = {t.index for t in targets}
    for i, f in enumerate(findings):
        if isinstance(f, dict) and isinstance(f.get("flow"), dict) and i not in targeted:
            result.problems.append(
                Problem(
                    None,
                    f.get("resource_id"),
                    "flow.destinations",
                    "flow destination is not an IPv4 address or prefix: not confirmed",
                    VALUE_IGNORED,
                )
            )
    tset = TargetSet.of(targets)
    per_target: dict[int, list[tuple[dict[str, Any], Verdict]]] = {t.index: [] for t in targets}

    if targets:
        from auditor.confirm.pcap import CaptureError, scan_capture

        for path in pcaps:
            try:
                scan = scan_capture(path, tset, display=str(path))
            except CaptureError as exc:
                raise InputError(str(exc)) from exc
            for t in targets:
                per_target[t.index].append(_pcap_evidence(scan, t))

        if flow_traces:
            from auditor.confirm.flowlogs import analyse_exports

            data = analyse_exports(
                list(flow_traces), tset, memory_limit=duckdb_memory_limit, temp_dir=duckdb_temp_dir
            )
            ident = (
                str(flow_traces[0])
                if len(flow_traces) == 1
                else "flow-trace exports: " + ", ".join(str(p) for p in flow_traces)
            )
            for t in targets:
                per_target[t.index].append(
                    _log_evidence(data, t, ident, "AZFWFlowTrace, AZFWNetworkRule rows")
                )

        if workspace:
            if logs_client is None:
                raise ValueError("confirm_document: workspace given without logs_client")
            from auditor.confirm.loganalytics import query_workspace

            data = query_workspace(logs_client, workspace, tset, timespan)
            for s in data.sources:
                if s.get("status") == "error":
                    result.problems.append(
                        Problem(
                            f"workspace:{workspace}",
                            None,
                            s["file"],
                            s.get("error", "query failed"),
                            SCOPE_FAILED,
                        )
                    )
                elif s.get("status") == "partial":
                    result.problems.append(
                        Problem(
                            f"workspace:{workspace}",
                            None,
                            s["file"],
                            "partial results: " + s.get("error", ""),
                            EXPORT_INCOMPLETE,
                        )
                    )
            path = ", ".join(s["file"] for s in data.sources)
            for t in targets:
                per_target[t.index].append(_log_evidence(data, t, f"workspace:{workspace}", path))

    for t in targets:
        items = per_target[t.index]
        verdict = combine([v for _, v in items])
        f = findings[t.index]
        kept = [e for e in f.get("evidence") or [] if e.get("kind") not in EVIDENCE_KINDS_REPLACED]
        new = [e for e, _ in items]
        if t.problems:
            for e in new:
                e["value"]["flow_problems"] = list(t.problems)
        f["evidence"] = kept + new
        f["status"] = verdict.status
        result.statuses[t.index] = verdict.status
        result.reasons[t.index] = verdict.reason

    cov = out.setdefault("coverage", {"complete": True, "skipped": [], "not_assessed": []})
    if result.problems:
        skipped = list(cov.get("skipped") or []) + [
            p.to_dict() for p in sorted(result.problems, key=sort_key)
        ]
        cov["skipped"] = skipped
        cov["complete"] = False
    out["summary"] = _summary(findings)
    return result
