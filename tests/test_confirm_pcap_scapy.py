"""pathaudit's capture decoder (auditor/confirm/pcap.py, plain `struct`) against scapy's dissectors.

scapy is a test dependency only: it writes captures of mixed traffic here (802.1Q and 802.1ad/QinQ
tags, Linux cooked SLL and SLL2, raw IP, BSD loopback; IPv4 with options, first and later fragments,
UDP, ICMP, ARP, IPv6, IP-in-IP and VXLAN tunnels) to temporary files, dissects the same packets, and
the decoder must agree with it on which packets are TCP over IPv4 and which belong to a watched flow.
Only the outermost IPv4 header counts (tunnels are not opened), IPv6 is never a watched flow
(pathaudit models IPv4 addresses), and a later fragment carries no TCP header.
"""

from __future__ import annotations

import logging
import random
from pathlib import Path
from typing import Any

import pytest
from conftest import grouped

from auditor.confirm.flows import TargetSet, target_from_finding
from auditor.confirm.pcap import scan_capture
from auditor.ipnet import parse_ip

scapy_all = pytest.importorskip("scapy.all")
logging.getLogger("scapy.runtime").setLevel(logging.ERROR)

from scapy.layers.inet import ICMP, IP, TCP, UDP, IPOption_NOP  # noqa: E402
from scapy.layers.inet6 import IPv6  # noqa: E402
from scapy.layers.l2 import ARP, CookedLinux, CookedLinuxV2, Dot1AD, Dot1Q, Ether, Loopback  # noqa: E402
from scapy.layers.vxlan import VXLAN  # noqa: E402
from scapy.utils import PcapNgWriter, wrpcap  # noqa: E402

PE, PORT = "10.2.1.4", 443
CLIENTS = ["10.1.1.10", "10.1.2.20", "10.9.9.9"]  # the last is outside the flow's sources: still counted
OTHERS = ["10.2.1.5", "192.168.0.1"]
MAC = {"src": "00:0d:3a:00:00:01", "dst": "00:0d:3a:00:00:02"}


def target() -> Any:
    hop = {"hop": "appliance", "kind": "nva", "id": "/appliance", "ip": "10.0.2.4"}
    flow = {
        "source": "ctx",
        "source_subnets": [],
        "source_prefixes": ["10.1.1.0/24", "10.1.2.0/24"],
        "destination": "/pe",
        "destination_ip": PE,
        "port": PORT,
        "forward": [hop],
        "return": [],
        "verdict": "asymmetric",
    }
    t = target_from_finding(0, {"rule_id": "NET001", "fingerprint": "f" * 32, "flow": grouped(flow)})
    assert t is not None
    return t


def l3_packets(rng: random.Random, n: int) -> list[Any]:
    """IP-layer packets: watched TCP both ways, other TCP, and everything that is not TCP over IPv4."""
    out: list[Any] = []
    for _ in range(n):
        c = rng.choice(CLIENTS)
        sport = rng.randrange(1024, 65535)
        flags = rng.choice(["S", "SA", "A", "PA", "FA", "R"])
        seq = rng.randrange(2**32)
        kind = rng.randrange(14)
        if kind <= 3:
            p = IP(src=c, dst=PE) / TCP(sport=sport, dport=PORT, flags=flags, seq=seq)
        elif kind <= 5:
            p = IP(src=PE, dst=c) / TCP(sport=PORT, dport=sport, flags=flags, seq=seq)
        elif kind == 6:
            p = IP(src=c, dst=PE) / TCP(sport=sport, dport=rng.choice([80, 8443]), flags=flags)
        elif kind == 7:
            p = IP(src=c, dst=rng.choice(OTHERS)) / TCP(sport=sport, dport=PORT, flags=flags)
        elif kind == 8:  # header options: the TCP header starts later
            p = IP(src=c, dst=PE, options=[IPOption_NOP()] * 4) / TCP(sport=sport, dport=PORT, flags=flags)
        elif kind == 9:  # fragments: the first still has the TCP header, later ones none
            frag = rng.choice([0, 0, 3, 185])
            p = IP(src=c, dst=PE, flags="MF", frag=frag) / TCP(sport=sport, dport=PORT, flags=flags)
        elif kind == 10:
            p = IP(src=c, dst=PE) / rng.choice([UDP(sport=sport, dport=PORT), ICMP()])
        elif kind == 11:  # IP-in-IP and VXLAN: the inner TCP is not read
            inner = IP(src=c, dst=PE) / TCP(sport=sport, dport=PORT, flags=flags)
            p = rng.choice(
                [
                    IP(src="10.0.2.4", dst="10.0.3.4") / inner,
                    IP(src="10.0.2.4", dst="10.0.3.4")
                    / UDP(sport=sport, dport=4789)
                    / VXLAN(vni=7)
                    / Ether(**MAC)
                    / inner,
                ]
            )
        elif kind == 12:
            p = IPv6(src="fd00::1", dst="fd00::2") / TCP(sport=sport, dport=PORT, flags=flags)
        else:
            p = "arp"
        out.append(p)
    return out


def ether(p: Any, rng: random.Random) -> Any:
    if isinstance(p, str):
        return Ether(**MAC) / ARP(psrc="10.1.1.10", pdst="10.1.1.1")
    tags = rng.randrange(3)
    if tags == 0:
        return Ether(**MAC) / p
    if tags == 1:
        return Ether(**MAC) / Dot1Q(vlan=rng.randrange(1, 4095)) / p
    return Ether(**MAC) / Dot1AD(vlan=100) / Dot1Q(vlan=rng.randrange(1, 4095)) / p


