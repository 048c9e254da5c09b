"""NSG evaluation for reachability.

Sources: https://learn.microsoft.com/azure/virtual-network/network-security-groups-overview
(default rules, priority order, statefulness), https://learn.microsoft.com/azure/virtual-network/service-tags-overview
(the VirtualNetwork tag), https://learn.microsoft.com/azure/private-link/private-endpoint-overview (NSGs on
private endpoints).

Rules are processed by priority, first match decides; security rules are stateful. A rule whose
address is a service tag pathaudit cannot resolve offline (e.g. `AzureCloud.westeurope`) or an
application security group "may match": it is reported as such, never silently as "no match"; an
Allow rule that may match makes any later deny uncertain, so the flow counts as possible (allow).
For a source subnet, a rule that covers only part of its prefix is a partial match: an allow lets
some hosts through (reachable), a partial deny leaves the rest to later rules.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from auditor.estate.model import NetworkSecurityGroup, SecurityRule
from auditor.ipnet import Cidr, PrefixError, parse_cidr, port_in_ranges

if TYPE_CHECKING:
    from auditor.routing.lpm import PrefixMap

TCP_OK = {"Tcp", "*"}


@dataclass(slots=True)
class NsgVerdict:
    nsg_id: str
    decision: str  # allow | deny
    rule: str  # the deciding rule's name (priority)
    uncertain: list[str] = field(default_factory=list)  # rules that may have matched

    def to_dict(self) -> dict[str, Any]:
        return {"nsg": self.nsg_id, "decision": self.decision, "rule": self.rule, "uncertain": self.uncertain}


RANK = {"none": 0, "may": 1, "partial": 2, "full": 3}


@dataclass(frozen=True, slots=True)
class Side:
    """One side (source or destination) of a rule, parsed once.

    How it matches a set of prefixes: `full` if `*` / `Any` / `0.0.0.0/0`, or one CIDR covers every
    prefix, or the VirtualNetwork tag covers every prefix; else `partial` if something overlaps; else
    `may` if an ASG or a tag pathaudit cannot resolve is involved (an ASG always makes it `may`); else
    `none`. The result does not depend on the order of the values.
    """

    asg: bool
    star: bool
    cidrs: tuple[Cidr, ...]
    may: bool  # an address that is neither a prefix nor a known tag (e.g. AzureCloud.westeurope)
    vnet: bool  # the VirtualNetwork service tag: depends on where it is evaluated (service-tags-overview)

    def fixed(self, prefixes: list[Cidr]) -> str:
        """The match without the VirtualNetwork tag's part."""
        if self.asg:
            return "may"
        if self.star:
            return "full"
        best = "may" if self.may else "none"
        for c in self.cidrs:
            if prefixes and all(c.contains(p) for p in prefixes):
                return "full"
            if best != "partial" and any(c.contains(p) or p.contains(c) for p in prefixes):
                best = "partial"
        return best

    def needs_vnet(self, fixed: str) -> bool:
        return self.vnet and not self.asg and fixed != "full"

    @staticmethod
    def vnet_match(prefixes: list[Cidr], virtual_network: list[Cidr]) -> str:
        if prefixes and all(any(c.contains(p) for c in virtual_network) for p in prefixes):
            return "full"
        if any(c.contains(p) or p.contains(c) for c in virtual_network for p in prefixes):
            return "partial"
        return "none"

    def match_ip(self, ip: int, virtual_network: PrefixMap[bool]) -> str:
        """match([ip/32], ...) for one address; `virtual_network` maps an address to a truthy value when the
        VirtualNetwork tag covers it (an LPM map of the tag's prefixes). A /32 is either inside a prefix or
        disjoint from it, so it never matches partially."""
        if self.asg:
            return "may"
        if self.star:
            return "full"
        for c in self.cidrs:
            if c.contains_ip(ip):
                return "full"
        if self.vnet and virtual_network.get(ip):
            return "full"
        return "may" if self.may else "none"

    def match(self, prefixes: list[Cidr], virtual_network: list[Cidr]) -> str:
        fixed = self.fixed(prefixes)
        if not self.needs_vnet(fixed):
            return fixed
        return combine(fixed, self.vnet_match(prefixes, virtual_network))


def combine(a: str, b: str) -> str:
    return a if RANK[a] >= RANK[b] else b


def side(values: tuple[str, ...], asgs: tuple[str, ...]) -> Side:
    star = may = vnet = False
    cidrs: list[Cidr] = []
    for text in values or ():
        t = text.strip()
        low = t.lower()
        if t in ("*", "Any", "0.0.0.0/0"):
            star = True
        elif low == "virtualnetwork":
            vnet = True
        elif low in ("internet", "azureloadbalancer"):
            continue  # private estate addresses are neither
        else:
            try:
                cidrs.append(parse_cidr(t))
            except PrefixError:
                may = True
    return Side(bool(asgs), star, tuple(cidrs), may, vnet)


