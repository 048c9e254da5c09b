"""Remediation plans: what a rule proposes to fix one of its findings, as change sets `whatif` can try.

A rule's check.py may define `fixes(finding, ctx) -> list[Fix]` (finding: the findings-document dict,
ctx: the AuditContext of the audit that produced it). Fixes come smallest blast radius first: the
first one is what `pathaudit whatif --plan` applies. Each carries the change set (docs/whatif.md),
the az CLI command and the Bicep property beside it, and the side effects the model can see. A fix
ARM cannot express (SNAT configured inside a vendor NVA) is expressed as the pathaudit.toml
declaration that models it, and says so; a finding nothing can fix mechanically says why.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from auditor.paths.appliances import Appliance
    from auditor.rules.context import AuditContext


@dataclass(frozen=True)
class Fix:
    title: str
    changes: tuple[dict[str, Any], ...] = ()  # change-set entries (auditor/schemas/changeset.schema.json)
    az: tuple[str, ...] = ()  # the same change as az CLI commands
    bicep: str = ""  # ... and as the Bicep/ARM property
    side_effects: tuple[str, ...] = ()  # what else changes, as far as the model can see
    declaration: str = ""  # a pathaudit.toml declaration, for what ARM cannot express
    cannot: str = ""  # why no change set can fix it (then `changes` is empty)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"title": self.title, "changes": list(self.changes)}
        for key in ("az", "side_effects"):
            if getattr(self, key):
                out[key] = list(getattr(self, key))
        for key in ("bicep", "declaration", "cannot"):
            if getattr(self, key):
                out[key] = getattr(self, key)
        return out


def name_of(rid: str) -> str:
    return rid.rstrip("/").rsplit("/", 1)[-1]


def rg_of(rid: str) -> str:
    parts = rid.split("/")
    low = [p.lower() for p in parts]
    return parts[low.index("resourcegroups") + 1] if "resourcegroups" in low else ""


def tag(rid: str, key: str, value: str, reason: str) -> Fix:
    return Fix(
        title=f"tag {name_of(rid)} with {key}={value}",
        changes=({"id": rid, "tags": {key: value}, "reason": reason},),
        az=(f"az tag update --resource-id {rid} --operation Merge --tags {key}={value}",),
        bicep=f"tags: {{ {key}: '{value}' }}",
    )


def set_property(rid: str, path: str, value: Any, reason: str, side_effects: tuple[str, ...] = ()) -> Fix:
    prop = path.removeprefix("properties.")
    return Fix(
        title=f"set {path} = {json.dumps(value)} on {name_of(rid)}",
        changes=({"id": rid, "set": {path: value}, "reason": reason},),
        az=(f"az resource update --ids {rid} --set {path}={json.dumps(value)}",),
        bicep=f"properties: {{ {prop.replace('.', ': { ')}: {json.dumps(value)} {'}' * prop.count('.')}}}",
        side_effects=side_effects,
    )


def cannot(title: str, why: str) -> Fix:
    return Fix(title=title, cannot=why)


ALWAYS_SNAT = ["255.255.255.255/32"]
SNAT_COST = (
    "every network-rule flow through {name} is SNATed: the private endpoints and their logs see the "
    "firewall's address instead of the client's"
)
TAG_COST = (
    "enabling disableSnatOnPL resets long-running private-endpoint connections through {name} once: "
    "apply it in a maintenance window"
)


def appliance(ctx: AuditContext, appliance_id: str) -> Appliance | None:
    """The appliance a path finding names (flow.appliances), as the flow analysis built it."""
    want = appliance_id.lower()
    seen: set[int] = set()
    for f in ctx.flows.delivered_flows:
        apps = f.tail.appliances
        if id(apps) in seen:
            continue
        seen.add(id(apps))
        for app in apps:
            if app.id.lower() == want:
                return app
    return None


def firewall_snat(ctx: AuditContext, firewall_id: str, reason: str) -> Fix:
    """Make an Azure Firewall SNAT every private destination: its policy's snat.privateRanges, or a
    classic firewall's Network.SNAT.PrivateRanges (https://learn.microsoft.com/azure/firewall/snat-private-range)."""
    fw = ctx.estate.firewalls.get(firewall_id.lower())
    name = name_of(firewall_id)
    if fw is not None and fw.policy_id:
        fix = set_property(fw.policy_id, "properties.snat.privateRanges", ALWAYS_SNAT, reason)
        return Fix(
            title=f"make firewall policy {name_of(fw.policy_id)} always SNAT (used by {name})",
            changes=fix.changes,
            az=(
                f"az network firewall policy update --ids {fw.policy_id} --private-ranges 255.255.255.255/32",
            ),
            bicep="properties: { snat: { privateRanges: [ '255.255.255.255/32' ] } }",
            side_effects=(SNAT_COST.format(name=name),),
        )
    extra = dict(fw.additional_properties) if fw is not None else {}
    extra["Network.SNAT.PrivateRanges"] = "255.255.255.255/32"
    return Fix(
        title=f"make firewall {name} always SNAT (classic rules: Network.SNAT.PrivateRanges)",
        changes=({"id": firewall_id, "set": {"properties.additionalProperties": extra}, "reason": reason},),
        az=(f"az network firewall update --ids {firewall_id} --private-ranges 255.255.255.255/32",),
        bicep="properties: { additionalProperties: { 'Network.SNAT.PrivateRanges': '255.255.255.255/32' } }",
        side_effects=(SNAT_COST.format(name=name),),
    )


