"""Capture reading (auditor.confirm.pcap): formats, link types, robustness, and the real captures.

Synthetic files are built byte by byte with `struct` here, so each format detail (byte order,
nanosecond magic, pcapng blocks and options, link-layer headers) is tested on its own; the real
captures in fixtures/captures/real/ (PROVENANCE.md) are checked against flows built to match them.
"""

from __future__ import annotations

import gzip
import socket
import struct
from pathlib import Path

import pytest
from conftest import grouped, run_cli

from auditor.confirm import confirm_document
from auditor.confirm import pcap as pcapmod
from auditor.confirm.flows import TargetSet, target_from_finding
from auditor.confirm.pcap import CaptureError, assess, scan_capture

REPO = Path(__file__).resolve().parent.parent
REAL = REPO / "fixtures" / "captures" / "real"
CAPTURES = REPO / "fixtures" / "captures"

SYN, SYNACK, ACK, PSHACK, FINACK, RST = 0x02, 0x12, 0x10, 0x18, 0x11, 0x04


# --- byte builders --------------------------------------------------------------------------------


def ipv4_tcp(
    src: str,
    sport: int,
    dst: str,
    dport: int,
    flags: int,
    seq: int = 1000,
    payload: bytes = b"",
    frag: int = 0,
) -> bytes:
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq, 0, 5 << 4, flags, 65535, 0, 0) + payload
    total = 20 + len(tcp)
    ip = struct.pack(
        "!BBHHHBBH4s4s", 0x45, 0, total, 1, frag, 64, 6, 0, socket.inet_aton(src), socket.inet_aton(dst)
    )
    return ip + tcp


def ether(l3: bytes, vlans: int = 0) -> bytes:
    out = b"\x00\x0d\x3a\x00\x00\x02\x00\x0d\x3a\x00\x00\x01"
    for i in range(vlans):
        out += struct.pack("!HH", 0x88A8 if i == 0 and vlans > 1 else 0x8100, 100 + i)
    return out + b"\x08\x00" + l3


def sll(l3: bytes) -> bytes:
    return struct.pack("!HHH8sH", 0, 1, 6, b"\x00\x0d\x3a\x00\x00\x01\x00\x00", 0x0800) + l3


def sll2(l3: bytes) -> bytes:
    return struct.pack("!HHIHBB8s", 0x0800, 0, 2, 1, 0, 6, b"\x00\x0d\x3a\x00\x00\x01\x00\x00") + l3


def pcap_bytes(
    frames: list[tuple[float, bytes]], linktype: int = 1, endian: str = "<", nano: bool = False
) -> bytes:
    magic = 0xA1B23C4D if nano else 0xA1B2C3D4
    out = struct.pack(endian + "IHHiIII", magic, 2, 4, 0, 0, 262144, linktype)
    for t, data in frames:
        sec = int(t)
        frac = round((t - sec) * (1e9 if nano else 1e6))
        out += struct.pack(endian + "IIII", sec, frac, len(data), len(data)) + data
    return out


def _block(endian: str, btype: int, body: bytes) -> bytes:
    body += b"\0" * (-len(body) % 4)
    n = len(body) + 12
    return struct.pack(endian + "II", btype, n) + body + struct.pack(endian + "I", n)


def pcapng_bytes(
    frames: list[tuple[float, bytes]],
    linktype: int = 1,
    endian: str = "<",
    tsresol: int | None = None,
    kind: str = "epb",
) -> bytes:
    shb = _block(endian, 0x0A0D0D0A, struct.pack(endian + "IHHq", 0x1A2B3C4D, 1, 0, -1))
    opts = b""
    if tsresol is not None:
        opts = (
            struct.pack(endian + "HH", 9, 1) + bytes([tsresol]) + b"\0\0\0" + struct.pack(endian + "HH", 0, 0)
        )
    idb = _block(endian, 1, struct.pack(endian + "HHI", linktype, 0, 0) + opts)
    scale = 10 ** (tsresol if tsresol is not None else 6)
    out = shb + idb
    for t, data in frames:
        ts = round(t * scale)
        if kind == "epb":
            out += _block(
                endian,
                6,
                struct.pack(endian + "IIIII", 0, ts >> 32, ts & 0xFFFFFFFF, len(data), len(data)) + data,
            )
        elif kind == "opb":
            out += _block(
                endian,
                2,
                struct.pack(endian + "HHIIII", 0, 0, ts >> 32, ts & 0xFFFFFFFF, len(data), len(data)) + data,
            )
        else:  # simple packet block: no timestamp
            out += _block(endian, 3, struct.pack(endian + "I", len(data)) + data)
    return out


