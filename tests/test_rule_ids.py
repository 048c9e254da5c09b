"""Issue #13, item 3: typos must not pass CI. Rule ids compare case-insensitively; an unknown id is a
usage error (exit 2) in --rule and in suppressions; a suppression that matches nothing is a warning."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import REPO, run_cli

S01 = REPO / "fixtures" / "scenarios" / "S01-base" / "resources.json"


def test_rule_ids_compare_case_insensitively() -> None:
    code, out, err = run_cli("audit", S01, "--rule", "net001", "--format", "json", "--fail-on", "never")
    assert code == 0, err
    assert {f["rule_id"] for f in json.loads(out)["findings"]} == {"NET001"}


def test_an_unknown_rule_id_is_a_usage_error() -> None:
    code, out, err = run_cli("audit", S01, "--rule", "NET0O1")
    assert code == 2 and out == ""
    assert "NET0O1" in err and "unknown rule id" in err and len(err.strip().splitlines()) == 1


def write_config(tmp_path: Path, rule: str, resource: str) -> Path:
    cfg = tmp_path / "pathaudit.toml"
    cfg.write_text(
        f'[[suppressions]]\nrule = "{rule}"\nresource = "{resource}"\nreason = "lab"\n'
        'expires = "2999-01-01"\n',
        encoding="utf-8",
    )
    return cfg


def test_an_unknown_rule_id_in_a_suppression_is_a_usage_error(tmp_path: Path) -> None:
    code, _, err = run_cli("audit", S01, "--config", write_config(tmp_path, "NET0O2", "*"))
    assert code == 2 and "NET0O2" in err and "suppressions" in err


def test_a_suppression_that_matches_nothing_is_a_warning(tmp_path: Path) -> None:
    code, out, err = run_cli(
        "audit",
        S01,
        "--config",
        write_config(tmp_path, "net002", "*/no-such-nic"),
        "--format",
        "json",
        "--fail-on",
        "never",
    )
    assert code == 0, err
    assert "matches no finding" in err
    [w] = json.loads(out)["warnings"]
    assert w["kind"] == "suppression-unused" and "matches no finding" in w["message"]
    # and one that matches (lower-case rule id) suppresses
    code, out, _ = run_cli(
        "audit",
        S01,
        "--config",
        write_config(tmp_path, "net002", "*/nva1-nic"),
        "--format",
        "json",
        "--fail-on",
        "never",
    )
    doc = json.loads(out)
    assert [f["suppression"] is not None for f in doc["findings"] if f["rule_id"] == "NET002"] == [True]
    assert "warnings" not in doc
