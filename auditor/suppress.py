"""Suppressions (README, config file) and baselines: which findings are accepted, which are new.

Both only annotate findings; neither removes one. A suppressed finding stays in every output with
its `suppression` object, is counted under `summary.suppressed` instead of its severity and does not
fail the run. A baseline marks each finding `new` or `unchanged` (by fingerprint) and lists the
findings of the old document that are gone (`resolved`). See docs/conventions.md, "Suppressions and
baselines", for the document keys this adds and why they are optional.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import os
import stat
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from auditor.config import Suppression
from auditor.documents import document_problem
from auditor.errors import UsageError
from auditor.findings import SEVERITY_RANK, Finding
from auditor.ids import key

Clock = Callable[[], dt.date]


def suppression_dict(sup: Suppression) -> dict[str, Any]:
    return {
        "rule": sup.rule,
        "resource": sup.resource,
        "reason": sup.reason,
        "expires": sup.expires.isoformat(),
        "approved_by": sup.approved_by,
    }


def matches(sup: Suppression, rule_id: str, resource_id: str) -> bool:
    """Rule id compared exactly (case-insensitive); resource: fnmatch glob on the id, case-insensitive."""
    if sup.rule.strip().upper() != rule_id.upper():
        return False
    return fnmatch.fnmatchcase(key(resource_id), sup.resource.lower())


@dataclass(frozen=True, slots=True)
class SuppressionWarning:
    """An expired suppression (it no longer applies), or an active one that matches no finding (a typo in
    its rule or resource glob, or a fixed problem): the document says so."""

    suppression: Suppression
    matched: tuple[str, ...]  # fingerprints of the findings it would have suppressed
    kind: str = "suppression-expired"  # | suppression-unused

    @property
    def message(self) -> str:
        sup = self.suppression
        if self.kind == "suppression-unused":
            return (
                f"suppression of {sup.rule} for {sup.resource} matches no finding: check its rule id and "
                "resource glob, or remove it if the problem is fixed"
            )
        hit = f"{len(self.matched)} finding(s) now active" if self.matched else "it matches no finding"
        return (
            f"suppression of {sup.rule} for {sup.resource} expired {sup.expires.isoformat()}: "
            f"not applied ({hit}; reason was: {sup.reason})"
        )

    def to_dict(self) -> dict[str, Any]:
        sup = self.suppression
        return {
            "kind": self.kind,
            "rule_id": sup.rule,
            "resource": sup.resource,
            "expires": sup.expires.isoformat(),
            "message": self.message,
            "fingerprints": list(self.matched),
        }


def apply_suppressions(
    findings: Iterable[Finding], suppressions: Iterable[Suppression], today: dt.date | None = None
) -> list[SuppressionWarning]:
    """Annotate findings in place; return one warning per expired suppression (config order).

    The first active suppression (config order) that matches a finding wins. A suppression expires
    after its `expires` day (expires < today). Findings an expired suppression would have matched stay
    active and carry `suppression_expired` (unless an active suppression covers them anyway).
    """
    today = today or dt.date.today()
    sups = list(suppressions)
    active = [s for s in sups if s.expires >= today]
    expired = [s for s in sups if s.expires < today]
    hits: dict[int, list[str]] = {i: [] for i in range(len(expired))}
    used: set[int] = set()
    for f in findings:
        for n, sup in enumerate(active):
            if matches(sup, f.rule_id, f.resource_id):
                used.add(n)
                f.suppression = suppression_dict(sup)
                break
        for i, sup in enumerate(expired):
            if matches(sup, f.rule_id, f.resource_id):
                hits[i].append(f.fingerprint)
                if f.suppression is None and f.suppression_expired is None:
                    f.suppression_expired = suppression_dict(sup)
    return [
        *(SuppressionWarning(sup, tuple(sorted(hits[i]))) for i, sup in enumerate(expired)),
        *(SuppressionWarning(sup, (), "suppression-unused") for n, sup in enumerate(active) if n not in used),
    ]


# --- baselines ---------------------------------------------------------------------------------


def load_document(path: Path) -> dict[str, Any]:
    """Read a findings document (docs/findings.md); UsageError (exit 2) naming the file if it is not one."""
    import orjson

    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            raise UsageError(f"{path}: not a regular file (a FIFO or device): a findings document is a file")
        doc = orjson.loads(path.read_bytes())
    except OSError as exc:
        raise UsageError(f"{path}: cannot read ({exc.strerror})") from None
    except orjson.JSONDecodeError as exc:
        raise UsageError(f"{path}: not valid JSON ({exc})") from None
    problem = document_problem(doc)
    if problem is not None:
        raise UsageError(f"{path}: {problem}")
    return doc


def _resolved_entry(f: dict[str, Any]) -> dict[str, Any]:
    return {
        "fingerprint": f["fingerprint"],
        "rule_id": f["rule_id"],
        "severity": f["severity"],
        "resource_id": f["resource_id"],
    }


@dataclass(frozen=True, slots=True)
class Comparison:
    new: tuple[dict[str, Any], ...]
    unchanged: tuple[dict[str, Any], ...]
    resolved: tuple[dict[str, Any], ...]

    def summary(self) -> dict[str, Any]:
        """The optional `baseline` key of the findings document."""
        return {
            "new": len(self.new),
            "unchanged": len(self.unchanged),
            "resolved": [_resolved_entry(f) for f in self.resolved],
        }


def compare(old: dict[str, Any], new: dict[str, Any]) -> Comparison:
    """Findings of `new` split by whether `old` had the same fingerprint; `old` ones gone = resolved."""
    old_fps = {f["fingerprint"] for f in old["findings"]}
    new_fps = {f["fingerprint"] for f in new["findings"]}
    added = tuple(f for f in new["findings"] if f["fingerprint"] not in old_fps)
    same = tuple(f for f in new["findings"] if f["fingerprint"] in old_fps)
    gone = sorted(
        (f for f in old["findings"] if f["fingerprint"] not in new_fps),
        key=lambda f: (
            SEVERITY_RANK.get(f["severity"], 9),
            f["rule_id"],
            key(f["resource_id"]),
            f["fingerprint"],
        ),
    )
    return Comparison(added, same, tuple(gone))


def apply_baseline(findings: Iterable[Finding], old: dict[str, Any]) -> dict[str, Any]:
    """Mark findings new/unchanged in place; return the document's `baseline` summary."""
    findings = list(findings)
    old_fps = {f["fingerprint"] for f in old["findings"]}
    for f in findings:
        f.baseline = "unchanged" if f.fingerprint in old_fps else "new"
    current = {
        "findings": [
            {
                "fingerprint": f.fingerprint,
                "rule_id": f.rule_id,
                "severity": f.severity,
                "resource_id": f.resource_id,
            }
            for f in findings
        ]
    }
    return compare(old, current).summary()


def baseline_lines(baseline: dict[str, Any]) -> list[str]:
    """Human lines for stderr / table: counts, then every resolved finding."""
    resolved = baseline.get("resolved") or []
    lines = [
        f"baseline: {baseline.get('new', 0)} new, {baseline.get('unchanged', 0)} unchanged, "
        f"{len(resolved)} resolved"
    ]
    lines += [
        f"  resolved: {r['rule_id']} [{r['severity']}] {r['resource_id']} ({r['fingerprint']})"
        for r in resolved
    ]
    return lines
