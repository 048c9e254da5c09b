"""What a check function receives: the estate, the config, and lazily computed later stages.

Posture rules read properties only; path rules ask for `ctx.routing` / `ctx.flows`, which are
computed once on first use so an audit with only posture rules never pays for routing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

from auditor.catalog import Rule
from auditor.config import Config
from auditor.estate.model import Estate
from auditor.findings import Evidence, Finding
from auditor.ids import key
from auditor.problems import Problem

if TYPE_CHECKING:
    from auditor.paths.analysis import Flow, FlowAnalysis
    from auditor.paths.appliances import Appliance


@dataclass
class AuditContext:
    estate: Estate
    config: Config
    catalog: dict[str, Rule]
    extras: dict[str, Any] = field(default_factory=dict)
    # False: the path rules read every delivered flow (tests prove pruning changes no finding)
    prune_flows: bool = True
    only: set[str] | None = None  # the rule ids evaluated (None: every rule of the catalog)
    labels: dict[tuple, str] = field(default_factory=dict)  # pathutil.source_label's memo
    memo: dict[Any, Any] = field(default_factory=dict)  # per-audit results rules share
    # called with the flow analysis once it exists, before any rule reads it (whatif's walk reuse)
    on_analysis: Callable[[FlowAnalysis], None] | None = None

    @cached_property
    def flows(self) -> FlowAnalysis:
        """Forward and return walks for every (route context x private endpoint); computed once."""
        from auditor.paths.analysis import FlowAnalysis

        analysis = FlowAnalysis(self.estate, self.config)
        if self.on_analysis is not None:
            self.on_analysis(analysis)
        return analysis

    @property
    def reported_flows(self) -> list[Flow]:
        """The delivered flows the path rules read: all of them less those no running rule declares
        (`flows:` in rules/<ID>/rule.yaml, FlowAnalysis.reported_flows). A rule that reads flows for a
        reason of its own declares it there; tests/test_paths_pruning.py proves pruning changes nothing."""
        if not self.prune_flows:
            return self.flows.delivered_flows
        needs = [rule for rule in self.running.values() if rule.flows]
        memo_key = ("reported_flows", *sorted(rule.id for rule in needs))
        hit = self.memo.get(memo_key)
        if hit is not None:
            return hit
        reporters = [f for f in (rule.reported_appliance() for rule in needs) if f is not None]

        def reported(app: Appliance) -> bool:
            return any(f(app) for f in reporters)

        watched: list[str] = []
        if any(rule.flows.endpoints == "ai-accounts" for rule in needs):
            accounts = set(self.estate.ai_accounts)
            watched = [
                pe.id
                for pe in self.estate.private_endpoints.values()
                if any(key(c.target_id or "") in accounts for c in pe.connections)
            ]
        flows = self.memo[memo_key] = self.flows.reported_flows(
            reported,
            watched,
            pe_routes=any(rule.flows.routes == "private-endpoint" for rule in needs),
            unmitigated=any(rule.flows.replies == "unmitigated" for rule in needs),
        )
        return flows

    @property
    def running(self) -> dict[str, Rule]:
        """The rules this audit evaluates (`--rule` narrows them; all of the catalog by default)."""
        if self.only is None:
            return self.catalog
        return {rid: rule for rid, rule in self.catalog.items() if rid in self.only}

    def analysis_gaps(self) -> list[Problem]:
        """What the flow analysis needed and could not resolve (firewall rules it read, appliances it
        had to assume): incomplete coverage, reported with the estate's own problems."""
        analysis = self.__dict__.get("flows")
        if analysis is None:
            return []
        return [*analysis.coverage_gaps.values(), *analysis.appliances.gaps.values()]

    @cached_property
    def gateway_public_ips(self) -> set[int]:
        """The API gateway's public addresses (APIM public and outbound IPs): what an AI account's IP
        rules must admit for the gateway to reach its public endpoint. Unparsable values are skipped."""
        from auditor.ipnet import PrefixError, parse_ip

        ips: set[int] = set()
        for apim in self.estate.apims.values():
            for text in (*apim.public_ips, *apim.outbound_public_ips):
                try:
                    ips.add(parse_ip(text))
                except PrefixError:
                    continue
        return ips

    @cached_property
    def gateway_subnet_ids(self) -> set[str]:
        """Subnets of the API gateway: APIM in a VNet (internal or external) plus config gateways."""
        ids = {key(a.subnet_id) for a in self.estate.apims.values() if a.subnet_id and a.vnet_type != "None"}
        for gw in self.config.gateways:
            ids.update(key(s) for s in gw.subnets)
        return ids

    def finding(
        self,
        rule_id: str,
        resource_id: str,
        message: str,
        *,
        evidence: list[Evidence] | None = None,
        related_ids: list[str] | None = None,
        severity: str | None = None,
        status: str | None = None,
        flow: dict[str, Any] | None = None,
        key: tuple[str, ...] = (),
    ) -> Finding:
        rule = self.catalog[rule_id]
        return Finding(
            rule_id=rule_id,
            severity=severity or rule.severity,
            status=status or rule.default_status,
            resource_id=resource_id,
            title=rule.title,
            message=message,
            remediation=rule.remediation,
            related_ids=list(related_ids or []),
            evidence=list(evidence or []),
            flow=flow,
            key=key,
        )
