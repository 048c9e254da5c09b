"""Command-line habits: `-o`, --severity, --skip-rule, `rules --format json`, exit codes in every help,
--demo for trace and routes, the one-line summary of what --out wrote, and the progress display."""

from __future__ import annotations

import json
import os
import re
import select
import subprocess
import sys
from pathlib import Path
from typing import Any

import click
import pytest
import yaml
from conftest import REPO, run_cli
from helpers.findings_schema import validator

from auditor.cli import cli

DEMO = REPO / "fixtures" / "estates" / "demo-contoso"
SCENARIOS = REPO / "fixtures" / "scenarios"


def scenario(number: str) -> Path:
    [path] = SCENARIOS.glob(f"{number}-*/resources.json")
    return path


def audit_json(*args: Any, cwd: Path | None = None) -> tuple[int, dict[str, Any], str]:
    code, out, err = run_cli("audit", *args, "--format", "json", cwd=cwd)
    assert "Traceback" not in err, err
    return code, json.loads(out), err


def commands(
    group: click.Group = cli, path: tuple[str, ...] = ()
) -> list[tuple[tuple[str, ...], click.Command]]:
    """Every command of the CLI, groups included, with the words that invoke it."""
    out: list[tuple[tuple[str, ...], click.Command]] = [(path, group)]
    for name, command in sorted(group.commands.items()):
        if isinstance(command, click.Group):
            out += commands(command, (*path, name))
        else:
            out.append(((*path, name), command))
    return out


# ---------------------------------------------------------------- -o


def test_every_out_option_has_the_short_alias_o() -> None:
    with_out = [(p, c) for p, c in commands() if any("--out" in o.opts for o in c.params)]
    assert {p for p, _ in with_out} >= {("audit",), ("report",), ("confirm",), ("collect",)}
    for path, command in with_out:
        [option] = [o for o in command.params if "--out" in o.opts]
        assert "-o" in option.opts, path


def test_o_writes_what_out_writes(tmp_path: Path) -> None:
    code_a, _, _ = run_cli("audit", "--demo", "--format", "json", "-o", tmp_path / "a.json")
    code_b, _, _ = run_cli("audit", "--demo", "--format", "json", "--out", tmp_path / "b.json")
    assert code_a == code_b == 1
    assert (tmp_path / "a.json").read_bytes() == (tmp_path / "b.json").read_bytes()
    code, _, err = run_cli("report", tmp_path / "a.json", "--format", "markdown", "-o", tmp_path / "a.md")
    assert code == 1, err
    assert (tmp_path / "a.md").read_text().startswith("#")


# ---------------------------------------------------------------- --severity


def test_severity_leaves_lower_findings_out_of_the_document_and_says_so() -> None:
    _, full, _ = audit_json("--demo")
    medium = [f for f in full["findings"] if f["severity"] == "medium"]
    assert medium and full["summary"]["medium"] == len(medium)
    code, doc, err = audit_json("--demo", "--severity", "high")
    assert code == 1
    assert doc["findings"] == [f for f in full["findings"] if f["severity"] == "high"]
    assert doc["summary"] == {**full["summary"], "medium": 0, "low": 0, "info": 0}
    assert doc["filters"] == {
        "severity": "high",
        "skip_rules": [],
        "left_out": {"medium": len(medium), "low": 0, "info": 0},
    }
    assert "filters" not in full
    assert f"--severity high: {len(medium)} finding(s) below high left out ({len(medium)} medium)" in err
    assert not list(validator().iter_errors(doc))


def test_severity_is_the_exit_decision_too() -> None:
    """S16 has one medium finding (AOAI004): it fails --fail-on medium unless --severity high leaves it out."""
    assert run_cli("audit", scenario("S16"), "--fail-on", "medium")[0] == 1
    code, doc, err = audit_json(scenario("S16"), "--fail-on", "medium", "--severity", "high")
    assert code == 0, err
    assert doc["findings"] == [] and doc["filters"]["left_out"]["medium"] == 1
    assert doc["coverage"]["complete"] is True
    assert "1 finding(s) below high left out (1 medium)" in err  # never a silent "clean"
    # the table says it too: the summary counts what is reported
    code, out, _ = run_cli("audit", scenario("S16"), "--severity", "high")
    assert code == 0 and "0 findings" in out


def test_severity_leaves_the_resource_out_of_the_assessed_list(tmp_path: Path) -> None:
    """A resource whose finding --severity left out is not an assessed (passing) resource either."""
    from auditor.audit import run_audit
    from auditor.config import Config

    full = run_audit([DEMO], Config())
    net006 = {f.resource_id for f in full.findings if f.rule_id == "NET006"}
    assert net006 and net006 <= set(full.assessed["NET006"])
    high = run_audit([DEMO], Config(), severity="high")
    assert not net006 & set(high.assessed["NET006"])
    assert set(high.assessed["NET006"]) == set(full.assessed["NET006"]) - net006


