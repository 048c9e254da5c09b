"""IPv4 addresses and prefixes as integers.

Routing and ownership lookups run millions of times per audit; `ipaddress` objects cost 12-22k
lookups/s (stack-notes), plain ints keep lookups in the millions. Parsing is strict so that a
malformed value is reported against its resource instead of silently misrouting.
"""

from __future__ import annotations

from dataclasses import dataclass
from socket import AF_INET, inet_pton

MAX32 = 0xFFFFFFFF


class PrefixError(ValueError):
    """A value that is not an IPv4 address/prefix. `ipv6` tells callers to say "not modelled"."""

    def __init__(self, text: str, problem: str, ipv6: bool = False) -> None:
        super().__init__(problem)
        self.text = text
        self.problem = problem
        self.ipv6 = ipv6


def mask(plen: int) -> int:
    return (MAX32 << (32 - plen)) & MAX32 if plen else 0


def parse_ip(text: object) -> int:
    try:  # C fast path: strict dotted decimal; anything else falls through to the checks below
        return int.from_bytes(inet_pton(AF_INET, text), "big")  # type: ignore[arg-type]
    except (OSError, TypeError):
        pass
    if not isinstance(text, str):
        raise PrefixError(repr(text), f"expected an IPv4 address string, got {type(text).__name__}")
    s = text.strip()
    if ":" in s:
        raise PrefixError(s, f"IPv6 address {s!r} is not modelled (IPv4 only)", ipv6=True)
    parts = s.split(".")
    if len(parts) != 4:
        raise PrefixError(s, f"{s!r} is not an IPv4 address")
    value = 0
    for p in parts:
        if not p.isdigit() or len(p) > 3:
            raise PrefixError(s, f"{s!r} is not an IPv4 address")
        octet = int(p)
        if octet > 255:
            raise PrefixError(s, f"{s!r} is not an IPv4 address (octet {octet} > 255)")
        value = (value << 8) | octet
    return value


@dataclass(frozen=True, slots=True, order=True)
class Cidr:
    """An IPv4 prefix; `net` has its host bits cleared."""

    net: int
    plen: int

    def __str__(self) -> str:
        return f"{fmt_ip(self.net)}/{self.plen}"

    def contains_ip(self, ip: int) -> bool:
        return (ip & mask(self.plen)) == self.net

    def contains(self, other: Cidr) -> bool:
        return other.plen >= self.plen and (other.net & mask(self.plen)) == self.net

    @property
    def last(self) -> int:
        return self.net | (~mask(self.plen) & MAX32)


def parse_cidr(text: object) -> Cidr:
    """Parse `a.b.c.d/n` (or a bare address as /32). Host bits are cleared, as Azure does."""
    if not isinstance(text, str):
        raise PrefixError(repr(text), f"expected a CIDR string, got {type(text).__name__}")
    s = text.strip()
    if ":" in s:
        raise PrefixError(s, f"IPv6 prefix {s!r} is not modelled (IPv4 only)", ipv6=True)
    if "/" in s:
        addr, _, length = s.partition("/")
        if not length.isdigit() or int(length) > 32:
            raise PrefixError(s, f"{s!r} is not a valid IPv4 prefix (bad length)")
        plen = int(length)
    else:
        addr, plen = s, 32
    try:
        ip = parse_ip(addr)
    except PrefixError as exc:
        raise PrefixError(s, f"{s!r} is not a valid IPv4 prefix") from exc
    return Cidr(ip & mask(plen), plen)


def fmt_ip(value: int) -> str:
    return f"{(value >> 24) & 255}.{(value >> 16) & 255}.{(value >> 8) & 255}.{value & 255}"


def is_ipv4_text(text: str) -> bool:
    try:
        parse_ip(text)
    except PrefixError:
        return False
    return True


# Reserved prefixes Azure routes to `None` by default (https://learn.microsoft.com/azure/virtual-network/virtual-networks-udr-overview), and the defaults of
# Azure Firewall's SNAT private ranges (https://learn.microsoft.com/azure/firewall/snat-private-range: IANA RFC 1918 + RFC 6598).
RFC1918 = (parse_cidr("10.0.0.0/8"), parse_cidr("172.16.0.0/12"), parse_cidr("192.168.0.0/16"))
RFC6598 = parse_cidr("100.64.0.0/10")


def port_in_ranges(values: object, port: int) -> bool:
    """Does `port` fall in any of `values` (`*`, `443`, `1024-65535`)? Unparseable entries never match."""
    for value in values or ():  # type: ignore[attr-defined]
        text = str(value).strip()
        if text == "*":
            return True
        lo, _, hi = text.partition("-")
        hi = hi or lo
        if lo.isdigit() and hi.isdigit() and int(lo) <= port <= int(hi):
            return True
    return False
