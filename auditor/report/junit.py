"""JUnit XML in the classic `testsuites/testsuite/testcase/failure|skipped` shape (Jenkins, GitLab,
Azure DevOps `PublishTestResults@2` with `testResultsFormat: JUnit`), within the Jenkins xUnit
`junit-10.xsd` schema (the attributes and elements it defines, no others).

One testsuite per rule, one testcase per finding: classname `pathaudit.<RULE>`, name `<RULE> <resource
name>` (the ARM name, `vnet/subnet` for a child resource; the whole resource id when two resources of a
suite share a name; ` #<fingerprint prefix>` when one resource has several findings of the rule). A
finding is a `<failure>` exactly when it fails the build (auditor.exitcodes.fails_doc at `fail_on`):
suppressed, refuted, baseline-unchanged and below-`fail_on` findings are `<skipped>` with the reason,
so a CI test tab shows as failed what failed the run. Failure and skipped messages are the finding's
one-line message; their text is the finding's details, evidence and remediation.

Resources a rule assessed without a finding (`assessed`, from an audit run) are one passing testcase
each, or skipped when the resource itself was skipped. With `assessed` unknown (`pathaudit report` on
a saved document) a rule gets one passing testcase standing for its other assessed resources. Rules
not assessed are one skipped testcase each. `timestamp` on each testsuite is auditor.report.stamp's
`report_time` (left out when it gives none); no host names: same input, same bytes.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from auditor.catalog import Rule
from auditor.exitcodes import fails_doc
from auditor.findings import SEVERITY_RANK
from auditor.problems import RESOURCE_SKIPPED
from auditor.report.csv_report import id_parts
from auditor.report.stamp import report_time
from auditor.report.text import encode_lines, truncate, xml_attr, xml_text

OTHERS = "all other assessed resources"
DEFAULT_FAIL_ON = "high"  # the CLI's --fail-on default; the findings document does not record the run's
EVIDENCE_ITEMS = 20  # evidence items written out per finding (the findings document has them all)
EVIDENCE_VALUE_CHARS = 300


def _skip_reason(f: dict[str, Any], fail_on: str) -> str | None:
    """Why a finding does not fail the build at `fail_on` (None: it fails)."""
    if fails_doc(f, fail_on):
        return None
    message = _message(f)
    sup = f.get("suppression")
    if sup:
        who = f", approved by {sup['approved_by']}" if sup.get("approved_by") else ""
        return f"suppressed: {sup.get('reason', '')} (expires {sup.get('expires', '')}{who})"
    if f.get("status") == "refuted":
        return f"refuted: {message}"
    if f.get("baseline") == "unchanged":
        return f"unchanged since the baseline (only new findings fail): {message}"
    if fail_on == "never":
        return f"{f['severity']}, --fail-on never: {message}"
    return f"{f['severity']}, below --fail-on {fail_on}: {message}"


def _message(f: dict[str, Any]) -> str:
    return str(f.get("message") or f.get("title") or f["rule_id"])


def _value(value: Any) -> str:
    if isinstance(value, str):
        return truncate(value, EVIDENCE_VALUE_CHARS)
    try:
        s = json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    except (TypeError, ValueError):
        s = repr(value)
    return truncate(s, EVIDENCE_VALUE_CHARS)


def _details(f: dict[str, Any]) -> str:
    """The text of a finding's failure or skipped element: what it is, its evidence and the fix."""
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
    evidence = [e for e in f.get("evidence") or [] if isinstance(e, dict)]
    if evidence:
        lines.append("evidence:")
        for e in evidence[:EVIDENCE_ITEMS]:
            # the finding's own resource goes without its id (it is on the `resource:` line)
            own = str(e.get("id", "")).lower() == str(f["resource_id"]).lower()
            where = " ".join(str(x) for x in (None if own else e.get("id"), e.get("path")) if x)
            note = f" ({e['note']})" if e.get("note") else ""
            lines.append(f"  - {e.get('kind', '')} {where} = {_value(e.get('value'))}{note}")
        if len(evidence) > EVIDENCE_ITEMS:
            lines.append(
                f"  (+{len(evidence) - EVIDENCE_ITEMS} more evidence items in the findings document)"
            )
    if f.get("remediation"):
        lines.append("remediation:")
        lines += [f"  {line}".rstrip() for line in str(f["remediation"]).splitlines()]
    lines.append(f"fingerprint: {f['fingerprint']}")
    return "\n".join(lines)


@dataclass
class _Case:
    name: str
    resource_key: str | None = None  # lower-cased resource id (None: a case standing for no one resource)
    resource_id: str = ""
    fingerprint: str = ""
    inner: str = ""
    outcome: str = "passed"  # passed | failure | skipped


