"""Live collection benchmark: a 20,000-resource tenant over 1001 subscriptions, real SDK clients.

The fake ARM server (tests/fakeazure) runs in a child process, so the peak RSS printed is the
collector's own: Resource Graph paging (1000 rows a page, two subscription batches), the inventory
(dedupe + redaction) and the snapshot document, then writing the .json.gz. Checks that the
snapshot holds exactly the served ids, once each.

    .venv/bin/python tests/bench/collect_20k.py [--resources 20000] [--subscriptions 1001] [--runs 3]

Not collected by pytest (tests/conftest.py: collect_ignore = ["bench"]).
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TESTS))
sys.path.insert(0, str(TESTS.parent))


def serve(resources: int, subscriptions: int, conn: mp.connection.Connection) -> None:
    from fakeazure import FakeAzure
    from fakeazure.tenant import synthetic_tenant

    rows, subs = synthetic_tenant(resources, subscriptions)
    with FakeAzure(rows) as fake:
        conn.send((fake.url, fake.ca_path, subs))
        conn.recv()  # until the parent is done
        conn.send(len(fake.graph_requests()))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--resources", type=int, default=20_000)
    parser.add_argument("--subscriptions", type=int, default=1001)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    # the SDKs first, so that the baseline RSS printed below includes them
    import azure.mgmt.cognitiveservices
    import azure.mgmt.network
    import azure.mgmt.resourcegraph  # noqa: F401

    from auditor.collect.credentials import StaticTokenCredential
    from auditor.collect.live import CollectOptions, collect
    from auditor.collect.progress import Reporter
    from auditor.collect.snapshot import write_snapshot

    baseline_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    parent, child = mp.Pipe()
    server = mp.get_context("fork").Process(
        target=serve, args=(args.resources, args.subscriptions, child), daemon=True
    )
    server.start()
    url, ca_path, subs = parent.recv()
    options = CollectOptions(
        subscriptions=tuple(subs), arm_endpoint=url, verify=ca_path, credential="token", sleep=lambda s: None
    )
    durations, writes = [], []
    result = None
    for _ in range(args.runs):
        result = None  # one snapshot in memory at a time
        start = time.perf_counter()
        result = collect(options, Reporter(), credential=StaticTokenCredential("bench-token"))
        durations.append(time.perf_counter() - start)
        with tempfile.TemporaryDirectory() as tmp:
            start = time.perf_counter()
            path = write_snapshot(result.snapshot, Path(tmp) / "snap.json.gz")
            writes.append(time.perf_counter() - start)
            size = path.stat().st_size
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    parent.send("done")
    requests = parent.recv()
    server.join(5)

    from fakeazure.tenant import synthetic_tenant

    assert result is not None
    expected = {r["id"].lower() for r in synthetic_tenant(args.resources, args.subscriptions)[0]}
    got = [r["id"].lower() for r in result.snapshot["resources"]]
    assert len(got) == len(set(got)), "duplicates in the snapshot"
    assert set(got) == expected, "collected ids differ from the served ids"
    assert result.snapshot["coverage"]["complete"], result.snapshot["coverage"]
    print(
        f"tenant: {args.resources} resources, {args.subscriptions} subscriptions "
        f"({-(-args.subscriptions // 1000)} batches)"
    )
    print(f"Resource Graph pages per collection: {result.stats.pages} ({requests // args.runs} requests)")
    print(
        f"collect: median {statistics.median(durations):.2f}s (runs: {', '.join(f'{d:.2f}' for d in durations)})"
    )
    print(f"write .json.gz: median {statistics.median(writes):.2f}s, {size / 1e6:.1f} MB")
    print(
        f"peak RSS of the collector process: {peak_mb:.0f} MB ({baseline_mb:.0f} MB after importing the SDKs)"
    )
    print(f"ids: {len(got)} collected == {len(expected)} served, no duplicates")


if __name__ == "__main__":
    main()
