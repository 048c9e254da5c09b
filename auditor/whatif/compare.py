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
from auditor.ids import qualified_name as name
from auditor.report.whatif_report import GONE


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


# Verdicts of a flow that arrives but whose replies do not come back the way they went: sessions reset
BROKEN = frozenset({"asymmetric", "return-unroutable"})
# What a flow that newly breaks weighs against --fail-on: NET001's severity (an asymmetric PE flow)
BROKEN_FLOW_SEVERITY = "high"


@dataclass
class Comparison:
    resolved: list[dict[str, Any]] = field(default_factory=list)
    unchanged: list[dict[str, Any]] = field(default_factory=list)
    new: list[dict[str, Any]] = field(default_factory=list)
    # unchanged findings whose severity rose (AOAI005 goes high once keys are on): (before, after)
    worsened: list[tuple[dict[str, Any], dict[str, Any]]] = field(default_factory=list)
    flows: list[FlowChange] = field(default_factory=list)
    routes: list[RouteChange] = field(default_factory=list)
    # AI accounts the API gateway reached before the change and cannot after: (account id, how before)
    lost: list[tuple[str, str]] = field(default_factory=list)
    every_flow: bool = True  # False: only the flows the rules read were compared (large estates)

    def worse(self, fail_on: str) -> list[str]:
        """Why the change should not go ahead: a new finding at or above `fail_on`, a finding that rises to
        it, a flow that newly breaks (asymmetric, BROKEN_FLOW_SEVERITY), a broken gateway path or an AI
        account the gateway can no longer reach. The last two count whatever `fail_on` says: the gateway
        losing its backend is an outage, not a finding. Resources are named with their parents
        (`vnet-a/snet-pe`), as the reports name them."""
        out = []
        if fail_on != "never":
            limit = SEVERITIES.index(fail_on)
            out += [
                f"new {f['rule_id']} ({f['severity']}) on {name(f['resource_id'])}"
                for f in self.new
                if f.get("suppression") is None and SEVERITIES.index(f["severity"]) <= limit
            ]
            out += [
                f"{a['rule_id']} on {name(a['resource_id'])} rises from {b['severity']} to {a['severity']}"
                for b, a in self.worsened
                if a.get("suppression") is None and SEVERITIES.index(a["severity"]) <= limit
            ]
            if SEVERITIES.index(BROKEN_FLOW_SEVERITY) <= limit:
                out += [
                    f"flows from {name(c.context)} to {c.total} endpoint(s) become {c.after} (were {c.before})"
                    for c in self.flows
                    if c.after in BROKEN and c.before not in BROKEN
                ]
        for c in self.flows:
            out += [
                f"the gateway path {name(c.context)} -> {name(dest)}:{port} is {c.after} after the change"
                for (dest, port), broken in sorted(c.destinations.items())
                if broken
            ]
        out += [
            f"the API gateway can no longer reach AI account {name(account)} (before: {how})"
            for account, how in self.lost
        ]
        return out


def compare_findings(before: dict[str, Any], after: dict[str, Any], out: Comparison) -> None:
    old = {f["fingerprint"]: f for f in before["findings"]}
    now = {f["fingerprint"]: f for f in after["findings"]}
    out.resolved = [old[k] for k in old if k not in now]
    out.unchanged = [now[k] for k in now if k in old]
    out.new = [now[k] for k in now if k not in old]
    out.worsened = [
        (old[k], now[k])
        for k in now
        if k in old and SEVERITIES.index(now[k]["severity"]) < SEVERITIES.index(old[k]["severity"])
    ]


def compare_reach(before: dict[str, str], after: dict[str, str], out: Comparison) -> None:
    """`before`/`after`: per AI account the gateway can reach, how (gateway_reach in auditor.whatif.run)."""
    out.lost = [(account, before[account]) for account in sorted(before) if account not in after]


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


