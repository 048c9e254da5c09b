"""NSG decisions on flows: the source subnet's outbound rules and the private endpoint subnet's inbound
rules where network policies enforce them, decided per class of subnets the rules cannot tell apart.

A FlowAnalysis part (auditor.paths.analysis says what the parts share)."""

from __future__ import annotations

from auditor.estate.model import NetworkSecurityGroup, PrivateEndpoint, Subnet
from auditor.ids import key
from auditor.ipnet import Cidr
from auditor.paths import nsg as nsgs
from auditor.paths.flow import _MISSING, ALL, NSG_POLICIES, SNAT_HOW, Flow, Mitigation, SourceGroup
from auditor.paths.part import AnalysisPart
from auditor.routing.lpm import PrefixMap
from auditor.routing.table import RouteTableView


class NsgGate(AnalysisPart):
    def virtual_network_tag(self, view: RouteTableView) -> list[Cidr]:
        """The VirtualNetwork service tag as seen from a context
        (https://learn.microsoft.com/azure/virtual-network/service-tags-overview)."""
        return self._vnet_tag(view)[0]

    def _vnet_tag(self, view: RouteTableView) -> tuple[list[Cidr], PrefixMap[bool]]:
        hit = self.cache.vnet_tags.get(view.key)
        if hit is None:
            tag = [
                r.prefix
                for r in view.routes
                if r.prefix is not None
                and r.state == "Active"
                and (
                    r.kind in ("vnet", "peering", "gateway", "vwan")
                    or (r.kind == "udr" and r.prefix.plen > 0)
                )
            ]
            hit = self.cache.vnet_tags[view.key] = (tag, PrefixMap((p, True) for p in tag))
        return hit

    def nsg_check(self, flow: Flow, subnet: Subnet | None, sources: list[Cidr]) -> bool:
        """False when an NSG definitely blocks the flow (source subnet outbound, PE subnet inbound)."""
        dest = [Cidr(flow.pe_ip, 32)]
        if subnet is not None and subnet.nsg_id:
            nsg = self.estate.nsgs.get(key(subnet.nsg_id))
            view = self.routing.table_for_subnet(subnet.id)
            if nsg is not None and view is not None:
                v = nsgs.evaluate(
                    nsg, "Outbound", list(subnet.prefixes), dest, self.port, self.virtual_network_tag(view)
                )
                flow.nsg.append({"subnet": subnet.id, "direction": "Outbound", **v.to_dict()})
                if v.decision == "deny":
                    return False
        pe_nsg = self.pe_nsg(flow.pe)
        if pe_nsg is not None:
            nsg, view, pe_subnet = pe_nsg
            mit = flow.mitigation
            srcs = [Cidr(mit.appliance.ip, 32)] if mit is not None and mit.how in SNAT_HOW else sources
            v = nsgs.evaluate(nsg, "Inbound", srcs, dest, self.port, self.virtual_network_tag(view))
            flow.nsg.append({"subnet": pe_subnet.id, "direction": "Inbound", **v.to_dict()})
            if v.decision == "deny":
                return False
        return True

    def pe_nsg(self, pe: PrivateEndpoint) -> tuple[NetworkSecurityGroup, RouteTableView, Subnet] | None:
        """The NSG enforced on a PE's subnet (policies Enabled / NetworkSecurityGroupEnabled,
        https://learn.microsoft.com/azure/private-link/disable-private-endpoint-network-policy), its view."""
        subnet_key = key(pe.subnet_id or "")
        hit = self.cache.pe_nsgs.get(subnet_key, _MISSING)
        if hit is _MISSING:
            hit = None
            pe_subnet = self.estate.subnets.get(subnet_key)
            if pe_subnet is not None and pe_subnet.nsg_id and pe_subnet.pe_policies in NSG_POLICIES:
                nsg = self.estate.nsgs.get(key(pe_subnet.nsg_id))
                view = self.routing.table_for_subnet(pe_subnet.id)
                if nsg is not None and view is not None:
                    hit = (nsg, view, pe_subnet)
            self.cache.pe_nsgs[subnet_key] = hit
        return hit

    def _rules(self, nsg: NetworkSecurityGroup, direction: str) -> tuple[nsgs.CompiledRule, ...]:
        """Compiled rules; NSGs with the same rules share one tuple, so classes and verdicts computed for
        one serve them all (estates stamp the same NSG out per spoke)."""
        key = (nsg.id, direction)
        hit = self.cache.nsg_rules.get(key)
        if hit is None:
            rules = tuple(nsgs.compile_rules(nsg, direction, self.port))
            hit = self.cache.nsg_rules[key] = self.cache.rulesets.setdefault(rules, rules)
        return hit

    def _inbound(self, pe_side: tuple | None, ip: int) -> tuple | None:
        """Per destination: the PE subnet NSG's compiled inbound rules and their destination matches."""
        if pe_side is None:
            return None
        nsg, pe_view, _ = pe_side
        rules = self._rules(nsg, "Inbound")
        vnet_list, vnet_map = self._vnet_tag(pe_view)
        return rules, pe_view, vnet_list, tuple(r.dst.match_ip(ip, vnet_map) for r in rules)

    def _blocked_members(self, g: SourceGroup, ip: int, inbound: tuple | None, mit: Mitigation | None):
        """The members of `g` an NSG definitely blocks towards `ip` (outbound on their own subnet, inbound
        on the PE subnet), decided per class of members the rules cannot tell apart: None when none is,
        ALL when all are, else the set of their ids."""
        blocked: set[int] = set()
        if g.nsg_members:
            if g.out_classes is None:
                vnet_list = self._vnet_tag(g.view)[0]
                classes: dict[tuple, tuple[tuple[nsgs.CompiledRule, ...], tuple[str, ...], list[Subnet]]] = {}
                for s in g.nsg_members:
                    nsg = self.estate.nsgs[key(s.nsg_id)]  # type: ignore[arg-type]  # nsg_members have an nsg_id
                    rules = self._rules(nsg, "Outbound")
                    vec = tuple(r.src.match(list(s.prefixes), vnet_list) for r in rules)
                    classes.setdefault((id(rules), vec), (rules, vec, []))[2].append(s)
                g.out_classes = list(classes.values())
            vnet_map = self._vnet_tag(g.view)[1]
            for rules, vec, members in g.out_classes:
                dvec = tuple(r.dst.match_ip(ip, vnet_map) for r in rules)
                memo = (id(rules), vec, dvec)
                denied = self.cache.verdicts.get(memo)
                if denied is None:
                    denied = self.cache.verdicts[memo] = (
                        nsgs.decide(
                            "", rules, lambda i, _s, vec=vec: vec[i], lambda i, _s, d=dvec: d[i]
                        ).decision
                        == "deny"
                    )
                if denied:
                    if len(members) == len(g.members):
                        return ALL
                    blocked.update(id(s) for s in members)
        if inbound is not None:
            snat_ip = mit.appliance.ip if mit is not None and mit.how in SNAT_HOW else None
            rules, pe_view, _, dvec = inbound
            in_key = (id(rules), id(pe_view), dvec, snat_ip)
            result = g.in_results.get(in_key, _MISSING)
            if result is _MISSING:
                result = g.in_results[in_key] = self._inbound_blocked(g, inbound, snat_ip)
            if result is ALL:
                return ALL
            if result:
                blocked |= result
        if len(blocked) == len(g.members):
            return ALL
        return blocked or None

    def _inbound_blocked(self, g: SourceGroup, inbound: tuple, snat_ip: int | None):
        """The members the PE subnet's NSG denies (ALL, a set of ids, or None); the same for every PE of
        that subnet with the same destination matches."""
        blocked: set[int] = set()
        rules, pe_view, vnet_list, dvec = inbound
        if snat_ip is not None:
            # the PE sees the appliance's address
            # (https://learn.microsoft.com/azure/private-link/private-endpoint-overview)
            src = [Cidr(snat_ip, 32)]
            snat_denied = (
                nsgs.decide("", rules, lambda _i, s: s.match(src, vnet_list), lambda i, _s: dvec[i]).decision
                == "deny"
            )
            return ALL if snat_denied else None
        in_classes = g.in_classes.get(id(rules))
        if in_classes is None:
            by_vec: dict[tuple, list[Subnet]] = {}
            for s in g.members:
                by_vec.setdefault(tuple(r.src.fixed(list(s.prefixes)) for r in rules), []).append(s)
            in_classes = g.in_classes[id(rules)] = list(by_vec.items())
        for vec, members in in_classes:
            memo = (id(rules), vec, dvec)
            denied = self.cache.verdicts.get(memo, _MISSING)
            if denied is _MISSING:
                denied = self.cache.verdicts[memo] = self._class_denies(rules, vec, dvec)
            if denied is not None:
                if denied:
                    if len(members) == len(g.members):
                        return ALL
                    blocked.update(id(s) for s in members)
                continue
            for s in members:  # a VirtualNetwork rule was reached: its match depends on the member
                mkey = (id(rules), s.id, id(pe_view), dvec)
                mdenied = self.cache.verdicts.get(mkey)
                if mdenied is None:
                    prefixes = list(s.prefixes)
                    mdenied = self.cache.verdicts[mkey] = (
                        nsgs.decide(
                            "",
                            rules,
                            lambda _i, side, p=prefixes: side.match(p, vnet_list),
                            lambda i, _s: dvec[i],
                        ).decision
                        == "deny"
                    )
                if mdenied:
                    blocked.add(id(s))
        if len(blocked) == len(g.members):
            return ALL
        return blocked or None

    @staticmethod
    def _class_denies(rules: tuple[nsgs.CompiledRule, ...], vec: tuple, dvec: tuple) -> bool | None:
        """Whether the rules deny every member whose rule matches are `vec`, or None when deciding needs
        the VirtualNetwork tag's match of each member's own prefixes."""

        class NeedsMember(Exception):
            pass

        def src(i: int, side: nsgs.Side) -> str:
            if side.needs_vnet(vec[i]):
                raise NeedsMember
            return vec[i]

        try:
            return nsgs.decide("", rules, src, lambda i, _s: dvec[i]).decision == "deny"
        except NeedsMember:
            return None

    def _nsg_gate(self, flow: Flow) -> Flow:
        if (
            flow.outcome == "delivered"
            and flow.source_prefixes
            and not self.nsg_check(flow, None, flow.source_prefixes)
        ):
            flow.outcome, flow.verdict, flow.return_hops = "blocked", "blocked", []
            flow.notes.append("an NSG denies the flow")
        return flow
