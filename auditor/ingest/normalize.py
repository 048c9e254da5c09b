"""Bring every input shape to one canonical record per resource id.

Resource Graph rows, ARM arrays and az CLI output describe the same resources with different
envelopes (lower-cased types, extra row columns, properties flattened to the top level, children
nested or standalone). Everything downstream, including the estate hash, sees one record per id,
so the same estate in any shape audits to the same bytes.
"""

from __future__ import annotations

from typing import Any

# Keys that live at the top of an ARM resource; anything else at the top of an az CLI object is a
# flattened property.
TOP_LEVEL = frozenset(
    {
        "id",
        "name",
        "type",
        "location",
        "tags",
        "etag",
        "sku",
        "kind",
        "identity",
        "zones",
        "plan",
        "managedBy",
        "extendedLocation",
        "properties",
        "resourceGroup",
        "subscriptionId",
        "tenantId",
        "systemData",
        "apiVersion",
    }
)
# Envelope keys kept in the canonical record (the rest are Resource Graph / CLI bookkeeping).
KEPT = (
    "name",
    "location",
    "kind",
    "sku",
    "tags",
    "zones",
    "identity",
    "plan",
    "extendedLocation",
    "managedBy",
)
# Child collections whose elements are full sub-resources with a `properties` wrapper in ARM (az CLI
# flattens them too). Not `routingPolicies`: ARM writes those without a wrapper.
CHILD_LISTS = frozenset(
    {
        "subnets",
        "virtualNetworkPeerings",
        "routes",
        "securityRules",
        "defaultSecurityRules",
        "ipConfigurations",
        "privateLinkServiceConnections",
        "manualPrivateLinkServiceConnections",
        "privateEndpointConnections",
        "frontendIPConfigurations",
        "backendAddressPools",
        "loadBalancingRules",
        "inboundNatRules",
        "probes",
        "outboundRules",
        "inboundNatPools",
        "delegations",
        "serviceAssociationLinks",
        "resourceNavigationLinks",
        # VM / VMSS-VM networkProfile.networkInterfaces[]: {id, properties: {primary, deleteOption}}
        "networkInterfaces",
        "applicationRuleCollections",
        "natRuleCollections",
        "networkRuleCollections",
    }
)
# az CLI prints a property that collides with an envelope key as `<key>Properties<Key>`.
RENAMED_BY_CLI = {
    f"{k}Properties{k[0].upper()}{k[1:]}": k
    for k in ("type", "sku", "kind", "location", "tags", "name", "id")
}
# Types whose ARM document carries `sku` under `properties`, where az CLI prints it at the top.
PROPERTY_SKU_TYPES = frozenset(
    {
        "microsoft.network/azurefirewalls",
        "microsoft.network/firewallpolicies",
        "microsoft.network/virtualhubs",
        "microsoft.network/virtualnetworkgateways",
    }
)
REFERENCE_KEYS = frozenset({"id", "resourceGroup", "name", "type", "etag"})

# Nested children extracted to records of their own, so a standalone export of the child merges
# with the nested copy by id: (parent type, property list, child type).
EXTRACTED_CHILDREN = {
    "microsoft.network/virtualnetworks": (
        ("subnets", "microsoft.network/virtualnetworks/subnets"),
        ("virtualNetworkPeerings", "microsoft.network/virtualnetworks/virtualnetworkpeerings"),
    ),
    "microsoft.network/routetables": (("routes", "microsoft.network/routetables/routes"),),
    "microsoft.network/networksecuritygroups": (
        ("securityRules", "microsoft.network/networksecuritygroups/securityrules"),
        ("defaultSecurityRules", "microsoft.network/networksecuritygroups/defaultsecurityrules"),
    ),
}


def is_flattened(obj: dict[str, Any]) -> bool:
    return "properties" not in obj and any(k not in TOP_LEVEL for k in obj)


def unflatten(obj: dict[str, Any]) -> dict[str, Any]:
    """az CLI shape -> ARM shape: non-envelope keys move under `properties`, recursively for children.

    az CLI prints unset properties as null and adds `resourceGroup` to every object with an `id`;
    both are dropped so the result equals the ARM document the CLI was printing (`etag` stays: ARM
    has it on nested children too).
    """
    out: dict[str, Any] = {}
    props: dict[str, Any] = {}
    for key, value in obj.items():
        if value is None:
            continue
        if key in TOP_LEVEL:
            if key != "resourceGroup":
                out[key] = strip_cli(value)
        else:
            # a property named like an envelope key is printed as e.g. `typePropertiesType` (virtualWans)
            props[RENAMED_BY_CLI.get(key, key)] = strip_cli(value, key)
    if "sku" in out and "sku" not in props and str(obj.get("type") or "").lower() in PROPERTY_SKU_TYPES:
        props["sku"] = out.pop("sku")
    out["properties"] = props
    return out


