"""Documented casing of the ARM enum values pathaudit compares.

All are open ("known values") enums in the azure-mgmt-network SDK: unknown strings are data, not errors.
"""

from __future__ import annotations

from typing import Any


def _table(*values: str) -> dict[str, str]:
    return {v.lower(): v for v in values}


PE_POLICIES = _table("Disabled", "Enabled", "NetworkSecurityGroupEnabled", "RouteTableEnabled")
NEXT_HOP_TYPES = _table(
    "VirtualNetworkGateway",
    "VnetLocal",
    "Internet",
    "VirtualAppliance",
    "None",
    "VirtualApplianceEcmp",
    "VNetPeering",
    "VNetGlobalPeering",
    "InterfaceEndpoint",
    "VirtualNetworkServiceEndpoint",
    "ConnectedGroup",
)
PEERING_STATES = _table("Initiated", "Connected", "Disconnected")
CONNECTION_STATUS = _table("Approved", "Pending", "Rejected", "Disconnected")
ACCESS = _table("Allow", "Deny")
DIRECTIONS = _table("Inbound", "Outbound")
PROTOCOLS = _table("Tcp", "Udp", "Icmp", "Esp", "Ah", "*")
PUBLIC_ACCESS = _table("Enabled", "Disabled", "SecuredByPerimeter")
VNET_TYPES = _table("None", "External", "Internal")
GATEWAY_TYPES = _table("Vpn", "ExpressRoute", "LocalGateway")
BYPASS = _table("None", "AzureServices")

# Synonyms seen in effective-route output and docs (https://learn.microsoft.com/azure/virtual-network/virtual-networks-udr-overview).
NEXT_HOP_SYNONYMS = {
    "vnet peering": "VNetPeering",
    "virtualnetworkpeering": "VNetPeering",
    "virtual network": "VnetLocal",
}


def canon_enum(value: Any, table: dict[str, str], default: str | None = None) -> str | None:
    """Documented casing for known values, the value itself for unknown ones, `default` for absent."""
    if value is None or value == "":
        return default
    text = str(value)
    return table.get(text.lower(), text)


def canon_next_hop(value: Any) -> str:
    text = str(value or "")
    return NEXT_HOP_SYNONYMS.get(text.lower()) or NEXT_HOP_TYPES.get(text.lower(), text)
