"""Benchmark: a 1M-packet capture to verdicts (target < 3 s), beside plain references.

    .venv/bin/python tests/bench/confirm_pcap.py [--packets 1000000] [--keep DIR]

Writes a classic pcap and a pcapng of N TCP packets with `struct` (scenario S01 addresses: 30% of
the connections are clients in 10.1.1.0/24-10.1.2.0/24 to the PE 10.2.1.4:443 seen only one way,
the rest ordinary two-way traffic elsewhere), then times, each in a fresh process (wall time and
peak RSS):
- `pathaudit confirm` machinery: `confirm_document` on fixtures/findings/S01-findings.json;
- scapy `RawPcapReader` + `struct` over the whole file (a plain streaming reference);
- scapy `rdpcap` on a 100k-packet subset, extrapolated (rdpcap of 1M packets needs GBs);
- `tshark -q -z conv,tcp` over the whole file, if tshark is installed.
Not collected by pytest (tests/conftest.py ignores tests/bench).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
T0 = 1767261600


def _ip(a: str) -> bytes:
    return socket.inet_aton(a)


def frames(n: int, seed: int = 6):
    """Yield (ts_sec, ts_usec, frame bytes) for n packets: 10-packet connections."""
    rnd = random.Random(seed)
    eth = b"\x00\x0d\x3a\x00\x00\x02\x00\x0d\x3a\x00\x00\x01\x08\x00"
    pe, port = _ip("10.2.1.4"), 443
    i = 0
    conn = 0
    while i < n:
        conn += 1
        to_pe = conn % 10 < 3
        if to_pe:
            client = _ip(f"10.1.{rnd.choice((1, 2))}.{rnd.randrange(1, 255)}")
            server, sport_srv = pe, port
        else:
            client = _ip(f"10.{rnd.randrange(3, 200)}.{rnd.randrange(256)}.{rnd.randrange(1, 255)}")
            server, sport_srv = (
                _ip(f"10.{rnd.randrange(200, 250)}.{rnd.randrange(256)}.{rnd.randrange(1, 255)}"),
                8080,
            )
        cport = 1024 + conn % 60000
        isn = rnd.randrange(1 << 32)
        pattern = (
            (
                (True, 0x02),
                (True, 0x10),
                (True, 0x18),
                (True, 0x18),
                (True, 0x10),
                (True, 0x18),
                (True, 0x10),
                (True, 0x18),
                (True, 0x11),
                (True, 0x10),
            )
            if to_pe
            else (
                (True, 0x02),
                (False, 0x12),
                (True, 0x10),
                (True, 0x18),
                (False, 0x18),
                (True, 0x10),
                (False, 0x18),
                (True, 0x11),
                (False, 0x11),
                (True, 0x10),
            )
        )
        for k, (fwd, flags) in enumerate(pattern):
            if i >= n:
                return
            payload = b"\x17\x03\x03" + bytes(61) if flags == 0x18 else b""
            src, dst = (client, server) if fwd else (server, client)
            sp, dp = (cport, sport_srv) if fwd else (sport_srv, cport)
            tcp = (
                struct.pack("!HHIIBBHHH", sp, dp, (isn + k) & 0xFFFFFFFF, 0, 0x50, flags, 65535, 0, 0)
                + payload
            )
            ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), k, 0x4000, 64, 6, 0, src, dst)
            us = (i * 37) % 1_000_000
            yield T0 + i // 27000, us, eth + ip + tcp
            i += 1


def write_pcap(path: Path, n: int) -> None:
    with path.open("wb", buffering=1 << 22) as fh:
        fh.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1))
        for sec, usec, f in frames(n):
            fh.write(struct.pack("<IIII", sec, usec, len(f), len(f)))
            fh.write(f)


def write_pcapng(path: Path, n: int) -> None:
    def block(t: int, body: bytes) -> bytes:
        body += b"\0" * (-len(body) % 4)
        return struct.pack("<II", t, len(body) + 12) + body + struct.pack("<I", len(body) + 12)

    with path.open("wb", buffering=1 << 22) as fh:
        fh.write(block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1)))
        fh.write(block(1, struct.pack("<HHI", 1, 0, 0)))
        for sec, usec, f in frames(n):
            ts = sec * 1_000_000 + usec
            fh.write(block(6, struct.pack("<IIIII", 0, ts >> 32, ts & 0xFFFFFFFF, len(f), len(f)) + f))


CHILD_PATHAUDIT = """
import json, sys, time, resource
t = time.perf_counter()
from auditor.confirm import confirm_document
doc = json.load(open(sys.argv[1]))
res = confirm_document(doc, pcaps=[sys.argv[2]])
f = [f for f in res.document["findings"] if f["rule_id"] == "NET001"][0]
ev = f["evidence"][-1]["value"]
print(json.dumps({"seconds": time.perf_counter() - t, "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "status": f["status"], "packets": ev["capture"]["packets"], "syn": ev["forward"].get("SYN", 0)}))
"""

CHILD_RAWREADER = """
import json, struct, sys, time, resource
t = time.perf_counter()
from scapy.utils import RawPcapReader, RawPcapNgReader
reader = RawPcapNgReader if sys.argv[1].endswith(".pcapng") else RawPcapReader
syn = synack = n = 0
unpack = struct.Struct("!II").unpack_from
limit = int(sys.argv[2])
with reader(sys.argv[1]) as r:
    for data, _meta in r:
        n += 1
        if data[12:14] == b"\\x08\\x00" and data[23] == 6:
            ihl = (data[14] & 15) * 4
            flags = data[14 + ihl + 13]
            if flags & 0x12 == 0x02: syn += 1
            elif flags & 0x12 == 0x12: synack += 1
        if n >= limit: break
print(json.dumps({"seconds": time.perf_counter() - t, "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "packets": n, "syn": syn, "synack": synack}))
"""

CHILD_RDPCAP = """
import json, sys, time, resource
t = time.perf_counter()
from scapy.all import rdpcap, TCP
pk = rdpcap(sys.argv[1], count=int(sys.argv[2]))
syn = sum(1 for p in pk if TCP in p and (p[TCP].flags & 0x12) == 0x02)
print(json.dumps({"seconds": time.perf_counter() - t, "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "packets": len(pk), "syn": syn}))
"""


def child(code: str, *args: str) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, cwd=REPO, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def tshark(path: Path) -> dict | None:
    exe = shutil.which("tshark")
    if not exe:
        return None
    t = time.perf_counter()
    proc = subprocess.run(
        ["/usr/bin/time", "-f", "%M", exe, "-q", "-n", "-r", str(path), "-z", "conv,tcp"],
        capture_output=True,
        text=True,
        check=False,
    )
    secs = time.perf_counter() - t
    try:
        rss = int(proc.stderr.strip().splitlines()[-1]) / 1024
    except (ValueError, IndexError):
        rss = float("nan")
    return {"seconds": secs, "rss_mb": rss, "ok": proc.returncode == 0}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--packets", type=int, default=1_000_000)
    ap.add_argument("--subset", type=int, default=100_000, help="packets for the rdpcap reference")
    ap.add_argument("--keep", type=Path, help="write the captures here and keep them")
    ap.add_argument(
        "--findings",
        type=Path,
        help="findings document to confirm (default: the scenario's; "
        "issue #12: the 10k worst case of tests/bench/scale.py --keep DIR)",
    )
    args = ap.parse_args()
    tmp = Path(args.keep or tempfile.mkdtemp(prefix="pathaudit-bench-"))
    tmp.mkdir(parents=True, exist_ok=True)
    doc = str(args.findings or REPO / "fixtures" / "findings" / "S01-findings.json")
    n = args.packets
    print(f"{n:,} packets, {os.cpu_count()} cores, Python {sys.version.split()[0]}")
    for fmt, writer in (("pcap", write_pcap), ("pcapng", write_pcapng)):
        path = tmp / f"bench-{n}.{fmt}"
        t = time.perf_counter()
        writer(path, n)
        print(f"\n[{fmt}] wrote {path.stat().st_size / 1e6:.0f} MB in {time.perf_counter() - t:.1f} s")
        r = child(CHILD_PATHAUDIT, doc, str(path))
        print(
            f"  pathaudit confirm (struct parser) {r['seconds']:6.2f} s  {n / r['seconds'] / 1e3:6.0f}k pkt/s  "
            f"RSS {r['rss_mb']:5.0f} MB  -> NET001 {r['status']} ({r['syn']:,} SYNs)  target < 3 s: "
            f"{'OK' if r['seconds'] < 3 else 'MISSED'}"
        )
        r = child(CHILD_RAWREADER, str(path), str(n))
        print(
            f"  scapy RawPcapReader + struct      {r['seconds']:6.2f} s  {n / r['seconds'] / 1e3:6.0f}k pkt/s  "
            f"RSS {r['rss_mb']:5.0f} MB  (counts only)"
        )
        if fmt == "pcap":
            sub = min(args.subset, n)
            r = child(CHILD_RDPCAP, str(path), str(sub))
            est = r["seconds"] * n / sub
            print(
                f"  scapy rdpcap, {sub // 1000}k subset          {r['seconds']:6.2f} s  -> {est:6.1f} s for {n:,} "
                f"(extrapolated)  RSS {r['rss_mb']:5.0f} MB for the subset"
            )
        ts = tshark(path)
        if ts:
            print(
                f"  tshark -q -z conv,tcp             {ts['seconds']:6.2f} s  {n / ts['seconds'] / 1e3:6.0f}k pkt/s  "
                f"RSS {ts['rss_mb']:5.0f} MB"
            )
        else:
            print("  tshark: not installed (apt-get install -y tshark)")
        if not args.keep:
            path.unlink()
    if not args.keep:
        tmp.rmdir()


if __name__ == "__main__":
    main()
