"""Benchmark: a 10M-row Azure Firewall log export to verdicts (target < 15 s), beside a plain reference.

    .venv/bin/python tests/bench/confirm_flowlogs.py [--rows 10000000] [--formats parquet,csv] [--keep DIR]
    .venv/bin/python tests/bench/confirm_flowlogs.py --rows 50000000 --formats parquet   # the 2 GB RAM check

Generates a `union AZFWNetworkRule, AZFWFlowTrace` export with DuckDB itself (fast, deterministic):
25% of the rows belong to scenario S05's flow (clients 10.1.1.0/24 + 10.1.2.0/24 to the PE
10.2.1.4:443 through afw1: network-rule SYNs and flow-trace INVALIDs, no SYN-ACK), the rest are
other flows with every Flag. Then times, in a fresh process (wall time and peak RSS), the whole
`confirm_document` on fixtures/findings/S05-findings.json with `--flow-trace FILE`, and a plain
Python `csv` aggregation over a 1M-row slice of the CSV, extrapolated.
Not collected by pytest (tests/conftest.py ignores tests/bench).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
FW = "/subscriptions/3f2c8a71-5b0e-4d2a-9c7e-1a2b3c4d5e6f/resourcegroups/rg-hub/providers/microsoft.network/azurefirewalls/afw1"

GENERATE = """
SELECT
  '5a1f0c3e-0000-4000-8000-00000000cafe' AS TenantId,
  TIMESTAMPTZ '2026-01-01 00:00:00+00' + to_microseconds(CAST(i * (86400000000 // {rows}) AS BIGINT)) AS TimeGenerated,
  CASE WHEN k < 20 THEN 'AZFWNetworkRule' WHEN k < 25 THEN 'AZFWFlowTrace'
       WHEN k % 2 = 0 THEN 'AZFWNetworkRule' ELSE 'AZFWFlowTrace' END AS Type,
  CASE WHEN k < 25 THEN '10.1.' || (1 + h % 2) || '.' || (1 + h % 250)
       ELSE '10.' || (3 + h % 200) || '.' || (h // 7 % 256) || '.' || (1 + h // 11 % 250) END AS SourceIp,
  CAST(1024 + h % 60000 AS INTEGER) AS SourcePort,
  CASE WHEN k < 25 THEN '10.2.1.4' ELSE '10.' || (200 + h % 50) || '.' || (h // 13 % 256) || '.' || (1 + h // 17 % 250) END
    AS DestinationIp,
  CAST(CASE WHEN k < 25 THEN 443 ELSE 8080 END AS INTEGER) AS DestinationPort,
  'TCP' AS Protocol,
  CASE WHEN k < 20 OR (k >= 25 AND k % 2 = 0) THEN 'Allow' ELSE 'Log' END AS Action,
  CASE WHEN k < 20 OR (k >= 25 AND k % 2 = 0) THEN '' ELSE 'Additional TCP Log' END AS ActionReason,
  CASE WHEN k < 20 THEN '' WHEN k < 25 THEN 'INVALID' WHEN k % 2 = 0 THEN ''
       ELSE ['SYN-ACK', 'FIN', 'FIN-ACK', 'RST', 'INVALID'][1 + h % 5] END AS Flag,
  CASE WHEN k < 20 OR (k >= 25 AND k % 2 = 0) THEN 'afw1-policy' ELSE '' END AS Policy,
  CASE WHEN k < 20 OR (k >= 25 AND k % 2 = 0) THEN 'rcg-spokes' ELSE '' END AS RuleCollectionGroup,
  CASE WHEN k < 20 OR (k >= 25 AND k % 2 = 0) THEN 'rc-allow' ELSE '' END AS RuleCollection,
  CASE WHEN k < 20 OR (k >= 25 AND k % 2 = 0) THEN 'spokes-to-pe' ELSE '' END AS Rule,
  '{fw}' AS _ResourceId
FROM (SELECT i, i % 100 AS k, CAST(hash(i) % 1000000007 AS BIGINT) AS h FROM range({rows}) t(i))
"""

CHILD_CONFIRM = """
import json, sys, time, resource
t = time.perf_counter()
from auditor.confirm import confirm_document
doc = json.load(open(sys.argv[1]))
res = confirm_document(doc, flow_traces=[sys.argv[2]])
f = [f for f in res.document["findings"] if f["rule_id"] == "NET001"][0]
ev = f["evidence"][-1]["value"]
print(json.dumps({"seconds": time.perf_counter() - t, "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "status": f["status"], "tables": ev["tables"], "forward": ev["forward"]}))
"""

CHILD_PLAIN = """
import csv, json, sys, time, resource, itertools
from collections import Counter
t = time.perf_counter()
limit = int(sys.argv[2])
agg = Counter()
with open(sys.argv[1], newline="") as fh:
    for r in itertools.islice(csv.DictReader(fh), limit):
        if r["DestinationIp"] == "10.2.1.4" and r["DestinationPort"] == "443":
            agg[("forward", r["SourceIp"], r["Type"], r["Flag"] or "SYN")] += 1
        elif r["SourceIp"] == "10.2.1.4" and r["SourcePort"] == "443":
            agg[("reverse", r["DestinationIp"], r["Type"], r["Flag"])] += 1
print(json.dumps({"seconds": time.perf_counter() - t, "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "groups": len(agg)}))
"""


def child(code: str, *args: str) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, cwd=REPO, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    import duckdb

    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--formats", default="parquet,csv")
    ap.add_argument("--plain-rows", type=int, default=1_000_000, help="rows for the plain Python reference")
    ap.add_argument("--keep", type=Path)
    ap.add_argument(
        "--findings",
        type=Path,
        help="findings document to confirm (default: the scenario's; "
        "issue #12: the 10k worst case of tests/bench/scale.py --keep DIR)",
    )
    args = ap.parse_args()
    tmp = Path(args.keep or tempfile.mkdtemp(prefix="pathaudit-bench-"))
    tmp.mkdir(parents=True, exist_ok=True)
    doc = str(args.findings or REPO / "fixtures" / "findings" / "S05-findings.json")
    n = args.rows
    print(f"{n:,} rows, {os.cpu_count()} cores, duckdb {duckdb.__version__}, Python {sys.version.split()[0]}")
    con = duckdb.connect()
    con.execute(f"SET temp_directory='{tmp}'")
    sql = GENERATE.format(rows=n, fw=FW)
    for fmt in args.formats.split(","):
        path = tmp / f"bench-{n}.{fmt}"
        t = time.perf_counter()
        opts = {
            "parquet": "FORMAT parquet, COMPRESSION zstd",
            "csv": "FORMAT csv, HEADER true",
            "json": "FORMAT json, ARRAY true",
        }[fmt]
        con.execute(f"COPY ({sql}) TO '{path}' ({opts})")
        print(
            f"\n[{fmt}] generated {path.stat().st_size / 1e6:.0f} MB with DuckDB in {time.perf_counter() - t:.1f} s"
        )
        r = child(CHILD_CONFIRM, doc, str(path))
        print(
            f"  pathaudit confirm --flow-trace (DuckDB)  {r['seconds']:6.2f} s  {n / r['seconds'] / 1e6:5.2f}M rows/s  "
            f"RSS {r['rss_mb']:6.0f} MB  -> NET001 {r['status']}  {r['forward']}"
            + (
                f"  target < 15 s: {'OK' if r['seconds'] < 15 else 'MISSED'}"
                if n <= 10_000_000
                else f"  RAM target < 2 GB: {'OK' if r['rss_mb'] < 2048 else 'MISSED'}"
            )
        )
        if fmt == "csv":
            sub = min(args.plain_rows, n)
            r = child(CHILD_PLAIN, str(path), str(sub))
            print(
                f"  plain Python csv, {sub / 1e6:g}M rows           {r['seconds']:6.2f} s  -> "
                f"{r['seconds'] * n / sub:6.1f} s for {n:,} (extrapolated)  RSS {r['rss_mb']:6.0f} MB"
            )
        if not args.keep:
            path.unlink()
    con.close()
    if not args.keep:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