def handshake(
    wrap=lambda p: p, client: str = "10.1.1.10", t0: float = 1767261600.0
) -> list[tuple[float, bytes]]:
    return [
        (t0, wrap(ipv4_tcp(client, 50001, "10.2.1.4", 443, SYN, 1000))),
        (t0 + 0.001, wrap(ipv4_tcp("10.2.1.4", 443, client, 50001, SYNACK, 9000))),
        (t0 + 0.002, wrap(ipv4_tcp(client, 50001, "10.2.1.4", 443, ACK, 1001))),
    ]


def target(
    prefixes=("10.1.1.0/24", "10.1.2.0/24"),
    dst="10.2.1.4",
    port=443,
    kind="nva",
    ip="10.0.2.4",
    side="forward",
):
    hop = {"hop": "appliance", "kind": kind, "id": "/appliance", "ip": ip}
    flow = {
        "source": "ctx",
        "source_subnets": [],
        "source_prefixes": list(prefixes),
        "destination": "/pe",
        "destination_ip": dst,
        "port": port,
        "forward": [hop] if side == "forward" else [],
        "return": [hop] if side == "return" else [],
        "verdict": "asymmetric",
    }
    t = target_from_finding(0, {"rule_id": "NET001", "fingerprint": "f" * 32, "flow": grouped(flow)})
    assert t is not None
    return t


def verdict_of(path: Path, t) -> tuple[str, str]:
    _obs, v = assess(scan_capture(path, TargetSet.of([t])), t)
    return v.status, v.reason


# --- formats --------------------------------------------------------------------------------------


@pytest.mark.parametrize("endian", ["<", ">"])
@pytest.mark.parametrize("nano", [False, True])
def test_classic_pcap_byte_orders_and_resolutions(tmp_path: Path, endian: str, nano: bool) -> None:
    p = tmp_path / "c.pcap"
    p.write_bytes(pcap_bytes([(t, ether(d)) for t, d in handshake()], endian=endian, nano=nano))
    scan = scan_capture(p, TargetSet.of([target()]))
    assert scan.format == ("pcap-ns" if nano else "pcap")
    assert scan.packets == 3 and scan.matched_packets == 3
    assert scan.start == pytest.approx(1767261600.0) and scan.end == pytest.approx(1767261600.002)
    assert verdict_of(p, target())[0] == "refuted"


@pytest.mark.parametrize("endian", ["<", ">"])
@pytest.mark.parametrize(("kind", "tsresol"), [("epb", None), ("epb", 9), ("opb", 3), ("spb", None)])
def test_pcapng_blocks(tmp_path: Path, endian: str, kind: str, tsresol: int | None) -> None:
    p = tmp_path / "c.pcapng"
    p.write_bytes(
        pcapng_bytes([(t, ether(d)) for t, d in handshake()], endian=endian, tsresol=tsresol, kind=kind)
    )
    scan = scan_capture(p, TargetSet.of([target()]))
    assert scan.format == "pcapng" and scan.link_types == [1]
    assert scan.packets == 3 and scan.matched_packets == 3
    if kind != "spb":  # simple packet blocks carry no timestamp
        assert scan.start == pytest.approx(1767261600.0, abs=1e-3)
    assert verdict_of(p, target())[0] == "refuted"


