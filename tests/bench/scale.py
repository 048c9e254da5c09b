"""Scale benchmark (issue #12): findings@2 on the worst case, where every spoke is asymmetric to every
private endpoint of every other spoke (tests/bench/paths.py `worst_case`).

    .venv/bin/python tests/bench/scale.py [--sizes 10000,50000] [--keep DIR]

Per size, in a fresh process: the estate file, a plain `orjson.loads` / `json.loads` of it (garbage
collector paused), `pathaudit audit --format json` in-process (load, rules, document, JSON bytes) with
its ratio to the plain loads, peak RSS, the document's size and finding count, then `report --format
sarif` and `--format html` on that document (time, SARIF result count against GitHub's 25,000) and
`--format flows` to Parquet (rows, time). Targets (issue #12, this machine): 10k subnets / 2k PEs audit
<= 5 s, <= 1 GB, document <= 50 MB, SARIF <= 25,000 results, report sarif|html <= 5 s; 50k / 10k
<= 20 s, <= 2 GB. `--keep DIR` keeps the estates and documents (tests/bench/confirm_*.py take
`--findings DIR/findings-10000.json`). Not collected by pytest.
"""

from __future__ import annotations

import argparse
import gc
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(REPO), str(REPO / "tests"), str(REPO / "tests" / "bench")]


def measure(path: Path, doc_out: Path) -> dict[str, Any]:
    import orjson

    from auditor.audit import findings_document, run_audit
    from auditor.catalog import load_catalog
    from auditor.config import Config
    from auditor.report.outputs import ReportContext, chunks, write_reports

    data = path.read_bytes()
    loads = {}
    for name, fn in (("orjson", orjson.loads), ("json", json.loads)):
        gc.collect()
        gc.disable()
        t0 = time.perf_counter()
        fn(data)
        loads[name] = time.perf_counter() - t0
        gc.enable()
    del data
    gc.collect()
    t0 = time.perf_counter()
    result = run_audit([path], Config())
    doc = findings_document(result)
    size = sum(len(c) for c in chunks("json", ReportContext.for_document(doc, result.catalog)))
    audit = time.perf_counter() - t0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    write_reports(ReportContext.for_document(doc, result.catalog), ["json"], doc_out)
    t0 = time.perf_counter()
    rows = sum(1 for _ in result.flow_rows(doc))
    flows = time.perf_counter() - t0
    del result
    saved = json.loads(doc_out.read_text("utf-8"))
    catalog = load_catalog()
    times = {}
    for fmt in ("sarif", "html"):
        t0 = time.perf_counter()
        out = b"".join(chunks(fmt, ReportContext.for_document(saved, catalog)))
        times[fmt] = time.perf_counter() - t0
        if fmt == "sarif":
            results = len(json.loads(out)["runs"][0]["results"])
    by_rule: dict[str, int] = {}
    for f in saved["findings"]:
        by_rule[f["rule_id"]] = by_rule.get(f["rule_id"], 0) + 1
    return {
        "loads": loads,
        "audit": audit,
        "rss": rss,
        "bytes": size,
        "findings": len(saved["findings"]),
        "by_rule": by_rule,
        "sarif": times["sarif"],
        "html": times["html"],
        "results": results,
        "flows": flows,
        "flow_rows": rows,
    }


def main() -> int:
    from paths import write_estate

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="10000,50000")
    ap.add_argument("--keep", type=Path)
    ap.add_argument("--measure", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.measure:
        print(json.dumps(measure(Path(args.measure[0]), Path(args.measure[1]))))
        return 0
    print(
        f"scale benchmark (Python {sys.version.split()[0]}), worst case: every spoke asymmetric to every PE"
    )
    print(
        f"{'subnets':>8} {'file MB':>8} {'orjson':>7} {'json':>6} {'audit s':>8} {'/json':>6} {'/orjson':>7} "
        f"{'RSS MB':>7} {'doc MB':>7} {'findings':>8} {'sarif s':>7} {'results':>7} {'html s':>6} {'flows':>8} "
        f"{'rows':>8}"
    )
    ok = True
    work = args.keep or Path(tempfile.mkdtemp(prefix="pathaudit-scale-"))
    work.mkdir(parents=True, exist_ok=True)
    for size in (int(s) for s in args.sizes.split(",")):
        estate, doc = work / f"estate-{size}.json", work / f"findings-{size}.json"
        write_estate(size, estate, worst=True)
        proc = subprocess.run(
            [sys.executable, __file__, "--measure", str(estate), str(doc)],
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            print(proc.stderr)
            return 2
        r = json.loads(proc.stdout.strip().splitlines()[-1])
        lo, lj = r["loads"]["orjson"], r["loads"]["json"]
        print(
            f"{size:>8} {estate.stat().st_size / 1e6:>8.1f} {lo:>7.2f} {lj:>6.2f} {r['audit']:>8.2f} "
            f"{r['audit'] / lj:>6.1f} {r['audit'] / lo:>7.1f} {r['rss'] / 2**20:>7.0f} {r['bytes'] / 1e6:>7.1f} "
            f"{r['findings']:>8} {r['sarif']:>7.2f} {r['results']:>7} {r['html']:>6.2f} {r['flows']:>8.2f} "
            f"{r['flow_rows']:>8}  {r['by_rule']}",
            flush=True,
        )
        if 9000 <= size <= 11000:
            checks = [
                ("audit <= 5 s", r["audit"] <= 5),
                ("peak RSS <= 1 GB", r["rss"] <= 2**30),
                ("document <= 50 MB", r["bytes"] <= 50e6),
                ("SARIF <= 25,000 results", r["results"] <= 25000),
                ("report sarif <= 5 s", r["sarif"] <= 5),
                ("report html <= 5 s", r["html"] <= 5),
                ("audit / json.loads <= 10", r["audit"] / lj <= 10),
            ]
        elif 45000 <= size <= 55000:
            checks = [("audit <= 20 s", r["audit"] <= 20), ("peak RSS <= 2 GB", r["rss"] <= 2 * 2**30)]
        else:
            checks = []
        for label, met in checks:
            print(f"  target {label} ({size} subnets): {'met' if met else 'MISSED'}")
            ok = ok and met
    if args.keep is None:
        import shutil

        shutil.rmtree(work, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
