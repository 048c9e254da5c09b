"""JUnit XML: classic testsuites/testsuite/testcase shape, per-rule suites, per-resource cases."""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET

from helpers.report_docs import IMG, SCRIPT, document, finding, hostile_document, hostile_estate, write_estate

from auditor.audit import run_audit
from auditor.catalog import load_catalog
from auditor.config import Config, Suppression
from auditor.report.junit import OTHERS, render_junit
from auditor.suppress import apply_suppressions


def parse(data: bytes) -> ET.Element:
    assert data.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n')
    return ET.fromstring(data)


def suites(root: ET.Element) -> dict[str, ET.Element]:
    return {s.get("name").split()[0]: s for s in root.findall("testsuite")}


def check_counts(root: ET.Element) -> None:
    """The attributes CI servers read agree with the elements."""
    total = failures = skipped = 0
    for s in root.findall("testsuite"):
        cases = s.findall("testcase")
        f = sum(1 for c in cases if c.find("failure") is not None)
        k = sum(1 for c in cases if c.find("skipped") is not None)
        assert (int(s.get("tests")), int(s.get("failures")), int(s.get("skipped")), s.get("errors")) == (
            len(cases),
            f,
            k,
            "0",
        )
        for c in cases:
            assert c.get("name") and c.get("classname") == "pathaudit." + s.get("name").split()[0]
        total, failures, skipped = total + len(cases), failures + f, skipped + k
    assert (int(root.get("tests")), int(root.get("failures")), int(root.get("skipped"))) == (
        total,
        failures,
        skipped,
    )


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
    check_counts(root)
    by_rule = suites(root)
    aoai001 = by_rule["AOAI001"]
    cases = {c.get("name").rsplit("/", 1)[-1]: c for c in aoai001.findall("testcase")}
    # four accounts assessed: three hostile ones fail (keys enabled), "ok" passes
    assert len(cases) == 4 and int(aoai001.get("failures")) == 3
    assert cases["ok"].find("failure") is None and cases["ok"].find("skipped") is None
    names = [c.get("name") for c in aoai001.findall("testcase")]
    assert any(n.endswith(IMG) for n in names) and any(n.endswith("日本語-Ελληνικά") for n in names)
    fail = next(c for c in aoai001.findall("testcase") if c.get("name").endswith(IMG)).find("failure")
    assert fail.get("type") == "high" and SCRIPT in fail.get("message") and IMG in fail.text
    # AOAI005 has no gateway in this estate: not assessed -> a skipped case with the reason
    skipped = by_rule["AOAI005"].findall("testcase/skipped")
    assert len(skipped) == 1 and "no API gateway" in skipped[0].get("message")
    # NET rules with no resources of their types: empty suites, not failures
    assert by_rule["NET004"].get("tests") == "0"


def test_report_mode_failing_cases_plus_one_passing_per_rule():
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
    check_counts(root)
    by_rule = suites(root)
    assert set(by_rule) == set(load_catalog())
    net001 = by_rule["NET001"].findall("testcase")
    assert [c.get("name") for c in net001] == ["/pe1", OTHERS]
    assert net001[0].find("failure").get("message").startswith("2 findings; ")
    assert [c.get("name") for c in by_rule["NET004"].findall("testcase")] == [OTHERS]
    aoai005 = by_rule["AOAI005"].findall("testcase")
    assert len(aoai005) == 1 and aoai005[0].find("skipped").get("message") == "no gateway"


def test_suppressed_resource_is_skipped_not_failed(tmp_path):
    estate = write_estate(tmp_path, hostile_estate())
    result = run_audit([estate], Config(), only={"AOAI001"})
    apply_suppressions(
        result.findings,
        [Suppression("AOAI001", "*日本語*", "pilot", dt.date(2999, 1, 1), "secops")],
        dt.date(2026, 1, 1),
    )
    root = parse(render_junit(result.document(), result.catalog, result.assessed))
    check_counts(root)
    cases = suites(root)["AOAI001"].findall("testcase")
    jp = next(c for c in cases if "日本語" in c.get("name"))
    assert jp.find("failure") is None
    assert jp.find("skipped").get("message") == "suppressed: pilot (expires 2999-01-01, approved by secops)"
    assert suites(root)["AOAI001"].get("failures") == "2"


def test_hostile_strings_are_well_formed_xml():
    doc = hostile_document()
    doc["findings"][1]["suppression"] = None
    doc["findings"][1]["message"] = "bell\x07 nul\x00 esc\x1b ]]> & \"quote\" 'apos'\nnew line"
    data = render_junit(doc, load_catalog())
    root = parse(data)  # parses: control characters replaced, markup escaped
    check_counts(root)
    assert b"<script" not in data and b"<img" not in data
    failure = next(f for f in root.iter("failure") if "bell" in f.get("message"))
    assert failure.get("message") == "bell\ufffd nul\ufffd esc\ufffd ]]> & \"quote\" 'apos'\nnew line"
    assert any(c.get("name") == IMG for c in root.iter("testcase"))
