"""Which kind of Azure Firewall rule carries a flow: `network`, `application`, `unresolved` or `unknown`.

Why it matters: application rules always SNAT, network rules do not SNAT destinations inside the
firewall's private ranges (https://learn.microsoft.com/azure/firewall/snat-private-range), so the
rule kind decides whether a private endpoint's reply comes back through the firewall.

How Azure processes rules (https://learn.microsoft.com/azure/firewall/rule-processing,
https://learn.microsoft.com/azure/firewall-manager/rule-processing): rules are terminating; network
rules are always processed before application rules, whatever the priorities, so a matching network
rule decides; a policy inherits its parent's (`basePolicy`) rule collection groups, which take
precedence over its own. A network rule matches by source addresses or IP groups, destination
addresses, IP groups or FQDNs (an FQDN resolves, through private DNS, to the private endpoint's
address), ports and protocols; an application rule by source and target FQDN.

What cannot be resolved decides nothing: an IP group or a parent policy missing from the input, rule
collection groups a policy lists but the export lacks, a destination FQDN that names no private
endpoint of the estate but lies in an Azure service domain. A flow such a rule might carry is
`unresolved` (never assumed to ride an application rule), and the gap is reported as incomplete
coverage.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from typing import Any

from auditor.estate.model import Estate, Firewall, RuleCollectionGroup
from auditor.ids import key, name_of
from auditor.ipnet import Cidr, PrefixError, parse_cidr, port_in_ranges
from auditor.problems import UNRESOLVED, Problem

YES, NO, MAYBE = "yes", "no", "maybe"


@dataclass(frozen=True, slots=True)
class Match:
    """One side of a rule: addresses as inclusive integer ranges, names (FQDN patterns), and the
    references that could not be resolved (they may or may not match)."""

    star: bool = False
    ranges: tuple[tuple[int, int], ...] = ()
    names: tuple[str, ...] = ()
    unresolved: tuple[str, ...] = ()

    def sources(self, prefixes: list[Cidr]) -> str:
        if self.star:
            return YES
        for lo, hi in self.ranges:
            for p in prefixes:
                if p.net <= hi and lo <= p.last:
                    return YES
        return MAYBE if self.unresolved else NO

    def destination(self, ip: int, fqdns: tuple[str, ...]) -> str:
        if self.star or any(lo <= ip <= hi for lo, hi in self.ranges):
            return YES
        if any(fnmatch.fnmatchcase(f, pattern) for pattern in self.names for f in fqdns):
            return YES
        return MAYBE if self.unresolved else NO


@dataclass(frozen=True, slots=True)
class Rule:
    kind: str  # network | application
    name: str  # where it is: policy / group / collection / rule
    source: Match
    destination: Match
    action: str = "allow"  # allow | deny: rules are terminating, the first that matches decides


@dataclass(frozen=True, slots=True)
class Verdict:
    kind: str  # network | application | denied | unresolved | unknown
    rule: str | None = None  # the deciding rule (network, application)
    why: tuple[str, ...] = ()  # what could not be resolved (unresolved)


@dataclass(frozen=True, slots=True)
class FirewallRules:
    """A firewall's allow rules that can carry TCP traffic to one port, parents' first, and what of its
    configuration could not be read (`gaps`: every flow not decided by a network rule is unresolved)."""

    network: tuple[Rule, ...]
    application: tuple[Rule, ...]
    gaps: tuple[str, ...]
    problems: tuple[Problem, ...]

    def candidates(
        self, sources: list[Cidr]
    ) -> tuple[tuple[tuple[Rule, bool], ...], tuple[tuple[Rule, bool], ...]]:
        """The rules that may admit `sources`, each with whether that is only a maybe."""

        def admit(rules: tuple[Rule, ...]) -> tuple[tuple[Rule, bool], ...]:
            out = []
            for r in rules:
                m = r.source.sources(sources)
                if m != NO:
                    out.append((r, m == MAYBE))
            return tuple(out)

        return admit(self.network), admit(self.application)

    def verdict(self, sources: list[Cidr], destination: int, fqdns: tuple[str, ...]) -> Verdict:
        return decide(self.candidates(sources), self.gaps, destination, fqdns)


def decide(
    candidates: tuple[tuple[tuple[Rule, bool], ...], tuple[tuple[Rule, bool], ...]],
    gaps: tuple[str, ...],
    destination: int,
    fqdns: tuple[str, ...],
) -> Verdict:
    """Network rules first, whatever the priorities; within them the processing order (parents first,
    group, collection) and the first rule that certainly matches decides: an allow is `network`, a deny
    `denied` (the firewall drops the flow). A possible match before it (or a gap in the rules) leaves the
    flow unresolved unless it could only have decided the same way. Only then may an application rule
    decide (`application`, or `denied`)."""
    network, application = candidates
    verdict, maybe = _first(network, destination, fqdns, "network")
    if verdict is not None and not (gaps and verdict.kind != "network"):
        return verdict
    if maybe or gaps:
        return Verdict("unresolved", None, (*gaps, *maybe))
    verdict, maybe = _first(application, destination, fqdns, "application")
    if verdict is not None:
        return verdict
    return Verdict("unresolved", None, tuple(maybe)) if maybe else Verdict("unknown")


def _first(
    rules: tuple[tuple[Rule, bool], ...], destination: int, fqdns: tuple[str, ...], allowed: str
) -> tuple[Verdict | None, list[str]]:
    """The verdict of the first rule that certainly matches (None if none does, or if a possible match
    before it could have decided otherwise), and the rules that might match, with why."""
    maybe: list[str] = []
    actions: set[str] = set()
    for rule, src_maybe in rules:
        m = rule.destination.destination(destination, fqdns)
        if m == YES and not src_maybe:
            if actions - {rule.action}:
                maybe.append(f"{rule.kind} rule {rule.name} matches, but earlier rules may decide otherwise")
                return None, maybe
            return Verdict(allowed if rule.action == "allow" else "denied", rule.name), []
        if m != NO:
            why = "; ".join(dict.fromkeys((*rule.source.unresolved, *rule.destination.unresolved)))
            maybe.append(f"{rule.kind} rule {rule.name} may match: {why}")
            actions.add(rule.action)
    return None, maybe


class _Reader:
    """Turns rule JSON into Rules, resolving IP groups and destination FQDNs against the estate."""

    def __init__(
        self, estate: Estate, fw: Firewall, port: int, names: frozenset[str], dns_proxy: bool = True
    ) -> None:
        self.estate, self.fw, self.port, self.names, self.dns_proxy = estate, fw, port, names, dns_proxy
        self.problems: dict[tuple[str, str], Problem] = {}
        self.unreadable = False

    def gap(self, rid: str, field: str, text: str) -> str:
        self.problems.setdefault(
            (key(rid), text), Problem(self.estate.files.get(key(rid)), rid, field, text, UNRESOLVED)
        )
        return text

    def match(
        self, owner: str, rule: dict[str, Any], addr_key: str, group_key: str, fqdn_key: str | None
    ) -> Match:
        star = False
        ranges: list[tuple[int, int]] = []
        names: list[str] = []
        unresolved: list[str] = []
        for value in _strings(rule.get(addr_key)):
            if value in ("*", "Any", "any"):
                star = True
                continue
            got = _range(value)
            if got is not None:
                ranges.append(got)  # service tags and other words cannot be resolved offline: no match
        for gid in _strings(rule.get(group_key)):
            group = self.estate.ip_groups.get(key(gid))
            if group is None:
                unresolved.append(self.gap(owner, f"{group_key}", f"IP group {gid} is not in the input"))
                continue
            for value in group.addresses:
                got = _range(value)
                if got is not None:
                    ranges.append(got)
        if fqdn_key is not None:
            for fqdn in _strings(rule.get(fqdn_key)):
                name = fqdn.lower().rstrip(".")
                if not could_be_private_link(name) and name not in self.names:
                    continue  # a name outside Azure's service domains: no private endpoint answers for it
                if not self.dns_proxy:
                    # FQDNs in network rules need the firewall's DNS proxy to resolve them
                    unresolved.append(
                        self.gap(
                            owner,
                            fqdn_key,
                            f"destination FQDN {fqdn} in a network rule, but DNS "
                            "proxy is not enabled on the firewall or its policy",
                        )
                    )
                elif name in self.names:
                    names.append(name)
                else:
                    unresolved.append(
                        self.gap(
                            owner,
                            fqdn_key,
                            f"destination FQDN {fqdn} names no private endpoint "
                            f"in the input: its address is unknown",
                        )
                    )
        return Match(star, tuple(ranges), tuple(names), tuple(unresolved))

    def targets(self, rule: dict[str, Any]) -> Match:
        names = [f.lower().rstrip(".") for f in _strings(rule.get("targetFqdns"))]
        for url in _strings(rule.get("targetUrls")):
            names.append(url.split("/", 1)[0].lower())
        return Match("*" in names, (), tuple(n for n in names if n != "*"), ())

    def read(
        self, owner: str, label: str, collections: list[Any], classic: bool
    ) -> tuple[list[Rule], list[Rule]]:
        network: list[Rule] = []
        application: list[Rule] = []
        colls = [c for c in collections if isinstance(c, dict)]
        colls.sort(key=lambda c: (_priority(_props(c).get("priority")), str(c.get("name") or "")))
        for coll in colls:
            cp = _props(coll)
            action_obj = cp.get("action")
            action = str(
                (action_obj.get("type") if isinstance(action_obj, dict) else action_obj) or ""
            ).lower()
            if action not in ("allow", "deny"):
                continue  # DNAT collections and unknown actions carry no filter verdict
            kind_hint = str(coll.get("_kind") or "")
            rules = cp.get("rules")
            if not isinstance(rules, list):
                self.gap(
                    owner,
                    "ruleCollections",
                    f"rule collection {coll.get('name') or '?'} has no list of rules: its rules are unknown",
                )
                self.unreadable = True
                continue
            for rule in rules:
                if not isinstance(rule, dict):  # a rule not understood may be the one that decides
                    self.gap(
                        owner,
                        "ruleCollections",
                        f"rule collection {coll.get('name') or '?'} holds a rule "
                        f"that is not an object: its rules are not all known",
                    )
                    self.unreadable = True
                    continue
                name = f"{label}/{coll.get('name') or '?'}/{rule.get('name') or '?'}"
                try:
                    self.rule(
                        owner,
                        rule,
                        name,
                        str(rule.get("ruleType") or kind_hint).lower(),
                        action,
                        classic,
                        network,
                        application,
                    )
                except (TypeError, AttributeError, ValueError) as exc:
                    why = str(exc) if isinstance(exc, UnknownRuleType) else "a field of an unexpected type"
                    self.gap(owner, "ruleCollections", f"rule {name} cannot be read ({why})")
                    self.unreadable = True
        return network, application

    def rule(
        self,
        owner: str,
        rule: dict[str, Any],
        name: str,
        rtype: str,
        action: str,
        classic: bool,
        network: list[Rule],
        application: list[Rule],
    ) -> None:
        if rtype == "networkrule":
            protos = {str(p).lower() for p in _strings(rule.get("protocols" if classic else "ipProtocols"))}
            ports = _strings(rule.get("destinationPorts"))
            if protos & {"tcp", "any"} and port_in_ranges(ports, self.port):
                network.append(
                    Rule(
                        "network",
                        name,
                        self.match(owner, rule, "sourceAddresses", "sourceIpGroups", None),
                        self.match(
                            owner, rule, "destinationAddresses", "destinationIpGroups", "destinationFqdns"
                        ),
                        action,
                    )
                )
        elif rtype == "applicationrule":
            protocols = rule.get("protocols") or []
            app_ports = (
                [p.get("port") for p in protocols if isinstance(p, dict)]
                if isinstance(protocols, list)
                else []
            )
            if self.port in app_ports or str(self.port) in [str(p) for p in app_ports]:
                application.append(
                    Rule(
                        "application",
                        name,
                        self.match(owner, rule, "sourceAddresses", "sourceIpGroups", None),
                        self.targets(rule),
                        action,
                    )
                )
        elif rtype != "natrule":
            raise UnknownRuleType(f"rule type {rtype or '(none)'!r} is not NetworkRule or ApplicationRule")


def firewall_rules(estate: Estate, fw: Firewall, port: int, names: frozenset[str]) -> FirewallRules | None:
    """The firewall's rules for `port` (policy chain parents first, or classic rule collections), or None
    when nothing about its rules is in the input (no policy, no classic collections, no groups)."""
    reader = _Reader(estate, fw, port, names, dns_proxy(estate, fw))
    network: list[Rule] = []
    application: list[Rule] = []
    gaps: list[str] = []
    if not fw.policy_id:
        props = _props(estate.record(fw.id) or {})
        colls = [
            dict(c, _kind="NetworkRule")
            for c in props.get("networkRuleCollections") or []
            if isinstance(c, dict)
        ]
        colls += [
            dict(c, _kind="ApplicationRule")
            for c in props.get("applicationRuleCollections") or []
            if isinstance(c, dict)
        ]
        if not colls:
            return None
        network, application = reader.read(fw.id, fw.name, colls, classic=True)
        return FirewallRules(
            tuple(network),
            tuple(application),
            ("some rules cannot be read",) if reader.unreadable else (),
            tuple(reader.problems.values()),
        )
    chain: list[str] = []
    pid: str | None = fw.policy_id
    while pid and key(pid) not in {key(c) for c in chain}:
        chain.append(pid)
        policy = estate.firewall_policies.get(key(pid))
        if policy is None:
            owner = fw.id if len(chain) == 1 else chain[-2]
            gaps.append(
                reader.gap(
                    owner,
                    "properties.firewallPolicy" if len(chain) == 1 else "properties.basePolicy",
                    f"firewall policy {pid} is not in the input: its rules are unknown",
                )
            )
            break
        pid = policy.base_policy_id
    by_policy: dict[str, list[RuleCollectionGroup]] = {}
    for g in estate.rule_collection_groups.values():
        by_policy.setdefault(key(g.policy_id), []).append(g)
    found_any = False
    for pid in reversed(chain):  # parents first: inherited rules take precedence
        policy = estate.firewall_policies.get(key(pid))
        if policy is None:
            continue
        groups = sorted(by_policy.get(key(pid), []), key=lambda g: (_priority(g.priority), key(g.id)))
        have = {key(g.id) for g in groups}
        for listed in policy.rule_collection_group_ids:
            if key(listed) not in have:
                gaps.append(
                    reader.gap(
                        policy.id,
                        "properties.ruleCollectionGroups",
                        f"rule collection group {listed} is not in the input: its rules are unknown "
                        "(export them with az network firewall policy rule-collection-group list)",
                    )
                )
        for g in groups:
            found_any = True
            n, a = reader.read(g.id, f"{policy.name}/{name_of(g.id)}", g.rule_collections, classic=False)
            network += n
            application += a
    if not found_any and not gaps:
        return None
    if reader.unreadable:
        gaps.append("some rules cannot be read")
    return FirewallRules(
        tuple(network), tuple(application), tuple(dict.fromkeys(gaps)), tuple(reader.problems.values())
    )


# Public DNS zones of Azure services that private endpoints answer for through private DNS zones
# (https://learn.microsoft.com/azure/private-link/private-endpoint-dns). A destination FQDN under one of
# them that names no endpoint of the input may still resolve to one the input lacks: unresolved. Any
# other name (www.example.com) cannot resolve to a private endpoint through Azure's zones.
PRIVATE_LINK_SUFFIXES = (
    "azure.com",
    "azure.net",
    "windows.net",
    "azurecr.io",
    "azurewebsites.net",
    "azure-api.net",
    "azuredatabricks.net",
    "azuresynapse.net",
    "azmk8s.io",
    "azure-devices.net",
    "azure-automation.net",
    "azconfig.io",
    "azurestaticapps.net",
    "azurefd.net",
)


def could_be_private_link(name: str) -> bool:
    return "privatelink." in name or any(name == s or name.endswith("." + s) for s in PRIVATE_LINK_SUFFIXES)


def dns_proxy(estate: Estate, fw: Firewall) -> bool:
    """Whether the firewall resolves FQDNs for network rules: the policy's dnsSettings.enableProxy (a
    parent's counts too), or the classic `Network.DNS.EnableProxy` (learn.microsoft.com/azure/firewall/dns-settings)."""
    pid: str | None = fw.policy_id
    seen: set[str] = set()
    while pid and key(pid) not in seen:
        seen.add(key(pid))
        rec = estate.record(pid) or {}
        dns = _props(rec).get("dnsSettings")
        if isinstance(dns, dict) and str(dns.get("enableProxy")).lower() == "true":
            return True
        policy = estate.firewall_policies.get(key(pid))
        pid = policy.base_policy_id if policy is not None else None
    return str(fw.additional_properties.get("Network.DNS.EnableProxy", "")).lower() == "true"