def test_severity_and_skip_rule_do_not_resolve_baseline_findings(tmp_path: Path) -> None:
    old = tmp_path / "old.json"
    assert run_cli("audit", "--demo", "--format", "json", "-o", old)[0] == 1
    code, doc, err = audit_json("--demo", "--baseline", old, "--severity", "high", "--skip-rule", "NET001")
    assert code == 0, err  # every reported finding is unchanged
    assert doc["baseline"]["resolved"] == []
    assert doc["baseline"]["new"] == 0 and doc["baseline"]["unchanged"] == len(doc["findings"])


# ---------------------------------------------------------------- --skip-rule


def test_skip_rule_is_not_assessed_with_its_reason() -> None:
    _, full, _ = audit_json("--demo")
    assert any(f["rule_id"] == "NET006" for f in full["findings"])
    code, doc, err = audit_json("--demo", "--skip-rule", "net006", "--skip-rule", "AOAI004")
    assert code == 1
    assert {f["rule_id"] for f in doc["findings"]} == {f["rule_id"] for f in full["findings"]} - {
        "NET006",
        "AOAI004",
    }
    assert {"rule_id": "NET006", "reason": "skipped with --skip-rule"} in doc["coverage"]["not_assessed"]
    assert {"rule_id": "AOAI004", "reason": "skipped with --skip-rule"} in doc["coverage"]["not_assessed"]
    assert doc["filters"] == {"severity": None, "skip_rules": ["AOAI004", "NET006"]}
    assert "not evaluated (--skip-rule): AOAI004, NET006" in err
    assert not list(validator().iter_errors(doc))
    # the table names it as not assessed: no "clean" for a rule that never ran
    code, out, _ = run_cli("audit", scenario("S16"), "--skip-rule", "AOAI004")
    assert code == 0 and "Not assessed: AOAI004" in out


def test_skip_rule_ids_are_checked_like_rule_ids(tmp_path: Path) -> None:
    code, out, err = run_cli("audit", "--demo", "--skip-rule", "NET999", "--skip-rule", "AOAI001")
    assert code == 2 and out == ""
    [line] = err.splitlines()
    assert "--skip-rule" in line and "'NET999'" in line and "AOAI001," in line  # the known ids listed
    code, _, err = run_cli("audit", "--demo", "--rule", "NET001", "--skip-rule", "NET001")
    assert code == 2 and err.splitlines() == [
        "pathaudit: error: --skip-rule skips every rule --rule names: nothing would be evaluated"
    ]
    # with --rule, only the skipped rules that would have run are listed
    code, doc, _ = audit_json("--demo", "--rule", "NET001", "--rule", "NET002", "--skip-rule", "NET002")
    assert {f["rule_id"] for f in doc["findings"]} == {"NET001"}
    assert doc["coverage"]["not_assessed"] == [{"rule_id": "NET002", "reason": "skipped with --skip-rule"}]


def test_report_applies_severity_and_skip_rule_to_a_saved_document(tmp_path: Path) -> None:
    saved = tmp_path / "findings.json"
    assert run_cli("audit", "--demo", "--format", "json", "-o", saved)[0] == 1
    full = json.loads(saved.read_text())
    code, out, err = run_cli(
        "report", saved, "--format", "json", "--severity", "high", "--skip-rule", "AOAI001"
    )
    assert code == 1, err
    doc = json.loads(out)
    assert doc["findings"] == [
        f for f in full["findings"] if f["severity"] == "high" and f["rule_id"] != "AOAI001"
    ]
    assert doc["summary"]["high"] == len(doc["findings"]) and doc["summary"]["medium"] == 0
    assert doc["filters"]["severity"] == "high" and doc["filters"]["skip_rules"] == ["AOAI001"]
    assert doc["filters"]["left_out"]["medium"] == full["summary"]["medium"]
    assert {"rule_id": "AOAI001", "reason": "skipped with --skip-rule"} in doc["coverage"]["not_assessed"]
    assert "findings left out (--skip-rule): AOAI001" in err
    assert not list(validator().iter_errors(doc))
    # the filtered document reads back (the schema knows `filters`), and a looser filter cannot undo it
    again = tmp_path / "high.json"
    again.write_text(out)
    code, out2, _ = run_cli("report", again, "--format", "json", "--severity", "low")
    assert code == 1 and json.loads(out2)["filters"]["severity"] == "high"
    code, _, err = run_cli("report", saved, "--skip-rule", "NOPE01")
    assert code == 2 and "NOPE01" in err


# ---------------------------------------------------------------- rules --format json

RULE_KEYS = [
    "id",
    "title",
    "synopsis",
    "severity",
    "severity_note",
    "family",
    "default_status",
    "resource_types",
    "references",
    "mappings",
]


