"""`--format flows`: every analysed flow, one row per (route context, endpoint, port), as Parquet or CSV
written by DuckDB; complete (blocked flows too), deterministic, and tied to the findings that cover it."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest
from conftest import REPO, run_cli

from auditor.audit import load_estate
from auditor.config import Config
from auditor.paths.analysis import FlowAnalysis

S01 = REPO / "fixtures" / "scenarios" / "S01-base" / "resources.json"
S09 = REPO / "fixtures" / "scenarios" / "S09-pe-policies-disabled" / "resources.json"


def export(tmp_path: Path, estate: Path, name: str) -> tuple[Path, dict]:
    out = tmp_path / name
    code, _, err = run_cli("audit", estate, "--format", "flows", "--out", out)
    assert code in (0, 1, 3), err
    code, doc_text, err = run_cli("audit", estate, "--format", "json")
    return out, json.loads(doc_text)


@pytest.mark.parametrize("name", ["flows.parquet", "flows.csv"])
def test_every_flow_once_with_its_finding(tmp_path: Path, name: str) -> None:
    out, doc = export(tmp_path, S09, name)
    rows = duckdb.sql(
        f"SELECT * FROM read_{'parquet' if name.endswith('parquet') else 'csv'}('{out}')"
    ).fetchall()
    cols = [d[0] for d in duckdb.sql(f"DESCRIBE SELECT * FROM '{out}'").fetchall()]
    analysis = FlowAnalysis(load_estate([S09]), Config())
    assert len(rows) == len(analysis.all_flows)  # blocked flows too: the whole matrix
    keys = [(r[cols.index("context")], r[cols.index("destination")], r[cols.index("port")]) for r in rows]
    assert len(set(keys)) == len(keys)
    fingerprints = {f["fingerprint"]: f for f in doc["findings"]}
    covered = {r[cols.index("finding")] for r in rows if r[cols.index("finding")]}
    # every NET001 and NET005 of the document covers at least one flow, and only those rules are named
    assert {f["fingerprint"] for f in doc["findings"] if f["rule_id"] in ("NET001", "NET005")} <= covered
    assert {fingerprints[c]["rule_id"] for c in covered} <= {"NET001", "NET005", "NET008"}
    asym = [
        r for r in rows if r[cols.index("verdict")] == "asymmetric" and r[cols.index("appliances_forward")]
    ]
    assert asym and all(r[cols.index("finding")] for r in asym)


def test_same_input_same_bytes(tmp_path: Path) -> None:
    a, _ = export(tmp_path, S01, "a.parquet")
    b, _ = export(tmp_path, S01, "b.parquet")
    assert a.read_bytes() == b.read_bytes()


def test_flows_need_a_file_and_an_estate(tmp_path: Path) -> None:
    code, _, err = run_cli("audit", S01, "--format", "flows")
    assert code == 2 and "--out" in err and len(err.strip().splitlines()) == 1
    code, _, err = run_cli("audit", S01, "--format", "flows", "--out", tmp_path / "flows.txt")
    assert code == 2 and ".parquet or .csv" in err
    code, _, err = run_cli(
        "report",
        REPO / "reports" / "demo" / "findings.json",
        "--format",
        "flows",
        "--out",
        tmp_path / "x.parquet",
    )
    assert code == 2 and "'flows' is not one of" in err  # `report` has no estate to analyse


def test_paths_with_glob_characters_are_literal(tmp_path: Path) -> None:
    """DuckDB globs `*`, `?` and `[..]` in file names it reads: the user's path never reaches it."""
    weird = tmp_path / "out[1]*?" / "flows.csv"
    code, _, err = run_cli("audit", S01, "--format", "flows", "--out", weird)
    assert code in (0, 1), err
    assert weird.is_file() and weird.read_text("utf-8").startswith("context,")
