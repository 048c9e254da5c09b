"""Findings as docs/findings.md defines them, with stable fingerprints and the canonical sort order."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from auditor.ids import key

SEVERITIES = ("high", "medium", "low", "info")
SEVERITY_RANK = {s: i for i, s in enumerate(SEVERITIES)}
STATUSES = ("suspected", "confirmed", "refuted", "inconclusive")


@dataclass(slots=True)
class Evidence:
    kind: str  # property | route | log | pcap | path
    id: str
    path: str | None = None
    value: Any = None
    note: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind, "id": self.id, "path": self.path, "value": self.value}
        if self.note is not None:
            out["note"] = self.note
        return out


@dataclass(slots=True)
class Finding:
    rule_id: str
    severity: str
    status: str
    resource_id: str
    title: str
    message: str
    remediation: str
    related_ids: list[str] = field(default_factory=list)
    evidence: list[Evidence] = field(default_factory=list)
    flow: dict[str, Any] | None = None
    suppression: dict[str, Any] | None = None
    fingerprint: str = ""
    # optional annotations (auditor.suppress), emitted only when set: docs/conventions.md
    suppression_expired: dict[str, Any] | None = None
    baseline: str | None = None  # "new" | "unchanged" with --baseline
    # what else, beside the resource, makes this finding one misconfigured object (NET001: the appliance;
    # NET008: the hub). Not emitted: it only feeds the fingerprint
    key: tuple[str, ...] = ()

    def compute_fingerprint(self) -> str:
        """Stable across runs, input shapes and estate growth: the rule id and the grouping key (the
        resource and `key`, lower-cased), never the sources or destinations a finding lists, so a new
        spoke behind the same route table leaves the fingerprint of its finding alone."""
        parts = [self.rule_id, key(self.resource_id), *(key(k) for k in self.key)]
        return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]

    def sort_key(self) -> tuple[int, str, str, str]:
        return (SEVERITY_RANK.get(self.severity, 9), self.rule_id, key(self.resource_id), self.fingerprint)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "rule_id": self.rule_id,
            "severity": self.severity,
            "status": self.status,
            "resource_id": self.resource_id,
            "related_ids": sorted(set(self.related_ids), key=str.lower),
            "title": self.title,
            "message": self.message,
        }
        if self.flow is not None:
            out["flow"] = self.flow
        out["evidence"] = [e.to_dict() for e in self.evidence]
        out["remediation"] = self.remediation
        out["fingerprint"] = self.fingerprint
        out["suppression"] = self.suppression
        if self.suppression_expired is not None:
            out["suppression_expired"] = self.suppression_expired
        if self.baseline is not None:
            out["baseline"] = self.baseline
        return out


@dataclass(frozen=True, slots=True)
class NotAssessed:
    """A rule that could not be evaluated on this estate (e.g. AOAI005 without a gateway)."""

    rule_id: str
    reason: str

    def to_dict(self) -> dict[str, str]:
        return {"rule_id": self.rule_id, "reason": self.reason}
