"""Coverage problems: everything pathaudit could not read or use, reported in every output.

A security tool never reports "clean" on partial data (README, exit codes), so each problem makes coverage
incomplete and is listed under `coverage.skipped` with enough detail to find it: file, resource,
field, what was wrong and what pathaudit did about it.
"""

from __future__ import annotations

from dataclasses import dataclass

from auditor.ids import key

# What pathaudit did about a problem.
FILE_NOT_READ = "file not read"
ENTRY_SKIPPED = "directory entry not read"  # inside a directory the user named: incomplete, not unusable
RESOURCE_SKIPPED = "resource skipped"
VALUE_IGNORED = "value ignored"
CONFLICT = "conflicting copies"
EXPORT_INCOMPLETE = "export incomplete"
SCOPE_FAILED = "scope not collected"
UNRESOLVED = "decided nothing (unresolved)"
MISSING = "referenced resource missing"
ASSUMED = "assumed"


@dataclass(frozen=True, slots=True)
class Problem:
    file: str | None
    resource_id: str | None
    field: str | None
    problem: str
    effect: str

    def line(self) -> str:
        where = ", ".join(
            part
            for part in (
                self.file,
                f"resource {self.resource_id}" if self.resource_id else None,
                f"field {self.field}" if self.field else None,
            )
            if part
        )
        return f"{where}: {self.problem} ({self.effect})"

    def to_dict(self) -> dict[str, str | None]:
        return {
            "file": self.file,
            "resource_id": self.resource_id,
            "field": self.field,
            "problem": self.problem,
            "effect": self.effect,
        }


def sort_key(p: Problem) -> tuple[str, str, str, str, str]:
    return (p.file or "", key(p.resource_id or ""), p.field or "", p.problem, p.effect)
