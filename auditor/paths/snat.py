"""Appliances and SNAT: which firewall rule kind carries a flow, whether a firewall SNATs it, and the
mitigations (SNAT, declared SNAT, disableSnatOnPL) that bring replies back through an appliance.

A FlowAnalysis part (auditor.paths.analysis says what the parts share)."""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property

from auditor.ids import key
from auditor.ipnet import Cidr
from auditor.paths.appliances import Appliance, firewall_snats, owner_place
from auditor.paths.firewall_rules import FirewallRules, Verdict, decide, firewall_rules
from auditor.paths.flow import _MISSING, UNKNOWN, Mitigation
from auditor.paths.part import AnalysisPart
from auditor.paths.walk import Tail


class SnatDecisions(AnalysisPart):
    def rule_kind(self, fw, sources: list[Cidr], dst: int, source_key: object = None) -> str:
        """network | application | unresolved | unknown (auditor.paths.firewall_rules)."""
        return self.rule_verdict(fw, sources, dst, source_key).kind

    def rule_verdict(self, fw, sources: list[Cidr], dst: int, source_key: object = None) -> Verdict:
        """The firewall rule kind carrying the flow, with the firewall's rules parsed once and, given a
        `source_key` naming `sources`, the rules admitting those sources found once."""
        rules = self._firewall_rules(fw)
        if rules is None:
            return UNKNOWN
        fqdns = self.names_of_ip(dst, fw)
        if source_key is None:
            return rules.verdict(sources, dst, fqdns)
        cand = self._candidates(fw.id, rules, sources, source_key)
        key = (id(cand), dst)
        verdict = self.cache.fw_kinds.get(key)
        if verdict is None:
            verdict = self.cache.fw_kinds[key] = decide(cand, rules.gaps, dst, fqdns)
        return verdict

    def _firewall_rules(self, fw) -> FirewallRules | None:
        rules = self.cache.fw_rules.get(fw.id, _MISSING)
        if rules is _MISSING:
            rules = self.cache.fw_rules[fw.id] = firewall_rules(
                self.estate, fw, self.port, self.endpoint_names
            )
            for p in rules.problems if rules is not None else ():
                self.coverage_gaps.setdefault((p.resource_id or "", p.problem), p)
        return rules

    @cached_property
    def endpoint_names(self) -> frozenset[str]:
        return frozenset(n for pe in self.estate.private_endpoints.values() for n in pe.fqdns)

    def names_of_ip(self, ip: int, fw) -> tuple[str, ...]:
        """The FQDNs of the private endpoints at an address that the firewall can reach (firewall rules name
        destinations by FQDN): addresses are per VNet, so an endpoint of another landing zone that reuses
        the address is not this one."""
        memo = (ip, key(fw.id))
        hit = self.cache.ip_names.get(memo)
        if hit is None:
            if fw.hub_id:
                hub = key(fw.hub_id)
                reach = {v for v, h in self.routing.hub_of_vnet.items() if key(h) == hub} | {hub}
            elif fw.subnet_id:
                reach = set(self.routing.reachable_from(key(fw.subnet_id).split("/subnets/")[0]))
            else:
                reach = None
            names: set[str] = set()
            for o in self.estate.owners_of(ip):
                if o.kind != "private-endpoint":
                    continue
                place = owner_place(self.estate, o)
                if reach is None or place is None or place in reach:
                    names.update(self.estate.private_endpoints[key(o.id)].fqdns)
            hit = self.cache.ip_names[memo] = tuple(sorted(names))
        return hit

    def _candidates(self, fw_id: str, rules: FirewallRules, sources: list[Cidr], source_key: object) -> tuple:
        """The rules admitting `sources`; equal answers share one (long-lived) tuple."""
        key = (fw_id, source_key)
        cand = self.cache.fw_candidates.get(key)
        if cand is None:
            found = rules.candidates(sources)
            cand = self.cache.fw_candidates[key] = self.cache.canon.setdefault((fw_id, found), found)
        return cand

    def firewall_snat(self, fw, dst: int) -> tuple[bool, str]:
        key = (fw.id, dst)
        hit = self.cache.fw_snat.get(key)
        if hit is None:
            hit = self.cache.fw_snat[key] = firewall_snats(self.estate, fw, dst)
        return hit

    def mitigation(
        self, tail: Tail, sources: list[Cidr], dst: int, source_key: object = None
    ) -> Mitigation | None:
        apps = tail.appliances
        if not apps:
            return None
        if source_key is None:
            return self._find_mitigation(apps, sources, dst, None)
        # the answer depends on the walk behind the first hop (its appliance list, one per destination and
        # appliance, shared by every view sending the destination there) and, per firewall, on which of its
        # rules admit the sources: memoised on those, so sources sharing them share the work. The memo keeps
        # the list itself, so its id cannot be reused while the entry exists.
        sig: tuple = ()
        for app in apps:
            if app.kind == "azure-firewall" and app.firewall is not None:
                rules = self._firewall_rules(app.firewall)
                sig += (id(self._candidates(app.firewall.id, rules, sources, source_key)) if rules else None,)
        key = (id(apps), dst, sig)
        hit = self.cache.mit_memo.get(key)
        if hit is None or hit[0] is not apps:
            hit = self.cache.mit_memo[key] = (apps, self._find_mitigation(apps, sources, dst, source_key))
        return hit[1]

    def _find_mitigation(
        self, apps: list[Appliance], sources: list[Cidr], dst: int, source_key: object
    ) -> Mitigation | None:
        for app in apps:
            if app.kind == "azure-firewall" and app.firewall is not None:
                verdict = self.rule_verdict(app.firewall, sources, dst, source_key)
                kind = verdict.kind
                if kind == "denied":
                    return self._mitigation(
                        (app.id, app.ip, "denied", verdict.rule),
                        lambda a=app, r=verdict.rule: Mitigation(
                            a, "denied", f"the firewall's rule {r} denies the flow"
                        ),
                    )
                if kind == "application":
                    return self._mitigation(
                        (app.id, app.ip, "application"),
                        lambda a=app: Mitigation(
                            a, "snat", "an application rule carries the flow: application rules always SNAT"
                        ),
                    )
                snat, why = self.firewall_snat(app.firewall, dst)
                if snat:
                    return self._mitigation(
                        (app.id, app.ip, dst), lambda a=app, w=why: Mitigation(a, "snat", w)
                    )
            elif app.kind == "nva":
                found = self._mitigation((app.id, app.ip, "nva"), lambda a=app: self._nva_mitigation(a))
                if found is not None:
                    return found
        return None

    def _mitigation(self, key: tuple, make) -> Mitigation | None:
        hit = self.cache.mitigations.get(key, _MISSING)
        if hit is _MISSING:
            hit = self.cache.mitigations[key] = make()
        return hit

    def _nva_mitigation(self, app: Appliance) -> Mitigation | None:
        if app.snat_declared:
            return Mitigation(app, "snat-declared", "the config file declares SNAT on this NVA")
        tag = app.valid_tag
        if tag is not None:
            how = "tag-ambiguous" if tag.ambiguous else "tag"
            return Mitigation(app, how, f"{tag.key}={tag.value} on {self.estate.name_of(tag.resource_id)}")
        return None

    def quiet(self, app: Appliance, dst: int, reported: Callable[[Appliance], bool]) -> bool:
        """Whether a flow reaching `app` on its way to `dst` is of no interest to a question that reports
        the appliances `reported` names: the appliance brings every such reply back (an NVA's SNAT or
        valid tag, a firewall's SNAT for this destination, whatever the source) and is not reported."""
        if reported(app):
            return False
        if app.kind == "azure-firewall":
            return app.firewall is not None and self.firewall_snat(app.firewall, dst)[0]
        if app.kind == "nva":
            return (
                self._mitigation((app.id, app.ip, "nva"), lambda a=app: self._nva_mitigation(a)) is not None
            )
        return False