def _props(obj: dict[str, Any]) -> dict[str, Any]:
    p = obj.get("properties")
    return p if isinstance(p, dict) else obj


def _priority(value: Any) -> int:
    return value if isinstance(value, int) else 1 << 30


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, int) and not isinstance(value, bool):
        return [str(value)]
    return (
        [str(v).strip() for v in value or [] if isinstance(v, (str, int)) and str(v).strip()]
        if isinstance(value, list)
        else []
    )


class UnknownRuleType(ValueError):
    """A policy rule whose type is neither NetworkRule nor ApplicationRule: what it matches is unknown."""


def _range(text: str) -> tuple[int, int] | None:
    """An IP, a CIDR or an `a-b` range as inclusive integers; None for anything else (service tags)."""
    try:
        if "-" in text:  # read as estate.build reads IP groups' ranges
            first, second = (parse_cidr(part.strip()) for part in text.split("-", 1))
            return (first.net, second.last) if first.net <= second.last else None
        c = parse_cidr(text)
        return c.net, c.last
    except PrefixError:
        return None


def firewall_rule_kind(
    estate: Estate,
    fw: Firewall,
    sources: list[Cidr],
    destination: int,
    port: int,
    fqdns: tuple[str, ...] | None = None,
) -> str:
    """The rule kind for one flow, without the analysis' caches; `fqdns` default to the names of the
    estate's private endpoints at `destination`."""
    names = frozenset(n for pe in estate.private_endpoints.values() for n in pe.fqdns)
    if fqdns is None:
        fqdns = tuple(
            sorted({n for pe in estate.private_endpoints.values() if destination in pe.ips for n in pe.fqdns})
        )
    rules = firewall_rules(estate, fw, port, names | frozenset(fqdns))
    return "unknown" if rules is None else rules.verdict(sources, destination, fqdns).kind
