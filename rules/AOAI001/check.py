"""AOAI001: API keys enabled on an AI account (Azure Policy 71ef260a: disableLocalAuth notEquals true)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from auditor.findings import Evidence, Finding
from auditor.rules import remedy
from auditor.rules.context import AuditContext


def check(ctx: AuditContext) -> Iterator[Finding]:
    for account in ctx.estate.ai_accounts.values():
        value = account.disable_local_auth
        if value is True:
            continue
        if value is None:
            why = "disableLocalAuth is not set, so API keys are accepted (the default)"
        elif value is False:
            why = "disableLocalAuth is false, so API keys are accepted"
        else:
            why = f"disableLocalAuth is {value!r}, not the boolean true, so API keys are not known to be disabled"
        yield ctx.finding(
            "AOAI001",
            account.id,
            f"{account.kind or 'AI'} account {account.name}: {why}; anyone holding a key can call it without Entra ID.",
            evidence=[Evidence("property", account.id, "properties.disableLocalAuth", value)],
        )


def fixes(finding: dict[str, Any], ctx: AuditContext) -> list[remedy.Fix]:
    """Turn keys off. Callers still using keys break: move them to Entra ID first (AOAI006 says when the
    account cannot, for want of a custom subdomain)."""
    fix = remedy.set_property(
        finding["resource_id"],
        "properties.disableLocalAuth",
        True,
        "AOAI001: keys enabled",
        (
            "every caller that still sends an api-key header is refused: move callers to Microsoft Entra ID first",
        ),
    )
    return [fix]