def ethertype(p: Any) -> int:
    return 0x86DD if isinstance(p, IPv6) else 0x0800


WRAPS: dict[str, tuple[int, Any]] = {
    "ethernet": (1, ether),
    "sll": (
        113,
        lambda p, _r: (
            CookedLinux(
                pkttype=0,
                lladdrtype=1,
                lladdrlen=6,
                src=b"\x00\x0d\x3a\x00\x00\x01\x00\x00",
                proto=ethertype(p),
            )
            / p
        ),
    ),
    "sll2": (
        276,
        lambda p, _r: (
            CookedLinuxV2(
                proto=ethertype(p),
                ifindex=2,
                lladdrtype=1,
                pkttype=0,
                lladdrlen=6,
                src=b"\x00\x0d\x3a\x00\x00\x01\x00\x00",
            )
            / p
        ),
    ),
    "raw": (101, lambda p, _r: p),
    "loopback": (0, lambda p, _r: Loopback(type=24 if isinstance(p, IPv6) else 2) / p),
}


def expected(frames: list[Any]) -> tuple[int, int, set[tuple[int, int, int, int]]]:
    """What scapy's dissection says: TCP-over-IPv4 packets (outermost IP header, no later fragment),
    those of the watched flow, and the flow's connection keys (client, client port, PE, PE port)."""
    tcp = matched = 0
    keys = set()
    for f in frames:
        ip = f.getlayer(IP)
        if ip is None or ip.proto != 6 or ip.frag != 0:
            continue
        outer = f.getlayer(IPv6)
        if outer is not None and f.layers().index(IPv6) < f.layers().index(IP):
            continue  # IPv4 inside IPv6: not the outermost header
        tcp += 1
        seg = ip.payload
        if not isinstance(seg, TCP):
            continue
        if ip.dst == PE and seg.dport == PORT:
            keys.add((parse_ip(ip.src), seg.sport, parse_ip(PE), PORT))
        elif ip.src == PE and seg.sport == PORT:
            keys.add((parse_ip(ip.dst), seg.dport, parse_ip(PE), PORT))
        else:
            continue
        matched += 1
    return tcp, matched, keys


def roundtrip(frames: list[Any]) -> list[Any]:
    """The frames as scapy dissects their bytes (what a reader of the file sees)."""
    return [type(f)(bytes(f)) for f in frames]


@pytest.mark.parametrize("link", sorted(WRAPS))
@pytest.mark.parametrize("fmt", ["pcap", "pcapng"])
def test_decoder_agrees_with_scapy(tmp_path: Path, link: str, fmt: str) -> None:
    rng = random.Random(f"{link}-{fmt}")
    linktype, wrap = WRAPS[link]
    frames = []
    for i, p in enumerate(l3_packets(rng, 400)):
        if isinstance(p, str) and link != "ethernet":
            continue  # ARP only on Ethernet
        f = wrap(p, rng)
        f.time = 1767261600 + i / 1000
        frames.append(f)
    path = tmp_path / f"mixed.{fmt}"
    if fmt == "pcap":
        wrpcap(str(path), frames, linktype=linktype)
    else:
        with PcapNgWriter(str(path)) as w:
            for f in frames:
                w.write(f)
    scan = scan_capture(path, TargetSet.of([target()]))
    tcp, matched, keys = expected(roundtrip(frames))
    # scapy's pcapng writer declares raw packets as link type IPV4 (228), IPv6 ones included
    assert scan.link_types == [228 if (link, fmt) == ("raw", "pcapng") else linktype]
    assert not scan.notes
    assert scan.packets == len(frames)
    assert (scan.tcp_packets, scan.matched_packets) == (tcp, matched)
    assert set(scan.conns) == keys
    assert matched > 50 and tcp > matched  # the mix really has both kinds


def test_vlan_tagged_snat_pair_is_recognised(tmp_path: Path) -> None:
    """The SNAT twin (same SYN from the appliance's address) is found through 802.1Q tags too."""
    syn = TCP(sport=50001, dport=PORT, flags="S", seq=777)
    frames = [
        Ether(**MAC) / Dot1Q(vlan=10) / IP(src="10.1.1.10", dst=PE) / syn,
        Ether(**MAC) / Dot1Q(vlan=20) / IP(src="10.0.2.4", dst=PE) / syn,
        Ether(**MAC) / Dot1Q(vlan=20) / IP(src=PE, dst="10.0.2.4") / TCP(sport=PORT, dport=50001, flags="SA"),
    ]
    for i, f in enumerate(frames):
        f.time = 1767261600 + i / 10
    path = tmp_path / "snat-vlan.pcap"
    wrpcap(str(path), frames)
    scan = scan_capture(path, TargetSet.of([target()]))
    assert scan.matched_packets == 3
    assert {fmt_key(k) for k in scan.conns} == {"10.1.1.10:50001", "10.0.2.4:50001"}


def fmt_key(k: tuple[int, int, int, int]) -> str:
    ip = k[0]
    return f"{ip >> 24}.{(ip >> 16) & 255}.{(ip >> 8) & 255}.{ip & 255}:{k[1]}"
