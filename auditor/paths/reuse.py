"""Forward walks carried over from an earlier analysis of the same estate (`pathaudit whatif`).

`whatif` audits an estate twice: as it is, and with a proposed change. Most changes leave most
forward walks as they were: a tag, an NSG rule or a firewall policy setting changes what happens to a
flow at an appliance or at the endpoint, not where the packets go. A walk from a route context
depends on that context's effective routes, on the routes of the appliance subnets it passes, on
which appliance owns each next-hop address, on the peerings it crosses and on what owns the
destination address. The caller (auditor.whatif.run) enables reuse only for changes that touch none
of the last three (see `walk_neutral` there); this module checks the first two per walk: a walk is
reused when its starting context and every appliance subnet it passes keep the same effective
routes, and is computed afresh otherwise. Only the affected route contexts are walked again.

A reused walk keeps the earlier analysis' hops and routes (read-only, equal in content) and gets
the new analysis' appliance objects, which carry the changed tags and settings: SNAT decisions,
mitigations and verdicts are always worked out by the new analysis. tests/test_whatif_reuse.py
checks that reuse changes no finding, flow or coverage line, estate by estate.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from auditor.ids import key
from auditor.paths.appliances import Appliance
from auditor.paths.walk import Tail

if TYPE_CHECKING:
    from auditor.paths.analysis import FlowAnalysis
    from auditor.routing.table import RouteTableView

ViewKey = tuple[str, str | None, tuple[str, ...]]
Via = tuple[Any, ...]  # ForwardWalk._via's result: hops, outcome, reason, appliances, blackhole, route


def view_signature(view: RouteTableView) -> tuple[tuple[Any, ...], ...]:
    """What a walk reads of a route context: its routes, every field that can decide a next hop."""
    return tuple(
        (
            r.source,
            r.prefix_text,
            r.next_hop_type,
            r.next_hop_ip,
            r.kind,
            key(r.origin) if r.origin else None,
            r.state,
        )
        for r in view.routes
    )


def changed_views(before: Iterable[RouteTableView], after: Iterable[RouteTableView]) -> set[ViewKey]:
    """Route contexts whose effective routes differ, or that exist on one side only."""
    old = {v.key: view_signature(v) for v in before}
    new = {v.key: view_signature(v) for v in after}
    return {k for k in old.keys() | new.keys() if old.get(k) != new.get(k)}


@dataclass
class WalkReuse:
    """Hands `after` (the analysis of the changed estate) the walks `before` computed, where valid."""

    before: FlowAnalysis
    after: FlowAnalysis
    changed: set[ViewKey] | None = None  # worked out on first use (both routing models are lazy)
    hits: int = 0  # walks reused (tests check reuse happens at all)
    misses: int = 0  # walks the new analysis computed itself
    _views: dict[int, RouteTableView | None] = field(default_factory=dict)  # id(after view) -> before's
    _apps: dict[int, Appliance | None] = field(default_factory=dict)  # id(before app) -> after's
    _back: dict[tuple[str, int], Appliance] = field(default_factory=dict)  # (id, ip) of after's -> before's
    _tails: dict[int, Tail | None] = field(default_factory=dict)  # id(before tail) -> translated
    _vias: dict[int, Via | None] = field(default_factory=dict)
    _scanned: int = -1  # how many appliance lookups of `before` _apps has seen

    def _changed(self) -> set[ViewKey]:
        if self.changed is None:
            self.changed = changed_views(self.before.routing.all_tables(), self.after.routing.all_tables())
        return self.changed

    def _before_view(self, view: RouteTableView) -> RouteTableView | None:
        vid = id(view)
        if vid in self._views:
            return self._views[vid]
        found = None
        if view.key not in self._changed() and view.key in self.before.routing.contexts:
            found = self.before.routing.table(view.key)
        self._views[vid] = found
        return found

    def _index_appliances(self) -> None:
        """Pair every appliance `before` has resolved with the one `after` resolves for the same
        address and VNet. A pair is usable only if both name the same appliance at the same place and
        the appliance's subnet keeps its route context and routes (the walk goes on from there)."""
        resolved = self.before.appliances._cache
        if len(resolved) == self._scanned:
            return
        self._scanned = len(resolved)
        changed = self._changed()
        for (ip, vnet), old in list(resolved.items()):
            if not isinstance(old, Appliance) or id(old) in self._apps:
                continue
            new = self.after.appliances.resolve(ip, vnet)
            usable = (
                isinstance(new, Appliance)
                and new.id == old.id
                and new.ip == old.ip
                and new.kind == old.kind
                and new.subnet_id == old.subnet_id
                and new.hub_id == old.hub_id
                and self._same_context(old.subnet_id, changed)
            )
            self._apps[id(old)] = new if usable and isinstance(new, Appliance) else None
            if usable and isinstance(new, Appliance):
                self._back.setdefault((new.id, new.ip), old)

    def _same_context(self, subnet_id: str | None, changed: set[ViewKey]) -> bool:
        if subnet_id is None:
            return True  # a virtual hub's appliance: hubs are never changed when reuse is on
        old = self.before.routing.subnet_keys.get(key(subnet_id))
        new = self.after.routing.subnet_keys.get(key(subnet_id))
        return old is not None and old == new and old not in changed

    def _appliances(self, apps: list[Appliance]) -> list[Appliance] | None:
        out = []
        for a in apps:
            new = self._apps.get(id(a))
            if new is None:
                if id(a) not in self._apps:
                    self._index_appliances()
                new = self._apps.get(id(a))
                if new is None:
                    return None
            out.append(new)
        return out

    def tail(self, view: RouteTableView, dst: int, visited: tuple[str, ...]) -> Tail | None:
        """The walk from `view` (an `after` view) to `dst`, or None when it must be computed."""
        old_view = self._before_view(view)
        if old_view is None:
            return self._counted(None)
        old = self.before._walk(old_view, dst, visited, self.before.cache.tails)

        def carried() -> Tail | None:
            apps = self._appliances(old.appliances)
            if apps is None:
                return None
            return Tail(
                old.route, old.hops, old.outcome, old.reason, apps, old.blackhole, old.blackhole_route
            )

        return self._counted(self._translated(self._tails, old, carried))

    def via(self, target: Appliance, dst: int, visited: tuple[str, ...]) -> Via | None:
        """The walk on from `target` (an `after` appliance) to `dst`, or None when it must be computed."""
        old_target = self._back.get((target.id, target.ip))
        if old_target is None:
            self._index_appliances()
            old_target = self._back.get((target.id, target.ip))
            if old_target is None:
                return self._counted(None)
        old = self.before._via(old_target, dst, visited, self.before.cache.tails)

        def carried() -> Via | None:
            hops, outcome, reason, apps, blackhole, route = old
            mapped = self._appliances(apps)
            return None if mapped is None else (hops, outcome, reason, mapped, blackhole, route)

        return self._counted(self._translated(self._vias, old, carried))

    @staticmethod
    def _translated(memo: dict[int, Any], old: Any, carried: Callable[[], Any]) -> Any:
        """`old` (a walk of `before`, alive as long as it) as the new analysis sees it, worked out once."""
        oid = id(old)
        if oid not in memo:
            memo[oid] = carried()
        return memo[oid]

    def _counted(self, hit: Any) -> Any:
        if hit is None:
            self.misses += 1
        else:
            self.hits += 1
        return hit
