"""JUnit XML: classic testsuites/testsuite/testcase shape within Jenkins' junit-10.xsd, per-rule suites,
one testcase per finding (failed exactly when it fails the build at --fail-on), one per clean resource."""

from __future__ import annotations

import copy
import datetime as dt
import json
import re
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from conftest import run_cli
from helpers.report_docs import (
    IMG,
    SCRIPT,
    SUB,
    document,
    finding,
    hostile_document,
    hostile_estate,
    write_estate,
)

from auditor.audit import AuditResult, demo_inputs, run_audit
from auditor.catalog import load_catalog
from auditor.config import Config, Suppression
from auditor.exitcodes import fails_doc
from auditor.packaged import demo_dir
from auditor.report.junit import OTHERS, render_junit
from auditor.report.stamp import report_time
from auditor.suppress import apply_suppressions

# Jenkins xUnit junit-10.xsd (jenkinsci/xunit-plugin, src/main/resources/org/jenkinsci/plugins/xunit/
# types/model/xsd/junit-10.xsd): the attributes and children each element may have, and the required ones
XSD_ATTRS = {
    "testsuites": {"name", "time", "tests", "failures", "errors"},
    "testsuite": {
        *("name", "tests", "failures", "errors", "group", "time", "skipped", "timestamp"),
        *("hostname", "id", "package", "file", "log", "url"),
    },
    "testcase": {"name", "time", "classname", "group"},
    "failure": {"type", "message"},
    "error": {"type", "message"},
    "skipped": {"type", "message"},
    "system-out": set(),
    "system-err": set(),
    "properties": set(),
    "property": {"name", "value"},
}
XSD_REQUIRED = {
    "testsuite": {"name", "tests", "failures", "errors"},
    "testcase": {"name"},
    "property": {"name", "value"},
}
XSD_CHILDREN = {
    "testsuites": {"testsuite"},
    "testsuite": {"testsuite", "properties", "testcase", "system-out", "system-err"},
    "testcase": {"skipped", "error", "failure", "system-out", "system-err"},
    "properties": {"property"},
}
SUREFIRE_TIME = r"(([0-9]{0,3},)*[0-9]{3}|[0-9]{0,3})*(\.[0-9]*)?"


def parse(data: bytes) -> ET.Element:
    assert data.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n')
    root = ET.fromstring(data)
    check_xsd(root)
    check_counts(root)
    return root


def check_xsd(el: ET.Element) -> None:
    """The structure junit-10.xsd allows: no attribute or child element it does not define."""
    assert el.tag in XSD_ATTRS, el.tag
    assert set(el.attrib) <= XSD_ATTRS[el.tag], (el.tag, set(el.attrib) - XSD_ATTRS[el.tag])
    assert XSD_REQUIRED.get(el.tag, set()) <= set(el.attrib), (el.tag, el.attrib)
    if "time" in el.attrib and el.tag in ("testsuites", "testsuite"):
        assert re.fullmatch(SUREFIRE_TIME, el.get("time")), el.get("time")
    for child in el:
        assert child.tag in XSD_CHILDREN.get(el.tag, set()), (el.tag, child.tag)
        check_xsd(child)


def suites(root: ET.Element) -> dict[str, ET.Element]:
    return {s.get("name").split()[0]: s for s in root.findall("testsuite")}


def check_counts(root: ET.Element) -> None:
    """The attributes CI servers read agree with the elements; (classname, name) is unique."""
    total = failures = 0
    for s in root.findall("testsuite"):
        cases = s.findall("testcase")
        f = sum(1 for c in cases if c.find("failure") is not None)
        k = sum(1 for c in cases if c.find("skipped") is not None)
        assert not any(c.find("failure") is not None and c.find("skipped") is not None for c in cases)
        assert (int(s.get("tests")), int(s.get("failures")), int(s.get("skipped")), s.get("errors")) == (
            len(cases),
            f,
            k,
            "0",
        )
        for c in cases:
            assert c.get("name").startswith(s.get("name").split()[0] + " ")
            assert c.get("classname") == "pathaudit." + s.get("name").split()[0]
        total, failures = total + len(cases), failures + f
    assert (int(root.get("tests")), int(root.get("failures")), root.get("errors")) == (total, failures, "0")
    ids = Counter((c.get("classname"), c.get("name")) for c in root.iter("testcase"))
    assert not [k for k, n in ids.items() if n > 1], ids.most_common(3)


def outcome(case: ET.Element) -> str:
    if case.find("failure") is not None:
        return "failure"
    return "skipped" if case.find("skipped") is not None else "passed"