def test_rules_json_is_the_catalog_in_a_fixed_shape() -> None:
    code, out, err = run_cli("rules", "--format", "json")
    assert (code, err) == (0, "")
    rules = json.loads(out)
    ids = [r["id"] for r in rules]
    assert ids == sorted(p.parent.name for p in (REPO / "rules").glob("*/rule.yaml"))
    for rule in rules:
        assert list(rule) == RULE_KEYS
        spec = yaml.safe_load((REPO / "rules" / rule["id"] / "rule.yaml").read_text(encoding="utf-8"))
        for key in ("title", "severity", "family", "default_status"):
            assert rule[key] == spec[key], (rule["id"], key)
        assert [r["url"] for r in rule["references"]] == [r["url"] for r in spec["references"]]
        assert rule["mappings"].keys() == spec["mappings"].keys()
    assert run_cli("rules", "--format", "json")[1] == out  # deterministic
    # the table is unchanged
    assert run_cli("rules")[1].startswith("ID ")


def test_rules_show_json_is_one_catalog_entry() -> None:
    catalog = {r["id"]: r for r in json.loads(run_cli("rules", "--format", "json")[1])}
    for args in (
        ("rules", "show", "net001", "--format", "json"),
        ("rules", "--format", "json", "show", "NET001"),
    ):
        code, out, err = run_cli(*args)
        assert (code, err) == (0, ""), args
        assert json.loads(out) == catalog["NET001"]
        assert list(json.loads(out)) == RULE_KEYS
    code, out, err = run_cli("rules", "show", "NET999", "--format", "json")
    assert code == 2 and out == "" and len(err.splitlines()) == 1 and "NET999" in err
    assert run_cli("rules", "show", "NET001")[1].startswith("NET001: ")


# ---------------------------------------------------------------- exit codes in every help


def exit_code_lines(help_text: str) -> dict[int, str]:
    block = help_text.split("Exit codes:", 1)[1]
    codes = {}
    for line in block.splitlines()[1:]:
        m = re.match(r"^\s+([0-3])\s{2,}(\S.*)$", line)
        if not m:
            break
        codes[int(m.group(1))] = m.group(2)
    return codes


@pytest.mark.parametrize("path", [p for p, _ in commands()], ids=lambda p: " ".join(p) or "pathaudit")
def test_every_help_lists_the_exit_codes(path: tuple[str, ...]) -> None:
    code, out, err = run_cli(*path, "--help")
    assert (code, err) == (0, "")
    assert out.count("Exit codes:") == 1, out
    codes = exit_code_lines(out)
    assert 0 in codes and 2 in codes, out
    assert "usage error" in codes[2]
    if path in ((), ("audit",), ("report",), ("confirm",), ("collect",)):
        assert 3 in codes and ("incomplete" in codes[3] or "failed" in codes[3]), out
    if path in ((), ("audit",), ("report",), ("confirm",), ("diff",), ("verify-bundle",), ("routes",)):
        assert 1 in codes, out
    if path in (("trace",), ("rules",), ("rules", "show"), ("collect",)):
        assert 1 not in codes, out  # these never exit 1


def test_the_exit_codes_in_help_agree_with_the_code() -> None:
    """What audit's help says each code means is what it does."""
    codes = exit_code_lines(run_cli("audit", "--help")[1])
    assert "findings at or above --fail-on" in codes[1]
    assert run_cli("audit", scenario("S14"))[0] == 1
    assert run_cli("audit", scenario("S14"), "--fail-on", "never")[0] == 0
    assert run_cli("audit", "--format", "nope")[0] == 2


# ---------------------------------------------------------------- trace and routes --demo


def test_trace_and_routes_take_demo(tmp_path: Path) -> None:
    for args in (
        ("trace", "--from", "snet-app", "--to", "pe-aoai-contoso-dev", "--format", "json"),
        ("routes", "--subnet", "vnet-app-weu/snet-app", "--ip", "10.30.1.5", "--format", "json"),
    ):
        code, demo, err = run_cli(args[0], "--demo", *args[1:], cwd=tmp_path)
        assert code == 0, err
        explicit = run_cli(args[0], DEMO, *args[1:], cwd=tmp_path)[1]
        assert json.loads(demo) == json.loads(explicit)
        code, out, err = run_cli(args[0], DEMO, "--demo", *args[1:], cwd=tmp_path)
        assert (
            code == 2
            and out == ""
            and err.splitlines()
            == ["pathaudit: error: --demo uses the bundled demo estate: give no INPUT with it"]
        )
        code, out, err = run_cli(*args, cwd=tmp_path)
        assert code == 2 and out == ""
        [line] = err.splitlines()
        assert "no INPUT given" in line and "--demo" in line


