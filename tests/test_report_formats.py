"""Formats and outputs: --format/--out, `pathaudit report`, Markdown/CSV escaping, determinism, and the
committed demo reports being current."""

from __future__ import annotations

import csv
import io
import json
import shutil

import pytest
from click.testing import CliRunner
from conftest import REPO, run_cli
from helpers.report_docs import (
    GREEK,
    IMG,
    JAPANESE,
    SCRIPT,
    document,
    finding,
    hostile_document,
    hostile_estate,
    write_estate,
)

from auditor.catalog import load_catalog
from auditor.cli import cli
from auditor.packaged import demo_dir
from auditor.report.csv_report import COLUMNS, render_csv
from auditor.report.markdown import render_markdown
from auditor.report.outputs import FILENAMES, FORMATS, plan
from auditor.report.text import csv_cell, h, md, md_code, xml_attr

ALL = [x for f in FORMATS for x in ("--format", f)]
DEMO_REPORTS = REPO / "reports" / "demo"
DEMO_FORMATS = ("json", "sarif", "html", "markdown", "junit", "csv")  # the Makefile's `demo` target


def has_demo() -> bool:
    return any(demo_dir().glob("*.json"))


# --- escaping helpers -------------------------------------------------------------------------


def test_escaping_helpers():
    assert h(SCRIPT) == "&lt;script&gt;alert(1)&lt;/script&gt;"
    assert h(IMG) == "&quot;&gt;&lt;img src=x onerror=alert(1)&gt;"
    assert h("it's") == "it&#x27;s" and h(None) == "" and h("a\x00b\x1b") == "a\ufffdb\ufffd"
    assert xml_attr('a"b<c>&\n') == "a&quot;b&lt;c&gt;&amp;&#10;"
    assert md("a|b <x> `c` *d* [e](f) _g_ ~h~ &") == r"a\|b &lt;x&gt; \`c\` \*d\* \[e\](f) \_g\_ \~h\~ &amp;"
    assert md("line1\nline2") == "line1 line2"
    assert md_code("a`b|c") == "``a`b\\|c``"
    assert md_code("`x`") == "`` `x` ``"
    assert md_code("/a/<b>") == "/a/&lt;b&gt;"  # never a raw angle bracket, not even in code
    for lead in "=+-@":
        assert csv_cell(f"{lead}1+1") == f"'{lead}1+1"
    assert csv_cell("\t=1") == "'\t'=1" and csv_cell("/subscriptions/x") == "/subscriptions/x"
    assert csv_cell("ok;=HYPERLINK(1)") == "ok;'=HYPERLINK(1)" and csv_cell("a, -b") == "a, '-b"
    assert csv_cell(True) == "true"


def test_markdown_escapes_estate_strings():
    data = render_markdown(hostile_document(), load_catalog()).decode()
    assert "<script" not in data and "<img" not in data and "<br>" in data  # only our own <br>
    for line in data.splitlines():
        if line.startswith("| ") and "\\|" not in line:
            # table rows keep their column count: escaped pipes are not separators
            assert line.count("|") in (3, 6, 7, 8, 5, 4), line
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in data
    assert "## Warnings" in data and "## Coverage notes" in data and "## Resolved since the baseline" in data
    rows = [line for line in data.splitlines() if line.startswith("| 1 |")]
    assert len(rows) == 1 and rows[0].replace("\\|", "").count("|") == 8  # 7 columns with baseline


def test_markdown_table_pipes_and_backticks_in_ids():
    f = finding(resource_id="/x/a|b`c", message="pipe | and `tick` and <b>bold</b>")
    data = render_markdown(document([f]), load_catalog()).decode()
    row = next(line for line in data.splitlines() if line.startswith("| 1 |"))
    assert row.replace("\\|", "").count("|") == 7
    assert "&lt;b&gt;bold&lt;/b&gt;" in row and "\\`tick\\`" in row


def test_csv_one_row_per_finding_formula_neutralised():
    sup = {
        "rule": "NET001",
        "resource": "*",
        "reason": "=cmd|' /C calc'!A0",
        "expires": "2027-01-01",
        "approved_by": None,
    }
    doc = document(
        [
            finding(message="-2+3 sum", suppression=sup),
            finding("AOAI001", resource_id="@evil", message=f"{JAPANESE} {GREEK}\nsecond line"),
        ]
    )
    data = render_csv(doc)
    assert data.endswith(b"\r\n") and not data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))
    assert tuple(rows[0]) == COLUMNS and len(rows) == 3
    first = dict(zip(COLUMNS, rows[1], strict=True))
    assert first["message"] == "'-2+3 sum" and first["suppressed"] == "true"
    assert (
        first["suppression_reason"] == "'=cmd|' /C calc'!A0" and first["suppression_expires"] == "2027-01-01"
    )
    second = dict(zip(COLUMNS, rows[2], strict=True))
    assert second["resource_id"] == "'@evil" and second["resource_name"] == "'@evil"
    assert second["message"] == f"{JAPANESE} {GREEK}\nsecond line" and second["suppressed"] == "false"
    assert (second["subscription"], second["resource_group"]) == ("", "")  # not an ARM id
    assert first["resource_group"] == "rg" and first["remediation"] == "r"
    assert first["controls"] == "mcsb:NS-3; nist:AC-4,SC-7"


