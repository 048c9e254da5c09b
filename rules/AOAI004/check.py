"""AOAI004: AI account has no approved private endpoint (Azure Policy d6759c02 semantics)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from auditor.findings import Evidence, Finding
from auditor.rules import remedy
from auditor.rules.context import AuditContext


def check(ctx: AuditContext) -> Iterator[Finding]:
    for account in ctx.estate.ai_accounts.values():
        if any(c.status == "Approved" for c in account.pe_connections):
            continue
        states = sorted({c.status or "unknown" for c in account.pe_connections})
        detail = (
            f"its private endpoint connections are {', '.join(states)}"
            if states
            else "it has no private endpoint connection"
        )
        yield ctx.finding(
            "AOAI004",
            account.id,
            f"{account.kind or 'AI'} account {account.name} has no Approved private endpoint: {detail}; only Approved "
            "connections carry traffic.",
            evidence=[Evidence("property", account.id, "properties.privateEndpointConnections", states)],
            related_ids=[c.private_endpoint_id for c in account.pe_connections if c.private_endpoint_id],
        )


def fixes(finding: dict[str, Any], ctx: AuditContext) -> list[remedy.Fix]:
    return [
        remedy.cannot(
            "approve (or create) a private endpoint connection",
            "approving a connection is an action on the account's privateEndpointConnections, not a property "
            "pathaudit can set in a change set: `az network private-endpoint-connection approve --id <connection id>`",
        )
    ]
