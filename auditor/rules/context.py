"""What a check function receives: the estate, the config, and lazily computed later stages.

Posture rules read properties only; path rules ask for `ctx.routing` / `ctx.flows`, which are
computed once on first use so an audit with only posture rules never pays for routing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

from auditor.catalog import Rule
from auditor.config import Config
from auditor.estate.model import Estate
from auditor.findings import Evidence, Finding

if TYPE_CHECKING:
    from auditor.paths.analysis import FlowAnalysis


@dataclass
class AuditContext:
    estate: Estate
    config: Config
    catalog: dict[str, Rule]
    extras: dict[str, Any] = field(default_factory=dict)

    @cached_property
    def flows(self) -> FlowAnalysis:
        """Forward and return walks for every (route context x private endpoint); computed once."""
        from auditor.paths.analysis import FlowAnalysis

        return FlowAnalysis(self.estate, self.config)

    @cached_property
    def gateway_subnet_ids(self) -> set[str]:
        """Subnets of the API gateway: APIM in a VNet (internal or external) plus config gateways."""
        ids = {a.subnet_id.lower() for a in self.estate.apims.values() if a.subnet_id and a.vnet_type != "None"}
        for gw in self.config.gateways:
            ids.update(s.lower() for s in gw.subnets)
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
        )
