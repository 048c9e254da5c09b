"""Exit codes (README, exit codes), decided in one place for every command."""

from __future__ import annotations

from typing import Any

from auditor.findings import SEVERITY_RANK

OK, FINDINGS, USAGE, INCOMPLETE = 0, 1, 2, 3


def fails(severity: str, status: str, suppressed: bool, fail_on: str, unchanged: bool = False) -> bool:
    """An active finding at or above `fail_on`: suppressed, refuted and baseline-unchanged ones never fail."""
    if fail_on == "never" or suppressed or status == "refuted" or unchanged:
        return False
    return SEVERITY_RANK.get(severity, 9) <= SEVERITY_RANK[fail_on]


def fails_doc(f: dict[str, Any], fail_on: str) -> bool:
    """`fails` for a finding in document (dict) form."""
    return fails(
        f.get("severity", ""),
        f.get("status", ""),
        f.get("suppression") is not None,
        fail_on,
        f.get("baseline") == "unchanged",
    )


def decide(*, unreadable: bool, failing: bool, complete: bool, allow_incomplete: bool) -> int:
    """2 unreadable input, 1 failing findings, 3 incomplete coverage (unless allowed), else 0."""
    if unreadable:
        return USAGE
    if failing:
        return FINDINGS
    if not complete and not allow_incomplete:
        return INCOMPLETE
    return OK