def finding_cases(root: ET.Element) -> dict[str, ET.Element]:
    """Testcases standing for a finding, by fingerprint (their text ends with it)."""
    out = {}
    for c in root.iter("testcase"):
        el = c.find("failure") if c.find("failure") is not None else c.find("skipped")
        if el is not None and el.text and "\nfingerprint: " in el.text:
            out[el.text.rsplit("\nfingerprint: ", 1)[1].strip()] = c
    return out


# --- the demo estate --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo() -> AuditResult:
    if not any(demo_dir().glob("*.json")):
        pytest.skip("demo estate not generated yet")
    inputs, display = demo_inputs()
    return run_audit(inputs, Config(), display)


@pytest.mark.parametrize("fail_on", ["high", "medium", "low", "info", "never"])
def test_demo_one_case_per_finding_failed_exactly_when_the_build_fails(demo, fail_on, monkeypatch):
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    doc = demo.document()
    root = parse(render_junit(doc, demo.catalog, demo.assessed, fail_on))
    by_fp = finding_cases(root)
    assert len(doc["findings"]) >= 10 and set(by_fp) == {f["fingerprint"] for f in doc["findings"]}
    failing = [f for f in doc["findings"] if fails_doc(f, fail_on)]
    assert int(root.get("failures")) == len(failing) == len(demo.failing(fail_on))
    assert (int(root.get("failures")) > 0) == (demo.exit_code(fail_on, allow_incomplete=True) == 1)
    for f in doc["findings"]:
        case = by_fp[f["fingerprint"]]
        assert case.get("classname") == f"pathaudit.{f['rule_id']}"
        name = case.get("name")
        assert name.startswith(f"{f['rule_id']} ") and f["resource_id"].rsplit("/", 1)[1] in name
        if fails_doc(f, fail_on):
            fail = case.find("failure")
            assert fail.get("message") == f["message"] and fail.get("type") == f["severity"]
            body = fail.text
        else:
            skip = case.find("skipped")
            why = skip.get("message")
            assert outcome(case) == "skipped" and why.endswith(f": {f['message']}")
            assert why.startswith(f"{f['severity']}, ") and f"--fail-on {fail_on}" in why
            body = skip.text
        assert f["remediation"].splitlines()[0] in body and f"resource: {f['resource_id']}" in body
        assert "evidence:" in body and body.count("\n  - ") >= min(len(f["evidence"]), 20)
    # every assessed resource without a finding of the rule passes
    passed = sum(outcome(c) == "passed" for c in root.iter("testcase"))
    with_findings = {(f["rule_id"], f["resource_id"].lower()) for f in doc["findings"]}
    clean = {(r, i.lower()) for r, ids in demo.assessed.items() for i in ids} - with_findings
    assert passed == len(clean) and int(root.get("tests")) == passed + len(doc["findings"])
    assert all(s.get("timestamp") is None for s in root.iter("testsuite"))  # the demo has no collection time


def test_demo_counts_by_severity_at_the_default_threshold(demo, monkeypatch):
    """Without fail_on the renderer assumes the CLI default, high: medium findings are skipped."""
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    doc = demo.document()
    root = parse(render_junit(doc, demo.catalog, demo.assessed))
    by_sev = Counter(f["severity"] for f in doc["findings"])
    assert by_sev["high"] and by_sev["medium"]
    assert int(root.get("failures")) == by_sev["high"]
    skipped = sum(int(s.get("skipped")) for s in root.iter("testsuite"))
    assert skipped == sum(n for s, n in by_sev.items() if s != "high") + len(doc["coverage"]["not_assessed"])
    assert root.get("skipped") is None  # junit-10.xsd has no `skipped` on <testsuites>


def test_timestamp_from_report_time_only(demo, monkeypatch):
    doc = demo.document()
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1767225600")
    stamped = render_junit(doc, demo.catalog, demo.assessed)
    root = parse(stamped)
    assert {s.get("timestamp") for s in root.iter("testsuite")} == {"2026-01-01T00:00:00Z"}
    assert stamped == render_junit(doc, demo.catalog, demo.assessed)  # the same input, the same bytes
    monkeypatch.delenv("SOURCE_DATE_EPOCH")
    collected = copy.deepcopy(doc)
    collected["estate"]["collected_at"] = "2026-12-02T19:23:41+01:00"
    root = parse(render_junit(collected, demo.catalog, demo.assessed))
    assert {s.get("timestamp") for s in root.iter("testsuite")} == {report_time(collected)}
    assert report_time(collected) == "2026-12-02T18:23:41Z"
    assert b"timestamp" not in render_junit(doc, demo.catalog, demo.assessed)


def test_bad_fail_on_is_refused(demo):
    with pytest.raises(ValueError, match="fail_on"):
        render_junit(demo.document(), demo.catalog, demo.assessed, "critical")


