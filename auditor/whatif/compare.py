"""Before and after a change: findings resolved, unchanged and new; flows whose verdict changed;
effective routes that changed per route context. Batfish calls this differential reachability; here
the data plane on both sides is the one pathaudit computes (auditor.routing, auditor.paths).

Flows are compared by (route context, private endpoint, port). A flow present on one side only is a
context or endpoint the change added or removed. The change **breaks** something when a flow from an
API gateway's subnet to an AI account's private endpoint was delivered before and is not after: the
gateway loses its backend, whatever the findings say.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from auditor.findings import SEVERITIES

FlowKey = tuple[
    str, str, str, int
]  # route context, its source subnets (NSG classes split them), endpoint, port


@dataclass
class FlowChange:
    """Flows of one route context whose verdict changed the same way, through the same appliances:
    one entry per (context, before, after, appliances), its endpoints listed (as findings group them)."""

    context: str
    before: str  # verdict before ("absent" when the flow did not exist)
    after: str
    appliances_before: tuple[str, ...]
    appliances_after: tuple[str, ...]
    subnets: set[str] = field(default_factory=set)
    destinations: dict[tuple[str, int], bool] = field(default_factory=dict)  # (endpoint, port) -> breaks

    @property
    def breaks(self) -> bool:
        """A flow from an API gateway subnet to an AI account's endpoint that no longer arrives."""
        return any(self.destinations.values())

    @property
    def total(self) -> int:
        return len(self.destinations)


@dataclass(frozen=True)
class RouteChange:
    context: str  # route table id, or the subnet id when the context has none
    subnets: tuple[str, ...]
    added: tuple[str, ...]
    removed: tuple[str, ...]


@dataclass
class Comparison:
    resolved: list[dict[str, Any]] = field(default_factory=list)
    unchanged: list[dict[str, Any]] = field(default_factory=list)
    new: list[dict[str, Any]] = field(default_factory=list)
    flows: list[FlowChange] = field(default_factory=list)
    routes: list[RouteChange] = field(default_factory=list)
    every_flow: bool = True  # False: only the flows the rules read were compared (large estates)

    def worse(self, fail_on: str) -> list[str]:
        """Why the change should not go ahead: a new finding at or above `fail_on`, a broken gateway path."""
        out = []
        if fail_on != "never":
            limit = SEVERITIES.index(fail_on)
            out += [
                f"new {f['rule_id']} ({f['severity']}) on {f['resource_id'].rsplit('/', 1)[-1]}"
                for f in self.new
                if f.get("suppression") is None and SEVERITIES.index(f["severity"]) <= limit
            ]
        for c in self.flows:
            out += [
                f"the gateway path {c.context.rsplit('/', 1)[-1]} -> {dest.rsplit('/', 1)[-1]}:{port} is "
                f"{c.after} after the change"
                for (dest, port), broken in sorted(c.destinations.items())
                if broken
            ]
        return out


def compare_findings(before: dict[str, Any], after: dict[str, Any], out: Comparison) -> None:
    old = {f["fingerprint"]: f for f in before["findings"]}
    now = {f["fingerprint"]: f for f in after["findings"]}
    out.resolved = [old[k] for k in old if k not in now]
    out.unchanged = [now[k] for k in now if k in old]
    out.new = [now[k] for k in now if k not in old]


State = tuple[str, tuple[str, ...]]  # verdict, forward appliance ids
# (context, source subnets, endpoint, port, verdict, forward appliance ids): one per analysed flow
FlowFact = tuple[str, tuple[str, ...], str, int, str, tuple[str, ...]]


def flow_facts(flows: Iterable[Any]) -> set[FlowFact]:
    """Every flow as a hashable fact, so that two sides are compared by set difference (in C: at 10k
    subnets the worst case is 4.85M flows a side) and only the flows that differ are looked at in
    Python. Tuples are built once per shared walk and subnet list, kept alive beside their id()."""
    out: set[FlowFact] = set()
    apps_of: dict[int, tuple[Any, tuple[str, ...]]] = {}
    subnets_of: dict[int, tuple[Any, tuple[str, ...]]] = {}
    for f in flows:
        apps = f.tail.appliances
        a = apps_of.get(id(apps))
        if a is None:
            a = apps_of[id(apps)] = (apps, tuple(x.id for x in apps))
        subs = f.source_subnets
        sn = subnets_of.get(id(subs))
        if sn is None:
            sn = subnets_of[id(subs)] = (subs, tuple(subs))
        verdict = f.verdict if f.outcome == "delivered" else "blocked"
        out.add((f.source, sn[1], f.pe.id, f.port, verdict, a[1]))
    return out


