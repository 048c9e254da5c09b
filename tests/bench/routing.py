"""Routing benchmark (issue #3): effective route tables of large hub-and-spoke estates.

For estates of 1k, 10k and 50k subnets (one hub + N spoke VNets of 10 subnets each; one route table
per spoke shared by its 9 workload subnets, the PE subnet without; 3 private endpoints per spoke;
NVA, VPN gateway and local network gateway in the hub; every spoke peered with the hub, gateway
transit on) written as Resource Graph rows, prints:
  - estate build: `auditor.audit.load_estate` of the rows file (parse + model), and the file size;
  - all tables: `RoutingModel(estate).all_tables()` wall time (best of --runs, fresh model each), and
    the peak memory it allocates (tracemalloc, separate run) plus the process peak RSS;
  - lookups/s: `view.lookup` over 1M random destinations on the largest table (the hub's).
Targets: all tables of the 10k-subnet estate < 2 s; >= 1M lookups/s.

    .venv/bin/python tests/bench/routing.py [--sizes 1000,10000,50000] [--runs 3] [--lookups 1000000]
    .venv/bin/python tests/bench/routing.py --profile 10000     # cProfile of all_tables()

Not collected by pytest (tests/conftest.py: collect_ignore = ["bench"]).
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import json
import pstats
import random
import resource
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(REPO), str(REPO / "tests")]

from helpers.routing_rows import RowEstate  # noqa: E402

from auditor.audit import load_estate  # noqa: E402
from auditor.routing.engine import RoutingModel  # noqa: E402

SUBNETS_PER_SPOKE = 10
PES_PER_SPOKE = 3


def ip(n: int) -> str:
    return f"{(n >> 24) & 255}.{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255}"


def hub_and_spoke(subnets: int) -> RowEstate:
    """1 hub + (subnets // 10) spokes; spoke i owns 10.0.0.0 + (i+1) * 1024 as a /22."""
    b = RowEstate()
    b.vnet("hub", "10.0.0.0/16", rg="rg-hub")
    b.subnet("hub", "GatewaySubnet", "10.0.255.0/27")
    b.subnet("hub", "AzureFirewallSubnet", "10.0.1.0/26")
    nva = b.subnet("hub", "snet-nva", "10.0.2.0/24")
    b.nic("nva1-nic", nva, "10.0.2.4", forwarding=True, rg="rg-hub")
    gw = b.vpn_gateway("vpngw-hub", "hub", rg="rg-hub")
    lgw = b.local_gateway("lgw-onprem", "192.168.0.0/16", "172.20.0.0/14", rg="rg-hub")
    b.connection("cn-onprem", gw, lgw, rg="rg-hub")
    spokes = max(1, round(subnets / SUBNETS_PER_SPOKE))
    base = 10 << 24
    for i in range(spokes):
        net = base + (i + 1) * 1024
        rg = f"rg-spoke-{i:05}"
        name = f"spoke-{i:05}"
        b.vnet(name, f"{ip(net)}/22", rg=rg)
        rt = b.route_table(
            f"rt-{name}",
            [
                ("0.0.0.0/0", "VirtualAppliance", "10.0.2.4"),
                ("10.0.0.0/8", "VirtualAppliance", "10.0.2.4"),
                (f"{ip(net)}/24", "VnetLocal", None),
                ("192.168.0.0/16", "VirtualAppliance", "10.0.2.4"),
            ],
            rg=rg,
        )
        pe_subnet = b.subnet(
            name, "snet-pe", f"{ip(net)}/26", pe_policies="RouteTableEnabled" if i % 2 else "Disabled"
        )
        for k in range(1, SUBNETS_PER_SPOKE):
            b.subnet(name, f"snet-{k}", f"{ip(net + k * 64)}/26", route_table=rt)
        for p in range(PES_PER_SPOKE):
            b.private_endpoint(f"pe-{i:05}-{p}", pe_subnet, ip(net + 4 + p), rg=rg)
        b.peer("hub", name, a_transit=True, b_uses_remote=True)
    return b


def bench(subnets: int, runs: int, lookups: int) -> dict:
    t0 = time.perf_counter()
    rows = hub_and_spoke(subnets).rows()
    gen = time.perf_counter() - t0
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "estate.json"
        path.write_text(json.dumps(rows), encoding="utf-8")
        size = path.stat().st_size
        del rows
        gc.collect()
        t0 = time.perf_counter()
        estate = load_estate([path])
        build = time.perf_counter() - t0
    assert not estate.problems, estate.problems[:3]

    times = []
    for _ in range(runs):
        model = RoutingModel(estate)
        gc.collect()
        t0 = time.perf_counter()
        views = model.all_tables()
        times.append(time.perf_counter() - t0)
    routes = sum(len(v.routes) for v in views)

    model = RoutingModel(estate)
    gc.collect()
    tracemalloc.start()
    model.all_tables()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    del model

    big = max(views, key=lambda v: len(v.routes))
    rnd = random.Random(3)
    dests = [rnd.getrandbits(32) for _ in range(lookups)]
    lookup = big.lookup
    lookup(0)  # build the LPM once, outside the timed loop
    t0 = time.perf_counter()
    for d in dests:
        lookup(d)
    lps = lookups / (time.perf_counter() - t0)
    return {
        "subnets": len(estate.subnets),
        "vnets": len(estate.vnets),
        "pes": len(estate.private_endpoints),
        "resources": estate.resource_count,
        "gen": gen,
        "size": size,
        "build": build,
        "tables": len(views),
        "routes": routes,
        "all_tables": min(times),
        "peak": peak,
        "big_routes": len(big.routes),
        "big_intervals": len(big._lpm),
        "lps": lps,
        "rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
    }


def profile(subnets: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "estate.json"
        path.write_text(json.dumps(hub_and_spoke(subnets).rows()), encoding="utf-8")
        estate = load_estate([path])
    model = RoutingModel(estate)
    prof = cProfile.Profile()
    prof.enable()
    model.all_tables()
    prof.disable()
    pstats.Stats(prof).sort_stats("cumulative").print_stats(25)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="1000,10000,50000", help="subnet counts, comma-separated")
    ap.add_argument("--runs", type=int, default=3, help="all_tables() runs per size (best is printed)")
    ap.add_argument("--lookups", type=int, default=1_000_000)
    ap.add_argument(
        "--profile", type=int, metavar="SUBNETS", help="print a cProfile of all_tables() and exit"
    )
    args = ap.parse_args()
    if args.profile:
        profile(args.profile)
        return
    print(
        f"routing benchmark (Python {sys.version.split()[0]}); targets: 10k subnets all tables < 2 s, "
        ">= 1M lookups/s"
    )
    print(
        f"{'subnets':>8} {'VNets':>6} {'PEs':>6} {'file MB':>8} {'build s':>8} {'tables':>7} {'routes':>8} "
        f"{'all_tables s':>12} {'peak MB':>8} {'RSS MB':>7} {'big table':>10} {'lookups/s':>11}"
    )
    worst = {}
    for size in (int(s) for s in args.sizes.split(",")):
        r = bench(size, args.runs, args.lookups)
        print(
            f"{r['subnets']:>8} {r['vnets']:>6} {r['pes']:>6} {r['size'] / 1e6:>8.1f} {r['build']:>8.2f} "
            f"{r['tables']:>7} {r['routes']:>8} {r['all_tables']:>12.3f} {r['peak'] / 2**20:>8.1f} "
            f"{r['rss'] / 2**20:>7.0f} {r['big_routes']:>10} {r['lps'] / 1e6:>9.2f} M",
            flush=True,
        )
        worst[size] = r
    ten = next((r for s, r in worst.items() if 9000 <= s <= 11000), None)
    if ten is not None:
        ok = ten["all_tables"] < 2.0
        print(
            f"target all tables (10k subnets) < 2 s: {'met' if ok else 'MISSED'} ({ten['all_tables']:.3f} s)"
        )
    low = min(r["lps"] for r in worst.values())
    print(f"target >= 1M lookups/s: {'met' if low >= 1e6 else 'MISSED'} (lowest {low / 1e6:.2f} M/s)")


if __name__ == "__main__":
    main()
