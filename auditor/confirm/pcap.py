"""Packet captures (pcap, pcapng) as evidence: did the replies of a flow cross the appliance?

The file is streamed in chunks and parsed with `struct` (stack-notes: ~850k pkt/s, where scapy's
`PcapReader` manages ~8k and `rdpcap` needs GBs): classic pcap (µs and ns, both byte orders) and
pcapng (SHB/IDB/EPB/SPB and the obsolete PB, per-interface link type and timestamp resolution).
Link types: Ethernet (with 802.1Q/802.1ad tags), Linux cooked SLL and SLL2, raw IP, BSD loopback.
Anything else (e.g. IP over InfiniBand, 242) becomes a note "unsupported link type N", never a crash.

Only TCP packets to or from the targets' private-endpoint addresses are kept, as per-connection
counters keyed (client ip, client port, PE ip, PE port); SNAT is recognised by a SYN that reappears
with the same destination, source port and sequence number from another source (the
incoming/outgoing pair Azure Firewall and NVA captures show: L3 source rewritten, L4 unchanged), or
by a SYN sourced from the appliance's own address (range).

The capture is assumed to be taken on the appliance (NVA NIC, Azure Firewall packet capture).
"""

from __future__ import annotations

import os
import struct
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

from auditor.confirm.flows import FlowTarget, TargetSet
from auditor.confirm.verdict import INCONCLUSIVE, Observation, Verdict, capture_verdict
from auditor.ipnet import fmt_ip

CHUNK = 4 << 20
MAX_RECORD = 1 << 24  # a record larger than this means a corrupt file
PENDING_WINDOW = 3.0  # seconds before the end of the capture in which an unanswered SYN proves nothing
MAX_SAMPLES = 5

LINKTYPE_NAMES = {
    0: "NULL",
    1: "ETHERNET",
    12: "RAW",
    14: "RAW",
    101: "RAW",
    108: "LOOP",
    113: "LINUX_SLL",
    228: "IPV4",
    229: "IPV6",
    276: "LINUX_SLL2",
    242: "IPOIB",
    105: "IEEE802_11",
    127: "IEEE802_11_RADIOTAP",
    9: "PPP",
    104: "C_HDLC",
    220: "USB_LINUX_MMAPPED",
}
SUPPORTED = {0, 1, 12, 14, 101, 108, 113, 228, 276}

# Connection record fields (a list per connection: cheap to update in the hot loop).
SYN, SYNACK, RST_F, RST_R, FIN_F, FIN_R, DATA_F, DATA_R, FIRST, LAST, SEQ, SYN_FIRST, AFTER = range(13)

_PCAP_MAGIC = {
    b"\xd4\xc3\xb2\xa1": ("<", 1e-6),
    b"\xa1\xb2\xc3\xd4": (">", 1e-6),
    b"\x4d\x3c\xb2\xa1": ("<", 1e-9),
    b"\xa1\xb2\x3c\x4d": (">", 1e-9),
}
_PCAPNG_SHB = b"\x0a\x0d\x0d\x0a"


class CaptureError(Exception):
    """The file is not a capture pathaudit can read at all."""


@dataclass(slots=True)
class CaptureScan:
    path: str
    format: str = ""
    link_types: list[int] = field(default_factory=list)
    packets: int = 0
    tcp_packets: int = 0
    matched_packets: int = 0
    start: float | None = None
    end: float | None = None
    notes: list[str] = field(default_factory=list)
    conns: dict[tuple[int, int, int, int], list] = field(default_factory=dict)
    _by_pe: dict[tuple[int, int], list[tuple[int, tuple, list]]] | None = None

    def to_pe(self, target: FlowTarget) -> list[tuple[tuple, list]]:
        """The connections to the target's endpoints, through an index by (PE address, port) built once
        per capture: every finding looks up its own endpoints instead of scanning every connection."""
        if target.ranges:
            return [(k, c) for k, c in self.conns.items() if target.matches_pe(k[2], k[3])]
        if self._by_pe is None:
            self._by_pe = {}
            for n, (k, c) in enumerate(self.conns.items()):
                self._by_pe.setdefault((k[2], k[3]), []).append((n, k, c))
        found = []
        for ip, port in target.host_keys():
            if port is None:
                found += [x for (pe, _p), xs in self._by_pe.items() if pe == ip for x in xs]
            else:
                found += self._by_pe.get((ip, port), [])
        found.sort(key=lambda x: x[0])  # capture order, as a scan of every connection would give
        return [(k, c) for _, k, c in found]

    def summary(self) -> dict[str, Any]:
        return {
            "file": self.path,
            "format": self.format,
            "link_types": [f"{lt} ({LINKTYPE_NAMES.get(lt, 'unknown')})" for lt in self.link_types],
            "packets": self.packets,
            "start": iso(self.start),
            "end": iso(self.end),
        }


