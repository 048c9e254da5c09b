"""Routing stage: every subnet's effective routes, computed as Azure does.

System routes, UDRs and route selection:
https://learn.microsoft.com/azure/virtual-network/virtual-networks-udr-overview
Private endpoint /32 routes and their invalidation by UDRs:
https://learn.microsoft.com/azure/private-link/disable-private-endpoint-network-policy
"""

from auditor.routing.engine import RoutingModel
from auditor.routing.table import EffectiveRoute, RouteTableView

__all__ = ["EffectiveRoute", "RouteTableView", "RoutingModel"]