@pytest.mark.parametrize(
    ("linktype", "wrap"),
    [
        (1, ether),
        (1, lambda d: ether(d, vlans=1)),
        (1, lambda d: ether(d, vlans=2)),  # 802.1ad + 802.1Q
        (113, sll),
        (276, sll2),
        (101, lambda d: d),
        (228, lambda d: d),
        (12, lambda d: d),
        (0, lambda d: struct.pack("<I", 2) + d),  # BSD loopback, little-endian host
        (0, lambda d: struct.pack(">I", 2) + d),  # BSD loopback, big-endian host
        (108, lambda d: struct.pack(">I", 2) + d),  # OpenBSD loopback
    ],
)
def test_link_types(tmp_path: Path, linktype: int, wrap) -> None:
    p = tmp_path / "c.pcap"
    p.write_bytes(pcap_bytes([(t, wrap(d)) for t, d in handshake()], linktype=linktype))
    scan = scan_capture(p, TargetSet.of([target()]))
    assert scan.matched_packets == 3, scan
    assert not scan.notes


def test_unsupported_link_type_is_a_note_not_a_crash(tmp_path: Path) -> None:
    p = tmp_path / "ib.pcap"
    p.write_bytes(pcap_bytes([(t, b"\0" * 4 + d) for t, d in handshake()], linktype=242))
    scan = scan_capture(p, TargetSet.of([target()]))
    assert scan.packets == 3 and scan.matched_packets == 0
    assert scan.notes == ["unsupported link type 242 (IPOIB): packets not decoded"]
    ng = tmp_path / "ib.pcapng"
    ng.write_bytes(pcapng_bytes([(t, b"\0" * 4 + d) for t, d in handshake()], linktype=242))
    assert scan_capture(ng, TargetSet.of([target()])).notes[0].startswith("unsupported link type 242")


def test_non_tcp_ipv6_and_fragments_are_ignored(tmp_path: Path) -> None:
    udp = bytearray(ipv4_tcp("10.1.1.10", 50001, "10.2.1.4", 443, SYN))
    udp[9] = 17
    frag = ipv4_tcp("10.1.1.10", 50001, "10.2.1.4", 443, SYN, frag=0x0010)  # offset 16*8 bytes
    v6 = b"\x60" + b"\0" * 39
    frames = [(1.0, ether(bytes(udp))), (2.0, ether(frag)), (3.0, ether(v6)[:-2] + v6)]
    p = tmp_path / "c.pcap"
    p.write_bytes(pcap_bytes(frames))
    scan = scan_capture(p, TargetSet.of([target()]))
    assert scan.packets == 3 and scan.tcp_packets == 0 and not scan.conns


def test_truncated_file_reports_and_keeps_what_was_read(tmp_path: Path) -> None:
    data = pcap_bytes([(t, ether(d)) for t, d in handshake()])
    p = tmp_path / "cut.pcap"
    p.write_bytes(data[:-10])
    scan = scan_capture(p, TargetSet.of([target()]))
    assert scan.packets == 2
    assert scan.notes == ["truncated: the file ends inside packet 3; 2 packets read"]
    ng = tmp_path / "cut.pcapng"
    ng.write_bytes(pcapng_bytes([(t, ether(d)) for t, d in handshake()])[:-10])
    scan = scan_capture(ng, TargetSet.of([target()]))
    assert scan.packets == 2 and scan.notes[0].startswith("truncated")


def test_corrupt_record_length_stops_cleanly(tmp_path: Path) -> None:
    data = bytearray(pcap_bytes([(t, ether(d)) for t, d in handshake()]))
    struct.pack_into("<I", data, 24 + 8, 0x7FFFFFFF)  # first record's caplen
    p = tmp_path / "bad.pcap"
    p.write_bytes(bytes(data))
    scan = scan_capture(p, TargetSet.of([target()]))
    assert scan.packets == 0 and "corrupt record" in scan.notes[0]


