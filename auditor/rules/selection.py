"""Which rules run and which findings are reported: `--rule`, `--skip-rule` and `--severity`.

`--rule` and `--skip-rule` decide which rules are evaluated; a rule skipped with `--skip-rule` is listed
under `coverage.not_assessed` with the reason "skipped with --skip-rule", so no output calls the
estate clean for a rule that never ran. `--severity LEVEL` is the minimum severity *reported*: a
finding below it is left out of every output and of the exit decision, and the document's `filters`
block says how many were left out (docs/findings.md), so a reader knows the list is not everything.
The same selection applies to `pathaudit audit` (before rendering) and to `pathaudit report` (on a
saved document).
"""

from __future__ import annotations

import copy
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from auditor.catalog import Rule, canonical_rule_ids
from auditor.errors import UsageError
from auditor.findings import SEVERITIES, SEVERITY_RANK, NotAssessed

SKIPPED_REASON = "skipped with --skip-rule"


@dataclass(frozen=True)
class Selection:
    only: frozenset[str] | None = None  # --rule: None = every rule of the catalog
    skip: tuple[str, ...] = ()  # --skip-rule, as the catalog spells the ids, sorted
    severity: str | None = None  # --severity: the least severe severity reported
    left_out: dict[str, int] = field(default_factory=dict, compare=False)  # severity -> findings left out

    @classmethod
    def resolve(
        cls,
        catalog: dict[str, Rule],
        only: Iterable[str] | None = None,
        skip: Iterable[str] = (),
        severity: str | None = None,
    ) -> Selection:
        """Rule ids checked against the catalog (unknown ones are a usage error naming them)."""
        rules = frozenset(canonical_rule_ids(sorted(only), catalog, "--rule")) if only is not None else None
        skipped = tuple(sorted(set(canonical_rule_ids(sorted(skip), catalog, "--skip-rule"))))
        if severity is not None and severity not in SEVERITY_RANK:
            raise UsageError(f"--severity {severity!r}: choose from {', '.join(SEVERITIES)}")
        if skipped:
            remaining = (rules if rules is not None else frozenset(catalog)) - set(skipped)
            if not remaining:
                named = "every rule --rule names" if rules is not None else "every rule of the catalog"
                raise UsageError(f"--skip-rule skips {named}: nothing would be evaluated")
        return cls(rules, skipped, severity)

    @property
    def active(self) -> bool:
        return bool(self.skip) or self.severity is not None

    def running(self, catalog: dict[str, Rule]) -> set[str] | None:
        """The rule ids to evaluate (None: all), for auditor.rules.engine.evaluate."""
        if not self.skip:
            return set(self.only) if self.only is not None else None
        base = self.only if self.only is not None else frozenset(catalog)
        return set(base) - set(self.skip)

    def not_assessed(self, catalog: dict[str, Rule]) -> list[NotAssessed]:
        """The skipped rules that would otherwise have run."""
        base = self.only if self.only is not None else frozenset(catalog)
        return [NotAssessed(rid, SKIPPED_REASON) for rid in self.skip if rid in base]

    def reports(self, rule_id: str, severity: str) -> bool:
        """Whether a finding of this rule and severity is reported."""
        if rule_id in self.skip:
            return False
        if self.severity is None:
            return True
        return SEVERITY_RANK.get(severity, len(SEVERITIES)) <= SEVERITY_RANK[self.severity]

    def leaving_out(self, severities: Iterable[str]) -> Selection:
        """This selection with the severities of the findings --severity left out counted."""
        return replace(self, left_out=dict(Counter(severities)))

    def echo(self) -> dict[str, Any] | None:
        """The document's optional `filters` block: present only when --severity or --skip-rule was given."""
        if not self.active:
            return None
        out: dict[str, Any] = {"severity": self.severity, "skip_rules": list(self.skip)}
        if self.severity is not None:
            out["left_out"] = {s: self.left_out.get(s, 0) for s in SEVERITIES if not self.reports("", s)}
        return out

    def lines(self, saved: bool = False) -> list[str]:
        """What the selection left out, for standard error (never a silent "clean"); `saved`: from a saved
        document (`pathaudit report`), where the skipped rules did run but their findings are left out."""
        out = []
        if self.skip:
            what = "findings left out" if saved else "not evaluated"
            out.append(f"{what} (--skip-rule): {', '.join(self.skip)}")
        if self.severity is not None:
            total = sum(self.left_out.values())
            if total:
                parts = ", ".join(f"{self.left_out[s]} {s}" for s in SEVERITIES if self.left_out.get(s))
                out.append(
                    f"--severity {self.severity}: {total} finding(s) below {self.severity} left out ({parts})"
                )
        return out

    def filter_document(self, document: dict[str, Any]) -> dict[str, Any]:
        """A saved findings document with this selection applied (`pathaudit report`): findings left out,
        summary and baseline counts recomputed, skipped rules under coverage.not_assessed, `filters` set."""
        if not self.active:
            return document
        doc = copy.copy(document)
        kept: list[dict[str, Any]] = []
        dropped: list[dict[str, Any]] = []
        for f in document["findings"]:
            (kept if self.reports(f["rule_id"], f["severity"]) else dropped).append(f)
        left_out = Counter(f["severity"] for f in dropped if f["rule_id"] not in self.skip)
        summary = dict(document["summary"])
        for f in dropped:
            if f.get("suppression") is not None:
                key = "suppressed"
            elif "refuted" in summary and f.get("status") == "refuted":
                key = "refuted"
            else:
                key = f["severity"]
            summary[key] = max(0, summary.get(key, 0) - 1)
        doc["findings"] = kept
        doc["summary"] = summary
        coverage = dict(document["coverage"])
        known = {(n["rule_id"], n["reason"]) for n in coverage["not_assessed"]}
        added = [
            {"rule_id": rid, "reason": SKIPPED_REASON}
            for rid in self.skip
            if (rid, SKIPPED_REASON) not in known
        ]
        coverage["not_assessed"] = sorted(
            [*coverage["not_assessed"], *added], key=lambda n: (n["rule_id"], n["reason"])
        )
        doc["coverage"] = coverage
        if isinstance(document.get("baseline"), dict):
            baseline: dict[str, Any] = dict(document["baseline"])
            baseline["new"] = sum(1 for f in kept if f.get("baseline") == "new")
            baseline["unchanged"] = sum(1 for f in kept if f.get("baseline") == "unchanged")
            baseline["resolved"] = [
                r for r in baseline.get("resolved") or [] if self.reports(r["rule_id"], r["severity"])
            ]
            doc["baseline"] = baseline
        previous = document.get("filters") or {}
        severity = self.severity
        if previous.get("severity") in SEVERITY_RANK and (
            severity is None or SEVERITY_RANK[previous["severity"]] < SEVERITY_RANK[severity]
        ):
            severity = previous["severity"]  # what an earlier filter left out cannot come back
        merged = Selection(
            self.only,
            tuple(sorted({*self.skip, *(previous.get("skip_rules") or [])})),
            severity,
            dict(left_out + Counter(previous.get("left_out") or {})),
        )
        doc["filters"] = merged.echo()
        return doc

    def filter_baseline(self, old: dict[str, Any]) -> dict[str, Any]:
        """An older document compared with this run: its findings this run would not report are left out
        too, so a finding --severity or --skip-rule hides is never called "resolved"."""
        if not self.active:
            return old
        doc = copy.copy(old)
        doc["findings"] = [f for f in old["findings"] if self.reports(f["rule_id"], f["severity"])]
        return doc