def compare_flows(
    before: set[FlowFact],
    after: set[FlowFact],
    gateway_subnets: set[str],
    ai_endpoints: set[str],
    out: Comparison,
    every_flow: bool = True,
) -> None:
    """With `every_flow`, both sides hold every flow and a missing one does not exist (its context or
    endpoint came or went). Otherwise both hold the delivered flows of the pairs (route context,
    endpoint) either side's rules read (auditor.whatif.run.missing_pairs and delivered_facts), so a missing one is not
    delivered.

    Only the facts in one side's set difference are looked at, keyed by (context, endpoint, port).
    Where both sides hold a key with the same subnet classes, the classes are paired whole; where a
    change split or merged classes, that key alone is compared subnet by subnet; a key on one side
    only is one change for all its subnets. The work is linear in the flows that differ, never in
    flows x subnets (the 10k-subnet benchmark flips 203k flows of 24 subnets each)."""
    none: tuple[str, ...] = ()
    gone = GONE
    removed: dict[tuple[str, str, int], list[tuple[tuple[str, ...], State]]] = {}
    added: dict[tuple[str, str, int], list[tuple[tuple[str, ...], State]]] = {}
    for side, facts in ((removed, before - after), (added, after - before)):
        for ctx, subnets, pe, port, verdict, apps in facts:
            k = (ctx, pe, port)
            entry = (subnets, (verdict, apps))
            got = side.get(k)
            if got is None:
                side[k] = [entry]
            else:
                got.append(entry)
    changes: list[tuple[str, tuple[str, ...], str, int, State | None, State | None]] = []
    for k in removed.keys() | added.keys():
        b, a = removed.get(k), added.get(k)
        if b is None or a is None:
            for subnets, state in b or a or ():
                changes.append((k[0], subnets, k[1], k[2], state if b else None, state if a else None))
            continue
        if len(b) == 1 and len(a) == 1 and b[0][0] == a[0][0]:  # most: one class, a new verdict
            changes.append((k[0], b[0][0], k[1], k[2], b[0][1], a[0][1]))
            continue
        bs, as_ = dict(b), dict(a)
        if bs.keys() == as_.keys() and len(bs) == len(b) and len(as_) == len(a):
            changes += [(k[0], s, k[1], k[2], bs[s], as_[s]) for s in bs]
            continue
        per_b = {x: st for s, st in b for x in s or ("",)}
        per_a = {x: st for s, st in a for x in s or ("",)}
        changes += [
            (k[0], (x,) if x else (), k[1], k[2], per_b.get(x), per_a.get(x))
            for x in per_b.keys() | per_a.keys()
            if per_b.get(x) != per_a.get(x)
        ]
    gateway_of: dict[tuple[str, ...], bool] = {}
    groups: dict[tuple[str, str, str, tuple[str, ...], tuple[str, ...]], FlowChange] = {}
    members: dict[tuple[str, str, str, tuple[str, ...], tuple[str, ...]], set[tuple[str, ...]]] = {}
    for source, subnets, pe, port, bst, ast in changes:
        if bst is None or ast is None:
            missing = "absent" if every_flow else "not delivered"
            bst, ast = bst or (missing, none), ast or (missing, none)
        gkey = (source.lower(), bst[0], ast[0], bst[1], ast[1])
        group = groups.get(gkey)
        if group is None:
            group = groups[gkey] = FlowChange(source, bst[0], ast[0], bst[1], ast[1])
            members[gkey] = set()
        members[gkey].add(subnets)
        from_gateway = gateway_of.get(subnets)
        if from_gateway is None:
            from_gateway = gateway_of[subnets] = any(s.lower() in gateway_subnets for s in subnets)
        breaks = from_gateway and bst[0] not in gone and ast[0] in gone and pe.lower() in ai_endpoints
        dest = (pe, port)
        group.destinations[dest] = group.destinations.get(dest, False) or breaks
    for gkey, tuples in members.items():
        groups[gkey].subnets.update(s for t in tuples for s in t)
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
