"""SARIF 2.1.0: valid against the vendored OASIS schema, one descriptor per rule, locations, suppressions."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner
from helpers.report_docs import IMG, SCRIPT, document, finding, hostile_document, hostile_estate, write_estate

from auditor.audit import run_audit
from auditor.catalog import load_catalog
from auditor.cli import cli
from auditor.config import Config
from auditor.packaged import demo_dir
from auditor.report.locate import SourceLocator, artifact_location, index_text
from auditor.report.sarif import render_sarif, sarif_log

VENDOR = Path(__file__).resolve().parent / "vendor" / "sarif-schema-2.1.0.json"
VENDOR_SHA256 = "c3b4bb2d6093897483348925aaa73af03b3e3f4bd4ca38cef26dcb4212a2682e"


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft4Validator:
    assert hashlib.sha256(VENDOR.read_bytes()).hexdigest() == VENDOR_SHA256, "vendored SARIF schema changed"
    schema = json.loads(VENDOR.read_text(encoding="utf-8"))
    jsonschema.Draft4Validator.check_schema(schema)
    return jsonschema.Draft4Validator(schema)


def assert_valid(validator: jsonschema.Draft4Validator, log: dict) -> None:
    errors = sorted(validator.iter_errors(log), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors[:10])


@pytest.fixture(scope="module")
def demo_sarif() -> dict:
    if not any(demo_dir().glob("*.json")):
        pytest.skip("demo estate not generated yet (fixtures/estates/demo-contoso)")
    res = CliRunner().invoke(cli, ["audit", "--demo", "--format", "sarif", "--fail-on", "never"])
    assert res.exit_code in (0, 3), res.output
    return json.loads(res.stdout)


def test_validator_rejects_a_broken_log(validator):
    """The schema check can fail: a result without a message is invalid SARIF."""
    log = sarif_log(document([finding()]), load_catalog())
    del log["runs"][0]["results"][0]["message"]
    assert list(validator.iter_errors(log))


def test_demo_estate_sarif_is_valid(validator, demo_sarif):
    assert_valid(validator, demo_sarif)
    assert demo_sarif["version"] == "2.1.0"
    assert demo_sarif["runs"][0]["results"], "the demo estate has findings"


def test_hostile_and_suppressed_document_is_valid(validator):
    assert_valid(validator, sarif_log(hostile_document(), load_catalog()))


def test_one_descriptor_per_catalog_rule(demo_sarif):
    catalog = load_catalog()
    rules = demo_sarif["runs"][0]["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules] == sorted(catalog)
    for r in rules:
        rule = catalog[r["id"]]
        assert r["shortDescription"]["text"] == rule.title
        assert r["fullDescription"]["text"] == rule.rationale
        assert rule.remediation in r["help"]["text"] and rule.rationale in r["help"]["text"]
        assert "**Remediation**" in r["help"]["markdown"] and rule.remediation in r["help"]["markdown"]
        assert r["helpUri"] == rule.references[0]["url"]
        assert "security" in r["properties"]["tags"]
        assert float(r["properties"]["security-severity"]) > 0 or rule.severity == "info"
        for control in rule.mappings.get("mcsb") or []:
            assert f"mcsb/{control}" in r["properties"]["tags"]


def test_results_levels_fingerprints_and_rule_index(demo_sarif):
    run = demo_sarif["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    doc = json.loads(
        CliRunner().invoke(cli, ["audit", "--demo", "--format", "json", "--fail-on", "never"]).stdout
    )
    assert len(run["results"]) == len(doc["findings"])
    level = {"high": "error", "medium": "warning", "low": "note", "info": "note"}
    for res, f in zip(run["results"], doc["findings"], strict=True):
        assert res["ruleId"] == f["rule_id"] and rules[res["ruleIndex"]]["id"] == f["rule_id"]
        assert res["level"] == level[f["severity"]]
        assert res["partialFingerprints"] == {"pathaudit/v1": f["fingerprint"]}
        assert res["locations"][0]["logicalLocations"][0]["fullyQualifiedName"] == f["resource_id"]
        assert "suppressions" not in res


def test_physical_location_is_the_line_of_the_resource_id(demo_sarif):
    text = next(demo_dir().glob("*.json")).read_text(encoding="utf-8")
    lines = text.splitlines()
    located = 0
    for res in demo_sarif["runs"][0]["results"]:
        loc = res["locations"][0]
        rid = loc["logicalLocations"][0]["fullyQualifiedName"]
        phys = loc.get("physicalLocation")
        if phys is None:
            continue
        located += 1
        assert phys["artifactLocation"] == {
            "uri": "demo-contoso/resources.json",
            "uriBaseId": "PATHAUDIT_BUNDLED",
        }
        line = lines[phys["region"]["startLine"] - 1]
        assert '"id"' in line and json.dumps(rid) in line
    assert located == len(demo_sarif["runs"][0]["results"])


def test_locator_prefers_the_resource_object_over_references():
    text = json.dumps(
        [
            {"id": "/sub/nic1", "name": "nic1", "properties": {"subnet": {"id": "/sub/vnet/subnets/a"}}},
            {
                "id": "/sub/vnet",
                "name": "vnet",
                "type": "microsoft.network/virtualnetworks",
                "properties": {"subnets": [{"id": "/SUB/vnet/subnets/a", "name": "a", "properties": {}}]},
            },
            {"properties": {"ref": {"id": "/sub/only-referenced"}}},
        ],
        indent=1,
    )
    index = index_text(text)
    lines = text.splitlines()
    # the subnet object (with a name), not the earlier {"id": ...} reference inside nic1
    assert "/SUB/vnet/subnets/a" in lines[index["/sub/vnet/subnets/a"] - 1]
    assert "/sub/only-referenced" in lines[index["/sub/only-referenced"] - 1]
    assert index["/sub/nic1"] == 3


def test_input_paths_are_relative_uris(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert artifact_location("estate/a b.json") == {"uri": "estate/a%20b.json", "uriBaseId": "%SRCROOT%"}
    assert artifact_location(str(tmp_path / "x" / "r.json")) == {"uri": "x/r.json", "uriBaseId": "%SRCROOT%"}
    assert artifact_location("/elsewhere/r.json")["uri"] == "file:///elsewhere/r.json"


def test_hostile_estate_locations_and_escaping(tmp_path, monkeypatch, validator):
    monkeypatch.chdir(tmp_path)
    path = write_estate(tmp_path, hostile_estate())
    doc = run_audit([Path("estate/resources.json")], Config()).document()
    log = json.loads(render_sarif(doc, load_catalog(), SourceLocator(doc["estate"]["inputs"])))
    assert_valid(validator, log)
    lines = path.read_text(encoding="utf-8").splitlines()
    for res in log["runs"][0]["results"]:
        phys = res["locations"][0]["physicalLocation"]
        assert phys["artifactLocation"] == {"uri": "estate/resources.json", "uriBaseId": "%SRCROOT%"}
        rid = res["locations"][0]["logicalLocations"][0]["fullyQualifiedName"]
        assert json.dumps(rid, ensure_ascii=False) in lines[phys["region"]["startLine"] - 1]
    names = {r["locations"][0]["logicalLocations"][0]["name"] for r in log["runs"][0]["results"]}
    assert IMG in names and "日本語-Ελληνικά" in names  # JSON carries the text verbatim, escaped by JSON


def test_missing_input_file_still_gives_a_physical_location_marked_fallback():
    """GitHub rejects a result without a physical location: the listed input stands for the estate
    (line 1, `properties.fallback`), and the logical location still names the resource."""
    doc = document([finding()])
    doc["estate"]["inputs"] = ["does/not/exist.json"]
    log = sarif_log(doc, load_catalog(), SourceLocator(doc["estate"]["inputs"]))
    loc = log["runs"][0]["results"][0]["locations"][0]
    assert loc["physicalLocation"] == {
        "artifactLocation": {"uri": "does/not/exist.json", "uriBaseId": "%SRCROOT%"},
        "region": {"startLine": 1},
    }
    assert loc["properties"] == {"fallback": True} and loc["logicalLocations"]


def test_suppressed_finding_carries_sarif_suppression(validator):
    sup = {
        "rule": "NET001",
        "resource": "*",
        "reason": "lab estate",
        "expires": "2027-03-31",
        "approved_by": "secops",
    }
    log = sarif_log(
        document([finding(suppression=sup), finding("AOAI001", resource_id="/a")]), load_catalog()
    )
    assert_valid(validator, log)
    suppressed, active = log["runs"][0]["results"]
    assert suppressed["suppressions"] == [
        {
            "kind": "external",
            "status": "accepted",
            "justification": "lab estate (expires 2027-03-31; approved by secops)",
            "properties": {
                "rule": "NET001",
                "resource": "*",
                "expires": "2027-03-31",
                "approved_by": "secops",
            },
        }
    ]
    assert "suppressions" not in active


def test_coverage_and_not_assessed_become_notifications():
    log = sarif_log(hostile_document(), load_catalog())
    inv = log["runs"][0]["invocations"][0]
    assert inv["toolExecutionNotifications"][0]["level"] == "warning"
    assert SCRIPT in inv["toolExecutionNotifications"][0]["message"]["text"]
    notes = inv["toolConfigurationNotifications"]
    assert notes[0]["associatedRule"]["id"] == "AOAI005"
    assert log["runs"][0]["properties"]["coverageComplete"] is False