@dataclass(frozen=True, slots=True)
class CompiledRule:
    label: str  # "name (priority)"
    access: str
    src: Side
    dst: Side


def compile_rules(nsg: NetworkSecurityGroup, direction: str, port: int) -> list[CompiledRule]:
    """The rules that can apply to TCP `port` in `direction`, in evaluation order, defaults included."""
    rules = list(nsg.rules) if default_rules_present(nsg.rules) else [*nsg.rules, *DEFAULT_RULES]
    out = []
    for rule in sorted(rules, key=lambda r: (r.priority, r.default, r.name)):
        if (
            rule.direction != direction
            or rule.protocol not in TCP_OK
            or not port_in_ranges(rule.destination_ports or ("*",), port)
        ):
            continue
        out.append(
            CompiledRule(
                f"{rule.name} ({rule.priority})",
                rule.access,
                side(rule.source_prefixes, rule.source_asgs),
                side(rule.destination_prefixes, rule.destination_asgs),
            )
        )
    return out


def decide(
    nsg_id: str, rules: Sequence[CompiledRule], src_match: Callable[..., str], dst_match: Callable[..., str]
) -> NsgVerdict:
    """First match decides (NSG overview). `src_match(i, side)` / `dst_match(i, side)` give rule i's match,
    computed lazily: the destination side of a rule is only looked at when its source side matches."""
    uncertain: list[str] = []
    may_allow: str | None = None  # an Allow rule that may match, ahead of whatever denies
    for i, rule in enumerate(rules):
        src = src_match(i, rule.src)
        if src == "none":
            continue
        dst = dst_match(i, rule.dst)
        if dst == "none":
            continue
        label = rule.label
        if src == "may" or dst == "may":
            uncertain.append(label)
            if rule.access == "Allow" and may_allow is None:
                may_allow = label
            continue
        if rule.access == "Allow":
            return NsgVerdict(nsg_id, "allow", label, uncertain)
        if src == "full" and dst == "full":
            return _deny(nsg_id, label, uncertain, may_allow)
        uncertain.append(f"{label} partially")
    return _deny(nsg_id, "no rule matched", uncertain, may_allow)


def _default(name: str, priority: int, direction: str, access: str, src: str, dst: str) -> SecurityRule:
    return SecurityRule(
        id=name,
        name=name,
        priority=priority,
        direction=direction,
        access=access,
        protocol="*",
        source_prefixes=(src,),
        destination_prefixes=(dst,),
        source_ports=("*",),
        destination_ports=("*",),
        source_asgs=(),
        destination_asgs=(),
        default=True,
    )


# Every NSG has these (NSG overview); exports sometimes omit them, so they are supplied when absent.
DEFAULT_RULES = (
    _default("AllowVnetInBound", 65000, "Inbound", "Allow", "VirtualNetwork", "VirtualNetwork"),
    _default("AllowAzureLoadBalancerInBound", 65001, "Inbound", "Allow", "AzureLoadBalancer", "*"),
    _default("DenyAllInBound", 65500, "Inbound", "Deny", "*", "*"),
    _default("AllowVnetOutBound", 65000, "Outbound", "Allow", "VirtualNetwork", "VirtualNetwork"),
    _default("AllowInternetOutBound", 65001, "Outbound", "Allow", "*", "Internet"),
    _default("DenyAllOutBound", 65500, "Outbound", "Deny", "*", "*"),
)


def evaluate(
    nsg: NetworkSecurityGroup,
    direction: str,
    sources: list[Cidr],
    destinations: list[Cidr],
    port: int,
    virtual_network: list[Cidr],
) -> NsgVerdict:
    return decide(
        nsg.id,
        compile_rules(nsg, direction, port),
        lambda _i, s: s.match(sources, virtual_network),
        lambda _i, s: s.match(destinations, virtual_network),
    )


def _deny(nsg_id: str, label: str, uncertain: list[str], may_allow: str | None) -> NsgVerdict:
    """A deny is only definite when no earlier Allow rule may have matched (an unresolved
    rule is "may match", never silently "no match"); otherwise the flow stays possible."""
    if may_allow is not None:
        return NsgVerdict(nsg_id, "allow", f"{may_allow}, which may match (else {label})", uncertain)
    return NsgVerdict(nsg_id, "deny", label, uncertain)


def default_rules_present(rules: list[SecurityRule]) -> bool:
    return any(r.default for r in rules)
