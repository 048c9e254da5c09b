"""AOAI002: AI account open to public networks (Azure Policy 037eea7a semantics)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from auditor.findings import Evidence, Finding
from auditor.rules import remedy
from auditor.rules.context import AuditContext


def check(ctx: AuditContext) -> Iterator[Finding]:
    for account in ctx.estate.ai_accounts.values():
        public = account.public_network_access
        default_action = account.network_acls.default_action if account.network_acls else None
        if public == "Disabled" or default_action == "Deny":
            continue
        yield ctx.finding(
            "AOAI002",
            account.id,
            f"{account.kind or 'AI'} account {account.name} accepts traffic from any network: publicNetworkAccess is "
            f"{public or 'not set (Enabled)'} and networkAcls.defaultAction is {default_action or 'not set (Allow)'}.",
            evidence=[
                Evidence("property", account.id, "properties.publicNetworkAccess", public),
                Evidence("property", account.id, "properties.networkAcls.defaultAction", default_action),
            ],
        )


def fixes(finding: dict[str, Any], ctx: AuditContext) -> list[remedy.Fix]:
    return [
        remedy.set_property(
            finding["resource_id"],
            "properties.publicNetworkAccess",
            "Disabled",
            "AOAI002: open to public networks",
            (
                "callers over the internet (including an API gateway outside a VNet) lose access: they must "
                "come through a private endpoint",
            ),
        )
    ]