def iso(t: float | None) -> str | None:
    """A capture timestamp as ISO 8601; one outside what a date can hold (a crafted pcapng resolution or
    offset) is said as such instead of crashing the run."""
    if t is None:
        return None
    try:
        return datetime.fromtimestamp(t, UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
    except (OverflowError, OSError, ValueError):
        return f"out of range ({t!r} s since 1970)"


def _l3_offset(buf: bytes, off: int, end: int, linktype: int) -> int:
    """Offset of an IPv4 header in the frame [off, end), or -1."""
    if linktype == 1:
        p = off + 12
        while p + 2 <= end:
            et = (buf[p] << 8) | buf[p + 1]
            if et == 0x0800:
                return p + 2
            if et in (0x8100, 0x88A8, 0x9100):
                p += 4
                continue
            return -1
        return -1
    if linktype == 113:
        return off + 16 if off + 16 <= end and buf[off + 14] == 8 and buf[off + 15] == 0 else -1
    if linktype == 276:
        return off + 20 if off + 20 <= end and buf[off] == 8 and buf[off + 1] == 0 else -1
    if linktype in (101, 12, 14, 228):
        return off if off < end and (buf[off] >> 4) == 4 else -1
    if linktype == 0:
        if off + 4 > end:
            return -1
        # AF_INET (2) in the capturing host's byte order: first or last byte of the 4-byte family
        return off + 4 if buf[off] == 2 or buf[off + 3] == 2 else -1
    if linktype == 108:
        return off + 4 if off + 4 <= end and buf[off + 3] == 2 else -1
    return -1


def scan_capture(path: str | os.PathLike[str], targets: TargetSet, display: str | None = None) -> CaptureScan:
    """One streaming pass over a capture, keeping per-connection counters for the targets' PEs."""
    p = Path(path)
    scan = CaptureScan(path=display or str(path))
    try:
        fh = p.open("rb")
    except OSError as exc:
        raise CaptureError(f"{path}: cannot open: {exc.strerror or exc}") from exc
    with fh:
        head = fh.read(4)
        if head in _PCAP_MAGIC:
            _scan_pcap(fh, head, scan, targets)
        elif head == _PCAPNG_SHB:
            _scan_pcapng(fh, head, scan, targets)
        elif head[:2] == b"\x1f\x8b":
            raise CaptureError(f"{path}: gzip-compressed capture: decompress it first (gunzip)")
        else:
            raise CaptureError(f"{path}: not a pcap or pcapng file (magic {head.hex() or 'empty'})")
    return scan


def _scan_pcap(fh: BinaryIO, magic: bytes, scan: CaptureScan, targets: TargetSet) -> None:
    endian, scale = _PCAP_MAGIC[magic]
    rest = fh.read(20)
    if len(rest) < 20:
        scan.notes.append("truncated: the file ends inside the pcap header")
        scan.format = "pcap"
        return
    linktype = struct.unpack(endian + "I", rest[16:20])[0] & 0xFFFF
    scan.format = "pcap" + ("-ns" if scale < 1e-6 else "")
    scan.link_types.append(linktype)
    if linktype not in SUPPORTED:
        scan.notes.append(
            f"unsupported link type {linktype} ({LINKTYPE_NAMES.get(linktype, 'unknown')}): "
            "packets not decoded"
        )
        # still count packets, for the evidence summary
    rec = struct.Struct(endian + "IIII")
    rec_unpack = rec.unpack_from
    hosts = targets.pe_hosts
    ranges = [(c.net, (0xFFFFFFFF << (32 - c.plen)) & 0xFFFFFFFF) for c in targets.pe_ranges]
    ports = targets.ports
    conns = scan.conns
    decode = linktype in SUPPORTED
    ether = linktype == 1
    packets = tcp = matched = 0
    first_ts = last_ts = None
    buf = b""
    pos = 0
    truncated = False
    while True:
        chunk = fh.read(CHUNK)
        if not chunk:
            if pos < len(buf):
                truncated = True
            break
        buf = buf[pos:] + chunk if pos < len(buf) else chunk
        pos = 0
        blen = len(buf)
        while pos + 16 <= blen:
            sec, frac, caplen, _orig = rec_unpack(buf, pos)
            if caplen > MAX_RECORD:
                scan.notes.append(
                    f"corrupt record at packet {packets + 1} (length {caplen}): stopped reading"
                )
                scan.packets, scan.tcp_packets, scan.matched_packets = packets, tcp, matched
                _set_times(scan, first_ts, last_ts, scale)
                return
            off = pos + 16
            end = off + caplen
            if end > blen:
                break
            pos = end
            packets += 1
            if first_ts is None:
                first_ts = (sec, frac)
            last_ts = (sec, frac)
            if not decode:
                continue
            if ether:
                # fast path: untagged IPv4 over Ethernet
                if caplen >= 34 and buf[off + 12] == 8 and buf[off + 13] == 0:
                    l3 = off + 14
                else:
                    l3 = _l3_offset(buf, off, end, 1)
                    if l3 < 0:
                        continue
            else:
                l3 = _l3_offset(buf, off, end, linktype)
                if l3 < 0:
                    continue
            if l3 + 20 > end or buf[l3 + 9] != 6 or (buf[l3] >> 4) != 4:
                continue
            if (buf[l3 + 6] & 0x1F) or buf[l3 + 7]:
                continue  # non-first fragment
            tcp += 1
            hit = _match(buf, l3, end, hosts, ranges, ports)
            if hit is None:
                continue
            matched += 1
            _account(conns, *hit, sec + frac * scale)
    if truncated:
        scan.notes.append(f"truncated: the file ends inside packet {packets + 1}; {packets} packets read")
    scan.packets, scan.tcp_packets, scan.matched_packets = packets, tcp, matched
    _set_times(scan, first_ts, last_ts, scale)


def _set_times(
    scan: CaptureScan, first: tuple[int, int] | None, last: tuple[int, int] | None, scale: float
) -> None:
    if first is not None:
        scan.start = first[0] + first[1] * scale
    if last is not None:
        scan.end = last[0] + last[1] * scale


_ip_unpack = struct.Struct("!II").unpack_from  # IPv4 source, destination
_ports_unpack = struct.Struct("!HHI").unpack_from  # TCP source port, destination port, sequence


def _match(
    buf: bytes, l3: int, end: int, hosts: Any, ranges: Any, ports: set[int] | None
) -> tuple[bool, int, int, int, int, int, int] | None:
    """A TCP/IPv4 packet (header already checked) toward or from a private endpoint of interest:
    (forward?, src, sport, dst, dport, seq, flags), or None when it is not part of a watched flow."""
    src, dst = _ip_unpack(buf, l3 + 12)
    if dst in hosts:
        fwd = True
    elif src in hosts:
        fwd = False
    elif ranges:
        if any((dst & m) == n for n, m in ranges):
            fwd = True
        elif any((src & m) == n for n, m in ranges):
            fwd = False
        else:
            return None
    else:
        return None
    t = l3 + ((buf[l3] & 15) << 2)
    if t + 14 > end:
        return None
    sport, dport, seq = _ports_unpack(buf, t)
    if fwd and (src in hosts or (ranges and any((src & m) == n for n, m in ranges))):
        both = _direction_both_pe(sport, dport, ports)  # e.g. loopback: decide by the port
        if both is None:
            return None
        fwd = both
    elif ports is not None and (dport if fwd else sport) not in ports:
        return None
    return fwd, src, sport, dst, dport, seq, buf[t + 13]


def _direction_both_pe(sport: int, dport: int, ports: set[int] | None) -> bool | None:
    """Both ends are target addresses (loopback captures, subnet-wide targets): the PE side is the
    one on a target port; with any port allowed, the lower port is taken as the server's."""
    if ports is None:
        return dport <= sport
    if dport in ports:
        return True
    if sport in ports:
        return False
    return None


def _account(
    conns: dict, fwd: bool, src: int, sport: int, dst: int, dport: int, seq: int, flags: int, ts: float
) -> None:
    key = (src, sport, dst, dport) if fwd else (dst, dport, src, sport)
    c = conns.get(key)
    if c is None:
        c = conns[key] = [0, 0, 0, 0, 0, 0, 0, 0, ts, ts, None, None, 0]
    c[LAST] = ts
    if fwd:
        if flags & 0x04:
            c[RST_F] += 1
        elif flags & 0x02:
            if not flags & 0x10:
                c[SYN] += 1
                if c[SEQ] is None:
                    c[SEQ] = seq
                    c[SYN_FIRST] = ts
            else:
                c[DATA_F] += 1
        elif flags & 0x01:
            c[FIN_F] += 1
            if c[SYN]:
                c[AFTER] += 1
        else:
            c[DATA_F] += 1
            if c[SYN]:
                c[AFTER] += 1
    else:
        if flags & 0x04:
            c[RST_R] += 1
        elif flags & 0x12 == 0x12:
            c[SYNACK] += 1
        elif flags & 0x01:
            c[FIN_R] += 1
        else:
            c[DATA_R] += 1


def _scan_pcapng(fh: BinaryIO, magic: bytes, scan: CaptureScan, targets: TargetSet) -> None:
    scan.format = "pcapng"
    hosts = targets.pe_hosts
    ranges = [(c.net, (0xFFFFFFFF << (32 - c.plen)) & 0xFFFFFFFF) for c in targets.pe_ranges]
    ports = targets.ports
    conns = scan.conns
    endian = "<"
    head_unpack = struct.Struct("<II").unpack_from
    epb_unpack = struct.Struct("<IIII").unpack_from
    ifaces: list[tuple[int, float, float, int]] = []  # (linktype, scale, offset seconds, snaplen)
    warned: set[int] = set()
    packets = tcp = matched = 0
    first = last = None  # (ticks, scale, offset)
    buf = magic + fh.read(CHUNK)
    pos = 0
    eof = False
    while True:
        blen_buf = len(buf)
        if pos + 12 > blen_buf:
            if not eof:
                more = fh.read(CHUNK)
                if not more:
                    eof = True
                buf = buf[pos:] + more
                pos = 0
                continue
            if pos < blen_buf:
                scan.notes.append(f"truncated: the file ends inside a block after {packets} packets")
            break
        btype, blen = head_unpack(buf, pos)
        if btype == 0x0A0D0D0A:  # section header: byte order may change
            bom = buf[pos + 8 : pos + 12]
            if bom == b"\x4d\x3c\x2b\x1a":
                endian = "<"
            elif bom == b"\x1a\x2b\x3c\x4d":
                endian = ">"
            else:
                scan.notes.append("corrupt section header (byte-order magic): stopped reading")
                break
            head_unpack = struct.Struct(endian + "II").unpack_from
            epb_unpack = struct.Struct(endian + "IIII").unpack_from
            btype, blen = head_unpack(buf, pos)
            ifaces = []  # interface ids are per section
        if blen < 12 or blen > MAX_RECORD or blen % 4:
            scan.notes.append(f"corrupt block (length {blen}) after {packets} packets: stopped reading")
            break
        if pos + blen > blen_buf:
            if eof:
                scan.notes.append(f"truncated: the file ends inside a block after {packets} packets")
                break
            more = fh.read(max(CHUNK, blen))
            if not more:
                eof = True
            buf = buf[pos:] + more
            pos = 0
            continue
        body = pos + 8
        bend = pos + blen - 4
        pos += blen
        if btype == 6:  # enhanced packet block: the common case
            iface, hi, lo, caplen = epb_unpack(buf, body)
            data = body + 20
            ticks = (hi << 32) | lo
        elif btype == 2:  # obsolete packet block
            iface, _drops, hi, lo, caplen = struct.unpack_from(endian + "HHIII", buf, body)
            data = body + 20
            ticks = (hi << 32) | lo
        elif btype == 3:  # simple packet block: interface 0, no timestamp
            iface, ticks = 0, None
            caplen = min(struct.unpack_from(endian + "I", buf, body)[0], bend - body - 4)
            data = body + 4
        else:
            if btype == 1:  # interface description block
                linktype, _r, snaplen = struct.unpack_from(endian + "HHI", buf, body)
                scale, tsoff = _idb_options(buf, body + 8, bend, endian)
                ifaces.append((linktype, scale, tsoff, snaplen))
                if linktype not in scan.link_types:
                    scan.link_types.append(linktype)
                if linktype not in SUPPORTED and linktype not in warned:
                    warned.add(linktype)
                    scan.notes.append(
                        f"unsupported link type {linktype} ({LINKTYPE_NAMES.get(linktype, 'unknown')}) "
                        f"on interface {len(ifaces) - 1}: packets not decoded"
                    )
            continue
        packets += 1
        if iface >= len(ifaces):
            scan.notes.append(f"packet {packets} refers to undeclared interface {iface}: skipped")
            continue
        linktype, scale, tsoff, snaplen = ifaces[iface]
        if btype == 3 and snaplen:
            caplen = min(caplen, snaplen)
        if ticks is not None:
            last = (ticks, scale, tsoff)
            if first is None:
                first = last
        end = min(data + caplen, bend)
        if linktype == 1 and end - data >= 34 and buf[data + 12] == 8 and buf[data + 13] == 0:
            l3 = data + 14
        elif linktype in SUPPORTED:
            l3 = _l3_offset(buf, data, end, linktype)
            if l3 < 0:
                continue
        else:
            continue
        if l3 + 20 > end or buf[l3 + 9] != 6 or (buf[l3] >> 4) != 4 or (buf[l3 + 6] & 0x1F) or buf[l3 + 7]:
            continue
        tcp += 1
        hit = _match(buf, l3, end, hosts, ranges, ports)
        if hit is None:
            continue
        matched += 1
        _account(conns, *hit, ticks * scale + tsoff if ticks is not None else 0.0)
    scan.packets, scan.tcp_packets, scan.matched_packets = packets, tcp, matched

    scan.start = first[0] * first[1] + first[2] if first else None
    scan.end = last[0] * last[1] + last[2] if last else None


def _idb_options(buf: bytes, p: int, end: int, endian: str) -> tuple[float, float]:
    scale, tsoff = 1e-6, 0.0
    while p + 4 <= end:
        code, length = struct.unpack_from(endian + "HH", buf, p)
        if code == 0:
            break
        v = p + 4
        if code == 9 and length >= 1:
            r = buf[v]
            scale = 2.0 ** -(r & 0x7F) if r & 0x80 else 10.0**-r
        elif code == 14 and length >= 8:
            tsoff = float(struct.unpack_from(endian + "q", buf, v)[0])
        p = v + ((length + 3) & ~3)
    return scale, tsoff


# ---------------------------------------------------------------------------------------------------
# Attribution of a scanned capture to one flow


def _tuple_text(c_ip: int, c_port: int, pe: int, pe_port: int) -> str:
    return f"{fmt_ip(c_ip)}:{c_port} -> {fmt_ip(pe)}:{pe_port}"


def observe(scan: CaptureScan, target: FlowTarget) -> Observation:
    obs = Observation()
    mine = scan.to_pe(target)
    by_role: dict[str, list] = {"source": [], "snat": [], "other": []}
    for k, c in mine:
        by_role[target.client_role(k[0]) or "other"].append((k, c))
    # SNAT twins: the same SYN (destination and initial sequence number; the source port too unless
    # the appliance translated it) seen again from another source address
    originals = {(k[2], k[3], c[SEQ]): k for k, c in by_role["source"] if c[SYN]}
    twin_of: dict[tuple, tuple] = {}
    for k, c in (*by_role["snat"], *by_role["other"]):
        if c[SYN]:
            orig = originals.get((k[2], k[3], c[SEQ]))
            if orig is not None:
                twin_of[orig] = k
    twins = set(twin_of.values())
    end = scan.end
    flow_conns: list[tuple[tuple, list, tuple | None, list | None]] = []
    for k, c in by_role["source"]:
        tk = twin_of.get(k)
        flow_conns.append((k, c, tk, scan.conns[tk] if tk else None))
    for k, c in by_role["snat"]:
        if k not in twins:
            flow_conns.append((k, c, None, None))  # SNATed SYN seen without its original (egress side only)
    obs.other_sources = sum(1 for k, _ in by_role["other"] if k not in twins)
    snat_keys = {k for k, _ in by_role["snat"]}
    for k, c in (*by_role["other"], *by_role["snat"]):
        if k in twins or (k in snat_keys and (c[SYN] or c[SYNACK])):
            obs.snat.add(fmt_ip(k[0]))

    samples: list[tuple[int, str]] = []
    for k, c, tk, tc in flow_conns:
        # judged per client address (a SNATed connection's replies go to the SNAT address, but they
        # still show that the appliance sees this client's return traffic)
        ret_addr = fmt_ip(k[0])
        both = [c] if tc is None else [c, tc]
        syn = c[SYN]
        synack = sum(x[SYNACK] for x in both)
        rst_r = sum(x[RST_R] for x in both)
        for x in both:
            obs.seen(x[FIRST])
            obs.seen(x[LAST])
        obs.forward["SYN"] += c[SYN]
        obs.forward["ACK/data"] += c[DATA_F]
        obs.forward["FIN"] += c[FIN_F]
        obs.forward["RST"] += c[RST_F]
        obs.reverse["SYN-ACK"] += synack
        obs.reverse["RST"] += rst_r
        obs.reverse["FIN"] += sum(x[FIN_R] for x in both)
        obs.reverse["ACK/data"] += sum(x[DATA_R] for x in both)
        if syn:
            obs.syn_addrs.add(ret_addr)
            if synack or rst_r:
                obs.answered += 1
                obs.reply_addrs.add(ret_addr)
                if tk is not None or k in snat_keys:
                    obs.snat_answered = True
                state = "answered" + (" (RST)" if not synack else "")
            elif (
                c[AFTER]
                or syn >= 2
                or (end is not None and c[SYN_FIRST] is not None and c[SYN_FIRST] < end - PENDING_WINDOW)
            ):
                obs.unanswered += 1
                obs.unanswered_addrs.add(ret_addr)
                if c[AFTER]:
                    obs.offpath_handshakes += 1
                state = "no SYN-ACK" + (f", {c[AFTER]} client packet(s) after it" if c[AFTER] else "")
            else:
                obs.pending += 1
                state = "no SYN-ACK yet at capture end"
            snat = f" (SNAT {fmt_ip(tk[0])})" if tk else ""
            samples.append(
                (0 if state.startswith("no") else 1, f"{_tuple_text(*k)}{snat}: SYN x{syn}, {state}")
            )
        elif synack:
            obs.orphan_replies += 1
            obs.reply_addrs.add(ret_addr)
            samples.append((2, f"{_tuple_text(*k)}: SYN-ACK x{synack} without a SYN"))
        elif c[DATA_F] or c[DATA_R]:
            samples.append(
                (
                    3,
                    f"{_tuple_text(*k)}: {c[DATA_F]} packet(s) toward the PE, {c[DATA_R]} back "
                    "(no handshake captured)",
                )
            )
    samples.sort()
    obs.samples = [s for _, s in samples[:MAX_SAMPLES]]
    # clean zero counters so the evidence stays short
    obs.forward = Counter({k: v for k, v in obs.forward.items() if v})
    obs.reverse = Counter({k: v for k, v in obs.reverse.items() if v})
    return obs


def assess(scan: CaptureScan, target: FlowTarget) -> tuple[Observation, Verdict]:
    """Observation and verdict of one capture for one flow; capture problems are part of the reason."""
    obs = observe(scan, target)
    unsupported = [n for n in scan.notes if n.startswith("unsupported link type")]
    if unsupported and not obs.any_traffic:
        return obs, Verdict(INCONCLUSIVE, "; ".join(unsupported))
    v = capture_verdict(obs, target)
    if scan.notes:
        v = Verdict(v.status, v.reason + " [capture: " + "; ".join(scan.notes) + "]")
    return obs, v
