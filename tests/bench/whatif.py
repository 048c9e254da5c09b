"""What-if benchmark (issue 16): one change on the scale benchmark's worst-case estate, against one audit.

    .venv/bin/python tests/bench/whatif.py [--sizes 10000] [--runs 3] [--cli]

The estate is tests/bench/paths.py's worst case (every spoke routes private traffic through its hub's
NVA: at 10k subnets 200 spokes, 2k endpoints). Per size and change, in this process and with the
garbage collector as the commands leave it: one audit (`run_audit` + the findings document, loading
included: what `pathaudit audit FILE --format json` computes) and one `run_whatif` with that change
(inputs read once, the estate built and audited before and after, findings, flows and effective
routes compared), in two modes: `1 proc`, the audit after the change in this process, reusing the
merged records and the forward walks of the audit before wherever the change leaves them (`reused`
and `walked` count them); `2 proc`, the audit after the change in a second process at the same time
(what `whatif` does on a large estate with a second CPU; nothing is reused). The best of `--runs` each.
Target: whatif <= 2x the audit. Changes:

  - tag: disableSnatOnPL=true on the first hub's NVA NIC. Every flow through that NVA changes verdict
    (asymmetric -> symmetric), the worst case for the comparison; no route moves, every walk is reused.
  - route: a route (10.0.0.0/8 -> None) added to one spoke's route table. One route context changes:
    it alone is walked again.

`--cli` also times the two commands as a user runs them (a fresh interpreter each: imports, load,
audit, JSON written). Prints the numbers; not collected by pytest.
"""

from __future__ import annotations

import argparse
import gc
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(REPO), str(REPO / "tests"), str(REPO / "tests" / "bench")]


def changes_for(rows: list[dict[str, Any]]) -> dict[str, Any]:
    from auditor.whatif.changes import Change

    nic = next(
        r["id"]
        for r in rows
        if r["type"].lower() == "microsoft.network/networkinterfaces"
        and (r.get("properties") or {}).get("enableIPForwarding")
    )
    table = next(r["id"] for r in rows if r["type"].lower() == "microsoft.network/routetables")
    route = {"name": "bench", "addressPrefix": "10.0.0.0/8", "nextHopType": "None"}
    return {
        "tag": (
            Change("bench", nic, tags={"disableSnatOnPL": "true"}),
            ["--tag", nic, "disableSnatOnPL=true"],
        ),
        "route": (Change("bench", table, add_route=route), None),
    }


def best(runs: int, fn: Any) -> float:
    """The best of `runs` wall times of fn(), each after a full collection (the machine is shared)."""
    times = []
    for _ in range(max(1, runs)):
        gc.collect()
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def cli(*args: str | Path) -> float:
    t0 = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "auditor", *map(str, args)], cwd=REPO, capture_output=True, check=False
    )
    return time.perf_counter() - t0


def main() -> int:
    from paths import write_estate

    from auditor.audit import run_audit
    from auditor.config import Config
    from auditor.whatif.run import run_whatif

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="10000")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--cli", action="store_true", help="also time the commands in fresh interpreters")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="pathaudit-whatif-"))
    print(
        f"{'subnets':>8} {'change':>6} {'mode':>6} {'audit s':>8} {'whatif s':>9} {'ratio':>6} {'reused':>8} {'walked':>7} "
        f"{'resolved':>8} {'new':>4} {'flows':>6} {'routes':>6}"
    )
    for size in (int(s) for s in args.sizes.split(",")):
        path = work / f"estate-{size}.json"
        write_estate(size, path, worst=True)
        rows = json.loads(path.read_text(encoding="utf-8"))["data"]  # a Resource Graph response
        changes = changes_for(rows)
        del rows
        audit = best(args.runs, lambda path=path: run_audit([path], Config()).document())
        for name, (change, flags) in changes.items():
            for mode, parallel in (("1 proc", False), ("2 proc", True)):
                whatif = best(
                    args.runs,
                    lambda change=change, path=path, parallel=parallel: run_whatif(
                        [path], Config(), [change], parallel=parallel
                    ),
                )
                w = run_whatif([path], Config(), [change], parallel=parallel)
                c, reuse = w.comparison, w.reuse
                hits, misses = (reuse.hits, reuse.misses) if reuse is not None else (0, 0)
                print(
                    f"{size:>8} {name:>6} {mode:>6} {audit:>8.2f} {whatif:>9.2f} {whatif / audit:>6.2f} {hits:>8} "
                    f"{misses:>7} {len(c.resolved):>8} {len(c.new):>4} {len(c.flows):>6} {len(c.routes):>6}  "
                    f"target whatif <= 2x audit: {'met' if whatif <= 2 * audit else 'MISSED'}",
                    flush=True,
                )
                del w
            if args.cli and flags is not None:
                a = min(
                    cli("audit", path, "--format", "json", "-o", work / "a.json") for _ in range(args.runs)
                )
                b = min(
                    cli("whatif", path, *flags, "--format", "json", "-o", work / "w.json")
                    for _ in range(args.runs)
                )
                print(
                    f"{size:>8} {name:>6} commands: audit {a:.2f} s, whatif {b:.2f} s, ratio {b / a:.2f}",
                    flush=True,
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())
