"""JUnit XML in the classic `testsuites/testsuite/testcase/failure|skipped` shape (Jenkins, GitLab,
Azure DevOps `PublishTestResults@2` with `testResultsFormat: JUnit`).

One testsuite per rule, one testcase per assessed resource (classname `pathaudit.<RULE>`, name = the
resource id): failure when an active finding names it, skipped when every finding on it is suppressed
or the resource itself was skipped, pass otherwise. With `assessed` unknown (`pathaudit report` on a
saved document) a rule gets its failing testcases plus one passing testcase standing for the rest.
Rules not assessed are one skipped testcase each. No timestamps or host names: same input, same bytes.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from typing import Any

from auditor.catalog import Rule
from auditor.findings import SEVERITY_RANK
from auditor.problems import RESOURCE_SKIPPED
from auditor.report.text import encode_lines, xml_attr, xml_text

OTHERS = "all other assessed resources"


def _active(f: dict[str, Any]) -> bool:
    return f.get("suppression") is None and f.get("status") != "refuted"


def _failure_body(findings: list[dict[str, Any]]) -> str:
    parts = []
    for f in findings:
        lines = [
            f"{f['rule_id']} [{f['severity']}] {f['status']}: {f.get('title', '')}",
            f"resource: {f['resource_id']}",
            f"message: {f.get('message', '')}",
        ]
        flow = f.get("flow")
        if isinstance(flow, dict):
            ex = example if isinstance(example := flow.get("example"), dict) else {}
            total = flow.get("destinations_total")
            more = f" (+{total - 1} more destinations)" if isinstance(total, int) and total > 1 else ""
            lines.append(
                f"flow: {ex.get('source')} -> {ex.get('destination')} "
                f"({ex.get('destination_ip')}:{ex.get('port')}) verdict {ex.get('verdict')}{more}"
            )
        if f.get("baseline"):
            lines.append(f"baseline: {f['baseline']}")
        lines.append(f"fingerprint: {f['fingerprint']}")
        parts.append("\n".join(lines))
    return "\n\n".join(parts)


class _Suite:
    def __init__(self, name: str, rule_id: str) -> None:
        self.name = name
        self.classname = f"pathaudit.{rule_id}"
        self.cases: list[str] = []
        self.failures = 0
        self.skipped = 0

    def case(self, name: str, inner: str = "") -> None:
        head = f'    <testcase name="{xml_attr(name)}" classname="{xml_attr(self.classname)}" time="0"'
        self.cases.append(f"{head}/>" if not inner else f"{head}>\n{inner}\n    </testcase>")

    def passed(self, name: str) -> None:
        self.case(name)

    def failed(self, name: str, findings: list[dict[str, Any]]) -> None:
        worst = min(findings, key=lambda f: SEVERITY_RANK.get(f["severity"], 9))
        message = worst.get("message") or worst.get("title") or worst["rule_id"]
        if len(findings) > 1:
            message = f"{len(findings)} findings; {message}"
        self.failures += 1
        self.case(
            name,
            f'      <failure message="{xml_attr(message)}" type="{xml_attr(worst["severity"])}">'
            f"{xml_text(_failure_body(findings))}</failure>",
        )

    def skip(self, name: str, message: str) -> None:
        self.skipped += 1
        self.case(name, f'      <skipped message="{xml_attr(message)}"/>')

    def xml(self) -> str:
        head = (
            f'  <testsuite name="{xml_attr(self.name)}" tests="{len(self.cases)}" failures="{self.failures}" '
            f'errors="0" skipped="{self.skipped}" time="0"'
        )
        if not self.cases:
            return head + "/>"
        return head + ">\n" + "\n".join(self.cases) + "\n  </testsuite>"


def _suppressed_message(findings: list[dict[str, Any]]) -> str:
    sups = [f["suppression"] for f in findings if f.get("suppression")]
    if not sups:
        return "refuted"
    s = sups[0]
    who = f", approved by {s['approved_by']}" if s.get("approved_by") else ""
    return f"suppressed: {s.get('reason', '')} (expires {s.get('expires', '')}{who})"


def _lines_junit(
    document: dict[str, Any], catalog: dict[str, Rule], assessed: dict[str, list[str]] | None = None
) -> list[str]:
    by_rule: dict[str, dict[str, list[dict[str, Any]]]] = defaultdict(lambda: defaultdict(list))
    for f in document["findings"]:
        by_rule[f["rule_id"]][f["resource_id"]].append(f)
    not_assessed: dict[str, list[str]] = defaultdict(list)
    for n in document["coverage"]["not_assessed"]:
        not_assessed[n["rule_id"]].append(n["reason"])
    skipped_resources: dict[str, str] = {}
    for p in document["coverage"]["skipped"]:
        if p.get("resource_id") and p.get("effect") == RESOURCE_SKIPPED:
            skipped_resources.setdefault(p["resource_id"].lower(), p.get("problem") or "resource skipped")

    if assessed is not None:
        rule_ids = sorted(set(assessed) | set(by_rule) | set(not_assessed))
    else:
        rule_ids = sorted(set(catalog) | set(by_rule) | set(not_assessed))
    suites = []
    for rid in rule_ids:
        title = catalog[rid].title if rid in catalog else ""
        suite = _Suite(f"{rid} {title}".strip(), rid)
        findings = by_rule.get(rid, {})
        resources = {r.lower(): r for r in (assessed or {}).get(rid, [])}
        by_key: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for r, fs in findings.items():
            resources.setdefault(r.lower(), r)
            by_key[r.lower()].extend(fs)
        for key in sorted(resources):
            name = resources[key]
            hits = by_key.get(key, [])
            active = [f for f in hits if _active(f)]
            if active:
                suite.failed(name, active)
            elif hits and any(f.get("suppression") for f in hits):
                suite.skip(name, _suppressed_message(hits))
            elif not hits and key in skipped_resources:
                suite.skip(name, f"resource skipped: {skipped_resources[key]}")
            else:
                suite.passed(name)
        for reason in sorted(not_assessed.get(rid, [])):
            suite.skip(f"{rid} not assessed", reason)
        if assessed is None and rid not in not_assessed:
            suite.passed(OTHERS)
        suites.append(suite)

    tests = sum(len(s.cases) for s in suites)
    failures = sum(s.failures for s in suites)
    skipped = sum(s.skipped for s in suites)
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<testsuites name="pathaudit" tests="{tests}" failures="{failures}" errors="0" skipped="{skipped}" time="0">',
    ]
    out += [s.xml() for s in suites]
    out.append("</testsuites>")
    return out


def iter_junit(
    document: dict[str, Any], catalog: dict[str, Rule], assessed: dict[str, list[str]] | None = None
) -> Iterator[bytes]:
    return encode_lines(_lines_junit(document, catalog, assessed))


def render_junit(
    document: dict[str, Any], catalog: dict[str, Rule], assessed: dict[str, list[str]] | None = None
) -> bytes:
    return b"".join(iter_junit(document, catalog, assessed))