# the columns a consumer keyed on positions reads: never moved, new ones only appended after them
CSV_FIXED = (
    *("severity", "rule_id", "status", "resource_id", "resource_name", "title", "message", "fingerprint"),
    *("suppressed", "suppression_reason", "suppression_expires"),
)


def test_csv_columns_appended_never_moved():
    assert COLUMNS[: len(CSV_FIXED)] == CSV_FIXED
    assert COLUMNS[len(CSV_FIXED) :] == ("subscription", "resource_group", "remediation", "controls")


def test_csv_hostile_ids_remediation_and_controls_neutralised():
    hostile = f"/subscriptions/=1+1/resourceGroups/@rg{IMG}/providers/Microsoft.Network/routeTables/-rt"
    doc = document([finding(resource_id=hostile, remediation="=HYPERLINK(1)\n- step\n+ step")])
    rows = list(csv.reader(io.StringIO(render_csv(doc).decode("utf-8"), newline="")))
    row = dict(zip(COLUMNS, rows[1], strict=True))
    assert row["subscription"] == "'=1+1" and row["resource_group"] == f"'@rg{IMG}"
    assert row["resource_name"] == "'-rt" and row["remediation"] == "'=HYPERLINK(1)\n'- step\n'+ step"
    for cell in rows[1]:
        assert not cell.startswith(("=", "+", "-", "@")), cell


@pytest.mark.skipif(not has_demo(), reason="demo estate not generated yet")
def test_csv_of_the_demo_estate():
    from auditor.audit import demo_inputs, run_audit
    from auditor.config import Config

    result = run_audit(*demo_inputs()[:1], Config(), demo_inputs()[1])
    doc = result.document()
    data = render_csv(doc, result.catalog)
    assert data == render_csv(doc)  # without a catalog: the bundled one, the same bytes
    rows = list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))
    assert tuple(rows[0]) == COLUMNS and len(rows) == len(doc["findings"]) + 1 >= 11
    for f, cells in zip(doc["findings"], rows[1:], strict=True):
        row = dict(zip(COLUMNS, cells, strict=True))
        segments = f["resource_id"].split("/")
        assert (row["rule_id"], row["fingerprint"]) == (f["rule_id"], f["fingerprint"])
        assert (row["subscription"], row["resource_group"]) == (segments[2], segments[4])
        assert row["remediation"] == csv_cell(f["remediation"]) and "\n" in row["remediation"]
        rule = result.catalog[f["rule_id"]]
        assert row["controls"].split("; ")[-1] == "nist:" + ",".join(rule.mappings["nist_800_53"])
        assert (f"mcsb:{','.join(rule.mappings['mcsb'])}") in row["controls"]
        for p in rule.mappings["azure_policy"]:
            assert row["controls"].startswith("policy:") and p["id"] in row["controls"]
    aoai001 = next(dict(zip(COLUMNS, r, strict=True)) for r in rows[1:] if r[1] == "AOAI001")
    assert (
        aoai001["controls"] == "policy:71ef260a-8f18-47b7-abcb-62d0673d94dc; mcsb:IM-1; nist:AC-2,AC-3,IA-2"
    )


# --- --format / --out -------------------------------------------------------------------------


def test_plan(tmp_path):
    assert plan(["json"], None) == [("json", None)]
    assert plan(["json"], tmp_path / "f.json") == [("json", tmp_path / "f.json")]
    assert plan(["json"], tmp_path) == [("json", tmp_path / "findings.json")]  # existing dir
    assert plan(["json", "sarif", "json"], tmp_path / "new") == [
        ("json", tmp_path / "new" / "findings.json"),
        ("sarif", tmp_path / "new" / "findings.sarif"),
    ]
    with pytest.raises(Exception, match="need --out DIR"):
        plan(["json", "sarif"], None)


def test_audit_writes_every_format_into_out_dir(tmp_path):
    estate = write_estate(tmp_path, hostile_estate())
    out = tmp_path / "out"
    res = CliRunner().invoke(cli, ["audit", str(estate), *ALL, "--out", str(out), "--fail-on", "never"])
    assert res.exit_code == 0, res.output
    assert res.stdout == ""
    assert sorted(p.name for p in out.iterdir()) == sorted(FILENAMES.values())
    doc = json.loads((out / "findings.json").read_text(encoding="utf-8"))
    assert len(doc["findings"]) == 6
    assert json.loads((out / "findings.sarif").read_text(encoding="utf-8"))["version"] == "2.1.0"
    table = (out / "findings.txt").read_text(encoding="utf-8")
    assert (
        table.count("AOAI001") == 3
        and table.count("AOAI004") == 3
        and "6 findings (3 high, 3 medium" in table
    )