def per_subnet(facts: Iterable[FlowFact]) -> dict[FlowKey, State]:
    """A flow stands for the subnets an NSG cannot tell apart; a change can split or merge those classes,
    so differing flows are compared subnet by subnet."""
    out: dict[FlowKey, State] = {}
    for source, subnets, pe, port, verdict, apps in facts:
        for subnet in subnets or ("",):
            out[(source, subnet, pe, port)] = (verdict, apps)
    return out


def compare_flows(
    before: set[FlowFact],
    after: set[FlowFact],
    gateway_subnets: set[str],
    ai_endpoints: set[str],
    out: Comparison,
    every_flow: bool = True,
) -> None:
    """With `every_flow`, both sides hold every flow and a missing one does not exist (its context or
    endpoint came or went). Otherwise both hold the flows a rule reads (AuditContext.reported_flows):
    every delivered flow to an AI account's endpoint, so a missing one there is not delivered; for
    other endpoints a missing flow is delivered without anything to report (symmetric or mitigated)
    or not delivered, and is shown as `unreported`."""
    none: tuple[str, ...] = ()
    gone = ("blocked", "absent", "not delivered")
    groups: dict[tuple[str, str, str, tuple[str, ...], tuple[str, ...]], FlowChange] = {}
    # most differing flows keep their subnets, endpoint and port and change verdict or appliances: pair
    # those whole, and look subnet by subnet only at the flows whose subnet classes changed
    removed = {(x[0], x[1], x[2], x[3]): (x[4], x[5]) for x in before - after}
    added = {(x[0], x[1], x[2], x[3]): (x[4], x[5]) for x in after - before}
    paired = removed.keys() & added.keys()
    rest_b = per_subnet((*k, *v) for k, v in removed.items() if k not in paired)
    rest_a = per_subnet((*k, *v) for k, v in added.items() if k not in paired)
    changes: list[tuple[str, tuple[str, ...], str, int, State | None, State | None]] = [
        (k[0], k[1], k[2], k[3], removed[k], added[k]) for k in paired
    ]
    changes += [
        (k[0], (k[1],) if k[1] else (), k[2], k[3], rest_b.get(k), rest_a.get(k))
        for k in rest_b.keys() | rest_a.keys()
        if rest_b.get(k) != rest_a.get(k)
    ]
    ai = {e for e in ai_endpoints}
    gateways = gateway_subnets
    for source, subnets, pe, port, b, a in changes:
        if b is None or a is None:
            missing = "absent" if every_flow else "not delivered" if pe.lower() in ai else "unreported"
            b, a = b or (missing, none), a or (missing, none)
        gkey = (source.lower(), b[0], a[0], b[1], a[1])
        group = groups.get(gkey)
        if group is None:
            group = groups[gkey] = FlowChange(source, b[0], a[0], b[1], a[1])
        group.subnets.update(subnets)
        breaks = (
            b[0] not in gone
            and a[0] in gone
            and pe.lower() in ai
            and any(s.lower() in gateways for s in subnets)
        )
        dest = (pe, port)
        group.destinations[dest] = group.destinations.get(dest, False) or breaks
    out.flows = [groups[k] for k in sorted(groups)]


Routes = dict[str, tuple[str, tuple[str, ...], frozenset[str]]]


def route_table(views: Iterable[Any]) -> Routes:
    """context key -> (context resource, its subnets, its effective routes as comparable lines)."""
    out: Routes = {}
    for v in views:
        context = v.route_table_id or (v.subnet_ids[0] if v.subnet_ids else v.vnet_id)
        lines = frozenset(
            f"{r.prefix_text} -> {r.next_hop_type}{' ' + r.next_hop_ip_text if r.next_hop_ip_text else ''} "
            f"({r.source}, {r.state})"
            for r in v.routes
        )
        key = f"{context.lower()}|{v.vnet_id.lower()}"
        _, subnets, seen = out.get(key, (context, (), frozenset()))
        out[key] = (context, tuple(sorted({*subnets, *v.subnet_ids}, key=str.lower)), seen | lines)
    return out


def compare_routes(before: Routes, after: Routes, out: Comparison) -> None:
    for key in sorted(before.keys() | after.keys()):
        cb, sb, rb = before.get(key, ("", (), frozenset()))
        ca, sa, ra = after.get(key, ("", (), frozenset()))
        if rb == ra:
            continue
        out.routes.append(RouteChange(ca or cb, sa or sb, tuple(sorted(ra - rb)), tuple(sorted(rb - ra))))
