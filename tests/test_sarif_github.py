"""SARIF that GitHub code scanning accepts, whatever the run read: an audit of files, a saved document
re-rendered where its inputs are gone, a gzipped snapshot, and a live audit (real SDK clients against
the loopback fake). GitHub rejects a whole file when one result lacks a physical location
(https://docs.github.com/en/code-security/code-scanning/integrating-with-code-scanning/sarif-support-for-code-scanning),
so every result must carry one, and the log must be valid against the OASIS SARIF 2.1.0 schema."""

from __future__ import annotations

import gzip
import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from conftest import REPO, run_cli
from fakeazure import FakeAzure
from fakeazure.harness import DEMO, cli_env, demo_rows, live_args

VENDOR = REPO / "tests" / "vendor" / "sarif-schema-2.1.0.json"
VENDOR_SHA256 = "c3b4bb2d6093897483348925aaa73af03b3e3f4bd4ca38cef26dcb4212a2682e"
S01 = REPO / "fixtures" / "scenarios" / "S01-base" / "resources.json"


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft4Validator:
    assert hashlib.sha256(VENDOR.read_bytes()).hexdigest() == VENDOR_SHA256
    return jsonschema.Draft4Validator(json.loads(VENDOR.read_text(encoding="utf-8")))


def github_ready(validator: jsonschema.Draft4Validator, log: dict[str, Any]) -> list[dict[str, Any]]:
    errors = sorted(validator.iter_errors(log), key=lambda e: list(e.absolute_path))
    assert not errors, [f"{list(e.absolute_path)}: {e.message}" for e in errors[:5]]
    run = log["runs"][0]
    assert run["tool"]["driver"]["informationUri"].startswith("https://")
    assert run["automationDetails"]["id"].endswith("/")
    results = run["results"]
    assert results, "the estate has findings"
    for r in results:
        for loc in [*r["locations"], *r.get("relatedLocations", [])]:
            phys = loc["physicalLocation"]
            assert phys["artifactLocation"]["uri"] and phys["region"]["startLine"] >= 1, r["ruleId"]
        assert len(r.get("relatedLocations", [])) <= 1000
    for rule in run["tool"]["driver"]["rules"]:
        assert len(rule["properties"]["tags"]) <= 20  # GitHub keeps 10, rejects more than 20
    return results


def sarif(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> tuple[int, dict, str]:
    code, out, err = run_cli(*args, "--format", "sarif", "--fail-on", "never", cwd=cwd, env=env)
    assert code in (0, 3), err
    return code, json.loads(out), err


def test_audit_of_files_points_at_the_line_of_each_resource(validator, tmp_path: Path) -> None:
    shutil.copy(S01, tmp_path / "estate.json")
    _, log, _ = sarif("audit", "estate.json", cwd=tmp_path)
    lines = (tmp_path / "estate.json").read_text(encoding="utf-8").splitlines()
    for r in github_ready(validator, log):
        phys = r["locations"][0]["physicalLocation"]
        assert phys["artifactLocation"] == {"uri": "estate.json", "uriBaseId": "%SRCROOT%"}
        resource = r["locations"][0]["logicalLocations"][0]["fullyQualifiedName"]
        assert resource.lower() in lines[phys["region"]["startLine"] - 1].lower()
        assert "properties" not in r["locations"][0]


def test_report_of_a_document_whose_inputs_are_gone_points_at_the_document(validator, tmp_path: Path) -> None:
    shutil.copy(S01, tmp_path / "estate.json")
    run_cli("audit", "estate.json", "--format", "json", "--out", "findings.json", cwd=tmp_path)
    (tmp_path / "estate.json").unlink()
    _, log, _ = sarif("report", "findings.json", cwd=tmp_path)
    doc_lines = (tmp_path / "findings.json").read_text(encoding="utf-8").splitlines()
    for r in github_ready(validator, log):
        phys = r["locations"][0]["physicalLocation"]
        assert phys["artifactLocation"]["uri"] == "findings.json"
        resource = r["locations"][0]["logicalLocations"][0]["fullyQualifiedName"]
        assert '"resource_id"' in doc_lines[phys["region"]["startLine"] - 1]
        assert resource in doc_lines[phys["region"]["startLine"] - 1]


def test_gzipped_snapshot_gives_physical_locations(validator, tmp_path: Path) -> None:
    with FakeAzure(demo_rows()) as fake:
        code, _, err = run_cli(
            "collect",
            *live_args(fake, "--out", str(tmp_path / "snap.json.gz")),
            env=cli_env(fake, tmp_path / "netlog.txt"),
        )
    assert code == 0, err
    _, log, _ = sarif("audit", "snap.json.gz", cwd=tmp_path)
    results = github_ready(validator, log)
    assert {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in results} == {
        "snap.json.gz"
    }


def test_live_audit_gives_physical_locations(validator, tmp_path: Path) -> None:
    with FakeAzure(demo_rows()) as fake:
        _, log, err = sarif("audit", "--live", *live_args(fake), env=cli_env(fake, tmp_path / "netlog.txt"))
    results = github_ready(validator, log)
    uris = {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in results}
    assert len(uris) == 1 and next(iter(uris)).startswith("pathaudit-snapshot-"), uris
    assert "pathaudit: collected" in err


def test_demo_audit_is_github_ready_with_a_category(validator) -> None:
    _, log, _ = sarif("audit", "--demo")
    github_ready(validator, log)
    assert log["runs"][0]["automationDetails"]["id"] == "pathaudit/"
    assert DEMO.is_file()


def test_oversized_sarif_is_announced(monkeypatch: pytest.MonkeyPatch) -> None:
    from auditor.report import sarif as sarif_mod

    notices: list[str] = []
    monkeypatch.setattr(sarif_mod, "GITHUB_GZIP_BYTES", 100)
    blob = b"".join(sarif_mod.measured(iter([gzip.compress(bytes(range(256)) * 64)]), notices))
    assert blob and len(notices) == 1 and "GitHub code scanning rejects uploads over" in notices[0]
    notices.clear()
    monkeypatch.setattr(sarif_mod, "GITHUB_GZIP_BYTES", 10 * 1024 * 1024)
    list(sarif_mod.measured(iter([b"{}"]), notices))
    assert notices == []