# --- hand-made estates and documents ----------------------------------------------------------


def test_audit_mode_one_case_per_assessed_resource(tmp_path):
    estate = write_estate(
        tmp_path,
        [
            *hostile_estate(),
            {
                **hostile_estate()[0],
                "name": "ok",
                "id": hostile_estate()[0]["id"].rsplit("/", 1)[0] + "/ok",
                "properties": {"disableLocalAuth": True, "publicNetworkAccess": "Disabled"},
            },
        ],
    )
    result = run_audit([estate], Config())
    root = parse(render_junit(result.document(), result.catalog, result.assessed))
    by_rule = suites(root)
    aoai001 = by_rule["AOAI001"]
    cases = {c.get("name").split(" ", 1)[1]: c for c in aoai001.findall("testcase")}
    # four accounts assessed: three hostile ones fail (keys enabled), "ok" passes
    assert len(cases) == 4 and int(aoai001.get("failures")) == 3
    assert outcome(cases["ok"]) == "passed"
    names = [c.get("name") for c in aoai001.findall("testcase")]
    assert f"AOAI001 {IMG}" in names and "AOAI001 日本語-Ελληνικά" in names
    fail = next(c for c in aoai001.findall("testcase") if c.get("name").endswith(IMG)).find("failure")
    assert fail.get("type") == "high" and SCRIPT in fail.get("message") and IMG in fail.text
    # AOAI005 has no gateway in this estate: not assessed -> a skipped case with the reason
    skipped = by_rule["AOAI005"].findall("testcase/skipped")
    assert len(skipped) == 1 and "no API gateway" in skipped[0].get("message")
    # NET rules with no resources of their types: empty suites, not failures
    assert by_rule["NET004"].get("tests") == "0"


def test_report_mode_one_case_per_finding_plus_one_passing_per_rule():
    doc = document(
        [
            finding("NET001", resource_id="/pe1"),
            finding("NET001", resource_id="/pe1", fingerprint="c" * 32),
            finding("AOAI001", resource_id="/acc"),
        ],
        coverage={
            "complete": True,
            "skipped": [],
            "not_assessed": [{"rule_id": "AOAI005", "reason": "no gateway"}],
        },
    )
    root = parse(render_junit(doc, load_catalog()))
    by_rule = suites(root)
    assert set(by_rule) == set(load_catalog())
    net001 = by_rule["NET001"].findall("testcase")
    fp = doc["findings"][0]["fingerprint"]
    # two findings on one route table: one case each, told apart by their fingerprints
    assert [c.get("name") for c in net001] == [
        f"NET001 pe1 #{min(fp, 'c' * 32)[:8]}",
        f"NET001 pe1 #{max(fp, 'c' * 32)[:8]}",
        f"NET001 {OTHERS}",
    ]
    assert [outcome(c) for c in net001] == ["failure", "failure", "passed"]
    assert net001[0].find("failure").get("message") == "m"
    assert [c.get("name") for c in by_rule["NET004"].findall("testcase")] == [f"NET004 {OTHERS}"]
    aoai005 = by_rule["AOAI005"].findall("testcase")
    assert len(aoai005) == 1 and aoai005[0].find("skipped").get("message") == "no gateway"


def test_same_name_in_two_resource_groups_gets_the_whole_id():
    ids = [
        f"/subscriptions/{SUB}/resourceGroups/{g}/providers/Microsoft.Network/virtualNetworks/v/subnets/snet-pe"
        for g in ("rg-a", "rg-b")
    ]
    doc = document(
        [finding("NET006", "medium", i, fingerprint=c * 32) for i, c in zip(ids, "de", strict=True)]
    )
    root = parse(render_junit(doc, load_catalog(), {"NET006": [*ids, ids[0].replace("snet-pe", "other")]}))
    names = [c.get("name") for c in suites(root)["NET006"].findall("testcase")]
    assert names == ["NET006 v/other", f"NET006 {ids[0]}", f"NET006 {ids[1]}"]