class _Suite:
    def __init__(self, name: str, rule_id: str, timestamp: str | None) -> None:
        self.name = name
        self.rule_id = rule_id
        self.classname = f"pathaudit.{rule_id}"
        self.timestamp = timestamp
        self.cases: list[_Case] = []

    def _add(self, case: _Case) -> None:
        self.cases.append(case)

    def passed(self, name: str, resource_id: str | None = None) -> None:
        self._add(_Case(name, resource_id.lower() if resource_id else None, resource_id or ""))

    def finding(self, f: dict[str, Any], fail_on: str) -> None:
        rid, reason = f["resource_id"], _skip_reason(f, fail_on)
        case = _Case(_case_name(self.rule_id, rid), rid.lower(), rid, str(f.get("fingerprint", "")))
        if reason is None:
            case.outcome = "failure"
            case.inner = (
                f'<failure message="{xml_attr(_message(f))}" type="{xml_attr(f["severity"])}">'
                f"{xml_text(_details(f))}</failure>"
            )
        else:
            case.outcome = "skipped"
            case.inner = f'<skipped message="{xml_attr(reason)}">{xml_text(_details(f))}</skipped>'
        self._add(case)

    def skip(self, name: str, message: str, resource_id: str | None = None) -> None:
        case = _Case(name, resource_id.lower() if resource_id else None, resource_id or "")
        case.outcome = "skipped"
        case.inner = f'<skipped message="{xml_attr(message)}"/>'
        self._add(case)

    def _unique_names(self) -> None:
        """Test identity in CI is (classname, name): two resources of one name get their whole ids, two
        findings on one resource their fingerprint prefixes, anything left a counter."""
        by_name: dict[str, list[_Case]] = defaultdict(list)
        for c in self.cases:
            by_name[c.name].append(c)
        for same in by_name.values():
            if len({c.resource_key for c in same}) > 1:
                for c in same:
                    if c.resource_key is not None:
                        c.name = f"{self.rule_id} {c.resource_id}"
        by_name.clear()
        for c in self.cases:
            by_name[c.name].append(c)
        for same in by_name.values():
            if len(same) > 1:
                for c in same:
                    if c.fingerprint:
                        c.name = f"{c.name} #{c.fingerprint[:8]}"
        seen: dict[str, int] = defaultdict(int)
        for c in self.cases:
            seen[c.name] += 1
            if seen[c.name] > 1:
                c.name = f"{c.name} ({seen[c.name]})"

    def xml(self) -> list[str]:
        self._unique_names()
        failures = sum(c.outcome == "failure" for c in self.cases)
        skipped = sum(c.outcome == "skipped" for c in self.cases)
        stamp = f' timestamp="{xml_attr(self.timestamp)}"' if self.timestamp else ""
        head = (
            f'  <testsuite name="{xml_attr(self.name)}" tests="{len(self.cases)}" failures="{failures}" '
            f'errors="0" skipped="{skipped}" time="0"{stamp}'
        )
        if not self.cases:
            return [head + "/>"]
        out = [head + ">"]
        for c in self.cases:
            case = f'    <testcase name="{xml_attr(c.name)}" classname="{xml_attr(self.classname)}" time="0"'
            out.append(f"{case}/>" if not c.inner else f"{case}>\n      {c.inner}\n    </testcase>")
        out.append("  </testsuite>")
        return out


def _case_name(rule_id: str, resource_id: str) -> str:
    return f"{rule_id} {id_parts(resource_id)[2]}"


def _lines_junit(
    document: dict[str, Any],
    catalog: dict[str, Rule],
    assessed: dict[str, list[str]] | None = None,
    fail_on: str = DEFAULT_FAIL_ON,
) -> list[str]:
    if fail_on != "never" and fail_on not in SEVERITY_RANK:
        raise ValueError(f"fail_on: {fail_on!r} is not a severity or 'never'")
    timestamp = report_time(document)
    by_rule: dict[str, dict[str, list[dict[str, Any]]]] = defaultdict(lambda: defaultdict(list))
    for f in document["findings"]:
        by_rule[f["rule_id"]][f["resource_id"].lower()].append(f)
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
        suite = _Suite(f"{rid} {title}".strip(), rid, timestamp)
        findings = by_rule.get(rid, {})
        resources = {r.lower(): r for r in (assessed or {}).get(rid, [])}
        for key, fs in findings.items():
            resources.setdefault(key, fs[0]["resource_id"])
        for key in sorted(resources):
            name = resources[key]
            hits = sorted(findings.get(key, []), key=lambda f: str(f.get("fingerprint", "")))
            for f in hits:
                suite.finding(f, fail_on)
            if hits:
                continue
            if key in skipped_resources:
                suite.skip(_case_name(rid, name), f"resource skipped: {skipped_resources[key]}", name)
            else:
                suite.passed(_case_name(rid, name), name)
        for reason in sorted(not_assessed.get(rid, [])):
            suite.skip(f"{rid} not assessed", reason)
        if assessed is None and rid not in not_assessed:
            suite.passed(f"{rid} {OTHERS}")
        suites.append(suite)

    body = [line for s in suites for line in s.xml()]
    tests = sum(len(s.cases) for s in suites)
    failures = sum(c.outcome == "failure" for s in suites for c in s.cases)
    # junit-10.xsd: <testsuites> carries name, tests, failures, errors and time (skipped is per testsuite)
    return [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<testsuites name="pathaudit" tests="{tests}" failures="{failures}" errors="0" time="0">',
        *body,
        "</testsuites>",
    ]


def iter_junit(
    document: dict[str, Any],
    catalog: dict[str, Rule],
    assessed: dict[str, list[str]] | None = None,
    fail_on: str = DEFAULT_FAIL_ON,
) -> Iterator[bytes]:
    """`fail_on` is the run's `--fail-on` (high, medium, low, info or never): findings below it are skipped."""
    return encode_lines(_lines_junit(document, catalog, assessed, fail_on))


def render_junit(
    document: dict[str, Any],
    catalog: dict[str, Rule],
    assessed: dict[str, list[str]] | None = None,
    fail_on: str = DEFAULT_FAIL_ON,
) -> bytes:
    return b"".join(iter_junit(document, catalog, assessed, fail_on))
