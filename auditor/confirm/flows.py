"""What to look for per finding: the flow's endpoints, the appliance it should cross, SNAT addresses.

A finding with a `flow` (docs/findings.md) becomes a `FlowTarget`. Evidence sources (captures, flow-trace
exports, Log Analytics) are scanned once for the union of all targets (`TargetSet`) and then
attributed to each target here, so a 50-finding document does not mean 50 passes over a capture.

Direction vocabulary used throughout `auditor.confirm`:
- forward: client -> private endpoint (source IP in the flow's source prefixes, or a SNAT address of
  the appliance; destination = `destination_ip`, destination port = `port`);
- reverse: private endpoint -> client (the replies: SYN-ACK, RST, data).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from auditor.ids import key, name_of
from auditor.ipnet import Cidr, PrefixError, fmt_ip, mask, parse_cidr, parse_ip

# Hop kinds that keep connection state (docs/findings.md `forward[].kind`). Unknown kinds that look like
# an appliance are accepted too, so a new kind name from the path engine is not silently ignored.
APPLIANCE_KINDS = {
    "nva",
    "azure-firewall",
    "firewall",
    "virtual-appliance",
    "hub-nva",
    "network-virtual-appliance",
}

# Azure Firewall SNATs to its instance IPs inside AzureFirewallSubnet, not to the frontend private IP
# the routes point at. The subnet must be at least a /26; the /26 around the frontend IP is the
# best guess available from a findings document (https://learn.microsoft.com/azure/firewall/snat-private-range forced tunnelling note).
AZFW_SNAT_PLEN = 26

# Expectations: which direction the configuration says crosses the appliance.
FORWARD_ONLY = "forward-only"  # NET001: forward via appliance, return bypasses it
RETURN_ONLY = "return-only"  # NET008: forward bypasses the hub appliance, return crosses it
BOTH = "both"  # appliance on both paths (a symmetric flow: nothing to confirm)
BYPASS = "bypass"  # no appliance on either path (e.g. NET005)


def is_appliance_kind(kind: object) -> bool:
    k = str(kind or "").lower()
    return k in APPLIANCE_KINDS or "firewall" in k or "nva" in k or "appliance" in k


def is_azure_firewall_kind(kind: object) -> bool:
    k = str(kind or "").lower()
    return "firewall" in k


@dataclass(frozen=True, slots=True)
class Appliance:
    hop: str
    kind: str
    id: str | None
    ip: str | None
    side: str  # forward | return | both

    @property
    def is_azure_firewall(self) -> bool:
        return is_azure_firewall_kind(self.kind)

    def label(self) -> str:
        name = self.hop or name_of(self.id or "") or "appliance"
        return f"{self.kind} {name}" + (f" ({self.ip})" if self.ip else "")

    def to_dict(self) -> dict[str, Any]:
        return {"hop": self.hop, "kind": self.kind, "id": self.id, "ip": self.ip, "side": self.side}


BPF_HOSTS = 20  # destinations named in an evidence's capture filter


@dataclass(slots=True)
class FlowTarget:
    """One finding's flow, parsed for matching. A findings@2 finding lists every destination it concerns
    (all of one route context's endpoints behind one appliance, say); traffic to any of them, from the
    flow's sources, speaks for the finding."""

    index: int  # position of the finding in the document
    rule_id: str
    fingerprint: str
    source_prefixes: list[Cidr]
    destinations: list[tuple[Cidr, int | None]]  # (PE /32 or a wider range, port or None for any port)
    appliances: list[Appliance]
    expectation: str
    snat_ranges: list[Cidr] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    _hosts: dict[int, set[int | None]] = field(default_factory=dict)
    _ranges: list[tuple[Cidr, int | None]] = field(default_factory=list)

    def __post_init__(self) -> None:
        for cidr, port in self.destinations:
            if cidr.plen == 32:
                self._hosts.setdefault(cidr.net, set()).add(port)
            else:
                self._ranges.append((cidr, port))

    @property
    def destination(self) -> Cidr:
        return self.destinations[0][0]

    @property
    def port(self) -> int | None:
        return self.destinations[0][1]

    @property
    def destination_text(self) -> str:
        d = self.destination
        return fmt_ip(d.net) if d.plen == 32 else str(d)

    @property
    def endpoint_text(self) -> str:
        more = f" (+{len(self.destinations) - 1} more)" if len(self.destinations) > 1 else ""
        return f"{self.destination_text}:{self.port if self.port is not None else '*'}{more}"

    def host_keys(self) -> list[tuple[int, int | None]]:
        """(PE address, port) of every /32 destination: what evidence is indexed by."""
        return [(ip, port) for ip, ports in self._hosts.items() for port in ports]

    @property
    def ranges(self) -> list[tuple[Cidr, int | None]]:
        return self._ranges

    @property
    def azure_firewalls(self) -> list[Appliance]:
        return [a for a in self.appliances if a.is_azure_firewall]

    def client_role(self, ip: int) -> str | None:
        """'source' for the flow's clients, 'snat' for the appliance's own/SNAT addresses, else None.

        A flow without source prefixes (e.g. on-premises with no declared ranges) accepts any client.
        """
        for c in self.source_prefixes:
            if (ip & mask(c.plen)) == c.net:
                return "source"
        for c in self.snat_ranges:
            if (ip & mask(c.plen)) == c.net:
                return "snat"
        return None if self.source_prefixes else "source"

    def matches_pe(self, ip: int, port: int) -> bool:
        ports = self._hosts.get(ip)
        if ports is not None and (None in ports or port in ports):
            return True
        return any((ip & mask(c.plen)) == c.net and (p is None or p == port) for c, p in self._ranges)

    def bpf(self) -> str:
        """A capture filter that selects this flow's packets (for the evidence `path`; the first
        BPF_HOSTS destinations when there are more)."""
        parts = [
            f"net {c}" if c.plen != 32 else f"host {fmt_ip(c.net)}" for c, _ in self.destinations[:BPF_HOSTS]
        ]
        host = parts[0] if len(parts) == 1 else "(" + " or ".join(parts) + ")"
        ports = sorted({p for _, p in self.destinations[:BPF_HOSTS] if p is not None})
        port = (
            ""
            if not ports or any(p is None for _, p in self.destinations[:BPF_HOSTS])
            else " and (" + " or ".join(f"port {p}" for p in ports) + ")"
            if len(ports) > 1
            else f" and port {ports[0]}"
        )
        return f"tcp and {host}{port}"

    def describe(self) -> dict[str, Any]:
        return {
            "source_prefixes": [str(c) for c in self.source_prefixes],
            "destination": self.endpoint_text,
            "appliances": [a.to_dict() for a in self.appliances],
            "expectation": self.expectation,
        }


def _appliances(flow: dict[str, Any]) -> list[Appliance]:
    found: dict[tuple[str, str], dict[str, Any]] = {}
    sides: dict[tuple[str, str], set[str]] = {}
    for side in ("forward", "return"):
        for hop in flow.get(side) or []:
            if not isinstance(hop, dict) or not is_appliance_kind(hop.get("kind")):
                continue
            where = (key(str(hop.get("id") or "")), str(hop.get("ip") or ""))
            found.setdefault(where, hop)
            sides.setdefault(where, set()).add(side)
    out = []
    for where, hop in found.items():
        s = sides[where]
        side = "both" if len(s) == 2 else next(iter(s))
        out.append(
            Appliance(
                hop=str(hop.get("hop") or ""),
                kind=str(hop.get("kind") or ""),
                id=hop.get("id"),
                ip=hop.get("ip"),
                side=side,
            )
        )
    return out


def _expectation(appliances: list[Appliance]) -> str:
    if not appliances:
        return BYPASS
    sides = {a.side for a in appliances}
    if sides == {"forward"}:
        return FORWARD_ONLY
    if sides == {"return"}:
        return RETURN_ONLY
    if "forward" in sides:
        return FORWARD_ONLY  # one appliance only forward, another on both: the forward-only one decides
    if "return" in sides:
        return RETURN_ONLY
    return BOTH


def target_from_finding(index: int, finding: dict[str, Any]) -> FlowTarget | None:
    """Parse one finding's flow (findings@2: `destinations` and the `example`'s sources and hops);
    None when it has no flow. Bad values become `problems`, not errors."""
    flow = finding.get("flow")
    if not isinstance(flow, dict):
        return None
    example = found if isinstance(found := flow.get("example"), dict) else {}
    problems: list[str] = []
    prefixes: list[Cidr] = []
    for text in example.get("source_prefixes") or []:
        try:
            prefixes.append(parse_cidr(text))
        except PrefixError as exc:
            problems.append(f"flow.example.source_prefixes: {exc.problem}")
    destinations: list[tuple[Cidr, int | None]] = []
    for i, d in enumerate(flow.get("destinations") or []):
        if not isinstance(d, dict):
            problems.append(f"flow.destinations[{i}]: not an object")
            continue
        try:
            cidr = parse_cidr(d.get("ip"))
        except PrefixError as exc:
            problems.append(f"flow.destinations[{i}].ip: {exc.problem}")
            continue
        port = d.get("port")
        if port is not None and not (
            isinstance(port, int) and not isinstance(port, bool) and 0 < port < 65536
        ):
            problems.append(f"flow.destinations[{i}].port: {port!r} is not a TCP port; matching any port")
            port = None
        destinations.append((cidr, port))
    if not destinations:
        problems.append("flow.destinations: no IPv4 destination to match")
    if not prefixes and not problems:
        problems.append("flow has no source prefixes: traffic from any client is counted")
    appliances = _appliances(example)
    snat: list[Cidr] = []
    for a in appliances:
        if not a.ip:
            continue
        try:
            ip = parse_ip(a.ip)
        except PrefixError as exc:
            problems.append(f"appliance {a.hop}: {exc.problem}")
            continue
        plen = AZFW_SNAT_PLEN if a.is_azure_firewall else 32
        c = Cidr(ip & mask(plen), plen)
        if c not in snat:
            snat.append(c)
    return FlowTarget(
        index=index,
        rule_id=str(finding.get("rule_id", "")),
        fingerprint=str(finding.get("fingerprint", "")),
        source_prefixes=prefixes,
        destinations=destinations,
        appliances=appliances,
        expectation=_expectation(appliances),
        snat_ranges=snat,
        problems=problems,
    )


def targets_from_document(doc: dict[str, Any]) -> list[FlowTarget]:
    out = []
    for i, f in enumerate(doc.get("findings") or []):
        if isinstance(f, dict):
            t = target_from_finding(i, f)
            if t is not None and t.destinations:
                out.append(t)
    return out


@dataclass(slots=True)
class TargetSet:
    """The union of all targets, as one scan of an evidence source needs it."""

    pe_hosts: set[int]  # /32 destinations
    pe_ranges: list[Cidr]  # wider destinations (subnet-level flows)
    ports: set[int] | None  # None: some target accepts any port
    client_ranges: list[Cidr]  # source prefixes + SNAT ranges of all targets

    @classmethod
    def of(cls, targets: list[FlowTarget]) -> TargetSet:
        hosts: set[int] = set()
        ranges: list[Cidr] = []
        ports: set[int] | None = set()
        clients: list[Cidr] = []
        for t in targets:
            for dest, port in t.destinations:
                if dest.plen == 32:
                    hosts.add(dest.net)
                elif dest not in ranges:
                    ranges.append(dest)
                if port is None:
                    ports = None
                elif ports is not None:
                    ports.add(port)
            for c in (*(t.source_prefixes or [Cidr(0, 0)]), *t.snat_ranges):
                if c not in clients:
                    clients.append(c)
        return cls(hosts, ranges, ports, clients)

    def pe_texts(self) -> list[str]:
        return [f"{fmt_ip(h)}/32" for h in sorted(self.pe_hosts)] + [str(c) for c in self.pe_ranges]

    def is_pe(self, ip: int) -> bool:
        if ip in self.pe_hosts:
            return True
        return any((ip & mask(c.plen)) == c.net for c in self.pe_ranges)
