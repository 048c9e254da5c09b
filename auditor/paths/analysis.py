"""All-pairs flow analysis: every (route context x private endpoint) and every on-premises entry.

Sources are route contexts, not subnet pairs: subnets with the same VNet and route table share a
forward walk, and only NSG checks are per subnet. Which (context, endpoint) pairs are walked at all
comes from sweeping each routing view's LPM intervals over the endpoint addresses in order: a route
that goes nowhere rules out all the endpoints it covers at once, and the walk on from an appliance is
worked out once per (appliance, endpoint). The rules read `reported_flows`, which also leaves out the
flows no rule can report on (symmetric through appliances that always bring the reply back, or
direct to endpoints no AI account owns): at 10k subnets that is 13k flows instead of 547k.
Per private endpoint, each view is walked once, NSG checks are made per class of subnets that the
NSG's rules cannot tell apart, and firewall rule kinds, SNAT decisions and mitigations are cached;
return hops are built only when a flow is rendered (tests/bench/paths.py prints the figures).

The analysis is composed of parts, one concern each: sources and entries (entries.py), the forward
walk (forward.py), appliances and SNAT (snat.py), the return walk (returns.py) and NSG decisions
(nsg_gate.py); their caches live in one place (caches.py). Each part reads only what FlowAnalysis holds:
`self.estate`, `self.config`, `self.routing`, `self.appliances`, `self.port` and `self.cache` (and records
`self.coverage_gaps`), declared for the type checker on their common base (part.py). This module
groups flows per endpoint and prunes those no rule can report on.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field
from functools import cached_property

from auditor.config import Config
from auditor.estate.model import Estate, PrivateEndpoint, Subnet
from auditor.gcpause import gc_paused
from auditor.ids import key, type_of
from auditor.ipnet import Cidr
from auditor.paths.appliances import Appliance, ApplianceIndex
from auditor.paths.caches import AnalysisCaches
from auditor.paths.entries import SourcesAndEntries
from auditor.paths.flow import ALL, DELIVERING_HOPS, STORAGE_TYPE, Flow, Mitigation, SourceGroup
from auditor.paths.forward import ForwardWalk
from auditor.paths.nsg_gate import NsgGate
from auditor.paths.returns import ReturnWalk
from auditor.paths.reuse import WalkReuse
from auditor.paths.snat import SnatDecisions
from auditor.paths.walk import Hop, Tail, ip_text
from auditor.problems import Problem
from auditor.routing.engine import CONTEXT_ON_PREMISES, RoutingModel
from auditor.routing.table import RouteTableView


@dataclass
class FlowAnalysis(SourcesAndEntries, ForwardWalk, SnatDecisions, ReturnWalk, NsgGate):
    estate: Estate
    config: Config
    port: int = 443
    routing: RoutingModel = field(init=False)
    appliances: ApplianceIndex = field(init=False)
    cache: AnalysisCaches = field(default_factory=AnalysisCaches)
    # what the analysis could not resolve and that mattered (firewall rules it read): incomplete coverage
    coverage_gaps: dict[tuple[str, str], Problem] = field(default_factory=dict)
    # whatif (auditor.paths.reuse): the walks of the analysis before a change, and whether this analysis
    # keeps every walk it makes for the one after (an audit keeps them per endpoint only)
    reuse: WalkReuse | None = None
    keep_walks: bool = False

    def __post_init__(self) -> None:
        self.routing = RoutingModel(self.estate, self.config)
        self.appliances = ApplianceIndex(self.estate, self.config, self.routing.reachable_from)

    def build_flow(
        self,
        source: str,
        kind: str,
        subnets: list[Subnet],
        prefixes: list[Cidr],
        view: RouteTableView,
        pe: PrivateEndpoint,
        ip: int,
        hop: Hop,
        gateway: str | None = None,
    ) -> Flow:
        tail = self.tail(view, ip)
        hop.route = tail.route
        flow = Flow(
            source,
            kind,
            [s.id for s in subnets],
            prefixes,
            pe,
            ip,
            self.port,
            tail,
            hop,
            "delivered" if tail.outcome == "delivered" else "blocked",
            "blocked",
            entry_gateway=gateway,
            view=view,
        )
        if tail.outcome != "delivered" or tail.hops[-1].id is None or key(tail.hops[-1].id) != key(pe.id):
            flow.outcome, flow.verdict = "blocked", "blocked"
            flow.notes.append(tail.reason or "not delivered")
            flow.return_hops = []
            return flow
        flow.mitigation = self.mitigation(tail, prefixes, ip)
        if flow.mitigation is not None and flow.mitigation.how == "denied":
            flow.outcome, flow.verdict, flow.return_hops = "blocked", "blocked", []
            flow.notes.append(flow.mitigation.detail)
            return flow
        self.return_walk(flow)
        return flow

    def _groups_per_endpoint(self, keep: Keep | None) -> list[list[SourceGroup]]:
        """Per endpoint (index in `endpoints`): the source groups, in order, whose flow to it may be
        delivered and, given `keep`, may matter to it.

        Instead of one route lookup per (view, endpoint), each view's LPM intervals are swept over the
        endpoint addresses in ascending order: an interval whose route goes nowhere skips all of its
        endpoints at once, a delivering one takes them all (or, with `keep`, the watched ones and those
        of a PE /32), and an appliance's one takes those whose walk on from the appliance delivers
        (and passes `keep`), worked out once per appliance and endpoint (_Through)."""
        ips = [ip for _, ip in self.endpoints]
        order = sorted(range(len(ips)), key=ips.__getitem__)
        sorted_ips = [ips[i] for i in order]
        watched = [
            p
            for p, i in enumerate(order)
            if keep is not None and key(self.endpoints[i][0].id) in keep.watched
        ]
        watched_set = set(watched)
        through: dict[tuple[str, int], _Through] = {}
        out: list[list[SourceGroup]] = [[] for _ in ips]
        per_view: dict[int, list[int]] = {}
        for g in self.source_groups:
            idx = per_view.get(g.vid)
            if idx is None:
                positions: list[int] = []
                for first, last, route in g.view.lpm.intervals():
                    if route is None:
                        continue
                    a = bisect_left(sorted_ips, first)
                    b = bisect_right(sorted_ips, last, a)
                    if a == b:
                        continue
                    if route.next_hop_type in DELIVERING_HOPS or (
                        route.kind == "vwan" and not route.next_hop_ip
                    ):
                        if keep is None or (keep.pe_routes and route.kind == "private-endpoint"):
                            positions.extend(range(a, b))
                        else:
                            positions.extend(watched[bisect_left(watched, a) : bisect_left(watched, b)])
                        continue
                    target = self._appliance_of(route, g.view.key[0])
                    if target is not None:
                        t = through.get((target.id, target.ip))
                        if t is None:
                            t = through[(target.id, target.ip)] = _Through(
                                self, target, sorted_ips, keep, watched_set
                            )
                        positions.extend(t.kept(a, b))
                idx = per_view[g.vid] = sorted(order[p] for p in positions)
            for i in idx:
                out[i].append(g)
        return out

    def _flows(
        self,
        pe: PrivateEndpoint,
        ip: int,
        delivered_only: bool,
        groups: list[SourceGroup] | None = None,
        on_premises: bool = True,
    ) -> list[Flow]:
        out: list[Flow] = []
        cache: dict = self.cache.tails if self.keep_walks else {}  # walks to this destination, per view
        pe_id = key(pe.id)
        inbound = self._inbound(self.pe_nsg(pe), ip)
        port = self.port
        for g in self.source_groups if groups is None else groups:
            memo = (g.vid, ip, ())
            tail = cache.get(memo)
            if tail is None:
                tail = cache[memo] = self._tail(g.view, ip, (), cache)
            last = tail.hops[-1].id
            if tail.outcome != "delivered" or last is None or key(last) != pe_id:
                if not delivered_only:
                    out.append(
                        Flow(
                            g.ctx_id,
                            "subnet",
                            list(g.member_ids),
                            g.prefixes,
                            pe,
                            ip,
                            port,
                            tail,
                            self._source_hop(g, tail),
                            "blocked",
                            "blocked",
                            notes=[tail.reason or "not delivered"],
                            view=g.view,
                            source_key=g.key,
                            _return=[],
                        )
                    )
                continue
            mit = self.mitigation(tail, g.prefixes, ip, g.key)
            if mit is not None and mit.how == "denied":  # a firewall rule drops it: no flow arrives
                if not delivered_only:
                    out.append(
                        Flow(
                            g.ctx_id,
                            "subnet",
                            list(g.member_ids),
                            g.prefixes,
                            pe,
                            ip,
                            port,
                            tail,
                            self._source_hop(g, tail),
                            "blocked",
                            "blocked",
                            mit,
                            notes=[mit.detail],
                            view=g.view,
                            source_key=g.key,
                            _return=[],
                        )
                    )
                continue
            blocked_ids = self._blocked_members(g, ip, inbound, mit) if (inbound or g.nsg_members) else None
            if blocked_ids is None:
                # return_verdict for a subnet source
                verdict = self.pair_verdict(tail.appliances, mit, pe, g.prefixes)
                out.append(
                    Flow(
                        g.ctx_id,
                        "subnet",
                        g.member_ids,
                        g.prefixes,
                        pe,
                        ip,
                        port,
                        tail,
                        self._source_hop(g, tail),
                        "delivered",
                        verdict,
                        mit,
                        view=g.view,
                        source_key=g.key,
                        _analysis=self,
                    )
                )
                continue
            if blocked_ids is ALL:
                if delivered_only:
                    continue
                delivered, blocked = [], g.members
            else:
                delivered = [s for s in g.members if id(s) not in blocked_ids]
                blocked = [s for s in g.members if id(s) in blocked_ids]
            hop = self._source_hop(g, tail)
            if delivered:
                prefixes = [p for s in delivered for p in s.prefixes]
                flow = Flow(
                    g.ctx_id,
                    "subnet",
                    [s.id for s in delivered],
                    prefixes,
                    pe,
                    ip,
                    port,
                    tail,
                    hop,
                    "delivered",
                    "",
                    self.mitigation(tail, prefixes, ip),
                    view=g.view,
                    _analysis=self,
                )
                flow.verdict = self.return_verdict(flow)
                out.append(flow)
            if not delivered_only:
                prefixes = [p for s in blocked for p in s.prefixes]
                out.append(
                    Flow(
                        g.ctx_id,
                        "subnet",
                        [s.id for s in blocked],
                        prefixes,
                        pe,
                        ip,
                        port,
                        tail,
                        hop,
                        "blocked",
                        "blocked",
                        self.mitigation(tail, prefixes, ip),
                        notes=["an NSG denies the flow"],
                        view=g.view,
                        _return=[],
                    )
                )
        if on_premises:
            out += [
                f for f in self.on_premises_flows(pe, ip) if f.outcome == "delivered" or not delivered_only
            ]
        return out

    @staticmethod
    def _source_hop(g: SourceGroup, tail: Tail) -> Hop:
        hop = g.hops.get(id(tail.route))
        if hop is None:
            hop = g.hops[id(tail.route)] = Hop(g.name, "subnet", g.ctx_id, route=tail.route)
        return hop

    @cached_property
    def all_flows(self) -> list[Flow]:
        """Every flow, blocked ones included (what trace-like consumers and tests look at)."""
        return list(self.iter_flows())

    def iter_flows(self) -> Iterator[Flow]:
        """Every flow, blocked ones included, one endpoint at a time: what the flows export streams
        without holding the whole matrix (route contexts x endpoints) in memory."""
        for pe, ip in self.endpoints:
            with gc_paused():
                flows = self._flows(pe, ip, delivered_only=False)
            yield from flows

    @cached_property
    def delivered_flows(self) -> list[Flow]:
        """The flows that reach their private endpoint, in `all_flows` order."""
        return self._delivered(None)

    def reported_flows(
        self,
        reported: Callable[[Appliance], bool],
        watched: Collection[str],
        *,
        pe_routes: bool = True,
        unmitigated: bool = True,
    ) -> list[Flow]:
        """`delivered_flows` less the ones no question asks for. Kept: every flow to an endpoint in
        `watched` (PE ids); with `pe_routes`, every flow a PE /32 delivers; and every flow through an
        appliance that `reported` names or, with `unmitigated`, that may not bring each reply back
        (not `quiet`). The others are symmetric, cross no reported appliance and are shadowed by no
        /32, and they are most of an estate's flows (tests/bench/paths.py). The rules read this
        (AuditContext.reported_flows, from the `flows:` their rule.yaml declares); tests check they
        find the same with all."""
        return self._delivered(Keep(reported, frozenset(key(w) for w in watched), pe_routes, unmitigated))

    def delivered_between(self, pairs: dict[str, set[str]]) -> list[Flow]:
        """The delivered flows of these pairs only: endpoint id -> route context ids (Flow.source). What
        `whatif` asks of one side for the flows the other side's rules reported, so both sides are
        compared on the same pairs without walking every pair of a large estate."""
        by_context: dict[str, list[SourceGroup]] = {}
        for g in self.source_groups:
            by_context.setdefault(g.ctx_id, []).append(g)
        flows: list[Flow] = []
        with gc_paused():
            for pe, ip in self.endpoints:
                wanted = pairs.get(pe.id)
                if not wanted:
                    continue
                groups = [g for c in sorted(wanted) for g in by_context.get(c, ())]
                flows += [
                    f
                    for f in self._flows(pe, ip, True, groups, on_premises=CONTEXT_ON_PREMISES in wanted)
                    if f.source in wanted
                ]
        return flows

    def _delivered(self, keep: Keep | None) -> list[Flow]:
        flows: list[Flow] = []
        with gc_paused():
            groups = self._groups_per_endpoint(keep)
            for i, (pe, ip) in enumerate(self.endpoints):
                flows.extend(self._flows(pe, ip, delivered_only=True, groups=groups[i]))
        return flows

    def is_storage(self, pe: PrivateEndpoint) -> bool:
        return any(type_of(c.target_id or "").startswith(STORAGE_TYPE) for c in pe.connections)


@dataclass(frozen=True, slots=True)
class Keep:
    """Which delivered flows a caller needs (FlowAnalysis.reported_flows)."""

    reported: Callable[[Appliance], bool]  # appliances some question reports on
    watched: frozenset[str]  # PE ids (lower case) every flow to which is needed
    pe_routes: bool = True  # flows a PE /32 delivers
    unmitigated: bool = True  # flows through appliances that may not bring replies back

    def interesting(self, analysis: FlowAnalysis, app: Appliance, dst: int) -> bool:
        """Whether a flow reaching `app` on its way to `dst` is asked for because of that appliance."""
        if self.unmitigated:
            return not analysis.quiet(app, dst, self.reported)
        return self.reported(app)


class _Through:
    """For one appliance: the endpoints (positions in address order) whose walk on from it delivers and
    is kept. Worked out over the span of positions asked for so far and widened on demand, so an
    appliance that only a spoke's own range reaches costs that range, not every endpoint."""

    __slots__ = ("analysis", "found", "hi", "ips", "keep", "lo", "target", "watched")

    def __init__(
        self, analysis: FlowAnalysis, target: Appliance, ips: list[int], keep: Keep | None, watched: set[int]
    ) -> None:
        self.analysis, self.target, self.ips, self.keep, self.watched = analysis, target, ips, keep, watched
        self.lo = self.hi = 0
        self.found: list[int] = []

    def kept(self, a: int, b: int) -> list[int]:
        if self.lo == self.hi:
            self.lo, self.hi, self.found = a, b, self._scan(a, b)
        else:
            if a < self.lo:
                self.found[:0] = self._scan(a, self.lo)
                self.lo = a
            if b > self.hi:
                self.found.extend(self._scan(self.hi, b))
                self.hi = b
        found = self.found
        return found[bisect_left(found, a) : bisect_left(found, b)]

    def _scan(self, a: int, b: int) -> list[int]:
        analysis, target, keep = self.analysis, self.target, self.keep
        cache = analysis.cache.tails
        out = []
        for p in range(a, b):
            dst = self.ips[p]
            _hops, outcome, _reason, apps, *_ = analysis._via(target, dst, (), cache)
            if outcome != "delivered":
                continue
            if keep is None or p in self.watched or any(keep.interesting(analysis, app, dst) for app in apps):
                out.append(p)
        return out


def hop_text(h: Hop) -> str:
    return f"{h.hop} ({h.kind}{', ' + h.ip if h.ip else ''})"


__all__ = ["Flow", "FlowAnalysis", "Mitigation", "hop_text", "ip_text"]
