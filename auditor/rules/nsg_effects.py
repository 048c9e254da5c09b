"""What enforcing an NSG on a private endpoint subnet would cost: the sources that reach the endpoints
today and that the NSG's rules would deny once private endpoint network policies enforce them
(https://learn.microsoft.com/azure/private-link/disable-private-endpoint-network-policy).

A remediation plan names them (auditor.rules.remedy.pe_subnet_policies), so whoever turns on
NetworkSecurityGroupEnabled knows whom the change cuts off before `whatif` is run. The NSG is read as
the flow analysis reads enforced NSGs (auditor.paths.nsg_gate): inbound, for the port analysed, with
the address the endpoint sees (the appliance's when it SNATs the flow). Only the flows the audit
analysed are judged (every delivered flow to an AI account's endpoint among them); `whatif` judges all.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from auditor.ids import key, qualified_name
from auditor.ipnet import Cidr
from auditor.paths import nsg as nsgs
from auditor.paths.flow import SNAT_HOW

if TYPE_CHECKING:
    from auditor.rules.context import AuditContext

SHOWN = 5  # sources named in a cost line; the rest are counted


def sources_denied(ctx: AuditContext, subnet_id: str) -> list[str]:
    """Sources (labelled as findings label them) delivered today to the endpoints in `subnet_id` that the
    subnet's NSG would deny once enforced; sorted, each once."""
    estate = ctx.estate
    subnet = estate.subnets.get(key(subnet_id))
    nsg = estate.nsgs.get(key(subnet.nsg_id)) if subnet is not None and subnet.nsg_id else None
    if subnet is None or nsg is None:
        return []
    analysis = ctx.flows
    view = analysis.routing.table_for_subnet(subnet.id)
    if view is None:
        return []
    vnet_tag = analysis.virtual_network_tag(view)
    decided: dict[tuple[tuple[Cidr, ...], int], bool] = {}
    denied: set[str] = set()
    for flow in ctx.reported_flows:
        if flow.outcome != "delivered" or key(flow.pe.subnet_id or "") != key(subnet.id):
            continue
        mit = flow.mitigation
        snat = mit is not None and mit.how in SNAT_HOW
        sources = (Cidr(mit.appliance.ip, 32),) if snat and mit is not None else tuple(flow.source_prefixes)
        memo = (sources, flow.pe_ip)
        if memo not in decided:
            verdict = nsgs.evaluate(
                nsg, "Inbound", list(sources), [Cidr(flow.pe_ip, 32)], analysis.port, vnet_tag
            )
            decided[memo] = verdict.decision == "deny"
        if decided[memo]:
            label = "on-premises" if flow.source_kind == "on-premises" else label_of(ctx, flow.source_subnets)
            if snat and mit is not None:
                label += f" (SNATed by {mit.appliance.name})"
            denied.add(label)
    return sorted(denied, key=str.lower)


def label_of(ctx: AuditContext, subnets: list[str]) -> str:
    names = sorted((qualified_name(s) for s in subnets), key=str.lower)
    return ", ".join(names[:3]) + (f" and {len(names) - 3} more subnets" if len(names) > 3 else "")


def cost_line(ctx: AuditContext, subnet_id: str, nsg_name: str, where: str) -> str:
    """The cost of enforcing the subnet's NSG, with the sources it would cut off named."""
    denied = sources_denied(ctx, subnet_id)
    head = f"NSG {nsg_name} starts filtering traffic to the private endpoints in {where}"
    if not denied:
        return f"{head}: it allows every source the audit saw reaching them"
    more = f" and {len(denied) - SHOWN} more" if len(denied) > SHOWN else ""
    return f"{head}: it would deny {'; '.join(denied[:SHOWN])}{more}, which reach them today"
