"""NSG evaluation for reachability (azure-facts addendum A1-A3, §3.6).

Rules are processed by priority, first match decides; security rules are stateful. A rule whose
address is a service tag pathaudit cannot resolve offline (e.g. `AzureCloud.westeurope`) or an
application security group "may match": it is reported as such, never silently as "no match".
For a source subnet, a rule that covers only part of its prefix is a partial match: an allow lets
some hosts through (reachable), a partial deny leaves the rest to later rules.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from auditor.estate.model import NetworkSecurityGroup, SecurityRule
from auditor.ipnet import Cidr, PrefixError, parse_cidr

TCP_OK = {"Tcp", "*"}


@dataclass(slots=True)
class NsgVerdict:
    nsg_id: str
    decision: str                 # allow | deny
    rule: str                     # the deciding rule's name (priority)
    uncertain: list[str] = field(default_factory=list)   # rules that may have matched

    def to_dict(self) -> dict:
        return {"nsg": self.nsg_id, "decision": self.decision, "rule": self.rule, "uncertain": self.uncertain}


def _port_ok(ranges: tuple[str, ...], port: int) -> bool:
    for text in ranges or ("*",):
        text = text.strip()
        if text == "*":
            return True
        lo, _, hi = text.partition("-")
        if lo.isdigit() and int(lo) <= port <= int(hi or lo):
            return True
    return False


def _match(values: tuple[str, ...], asgs: tuple[str, ...], prefixes: list[Cidr],
           virtual_network: list[Cidr]) -> str:
    """full | partial | may | none: how a rule's address list matches a set of prefixes."""
    if asgs:
        return "may"
    best = "none"
    for text in values or ():
        t = text.strip()
        if t in ("*", "Any", "0.0.0.0/0"):
            return "full"
        low = t.lower()
        if low == "virtualnetwork":
            cands = virtual_network
        elif low in ("internet", "azureloadbalancer"):
            continue  # private estate addresses are neither
        else:
            try:
                cands = [parse_cidr(t)]
            except PrefixError:
                best = "may" if best == "none" else best
                continue
        if prefixes and all(any(c.contains(p) for c in cands) for p in prefixes):
            return "full"
        if any(c.contains(p) or p.contains(c) for c in cands for p in prefixes):
            best = "partial"
    return best


def _default(name: str, priority: int, direction: str, access: str, src: str, dst: str) -> SecurityRule:
    return SecurityRule(id=name, name=name, priority=priority, direction=direction, access=access, protocol="*",
                        source_prefixes=(src,), destination_prefixes=(dst,), source_ports=("*",),
                        destination_ports=("*",), source_asgs=(), destination_asgs=(), default=True)


# Every NSG has these (addendum A1); exports sometimes omit them, so they are supplied when absent.
DEFAULT_RULES = (
    _default("AllowVnetInBound", 65000, "Inbound", "Allow", "VirtualNetwork", "VirtualNetwork"),
    _default("AllowAzureLoadBalancerInBound", 65001, "Inbound", "Allow", "AzureLoadBalancer", "*"),
    _default("DenyAllInBound", 65500, "Inbound", "Deny", "*", "*"),
    _default("AllowVnetOutBound", 65000, "Outbound", "Allow", "VirtualNetwork", "VirtualNetwork"),
    _default("AllowInternetOutBound", 65001, "Outbound", "Allow", "*", "Internet"),
    _default("DenyAllOutBound", 65500, "Outbound", "Deny", "*", "*"),
)


def evaluate(nsg: NetworkSecurityGroup, direction: str, sources: list[Cidr], destinations: list[Cidr], port: int,
             virtual_network: list[Cidr]) -> NsgVerdict:
    uncertain: list[str] = []
    rules = list(nsg.rules) if default_rules_present(nsg.rules) else [*nsg.rules, *DEFAULT_RULES]
    for rule in sorted(rules, key=lambda r: (r.priority, r.default, r.name)):
        if rule.direction != direction or rule.protocol not in TCP_OK or not _port_ok(rule.destination_ports, port):
            continue
        src = _match(rule.source_prefixes, rule.source_asgs, sources, virtual_network)
        dst = _match(rule.destination_prefixes, rule.destination_asgs, destinations, virtual_network)
        if src == "none" or dst == "none":
            continue
        label = f"{rule.name} ({rule.priority})"
        if src == "may" or dst == "may":
            uncertain.append(label)
            continue
        if rule.access == "Allow":
            return NsgVerdict(nsg.id, "allow", label, uncertain)
        if src == "full" and dst == "full":
            return NsgVerdict(nsg.id, "deny", label, uncertain)
        uncertain.append(f"{label} partially")
    return NsgVerdict(nsg.id, "deny", "no rule matched", uncertain)


def default_rules_present(rules: list[SecurityRule]) -> bool:
    return any(r.default for r in rules)
