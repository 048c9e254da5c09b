"""The base of every FlowAnalysis part (entries, forward, snat, returns, nsg_gate): what the parts share,
declared once for the type checker. FlowAnalysis (auditor.paths.analysis) holds these attributes and
inherits every part, so each method a part calls on another is there at run time; the declarations
below only say so. At run time the base is empty."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from auditor.config import Config
    from auditor.estate.model import Estate, PrivateEndpoint, Subnet
    from auditor.ipnet import Cidr
    from auditor.paths.appliances import ApplianceIndex
    from auditor.paths.caches import AnalysisCaches
    from auditor.paths.flow import Flow, Mitigation
    from auditor.paths.reuse import WalkReuse
    from auditor.paths.walk import Hop, Tail
    from auditor.problems import Problem
    from auditor.routing.engine import RoutingModel
    from auditor.routing.table import RouteTableView


class AnalysisPart:
    estate: Estate
    config: Config
    port: int
    routing: RoutingModel
    appliances: ApplianceIndex
    cache: AnalysisCaches
    coverage_gaps: dict[tuple[str, str], Problem]
    reuse: WalkReuse | None

    if TYPE_CHECKING:
        # what one part calls on another (defined in analysis.py, forward.py, snat.py, returns.py, nsg_gate.py)
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
        ) -> Flow: ...

        def destination_hop(self, dst: int, where: tuple[str, str] | None = None) -> Hop: ...

        def mitigation(
            self, tail: Tail, sources: list[Cidr], dst: int, source_key: object = None
        ) -> Mitigation | None: ...

        def return_verdict(self, flow: Flow) -> str: ...

        def _nsg_gate(self, flow: Flow) -> Flow: ...
