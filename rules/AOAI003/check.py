"""AOAI003: AI account network rules admit sources other than the gateway."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from auditor.findings import Evidence, Finding
from auditor.ids import key
from auditor.ipnet import PrefixError, parse_cidr
from auditor.rules import remedy
from auditor.rules.context import AuditContext


def admits_only_gateway(rule: str, gateway_ips: set[int]) -> bool:
    """An IP rule is fine only when every address it admits is a gateway address."""
    try:
        cidr = parse_cidr(rule)
    except PrefixError:
        return False
    size = 1 << (32 - cidr.plen)
    if size > len(gateway_ips):
        return False
    return all(ip in gateway_ips for ip in range(cidr.net, cidr.net + size))


def check(ctx: AuditContext) -> Iterator[Finding]:
    gateway_ips = ctx.gateway_public_ips
    gateway_subnets = ctx.gateway_subnet_ids
    no_gateway = not gateway_ips and not gateway_subnets
    for account in ctx.estate.ai_accounts.values():
        acls = account.network_acls
        if account.public_network_access == "Disabled" or acls is None or acls.default_action != "Deny":
            continue
        bad_ips = [r for r in acls.ip_rules if not admits_only_gateway(r, gateway_ips)]
        bad_subnets = [s for s in acls.virtual_network_rules if key(s) not in gateway_subnets]
        if not bad_ips and not bad_subnets:
            continue
        evidence = [Evidence("property", account.id, "properties.networkAcls.ipRules", r) for r in bad_ips]
        evidence += [
            Evidence("property", account.id, "properties.networkAcls.virtualNetworkRules", s)
            for s in bad_subnets
        ]
        if acls.bypass == "AzureServices":
            evidence.append(
                Evidence(
                    "property",
                    account.id,
                    "properties.networkAcls.bypass",
                    "AzureServices",
                    "trusted Azure services are admitted too",
                )
            )
        admitted = ", ".join([*bad_ips, *(ctx.estate.name_of(s) for s in bad_subnets)])
        suffix = (
            (
                " No API gateway is in the estate, so no admitted source is known to be the gateway; declare "
                "gateways in the config file if they live elsewhere."
            )
            if no_gateway
            else ""
        )
        yield ctx.finding(
            "AOAI003",
            account.id,
            f"{account.kind or 'AI'} account {account.name} admits sources other than the API gateway through its "
            f"network rules: {admitted}.{suffix}",
            evidence=evidence,
            related_ids=list(bad_subnets),
        )


def fixes(finding: dict[str, Any], ctx: AuditContext) -> list[remedy.Fix]:
    """First, the network rules narrowed to the gateway's own sources (nothing else moves); then public
    access closed, which only keeps the gateway if it reaches the account through an approved private
    endpoint (whatif checks that: an account the gateway can no longer reach fails the change)."""
    rid = finding["resource_id"]
    record = ctx.estate.records.get(key(rid)) or {}
    acls = ((record.get("properties") or {}).get("networkAcls")) or {}
    gateway_ips = ctx.gateway_public_ips
    gateway_subnets = ctx.gateway_subnet_ids
    reason = "AOAI003: network rules admit non-gateway sources"
    kept_ips = [r for r in acls.get("ipRules") or [] if admits_only_gateway(str(_value(r)), gateway_ips)]
    dropped_ips = [str(_value(r)) for r in acls.get("ipRules") or [] if r not in kept_ips]
    kept_vnets = [
        r for r in acls.get("virtualNetworkRules") or [] if key(str(_value(r, "id"))) in gateway_subnets
    ]
    dropped_vnets = [
        ctx.estate.name_of(str(_value(r, "id")))
        for r in acls.get("virtualNetworkRules") or []
        if r not in kept_vnets
    ]
    out = []
    narrowed = []
    if dropped_ips:
        narrowed.append(remedy.set_property(rid, "properties.networkAcls.ipRules", kept_ips, reason))
    if dropped_vnets:
        narrowed.append(
            remedy.set_property(rid, "properties.networkAcls.virtualNetworkRules", kept_vnets, reason)
        )
    if narrowed:
        lost = ", ".join([*dropped_ips, *dropped_vnets])
        out.append(
            remedy.Fix(
                title=f"admit only the API gateway in the network rules of {remedy.qualified_name(rid)}",
                changes=tuple(c for f in narrowed for c in f.changes),
                az=tuple(a for f in narrowed for a in f.az),
                bicep="\n".join(f.bicep for f in narrowed),
                side_effects=(f"the sources these rules admitted lose access: {lost}",),
            )
        )
    approved = any(c.status.lower() == "approved" for c in _account_connections(ctx, rid))
    out.append(
        remedy.set_property(
            rid,
            "properties.publicNetworkAccess",
            "Disabled",
            reason,
            (
                "every source reaching the account over its public endpoint loses access, the gateway too "
                "unless it reaches an approved private endpoint of the account"
                + ("" if approved else " (this account has none approved: approve or create one first)"),
            ),
        )
    )
    return out


def _value(rule: Any, field: str = "value") -> Any:
    return rule.get(field) if isinstance(rule, dict) else rule


def _account_connections(ctx: AuditContext, rid: str) -> list[Any]:
    return [
        c
        for pe in ctx.estate.private_endpoints.values()
        for c in pe.connections
        if key(c.target_id or "") == key(rid)
    ]
