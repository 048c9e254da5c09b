"""Routing stage: every subnet's effective routes, computed as Azure does (https://learn.microsoft.com/azure/virtual-network/virtual-networks-udr-overview-§3, R1-R2)."""

from auditor.routing.engine import RoutingModel
from auditor.routing.table import EffectiveRoute, RouteTableView

__all__ = ["EffectiveRoute", "RouteTableView", "RoutingModel"]