def test_build_decision_skips(tmp_path):
    """Suppressed, refuted and baseline-unchanged findings never fail the build: skipped, with why."""
    sup = {"rule": "NET001", "resource": "*", "reason": "pilot", "expires": "2999-01-01", "approved_by": None}
    doc = document(
        [
            finding(resource_id="/a", suppression=sup),
            finding(resource_id="/b", status="refuted", message="no asymmetry seen"),
            finding(resource_id="/c", baseline="unchanged"),
            finding(resource_id="/d", baseline="new"),
            finding(resource_id="/e", severity="low"),
        ]
    )
    root = parse(render_junit(doc, load_catalog(), fail_on="low"))
    cases = {c.get("name"): c for c in suites(root)["NET001"].findall("testcase")}
    msg = {
        n.split()[1]: c.find("skipped").get("message") for n, c in cases.items() if outcome(c) == "skipped"
    }
    assert msg == {
        "a": "suppressed: pilot (expires 2999-01-01)",
        "b": "refuted: no asymmetry seen",
        "c": "unchanged since the baseline (only new findings fail): m",
    }
    assert outcome(cases["NET001 d"]) == outcome(cases["NET001 e"]) == "failure"
    assert "baseline: new" in cases["NET001 d"].find("failure").text
    root = parse(render_junit(doc, load_catalog(), fail_on="never"))
    assert root.get("failures") == "0"
    assert "high, --fail-on never: m" in [s.get("message") for s in root.iter("skipped")]


def test_suppressed_resource_is_skipped_not_failed(tmp_path):
    estate = write_estate(tmp_path, hostile_estate())
    result = run_audit([estate], Config(), only={"AOAI001"})
    apply_suppressions(
        result.findings,
        [Suppression("AOAI001", "*日本語*", "pilot", dt.date(2999, 1, 1), "secops")],
        dt.date(2026, 1, 1),
    )
    root = parse(render_junit(result.document(), result.catalog, result.assessed))
    cases = suites(root)["AOAI001"].findall("testcase")
    jp = next(c for c in cases if "日本語" in c.get("name"))
    assert jp.find("failure") is None
    assert jp.find("skipped").get("message") == "suppressed: pilot (expires 2999-01-01, approved by secops)"
    assert "remediation:" in jp.find("skipped").text
    assert suites(root)["AOAI001"].get("failures") == "2"


def test_evidence_is_capped_and_one_line_per_item():
    many: list[dict[str, Any]] = [
        {"kind": "path", "id": f"/src{i}", "path": None, "value": {"hops": ["x"] * 200}} for i in range(25)
    ]
    doc = document([finding(evidence=many)])
    text = parse(render_junit(doc, load_catalog())).find(".//failure").text
    items = [line for line in text.splitlines() if line.startswith("  - path /src")]
    assert len(items) == 20 and all(len(line) < 400 for line in items)
    assert "(+5 more evidence items in the findings document)" in text


def test_hostile_strings_are_well_formed_xml():
    doc = hostile_document()
    doc["findings"][1]["suppression"] = None
    doc["findings"][1]["message"] = "bell\x07 nul\x00 esc\x1b ]]> & \"quote\" 'apos'\nnew line"
    data = render_junit(doc, load_catalog())
    root = parse(data)  # parses: control characters replaced, markup escaped
    assert b"<script" not in data and b"<img" not in data
    failure = next(f for f in root.iter("failure") if "bell" in f.get("message"))
    assert failure.get("message") == "bell\ufffd nul\ufffd esc\ufffd ]]> & \"quote\" 'apos'\nnew line"
    assert any(c.get("name") == f"AOAI001 {IMG}" for c in root.iter("testcase"))
    # the suppressed NET001 finding: skipped with its (hostile) justification, evidence and remediation
    skipped = next(s for s in root.iter("skipped") if s.get("message", "").startswith("suppressed: "))
    assert IMG in skipped.get("message") and SCRIPT in skipped.text and IMG in skipped.text
    assert all(s.get("timestamp") is None for s in root.iter("testsuite"))  # collected_at is not a time


@pytest.mark.parametrize("command", ["audit", "report"])
def test_fail_on_from_the_command_line_decides_the_junit_failures(tmp_path: Path, command: str) -> None:
    """`--fail-on medium` makes the demo's medium findings failures; by default (high) they are skipped.
    The JUnit failure count always agrees with the exit code's reason."""
    findings = tmp_path / "findings.json"
    code, _, _ = run_cli("audit", "--demo", "--format", "json", "-o", findings, "--fail-on", "never")
    assert code == 0
    counts = {}
    for fail_on in ("high", "medium"):
        out = tmp_path / f"{command}-{fail_on}.junit.xml"
        if command == "audit":
            run_cli("audit", "--demo", "--format", "junit", "-o", out, "--fail-on", fail_on)
        else:
            run_cli("report", findings, "--format", "junit", "-o", out, "--fail-on", fail_on)
        counts[fail_on] = int(parse(out.read_bytes()).get("failures"))
    doc = json.loads(findings.read_text(encoding="utf-8"))
    assert counts["high"] == sum(1 for f in doc["findings"] if f["severity"] == "high")
    assert counts["medium"] == sum(1 for f in doc["findings"] if f["severity"] in ("high", "medium"))
    assert counts["medium"] > counts["high"]