def test_several_formats_without_out_is_a_usage_error(tmp_path):
    estate = write_estate(tmp_path, hostile_estate())
    code, out, err = run_cli("audit", estate, "--format", "json", "--format", "sarif")
    assert code == 2 and "need --out DIR" in err and out == ""


def test_report_rerenders_a_saved_document_identically(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_estate(tmp_path, hostile_estate())
    runner = CliRunner()
    res = runner.invoke(cli, ["audit", "estate", *ALL, "--out", "a", "--fail-on", "never"])
    assert res.exit_code == 0, res.output
    res = runner.invoke(cli, ["report", "a/findings.json", *ALL, "--out", "b", "--fail-on", "never"])
    assert res.exit_code == 0, res.output
    for name in FILENAMES.values():
        if name in (
            "findings.junit.xml",
            "findings.html",
        ):  # both need the estate (assessed resources, the map)
            continue  # the saved document lacks the per-rule resource lists (see test below)
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    sarif = json.loads((tmp_path / "b" / "findings.sarif").read_text(encoding="utf-8"))
    assert (
        sarif["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        == "estate/resources.json"
    )
    junit = (tmp_path / "b" / "findings.junit.xml").read_text(encoding="utf-8")
    assert "all other assessed resources" in junit


@pytest.mark.parametrize(
    ("doc_findings", "fail_on", "complete", "code"),
    [
        ([], "high", True, 0),
        ([finding()], "high", True, 1),
        ([finding(severity="medium")], "high", True, 0),
        ([finding(severity="medium")], "medium", True, 1),
        ([finding(baseline="unchanged")], "high", True, 0),
        ([], "high", False, 3),
    ],
)
def test_report_exit_codes(tmp_path, doc_findings, fail_on, complete, code):
    doc = document(doc_findings)
    doc["coverage"]["complete"] = complete
    path = tmp_path / "f.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    res = CliRunner().invoke(cli, ["report", str(path), "--format", "json", "--fail-on", fail_on])
    assert res.exit_code == code
    assert json.loads(res.stdout) == doc


def test_report_of_something_else_exits_2(tmp_path):
    path = tmp_path / "x.json"
    path.write_text('{"schema": "pathaudit/snapshot@1"}', encoding="utf-8")
    code, _, err = run_cli("report", path)
    assert code == 2 and "not a findings document" in err


# --- determinism ------------------------------------------------------------------------------


def test_two_runs_give_identical_bytes_in_every_format(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    estate = write_estate(tmp_path, hostile_estate())
    runner = CliRunner()
    for run in ("one", "two"):
        res = runner.invoke(cli, ["audit", str(estate), *ALL, "--out", run, "--fail-on", "never"])
        assert res.exit_code == 0, res.output
    for name in FILENAMES.values():
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes(), name


@pytest.mark.skipif(not has_demo(), reason="demo estate not generated yet")
def test_demo_estate_two_runs_identical_and_reports_current(tmp_path, monkeypatch):
    """reports/demo/ is what `make demo` writes; regenerate and compare bytes (run `make demo` if this fails)."""
    monkeypatch.chdir(REPO)
    runner = CliRunner()
    outs = []
    for run in ("one", "two"):
        out = tmp_path / run
        args = [
            "audit",
            "--demo",
            "--fail-on",
            "high",  # as the Makefile: JUnit fails the demo's high findings, and the audit exits 1
            *[x for f in DEMO_FORMATS for x in ("--format", f)],
            "--out",
            str(out),
        ]
        res = runner.invoke(cli, args)
        assert res.exit_code == 1, res.output
        outs.append(out)
    expected = sorted(FILENAMES[f] for f in DEMO_FORMATS)
    assert sorted(p.name for p in outs[0].iterdir()) == expected
    for name in expected:
        assert (outs[0] / name).read_bytes() == (outs[1] / name).read_bytes(), name
    assert DEMO_REPORTS.is_dir(), "reports/demo/ missing: run `make demo`"
    assert sorted(p.name for p in DEMO_REPORTS.iterdir()) == expected
    stale = [n for n in expected if (DEMO_REPORTS / n).read_bytes() != (outs[0] / n).read_bytes()]
    assert not stale, f"reports/demo/ is stale ({', '.join(stale)}): run `make demo` and commit reports/demo/"


def test_out_path_is_not_part_of_any_output(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    estate = write_estate(tmp_path, hostile_estate())
    res = CliRunner().invoke(
        cli, ["audit", str(estate), *ALL, "--out", "somewhere-unique-42", "--fail-on", "never"]
    )
    assert res.exit_code == 0
    for p in (tmp_path / "somewhere-unique-42").iterdir():
        assert b"somewhere-unique-42" not in p.read_bytes(), p.name
    shutil.rmtree(tmp_path / "somewhere-unique-42")