def nva_opt_in(ctx: AuditContext, app: Appliance, reason: str) -> list[Fix]:
    """An NVA's replies come back when every NVA behind the next hop opts in (disableSnatOnPL=true on
    its NIC or scale set, https://learn.microsoft.com/azure/private-link/private-link-disable-snat) or
    SNATs; the second is vendor configuration, modelled by declaring it in pathaudit.toml."""
    units = sorted(app.units) or sorted(app.nic_ids) or [app.id]
    tags = [tag(u, "disableSnatOnPL", "true", reason) for u in units]
    first = Fix(
        title=f"opt {app.name} in to disableSnatOnPL ({len(units)} NVA{'s' if len(units) > 1 else ''})",
        changes=tuple(c for t in tags for c in t.changes),
        az=tuple(a for t in tags for a in t.az),
        bicep=tags[0].bicep,
        side_effects=(TAG_COST.format(name=app.name),),
    )
    declare = Fix(
        title=f"SNAT private-endpoint traffic on {app.name} itself (vendor configuration) and declare it",
        declaration="\n".join(f'[[appliances]]\nnic = "{u}"\nsnat = true' for u in units),
        cannot="SNAT inside a vendor NVA is not an Azure resource property: configure it on the appliance, "
        "then declare it in pathaudit.toml so audits model it",
        side_effects=(f"flows through {app.name} to private endpoints lose their client addresses",),
    )
    return [first, declare]


def pe_subnet_policies(ctx: AuditContext, subnet_id: str, need: str, reason: str) -> Fix:
    """Turn on `need` ("RouteTable" or "NetworkSecurityGroup") in a subnet's
    privateEndpointNetworkPolicies, keeping what is on (https://learn.microsoft.com/azure/private-link/disable-private-endpoint-network-policy)."""
    subnet = ctx.estate.subnets.get(subnet_id.lower())
    now = subnet.pe_policies if subnet is not None else "Disabled"
    has = {
        "Enabled": {"RouteTable", "NetworkSecurityGroup"},
        "RouteTableEnabled": {"RouteTable"},
        "NetworkSecurityGroupEnabled": {"NetworkSecurityGroup"},
    }.get(now, set()) | {need}
    value = "Enabled" if len(has) == 2 else f"{need}Enabled"
    costs = []
    if "NetworkSecurityGroup" in has and subnet is not None and subnet.nsg_id:
        costs.append(
            f"NSG {name_of(subnet.nsg_id)} starts filtering traffic to the private endpoints in {name_of(subnet_id)}: "
            "sources it does not allow lose access"
        )
    if "RouteTable" in has and subnet is not None and subnet.route_table_id:
        costs.append(
            f"the UDRs of {name_of(subnet.route_table_id)} start to apply to the private endpoints' routes"
        )
    fix = set_property(subnet_id, "properties.privateEndpointNetworkPolicies", value, reason, tuple(costs))
    vnet = subnet_id.split("/subnets/")[0]
    return Fix(
        title=f"set privateEndpointNetworkPolicies = {value} on subnet {name_of(subnet_id)} (was {now})",
        changes=fix.changes,
        az=(
            f"az network vnet subnet update --resource-group {rg_of(subnet_id)} --vnet-name {name_of(vnet)} "
            f"--name {name_of(subnet_id)} --private-endpoint-network-policies {value}",
        ),
        bicep=f"properties: {{ privateEndpointNetworkPolicies: '{value}' }}",
        side_effects=fix.side_effects,
    )
