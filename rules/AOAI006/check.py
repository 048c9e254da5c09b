"""AOAI006: AI account without a custom subdomain (Microsoft Entra ID needs one:
https://learn.microsoft.com/azure/ai-services/cognitive-services-custom-subdomains)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from auditor.findings import Evidence, Finding
from auditor.rules import remedy
from auditor.rules.context import AuditContext


def check(ctx: AuditContext) -> Iterator[Finding]:
    for account in ctx.estate.ai_accounts.values():
        value = account.custom_subdomain
        if isinstance(value, str) and value.strip():
            continue
        why = (
            "has no custom subdomain (customSubDomainName is not set)"
            if value is None or value == ""
            else f"has customSubDomainName {value!r}, which is not a subdomain name"
        )
        yield ctx.finding(
            "AOAI006",
            account.id,
            f"{account.kind or 'AI'} account {account.name} {why}: it answers only on the shared regional endpoint, "
            "Microsoft Entra ID authentication needs a custom subdomain, so its API keys cannot be turned off "
            "without locking callers out.",
            evidence=[Evidence("property", account.id, "properties.customSubDomainName", value)],
        )


def fixes(finding: dict[str, Any], ctx: AuditContext) -> list[remedy.Fix]:
    account = ctx.estate.ai_accounts.get(finding["resource_id"].lower())
    name = (account.name if account is not None else remedy.name_of(finding["resource_id"])).lower()
    fix = remedy.set_property(
        finding["resource_id"],
        "properties.customSubDomainName",
        name,
        "AOAI006: no custom subdomain",
        ("a custom subdomain cannot be changed or removed once set: check the name is the one you want",),
    )
    return [fix]
