"""Suppressions (README, config file) and baselines: annotation, counting, exit codes, document keys, diff."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner
from conftest import run_cli
from helpers.report_docs import IMG, SCRIPT, document, finding, hostile_estate, write_estate

from auditor.audit import run_audit
from auditor.cli import cli
from auditor.config import Config, Suppression, load_config
from auditor.errors import UsageError
from auditor.findings import Finding
from auditor.suppress import apply_suppressions, compare, load_document, matches

SCHEMA = Path(__file__).resolve().parent.parent / "auditor" / "schemas" / "findings-v2.schema.json"
TODAY = dt.date(2026, 6, 15)


def sup(
    rule: str = "AOAI001",
    resource: str = "*",
    expires: dt.date = dt.date(2026, 6, 15),
    reason: str = "accepted risk",
    approved_by: str | None = "secops",
) -> Suppression:
    return Suppression(rule, resource, reason, expires, approved_by)


def config_with(tmp_path: Path, body: str) -> Config:
    path = tmp_path / "pathaudit.toml"
    path.write_text(body, encoding="utf-8")
    return load_config(path)


def validate(doc: dict) -> None:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker()).validate(doc)


def mk(rule: str, rid: str) -> Finding:
    f = Finding(rule, "high", "confirmed", rid, "t", "m", "r")
    f.fingerprint = f.compute_fingerprint()
    return f


# --- matching ---------------------------------------------------------------------------------


def test_resource_glob_is_case_insensitive_fnmatch_and_rule_exact():
    rid = "/subscriptions/S1/resourceGroups/RG-Lab/providers/Microsoft.Network/x/y"
    assert matches(sup("NET006", "/subscriptions/*/resourcegroups/rg-lab/*"), "NET006", rid)
    assert matches(sup("net006", "/subscriptions/*/resourcegroups/rg-lab/*"), "NET006", rid)
    assert not matches(sup("NET006", "/subscriptions/*/resourcegroups/rg-prod/*"), "NET006", rid)
    assert not matches(sup("NET00", "*"), "NET006", rid)  # no prefix matching on rule ids
    assert not matches(sup("NET006", "/subscriptions/S1"), "NET006", rid)  # a glob, not a prefix


def test_expiry_day_itself_still_applies_the_day_after_does_not():
    f1, f2 = mk("AOAI001", "/a"), mk("AOAI001", "/a")
    assert apply_suppressions([f1], [sup(expires=TODAY)], TODAY) == []
    assert f1.suppression is not None and f1.suppression["expires"] == "2026-06-15"
    warnings = apply_suppressions([f2], [sup(expires=TODAY)], TODAY + dt.timedelta(days=1))
    assert f2.suppression is None
    assert f2.suppression_expired == {
        "rule": "AOAI001",
        "resource": "*",
        "reason": "accepted risk",
        "expires": "2026-06-15",
        "approved_by": "secops",
    }
    assert [w.suppression.rule for w in warnings] == ["AOAI001"]
    assert "expired 2026-06-15" in warnings[0].message and "not applied" in warnings[0].message


def test_first_matching_active_suppression_wins_and_expired_one_does_not_mark_a_suppressed_finding():
    f = mk("AOAI001", "/a")
    old = sup(reason="old", expires=dt.date(2020, 1, 1))
    first = sup(reason="first")
    second = sup(reason="second")
    warnings = apply_suppressions([f], [old, first, second], TODAY)
    assert f.suppression["reason"] == "first"
    assert f.suppression_expired is None
    assert warnings[0].matched == (f.fingerprint,)


def test_expired_suppression_matching_nothing_is_still_reported():
    warnings = apply_suppressions([mk("AOAI001", "/a")], [sup("NET006", expires=dt.date(2020, 1, 1))], TODAY)
    assert len(warnings) == 1 and warnings[0].matched == ()
    assert "matches no finding" in warnings[0].message


# --- in the pipeline --------------------------------------------------------------------------


def test_active_suppression_counts_as_suppressed_and_does_not_fail(tmp_path):
    estate = write_estate(tmp_path, hostile_estate())
    config = config_with(
        tmp_path,
        '[[suppressions]]\nrule = "AOAI001"\nresource = "*/accounts/*"\n'
        'reason = "lab"\nexpires = "2026-12-31"\napproved_by = "secops"\n',
    )
    result = run_audit([estate], config, today=TODAY, only={"AOAI001"})
    doc = result.document()
    assert len(doc["findings"]) == 3
    assert all(
        f["suppression"]
        == {
            "rule": "AOAI001",
            "resource": "*/accounts/*",
            "reason": "lab",
            "expires": "2026-12-31",
            "approved_by": "secops",
        }
        for f in doc["findings"]
    )
    assert doc["summary"] == {"high": 0, "medium": 0, "low": 0, "info": 0, "suppressed": 3}
    assert result.exit_code("high", allow_incomplete=True) == 0
    assert "warnings" not in doc
    validate(doc)


def test_expired_suppression_finding_active_plus_warning_in_document(tmp_path):
    estate = write_estate(tmp_path, hostile_estate())
    config = config_with(
        tmp_path,
        '[[suppressions]]\nrule = "AOAI001"\nresource = "*/accounts/*"\n'
        'reason = "lab"\nexpires = "2026-06-14"\n',
    )
    result = run_audit([estate], config, today=TODAY, only={"AOAI001"})
    doc = result.document()
    assert all(f["suppression"] is None for f in doc["findings"])
    assert all(f["suppression_expired"]["expires"] == "2026-06-14" for f in doc["findings"])
    assert doc["summary"]["high"] == 3 and doc["summary"]["suppressed"] == 0
    assert result.exit_code("high", allow_incomplete=True) == 1
    [w] = doc["warnings"]
    assert (
        w["kind"] == "suppression-expired" and w["rule_id"] == "AOAI001" and w["resource"] == "*/accounts/*"
    )
    assert w["expires"] == "2026-06-14"
    assert sorted(w["fingerprints"]) == sorted(f["fingerprint"] for f in doc["findings"])
    validate(doc)


def test_cli_past_expiry_warns_on_stderr_naming_the_suppression(tmp_path):
    estate = write_estate(tmp_path, hostile_estate())
    cfg = tmp_path / "pathaudit.toml"
    cfg.write_text(
        '[[suppressions]]\nrule = "AOAI001"\nresource = "*/accounts/<script>*"\n'
        'reason = "pilot"\nexpires = "2020-01-31"\n',
        encoding="utf-8",
    )
    res = CliRunner().invoke(
        cli,
        [
            "audit",
            str(estate),
            "--config",
            str(cfg),
            "--format",
            "json",
            "--rule",
            "AOAI001",
            "--allow-incomplete",
        ],
    )
    assert res.exit_code == 1, res.output
    assert "suppression of AOAI001 for */accounts/<script>* expired 2020-01-31: not applied" in res.stderr
    doc = json.loads(res.stdout)
    script_finding = next(f for f in doc["findings"] if f["resource_id"].endswith(SCRIPT))
    assert script_finding["suppression"] is None
    assert script_finding["suppression_expired"]["reason"] == "pilot"
    assert doc["warnings"][0]["resource"] == "*/accounts/<script>*"


def test_cli_future_expiry_suppresses(tmp_path):
    estate = write_estate(tmp_path, hostile_estate())
    cfg = tmp_path / "pathaudit.toml"
    cfg.write_text(
        '[[suppressions]]\nrule = "AOAI001"\nresource = "*"\nreason = "pilot"\nexpires = "2999-01-31"\n'
        '[[suppressions]]\nrule = "AOAI004"\nresource = "*"\nreason = "pilot"\nexpires = "2999-01-31"\n',
        encoding="utf-8",
    )
    res = CliRunner().invoke(cli, ["audit", str(estate), "--config", str(cfg), "--format", "json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["summary"]["suppressed"] == 6 and doc["summary"]["high"] == 0 and doc["summary"]["medium"] == 0


# --- baselines --------------------------------------------------------------------------------


def test_baseline_marks_new_unchanged_and_lists_resolved(tmp_path):
    estate = write_estate(tmp_path, hostile_estate())
    full = run_audit([estate], Config(), only={"AOAI001", "AOAI004"}).document()
    old = dict(full)
    gone = finding("NET007", resource_id="/subscriptions/x/routeTables/rt-gone")
    # old: the AOAI001 findings plus one finding that no longer exists
    old["findings"] = [f for f in full["findings"] if f["rule_id"] == "AOAI001"] + [gone]
    result = run_audit([estate], Config(), only={"AOAI001", "AOAI004"}, baseline=old)
    doc = result.document()
    states = {f["rule_id"]: set() for f in doc["findings"]}
    for f in doc["findings"]:
        states[f["rule_id"]].add(f["baseline"])
    assert states == {"AOAI001": {"unchanged"}, "AOAI004": {"new"}}
    assert doc["baseline"] == {
        "new": 3,
        "unchanged": 3,
        "resolved": [
            {
                "fingerprint": gone["fingerprint"],
                "rule_id": "NET007",
                "severity": "high",
                "resource_id": gone["resource_id"],
            }
        ],
    }
    validate(doc)
    # only new findings fail: AOAI004 is medium, AOAI001 (high) is unchanged
    assert result.exit_code("high", allow_incomplete=True) == 0
    assert result.exit_code("medium", allow_incomplete=True) == 1


def test_cli_baseline_prints_resolved_on_stderr_and_in_table(tmp_path):
    estate = write_estate(tmp_path, hostile_estate())
    runner = CliRunner()
    base = tmp_path / "old.json"
    res = runner.invoke(
        cli, ["audit", str(estate), "--format", "json", "--out", str(base), "--rule", "AOAI004"]
    )
    assert base.is_file(), res.output
    res = runner.invoke(cli, ["audit", str(estate), "--baseline", str(base), "--rule", "AOAI001"])
    assert res.exit_code == 1  # three new high AOAI001 findings
    assert "baseline: 3 new, 0 unchanged, 3 resolved" in res.stderr
    assert res.stderr.count("resolved: AOAI004 [medium]") == 3
    assert "Baseline: 3 new, 0 unchanged, 3 resolved" in res.stdout
    assert res.stdout.count("resolved: AOAI004") == 3


def test_baseline_that_is_not_a_findings_document_is_a_usage_error(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"schema": "something/else"}', encoding="utf-8")
    with pytest.raises(UsageError, match="not a findings document"):
        load_document(bad)


def test_compare_by_fingerprint():
    a, b, c = (
        finding("AOAI001", resource_id="/a"),
        finding("AOAI001", resource_id="/b"),
        finding("NET006", "medium", "/c"),
    )
    cmp = compare(document([a, b]), document([b, c]))
    assert [f["fingerprint"] for f in cmp.new] == [c["fingerprint"]]
    assert [f["fingerprint"] for f in cmp.unchanged] == [b["fingerprint"]]
    assert [f["fingerprint"] for f in cmp.resolved] == [a["fingerprint"]]


@pytest.mark.parametrize(
    ("new_findings", "fail_on", "code"),
    [
        ([finding("NET006", "medium", "/c")], "high", 0),
        ([finding("NET006", "medium", "/c")], "medium", 1),
        (
            [
                finding(
                    "NET001",
                    "high",
                    "/d",
                    suppression={
                        "rule": "NET001",
                        "resource": "*",
                        "reason": "x",
                        "expires": "2999-01-01",
                        "approved_by": None,
                    },
                )
            ],
            "high",
            0,
        ),
        ([finding("NET001", "high", "/d", status="refuted")], "high", 0),
        ([finding("NET001", "high", "/d")], "high", 1),
        ([finding("NET001", "high", "/d")], "never", 0),
    ],
)
def test_diff_exit_code_counts_new_active_findings_at_or_above_fail_on(tmp_path, new_findings, fail_on, code):
    same = finding("AOAI001", resource_id="/a")
    old = tmp_path / "old.json"
    new = tmp_path / "new.json"
    old.write_text(json.dumps(document([same])), encoding="utf-8")
    new.write_text(json.dumps(document([same, *new_findings])), encoding="utf-8")
    res = CliRunner().invoke(cli, ["diff", str(old), str(new), "--fail-on", fail_on])
    assert res.exit_code == code, res.output
    assert res.stdout.startswith(f"{len(new_findings)} new, 1 unchanged, 0 resolved")


def test_diff_lists_resolved_and_json_form(tmp_path):
    a, b = finding("AOAI001", resource_id="/a"), finding("NET006", "medium", IMG)
    old = tmp_path / "old.json"
    new = tmp_path / "new.json"
    old.write_text(json.dumps(document([a, b])), encoding="utf-8")
    new.write_text(json.dumps(document([a])), encoding="utf-8")
    res = CliRunner().invoke(cli, ["diff", str(old), str(new)])
    assert res.exit_code == 0
    assert f"resolved   NET006   medium {IMG}" in res.stdout
    res = CliRunner().invoke(cli, ["diff", str(old), str(new), "--format", "json"])
    out = json.loads(res.stdout)
    assert out["summary"] == {"new": 0, "unchanged": 1, "resolved": 1}
    assert out["resolved"][0]["fingerprint"] == b["fingerprint"]


def test_diff_and_baseline_unreadable_input_exit_2_naming_the_file(tmp_path):
    old = tmp_path / "old.json"
    old.write_text("not json", encoding="utf-8")
    code, _, err = run_cli("diff", old, old)
    assert code == 2 and "old.json: not valid JSON" in err
    estate = write_estate(tmp_path, hostile_estate())
    code, _, err = run_cli("audit", estate, "--baseline", old)
    assert code == 2 and "old.json: not valid JSON" in err