# ---------------------------------------------------------------- what --out wrote


SUMMARY = re.compile(r"^pathaudit: (\d+) findings? \(([^)]*)\) written to (\S+) \(([a-z, ]+)\)$")


def test_one_line_on_stderr_says_what_out_wrote(tmp_path: Path) -> None:
    out_dir = tmp_path / "reports"
    code, out, err = run_cli(
        "audit", "--demo", "--format", "json", "--format", "sarif", "--format", "html", "-o", out_dir
    )
    assert code == 1 and out == ""
    lines = err.splitlines()
    assert lines[0].startswith("pathaudit: auditing the bundled demo estate")
    m = SUMMARY.match(lines[-1])
    assert m, lines
    doc = json.loads((out_dir / "findings.json").read_text())
    assert int(m.group(1)) == len(doc["findings"])
    assert m.group(2) == ", ".join(
        f"{doc['summary'][s]} {s}" for s in ("high", "medium", "low", "info") if doc["summary"][s]
    )
    assert m.group(3) == f"{out_dir}/" and m.group(4) == "json, sarif, html"
    assert len(lines) == 2
    # one file: named; report and confirm say it too
    code, _, err = run_cli("report", out_dir / "findings.json", "--format", "csv", "-o", tmp_path / "f.csv")
    assert err.splitlines()[-1].endswith(f"written to {tmp_path / 'f.csv'} (csv)")
    code, _, err = run_cli(
        "confirm",
        out_dir / "findings.json",
        "--pcap",
        REPO / "fixtures" / "captures" / "nomatch.pcap",
        "-o",
        tmp_path / "c.json",
    )
    assert code in (0, 1, 3), err
    assert SUMMARY.match(err.splitlines()[-1]) and err.splitlines()[-1].endswith(
        f"{tmp_path / 'c.json'} (json)"
    )
    # without --out nothing is added
    code, out, err = run_cli("audit", "--demo", "--format", "json")
    assert "written to" not in err and json.loads(out)


# ---------------------------------------------------------------- progress on a terminal


def run_with_stderr_on_a_terminal(
    *args: Any, cwd: Path, env: dict[str, str] | None = None
) -> tuple[int, bytes, bytes]:
    """Run the CLI with stderr on a pseudo-terminal (stdout a pipe), as an interactive shell would."""
    pty = pytest.importorskip("pty")
    master, slave = pty.openpty()
    full_env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "120"}
    full_env.pop("CI", None)
    full_env.pop("PATHAUDIT_DEBUG", None)
    full_env.update(env or {})
    proc = subprocess.Popen(
        [sys.executable, "-m", "auditor", *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=slave,
        stdin=subprocess.DEVNULL,
        cwd=cwd,
        env=full_env,
    )
    os.close(slave)
    seen = bytearray()
    while True:
        ready, _, _ = select.select([master], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            seen += chunk
        elif proc.poll() is not None:
            break
    os.close(master)
    out = proc.stdout.read() if proc.stdout else b""
    return proc.wait(timeout=60), out, bytes(seen)


def test_progress_shows_on_a_terminal_and_goes_away(tmp_path: Path) -> None:
    code, out, terminal = run_with_stderr_on_a_terminal(
        "audit", "--demo", "--format", "json", "-o", tmp_path / "f.json", cwd=tmp_path
    )
    assert code == 1 and out == b""
    text = terminal.decode("utf-8", "replace")
    assert re.search(r"evaluating \d+ rules", text), text
    assert "writing reports (json)" in text, text
    assert "\x1b[2K" in text  # the status line is erased when done
    # what stays: the usual lines, the last one the summary
    assert text.rstrip().splitlines()[-1].endswith(f"written to {tmp_path / 'f.json'} (json)")


def test_no_progress_when_stderr_is_piped(tmp_path: Path) -> None:
    code, out, err = run_cli(
        "audit", "--demo", "--format", "json", "-o", tmp_path / "f.json", env={"TERM": "xterm"}
    )
    assert code == 1 and out == ""
    assert err.splitlines() == [
        f"pathaudit: auditing the bundled demo estate ({DEMO})",
        err.splitlines()[1],
    ]
    assert SUMMARY.match(err.splitlines()[1])
    assert "\x1b" not in err and "evaluating" not in err and "routing" not in err
    # and none in CI, even on a terminal: a CI log keeps only the usual lines
    code, _, terminal = run_with_stderr_on_a_terminal(
        "audit", "--demo", "--format", "json", "-o", tmp_path / "g.json", cwd=tmp_path, env={"CI": "true"}
    )
    assert code == 1
    lines = terminal.decode().splitlines()
    assert lines[0].startswith("pathaudit: auditing the bundled demo estate (") and SUMMARY.match(lines[1])
    assert len(lines) == 2 and "\x1b" not in terminal.decode()
