"""What-if benchmark (issue 16): one change on the scale benchmark's estate, against one audit of it.

    .venv/bin/python tests/bench/whatif.py [--sizes 10000]

Per size, in this process: `run_audit` of the estate (load and rules), then `run_whatif` with one
change (the disableSnatOnPL tag on the first NVA NIC): the inputs read once, the estate built and
audited before and after, findings, flows and effective routes compared. Target: whatif <= 2x the
audit. Prints the numbers; not collected by pytest.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(REPO), str(REPO / "tests"), str(REPO / "tests" / "bench")]


def main() -> int:
    from paths import write_estate

    from auditor.audit import run_audit
    from auditor.config import Config
    from auditor.whatif.changes import Change
    from auditor.whatif.run import run_whatif

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="10000")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="pathaudit-whatif-"))
    print(
        f"{'subnets':>8} {'audit s':>8} {'whatif s':>9} {'ratio':>6} {'resolved':>8} {'new':>4} {'flows':>7} {'routes':>6}"
    )
    for size in (int(s) for s in args.sizes.split(",")):
        path = work / f"estate-{size}.json"
        write_estate(size, path, worst=True)
        rows = json.loads(path.read_text(encoding="utf-8"))["data"]  # a Resource Graph response
        nic = next(
            r["id"]
            for r in rows
            if r["type"].lower() == "microsoft.network/networkinterfaces"
            and (r.get("properties") or {}).get("enableIPForwarding")
        )
        del rows
        t0 = time.perf_counter()
        run_audit([path], Config())
        audit = time.perf_counter() - t0
        t0 = time.perf_counter()
        w = run_whatif([path], Config(), [Change("bench", nic, tags={"disableSnatOnPL": "true"})])
        whatif = time.perf_counter() - t0
        c = w.comparison
        print(
            f"{size:>8} {audit:>8.2f} {whatif:>9.2f} {whatif / audit:>6.2f} {len(c.resolved):>8} {len(c.new):>4} "
            f"{len(c.flows):>7} {len(c.routes):>6}  target whatif <= 2x audit: {'met' if whatif <= 2 * audit else 'MISSED'}",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
