"""The command line: help, the rule catalog, the bundled demo, --fail-on and exit codes (README, exit codes)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from conftest import REPO, run_cli, write_json

SCENARIOS = REPO / "fixtures" / "scenarios"
# rules/: the v1 rule catalog
CONTRACT_RULES = [
    "AOAI001",
    "AOAI002",
    "AOAI003",
    "AOAI004",
    "AOAI005",
    "NET001",
    "NET002",
    "NET003",
    "NET004",
    "NET005",
    "NET006",
    "NET007",
    "NET008",
]


def scenario(number: str) -> Path:
    [path] = SCENARIOS.glob(f"{number}-*/resources.json")
    return path


def one_line_error(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


def test_help_lists_the_commands() -> None:
    code, out, err = run_cli("--help")
    assert (code, err) == (0, "")
    assert out.startswith("Usage: ")
    commands = re.findall(r"^  ([a-z][a-z-]+)\s", out.split("Commands:", 1)[1], re.M)
    assert {"audit", "rules"} <= set(commands)
    code, out, _ = run_cli("audit", "--help")
    assert code == 0
    for text in ("--format", "--fail-on", "--allow-incomplete", "--config", "Exit codes"):
        assert text in out
    code, out, _ = run_cli("--version")
    assert code == 0 and re.fullmatch(r"pathaudit, version \d+\.\d+\.\d+\S*\n", out)


def test_rules_lists_every_rule_folder_and_the_contract_rules() -> None:
    code, out, err = run_cli("rules")
    assert (code, err) == (0, "")
    ids = re.findall(r"^((?:AOAI|NET)\d{3})\s", out, re.M)
    # the listing and the rule folders agree, and the contract's rule ids are all there
    assert ids == sorted(p.parent.name for p in (REPO / "rules").glob("*/rule.yaml"))
    assert set(CONTRACT_RULES) <= set(ids)


def test_rules_show_prints_rationale_remediation_references_and_mappings() -> None:
    spec = yaml.safe_load((REPO / "rules" / "AOAI001" / "rule.yaml").read_text(encoding="utf-8"))
    for rule_id in ("AOAI001", "aoai001"):
        code, out, err = run_cli("rules", "show", rule_id)
        assert (code, err) == (0, "")
        assert out.startswith(f"AOAI001: {spec['title']}")
        sections = [
            line
            for line in out.splitlines()
            if line in ("Rationale", "Remediation", "References", "Mappings")
        ]
        assert sections == ["Rationale", "Remediation", "References", "Mappings"]
        assert "71ef260a-8f18-47b7-abcb-62d0673d94dc" in out
        for ref in spec["references"]:
            assert ref["url"] in out
        assert "IM-1" in out
        assert spec["rationale"].split("\n")[0].strip() in out


def test_unknown_rule_is_a_one_line_usage_error() -> None:
    code, out, err = run_cli("rules", "show", "NET999")
    assert code == 2 and out == ""
    line = one_line_error(err)
    assert "NET999" in line and "AOAI001" in line


def test_audit_without_input_is_a_usage_error_and_the_demo_needs_demo(tmp_path: Path) -> None:
    """No INPUT is a mistake in CI (a variable that expanded to nothing), never a quiet demo run."""
    code, out, err = run_cli("audit", "--format", "json", "--fail-on", "never", cwd=tmp_path)
    assert code == 2 and out == "" and "--demo" in err and "no INPUT" in err
    code, _, err = run_cli("audit", REPO / "fixtures" / "estates" / "demo-contoso", "--demo", cwd=tmp_path)
    assert code == 2 and "--demo" in err
    code, out, err = run_cli("audit", "--demo", "--format", "json", "--fail-on", "never", cwd=tmp_path)
    assert code == 0, err
    doc = json.loads(out)
    assert doc["estate"]["inputs"] and all(
        i.startswith("bundled:demo-contoso/") for i in doc["estate"]["inputs"]
    )
    assert doc["estate"]["resources"] > 50 and doc["findings"]
    # same findings as auditing the demo folder explicitly
    _, explicit, _ = run_cli(
        "audit", REPO / "fixtures" / "estates" / "demo-contoso", "--format", "json", cwd=tmp_path
    )
    assert json.loads(explicit)["findings"] == doc["findings"]


@pytest.mark.parametrize(
    ("number", "fail_on", "expected"),
    [
        ("S14", "high", 1),  # AOAI001/AOAI002 are high
        ("S14", None, 1),  # --fail-on defaults to high
        ("S14", "never", 0),  # coverage complete, nothing fails
        ("S16", "high", 0),  # only AOAI004 [medium]
        ("S16", "medium", 1),
        ("S16", "low", 1),
        ("S16", "info", 1),
        ("S16", "never", 0),
    ],
)
def test_fail_on_thresholds(number: str, fail_on: str | None, expected: int) -> None:
    args = ["audit", scenario(number), "--format", "json"]
    if fail_on:
        args += ["--fail-on", fail_on]
    code, out, err = run_cli(*args)
    assert code == expected, err
    doc = json.loads(out)
    assert doc["coverage"]["complete"] is True


def test_incomplete_coverage_exit_codes(tmp_path: Path) -> None:
    orphan = write_json(
        tmp_path,
        "orphan.json",
        [{"name": "x", "type": "Microsoft.Network/virtualNetworks", "properties": {}}],
    )
    s16 = scenario("S16")
    # nothing at/above high, coverage incomplete -> 3, never "clean" on partial data
    code, _, err = run_cli("audit", s16, orphan, "--format", "json")
    assert code == 3
    assert "coverage incomplete" in err
    # accepted explicitly -> 0
    assert run_cli("audit", s16, orphan, "--allow-incomplete")[0] == 0
    # failing findings win over incomplete coverage
    assert run_cli("audit", s16, orphan, "--fail-on", "medium")[0] == 1
    # an unreadable input wins over everything
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    assert run_cli("audit", s16, orphan, bad, "--fail-on", "medium", "--allow-incomplete")[0] == 2


@pytest.mark.parametrize(
    "content",
    [
        '[network\non_premises = ["192.168.0.0/16"]\n',  # not TOML
        '[network]\non_premises = ["192.168.0.300/16"]\n',  # bad prefix
        '[[suppressions]]\nrule = "NET006"\nresource = "*"\nreason = "lab"\n',  # expires missing
        "[networks]\non_premises = []\n",  # unknown section
    ],
)
def test_bad_config_is_a_one_line_usage_error(content: str, tmp_path: Path) -> None:
    config = tmp_path / "pathaudit.toml"
    config.write_text(content)
    code, out, err = run_cli("audit", scenario("S01"), "--config", config, "--format", "json")
    assert code == 2 and out == ""
    line = one_line_error(err)
    assert str(config) in line and line.startswith("pathaudit: error: ")


def test_missing_config_file_is_a_usage_error(tmp_path: Path) -> None:
    code, out, err = run_cli("audit", scenario("S01"), "--config", tmp_path / "nope.toml")
    assert code == 2 and out == ""
    assert "config file not found" in one_line_error(err)


def test_bad_option_value_is_a_usage_error() -> None:
    code, out, err = run_cli("audit", scenario("S01"), "--fail-on", "critical")
    assert code == 2 and out == ""
    assert "Traceback" not in err and "--fail-on" in err