def test_not_a_capture(tmp_path: Path) -> None:
    p = tmp_path / "x.pcap"
    p.write_text("hello")
    with pytest.raises(CaptureError, match="not a pcap or pcapng"):
        scan_capture(p, TargetSet.of([target()]))
    g = tmp_path / "x.pcap.gz"
    g.write_bytes(gzip.compress(pcap_bytes([])))
    with pytest.raises(CaptureError, match="gzip"):
        scan_capture(g, TargetSet.of([target()]))
    with pytest.raises(CaptureError, match="cannot open"):
        scan_capture(tmp_path / "missing.pcap", TargetSet.of([target()]))


def test_chunk_boundaries_do_not_change_results(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Streaming in tiny chunks (records and blocks split across reads) gives the same counts."""
    files = [
        CAPTURES / "asymmetric.pcap",
        CAPTURES / "snat.pcapng",
        CAPTURES / "symmetric-sll2.pcap",
        REAL / "tcp-handshake-nano.pcap",
    ]
    t = target(prefixes=("10.1.0.0/16", "131.155.215.0/24"))
    ts = TargetSet.of([t, target(prefixes=("131.155.215.0/24",), dst="137.116.81.94", port=80)])
    normal = [scan_capture(f, ts).conns for f in files]
    monkeypatch.setattr(pcapmod, "CHUNK", 7)
    tiny = [scan_capture(f, ts).conns for f in files]
    assert tiny == normal
    assert all(normal)


def test_counts_agree_with_scapy_reader() -> None:
    """The struct parser sees the same packets as scapy's RawPcapReader (reference implementation)."""
    from scapy.utils import RawPcapNgReader, RawPcapReader

    for f in sorted(CAPTURES.glob("*.pcap*")) + sorted(REAL.glob("*.pcap*")):
        reader = RawPcapNgReader if f.suffix == ".pcapng" else RawPcapReader
        with reader(str(f)) as r:
            n = sum(1 for _ in r)
        assert scan_capture(f, TargetSet.of([target()])).packets == n, f.name


# --- verdict details --------------------------------------------------------------------------------


def test_single_syn_at_capture_end_is_pending(tmp_path: Path) -> None:
    p = tmp_path / "c.pcap"
    p.write_bytes(pcap_bytes([(1.0, ether(ipv4_tcp("10.1.1.10", 50001, "10.2.1.4", 443, SYN)))]))
    status, reason = verdict_of(p, target())
    assert status == "inconclusive" and "last 3 s of the capture" in reason


def test_syn_left_unanswered_long_before_the_end_confirms(tmp_path: Path) -> None:
    frames = [
        (1.0, ether(ipv4_tcp("10.1.1.10", 50001, "10.2.1.4", 443, SYN))),
        (9.0, ether(ipv4_tcp("10.1.1.99", 1, "10.9.9.9", 80, ACK))),
    ]  # unrelated traffic later
    p = tmp_path / "c.pcap"
    p.write_bytes(pcap_bytes(frames))
    assert verdict_of(p, target())[0] == "confirmed"


def test_mixed_clients_are_inconclusive(tmp_path: Path) -> None:
    frames = handshake(ether) + [
        (1767261601.0 + i, ether(ipv4_tcp("10.1.2.20", 50002, "10.2.1.4", 443, SYN, 5))) for i in range(3)
    ]
    p = tmp_path / "c.pcap"
    p.write_bytes(pcap_bytes(frames))
    status, reason = verdict_of(p, target())
    assert status == "inconclusive" and reason.startswith("mixed") and "10.1.2.20" in reason


def test_other_sources_are_named_when_nothing_matches(tmp_path: Path) -> None:
    status, reason = verdict_of(CAPTURES / "nomatch.pcap", target())
    assert status == "inconclusive"
    assert "no matching traffic" in reason and "1 connection(s) to 10.2.1.4:443 from other sources" in reason


def test_snat_to_firewall_instance_needs_the_firewall_range() -> None:
    """Egress-only SNAT capture: an NVA flow cannot claim 10.0.1.6, an Azure Firewall flow can (/26)."""
    assert verdict_of(CAPTURES / "snat-afw-egress.pcap", target())[0] == "inconclusive"
    status, reason = verdict_of(
        CAPTURES / "snat-afw-egress.pcap", target(kind="azure-firewall", ip="10.0.1.4")
    )
    assert status == "refuted" and "SNAT to 10.0.1.6" in reason


def test_snat_pairs_are_recognised_by_port_and_isn() -> None:
    """snat.pcapng: incoming/outgoing pairs; SNAT found from the L4 twin even for another appliance IP."""
    status, reason = verdict_of(CAPTURES / "snat.pcapng", target(kind="azure-firewall", ip="10.0.1.4"))
    assert status == "refuted" and "SNAT to 10.0.2.4 observed" in reason


def test_return_only_capture_confirms_the_mirror_pattern() -> None:
    t = target(prefixes=(), side="return", kind="azure-firewall", ip="10.100.0.132")
    status, reason = verdict_of(CAPTURES / "return-only.pcap", t)
    assert status == "confirmed" and "without their SYNs" in reason


# --- real captures (fixtures/captures/real/PROVENANCE.md) -----------------------------------------

REAL_CASES = [
    # file, source prefixes, destination, port, expected status, words in the reason
    ("tcp_handshake.pcapng", ["172.16.16.0/24"], "212.58.226.142", 80, "refuted", ["1 SYN-ACK"]),
    ("nowebaccess3.pcapng", ["172.16.0.0/24"], "74.125.95.105", 80, "confirmed", ["3 SYN(s)", "no SYN-ACK"]),
    ("nowebaccess2.pcapng", ["172.16.0.0/24"], "172.16.0.102", 80, "refuted", ["3 RST"]),
    ("tcp-handshake-nano.pcap", ["131.155.215.0/24"], "137.116.81.94", 80, "refuted", ["1 SYN-ACK"]),
    ("tfo-5c1fa7f9ae91.pcap", ["192.168.0.0/24"], "3.3.3.3", 13054, "refuted", ["SNAT to 9.9.9.9"]),
    ("ipoib.pcap", ["192.168.56.0/24"], "192.168.56.24", 22, "inconclusive", ["unsupported link type 242"]),
    (
        "activeosfingerprinting.pcapng",
        ["172.16.16.128/32"],
        "172.16.16.150",
        135,
        "refuted",
        ["7 connection(s)"],
    ),
    (
        "activeosfingerprinting.pcapng",
        ["172.16.16.128/32"],
        "172.16.16.150",
        5357,
        "confirmed",
        ["SYN-ACK(s) from 172.16.16.150:5357", "without their SYNs", "mirror image"],
    ),
    ("tcp_retransmissions.pcapng", ["10.3.30.0/24"], "10.3.71.7", 1043, "confirmed", ["none back"]),
    ("tcp_teardown.pcapng", ["172.16.16.128/32"], "67.228.110.120", 80, "refuted", ["both directions"]),
    ("print-flags.pcap", ["127.0.0.0/8"], "127.0.0.1", 80, "refuted", ["1 SYN-ACK"]),
    ("bgp-shutdown-msg-variations.pcap", ["127.0.0.0/8"], "127.0.0.1", 179, "confirmed", ["3 SYN(s)"]),
    ("tcp_handshake.pcapng", ["10.0.0.0/8"], "212.58.226.142", 80, "inconclusive", ["no matching traffic"]),
]


@pytest.mark.parametrize(
    ("name", "prefixes", "dst", "port", "status", "words"),
    REAL_CASES,
    ids=[f"{c[0]}:{c[3]}:{c[4]}" for c in REAL_CASES],
)
def test_real_captures(
    name: str, prefixes: list[str], dst: str, port: int, status: str, words: list[str]
) -> None:
    got, reason = verdict_of(REAL / name, target(prefixes=prefixes, dst=dst, port=port))
    assert got == status, reason
    for w in words:
        assert w in reason


def test_real_capture_evidence_through_confirm_document() -> None:
    """The whole path: evidence item shape for a real nanosecond Linux-cooked capture."""
    flow = {
        "source": "ctx",
        "source_subnets": [],
        "source_prefixes": ["131.155.215.0/24"],
        "destination": "/pe",
        "destination_ip": "137.116.81.94",
        "port": 80,
        "forward": [{"hop": "nva1", "kind": "nva", "id": "/nic", "ip": "10.0.2.4"}],
        "return": [],
        "verdict": "asymmetric",
    }
    doc = {
        "schema": "pathaudit/findings@2",
        "tool": {"name": "pathaudit", "version": "t"},
        "estate": {"sha256": "0" * 64, "collected_at": None, "resources": 0, "inputs": []},
        "coverage": {"complete": True, "skipped": [], "not_assessed": []},
        "summary": {"high": 1, "medium": 0, "low": 0, "info": 0, "suppressed": 0},
        "findings": [
            {
                "rule_id": "NET001",
                "severity": "high",
                "status": "suspected",
                "resource_id": "/pe",
                "related_ids": [],
                "title": "t",
                "message": "m",
                "flow": grouped(flow),
                "evidence": [],
                "remediation": "r",
                "fingerprint": "0" * 32,
                "suppression": None,
            }
        ],
    }
    res = confirm_document(doc, pcaps=[str(REAL / "tcp-handshake-nano.pcap")])
    ev = res.document["findings"][0]["evidence"][0]
    assert ev["kind"] == "pcap" and ev["path"] == "tcp and host 137.116.81.94 and port 80"
    v = ev["value"]
    assert v["capture"]["format"] == "pcap-ns" and v["capture"]["link_types"] == ["113 (LINUX_SLL)"]
    assert v["forward"] == {"ACK/data": 1, "SYN": 1} and v["reverse"] == {"SYN-ACK": 1}
    assert v["first_seen"] == "2014-12-09T17:16:09.924505Z"
    assert v["samples"] == ["131.155.215.69:46656 -> 137.116.81.94:80: SYN x1, answered"]
    assert v["verdict"] == "refuted" and res.document["findings"][0]["status"] == "refuted"


def test_snat_with_port_translation_or_new_isn(tmp_path: Path) -> None:
    """An NVA that also rewrites the source port (paired by ISN) or the ISN (covered by its SNAT replies)."""
    t0 = 1767261600.0
    for snat_port, snat_isn in ((61000, 1000), (61000, 777777)):
        frames = [
            (t0, ether(ipv4_tcp("10.1.1.10", 50001, "10.2.1.4", 443, SYN, 1000))),
            (t0 + 0.0001, ether(ipv4_tcp("10.0.2.4", snat_port, "10.2.1.4", 443, SYN, snat_isn))),
            (t0 + 0.001, ether(ipv4_tcp("10.2.1.4", 443, "10.0.2.4", snat_port, SYNACK, 9000))),
            (t0 + 0.0011, ether(ipv4_tcp("10.2.1.4", 443, "10.1.1.10", 50001, SYNACK, 9000))),
        ]
        p = tmp_path / f"snat-{snat_isn}.pcap"
        p.write_bytes(pcap_bytes(frames))
        status, reason = verdict_of(p, target())
        assert status == "refuted", reason
        assert "SNAT to 10.0.2.4" in reason


def test_pcapng_timestamps_out_of_range_do_not_crash(tmp_path: Path) -> None:
    """Issue #13, item 10: a crafted pcapng (resolution of whole seconds, a timestamp near 2**64) gives
    evidence with an out-of-range time, never a crash."""
    frames = [(float(2**63), p) for _, p in handshake(lambda p: ether(p))]
    path = tmp_path / "far.pcapng"
    path.write_bytes(pcapng_bytes(frames, tsresol=0))
    code, out, err = run_cli(
        "confirm", REPO / "fixtures" / "findings" / "S01-findings.json", "--pcap", path, "--fail-on", "never"
    )
    assert code in (0, 3) and "Traceback" not in err and "internal error" not in err, err
    assert "out of range" in out
