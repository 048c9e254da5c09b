"""NET006: NSG on a private endpoint subnet is not enforced (https://learn.microsoft.com/azure/private-link/disable-private-endpoint-network-policy)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from auditor.findings import Evidence, Finding
from auditor.ids import key
from auditor.rules import remedy
from auditor.rules.context import AuditContext


def check(ctx: AuditContext) -> Iterator[Finding]:
    estate = ctx.estate
    pe_subnets: dict[str, list[str]] = {}
    for pe in estate.private_endpoints.values():
        if pe.subnet_id:
            pe_subnets.setdefault(key(pe.subnet_id), []).append(pe.id)
    for sid in sorted(pe_subnets):
        subnet = estate.subnets.get(sid)
        if (
            subnet is None
            or not subnet.nsg_id
            or subnet.pe_policies in ("Enabled", "NetworkSecurityGroupEnabled")
        ):
            continue
        shown = subnet.pe_policies if subnet.pe_policies_set else "not set (Disabled)"
        yield ctx.finding(
            "NET006",
            subnet.id,
            f"Subnet {subnet.name} hosts {len(pe_subnets[sid])} private endpoint(s) and has NSG "
            f"{estate.name_of(subnet.nsg_id)}, but privateEndpointNetworkPolicies is {shown}: the NSG does not filter "
            "traffic to the private endpoints.",
            evidence=[
                Evidence(
                    "property", subnet.id, "properties.privateEndpointNetworkPolicies", subnet.pe_policies
                ),
                Evidence("property", subnet.id, "properties.networkSecurityGroup.id", subnet.nsg_id),
            ],
            related_ids=sorted([subnet.nsg_id, *pe_subnets[sid]]),
        )


def fixes(finding: dict[str, Any], ctx: AuditContext) -> list[remedy.Fix]:
    return [
        remedy.pe_subnet_policies(
            ctx, finding["resource_id"], "NetworkSecurityGroup", "NET006: NSG not enforced"
        )
    ]
