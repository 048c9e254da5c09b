"""Issue #13, items 8 and 11: names and tags are attacker-controlled. Terminal output (table, warnings,
trace) carries no escape sequence or control character from the estate; CSV cells cannot start a
formula even after another separator; SARIF message text cannot carry an embedded link."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import REPO, run_cli, write_json

S01 = REPO / "fixtures" / "scenarios" / "S01-base" / "resources.json"
ESC = "\x1b]0;pwned\x07\x1b[31mred\x1b[0m\x1b]8;;https://evil.example\x07link\x1b]8;;\x07\x9b2J"


def hostile(tmp_path: Path) -> Path:
    rows = json.loads(S01.read_text("utf-8"))
    rt = next(r for r in rows if r["name"] == "rt-spoke")
    rt["properties"]["routes"][0]["name"] = f"route{ESC}\nforged: line"
    nic = next(r for r in rows if r["name"] == "nva1-nic")
    nic["tags"] = {"disableSnatOnPL": f"yes{ESC}", "note": '=HYPERLINK("https://evil")'}
    acct = next(r for r in rows if r["type"] == "microsoft.cognitiveservices/accounts")
    acct["name"] = "aoai[click](https://evil.example)"
    bad = dict(rt, id=rt["id"].replace("rt-spoke", f"rt-bad{ESC}"), name=f"rt-bad{ESC}")
    bad["properties"] = dict(bad["properties"], routes="not a list")
    rows.append(bad)
    return write_json(tmp_path, "hostile.json", rows)


def test_terminal_output_has_no_escape_sequences(tmp_path: Path) -> None:
    path = hostile(tmp_path)
    code, out, err = run_cli("audit", path, "--fail-on", "never")
    assert code in (2, 3), err  # the broken route table is named, the rest audited
    for stream in (out, err):
        assert "\x1b" not in stream and "\x07" not in stream and "\x9b" not in stream
    assert not any(line.startswith("forged: line") for line in (out + err).splitlines())
    _, out, err = run_cli("trace", path, "--from", "snet-app", "--to", "pe-aoai")
    assert "\x1b" not in out + err and "\x07" not in out + err


def test_csv_and_sarif_neutralise_estate_strings(tmp_path: Path) -> None:
    path = hostile(tmp_path)
    out_dir = tmp_path / "out"
    run_cli("audit", path, "--format", "csv", "--format", "sarif", "--out", out_dir, "--fail-on", "never")
    csv_text = (out_dir / "findings.csv").read_text("utf-8")
    for cell in csv_text.replace("\r\n", ",").split(","):
        assert not cell.strip('"').lstrip().startswith(("=", "+", "@")), cell
    sarif = json.loads((out_dir / "findings.sarif").read_text("utf-8"))
    texts = [r["message"]["text"] for r in sarif["runs"][0]["results"]]
    assert any("aoai\\[click\\](https://evil.example)" in t for t in texts)
    assert not any("[click](" in t.replace("\\[click\\](", "") for t in texts)


def test_trace_dot_and_flows_csv_neutralise_estate_strings(tmp_path: Path) -> None:
    """`trace --format dot` goes to the terminal too; the flows CSV opens in spreadsheets like findings.csv."""
    rows = json.loads(S01.read_text("utf-8"))
    vm = next(r for r in rows if r["name"] == "nva1")
    vm["name"] = f'nva1{ESC}, =HYPERLINK("https://evil")'
    path = write_json(tmp_path, "hostile.json", rows)
    _, out, err = run_cli("trace", path, "--from", "snet-app", "--to", "pe-aoai", "--format", "dot")
    assert "digraph" in out and "\x1b" not in out + err and "\x07" not in out + err
    flows = tmp_path / "flows.csv"
    code, _, err = run_cli("audit", path, "--format", "flows", "--out", flows, "--fail-on", "never")
    assert code == 0, err
    data = flows.read_text("utf-8")
    assert "HYPERLINK" in data and ", =HYPERLINK" not in data and ", '=HYPERLINK" in data