def strip_cli(value: Any, key: str | None = None) -> Any:
    if isinstance(value, dict):
        if key in CHILD_LISTS and is_flattened(value):
            return unflatten(value)
        if "id" in value and set(value) <= REFERENCE_KEYS:
            return {"id": value["id"]}
        return {
            k: strip_cli(v, k)
            for k, v in value.items()
            if v is not None and not (k == "resourceGroup" and "id" in value)
        }
    if isinstance(value, list):
        if key in CHILD_LISTS:
            return [unflatten(v) if is_child(v, key) else strip_cli(v) for v in value]
        return [strip_cli(v) for v in value]
    return value


def is_child(value: Any, key: str) -> bool:
    """A flattened sub-resource in a child list. Route-table routes always carry an id; Virtual WAN hub
    routes (hubRouteTables, virtualHubs.routeTable) share the key `routes` but have no id and no
    `properties` wrapper in ARM, so they are left as they are."""
    return isinstance(value, dict) and is_flattened(value) and (key != "routes" or "id" in value)


def is_cli_document(obj: dict[str, Any]) -> bool:
    """az CLI output with `properties` kept nested (`az cognitiveservices account show`): the CLI adds
    `resourceGroup` at the top, as Resource Graph rows do, but no subscriptionId / tenantId column."""
    return "resourceGroup" in obj and "subscriptionId" not in obj and "tenantId" not in obj


def canonical(obj: dict[str, Any]) -> dict[str, Any]:
    """The canonical record: id, lower-case type, kept envelope keys that carry a value, properties."""
    if is_flattened(obj):
        obj = unflatten(obj)
    elif is_cli_document(obj) and isinstance(obj.get("properties"), dict):
        obj = {**obj, "properties": strip_cli(obj["properties"])}
    rec: dict[str, Any] = {"id": obj["id"], "type": obj["type"].lower()}
    for key in KEPT:
        value = obj.get(key)
        if value not in (None, "", {}, []):
            rec[key] = value
    props = obj.get("properties")
    rec["properties"] = props if props is not None else {}
    return rec


def extract_children(rec: dict[str, Any]) -> list[dict[str, Any]]:
    """Split nested children off a canonical parent record; returns the children as records."""
    spec = EXTRACTED_CHILDREN.get(rec["type"])
    props = rec["properties"]
    if not spec or not isinstance(props, dict):
        return []
    children: list[dict[str, Any]] = []
    taken = False
    for prop, child_type in spec:
        items = props.get(prop)
        if items is not None and not isinstance(items, list):
            # reported against the parent: a route table whose routes cannot be read is not "no routes"
            children.append(
                {"__invalid_child__": items, "parent": rec["id"], "prop": prop, "not_a_list": True}
            )
            continue
        if not isinstance(items, list):
            continue
        if not taken:
            rec["properties"] = props = dict(props)
            taken = True
        del props[prop]
        for item in items:
            if not isinstance(item, dict) or not isinstance(item.get("id"), str):
                # kept for the estate builder to report against the parent
                children.append({"__invalid_child__": item, "parent": rec["id"], "prop": prop})
                continue
            child = {"id": item["id"], "type": child_type}
            if item.get("name"):
                child["name"] = item["name"]
            if item.get("etag") is not None:
                pass
            child_props = item.get("properties")
            if child_props is None and is_flattened(item):
                child_props = unflatten(item)["properties"]
            child["properties"] = child_props if child_props is not None else {}
            children.append(child)
    return children


def leaves(value: Any) -> int:
    if isinstance(value, dict):
        return sum(leaves(v) for v in value.values())
    if isinstance(value, list):
        return sum(leaves(v) for v in value)
    return 1


def fold(value: Any, key: str | None = None) -> Any:
    """Comparison form: ids and types compare case-insensitively; empty values equal absent ones."""
    if isinstance(value, dict):
        return {k: fold(v, k) for k, v in value.items() if v not in (None, "", {}, [])}
    if isinstance(value, list):
        return [fold(v) for v in value]
    if isinstance(value, str) and key in ("id", "type"):
        return value.lower()
    return value


def subsumes(big: Any, small: Any) -> bool:
    """True when every value in `small` is present and equal in `big` (both folded)."""
    if isinstance(small, dict):
        return isinstance(big, dict) and all(k in big and subsumes(big[k], v) for k, v in small.items())
    if isinstance(small, list):
        if not isinstance(big, list) or len(big) != len(small):
            return False
        return all(subsumes(b, s) for b, s in zip(big, small, strict=True))
    return big == small


def merge(existing: dict[str, Any], incoming: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """Keep the richer copy; report a conflict when neither copy contains the other."""
    a, b = fold(existing), fold(incoming)
    if a == b or subsumes(a, b):
        return existing, False
    if subsumes(b, a):
        return incoming, False
    return (incoming if leaves(b) > leaves(a) else existing), True
