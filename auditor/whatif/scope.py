"""What a change can move: whether the audit after it may reuse the forward walks of the audit before.

A forward walk (auditor.paths.forward) reads route contexts' effective routes, which appliance owns
each next-hop address, the peerings it crosses and what owns the destination address. Routes are
compared context by context when the walks are reused (auditor.paths.reuse), so a change to routes,
route tables or subnet associations costs only the contexts it touches. The other three are not
compared: a change to anything they are built from (NICs other than their tags, load balancers,
firewalls' addresses, peerings, VNets, virtual hubs, private endpoints, an added resource that could
own an address) makes the audit after the change walk everything again. That keeps reuse an
optimisation that can never change an answer: tests/test_whatif_reuse.py compares both ways.
"""

from __future__ import annotations

from typing import Any

# Record types no walk reads: what they decide happens at an appliance or at the endpoint (NSG rules,
# firewall rules and SNAT, DNS answers for FQDN rules, AI and PaaS account settings), not where packets go.
NEUTRAL_TYPES = frozenset(
    {
        "microsoft.network/networksecuritygroups",
        "microsoft.network/networksecuritygroups/securityrules",
        "microsoft.network/networksecuritygroups/defaultsecurityrules",
        "microsoft.network/firewallpolicies",
        "microsoft.network/firewallpolicies/rulecollectiongroups",
        "microsoft.network/ipgroups",
        "microsoft.network/privatednszones",
        "microsoft.network/privatednszones/virtualnetworklinks",
        "microsoft.network/privatednszones/a",
        "microsoft.cognitiveservices/accounts",
        "microsoft.storage/storageaccounts",
        "microsoft.keyvault/vaults",
    }
)
# Record types where only these properties may change: they change effective routes (compared per
# route context) or decisions made at an appliance, never which resource owns an address. None: any.
ROUTING_PROPERTIES: dict[str, frozenset[str] | None] = {
    "microsoft.network/routetables": None,
    "microsoft.network/routetables/routes": None,
    "microsoft.network/virtualnetworks/subnets": frozenset(
        {"privateEndpointNetworkPolicies", "networkSecurityGroup", "routeTable"}
    ),
    # DNS proxy and SNAT ranges (Network.DNS.EnableProxy, Network.SNAT.PrivateRanges)
    "microsoft.network/azurefirewalls": frozenset({"additionalProperties"}),
}
# Added resources that own no address
ADDABLE = NEUTRAL_TYPES | {"microsoft.network/routetables", "microsoft.network/routetables/routes"}


def _changed_properties(old: dict[str, Any], new: dict[str, Any]) -> set[str]:
    a, b = old.get("properties") or {}, new.get("properties") or {}
    return {k for k in a.keys() | b.keys() if a.get(k) != b.get(k)}


def walks_reusable(
    before: dict[str, dict[str, Any]], after: dict[str, dict[str, Any]], touched: set[str]
) -> str | None:
    """None when the walks before the change may be reused after it, else why not (one line)."""
    for k in sorted(touched):
        old, new = before.get(k), after.get(k)
        if old is None or new is None:  # added or removed
            rec = new or old or {}
            rtype = str(rec.get("type", "")).lower()
            if rtype not in ADDABLE:
                return f"{'adds' if old is None else 'removes'} a {rtype}, which may own an address"
            continue
        rtype = str(new.get("type", "")).lower()
        if {x for x in old.keys() | new.keys() if old.get(x) != new.get(x)} <= {"tags"}:
            continue  # tags decide nothing about where packets go (only disableSnatOnPL-like opt-ins)
        if rtype in NEUTRAL_TYPES:
            continue
        if rtype in ROUTING_PROPERTIES:
            allowed = ROUTING_PROPERTIES[rtype]
            extra = {x for x in old.keys() | new.keys() if x not in ("properties", "tags")}
            extra = {x for x in extra if old.get(x) != new.get(x)}
            changed = _changed_properties(old, new)
            if not extra and (allowed is None or changed <= allowed):
                continue
        return f"changes a {rtype} beyond what routes compared per context can show"
    return None
