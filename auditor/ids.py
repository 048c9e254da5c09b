"""Azure resource ids: one comparison key, and names, parents and types read one way.

An estate names every resource by its ARM id (`/subscriptions/{s}/resourceGroups/{g}/providers/{ns}/
{type}/{name}[/{child type}/{child name}...]`), and resources refer to one another by id. The same
resource comes back cased differently from different APIs (`resourceGroups` / `resourcegroups`,
`MyVnet` / `myvnet`): Azure resource and resource group names are case-insensitive, and returned names
may differ in case from what was specified, so Microsoft asks callers to "always perform a
case-insensitive comparison of names"
(https://learn.microsoft.com/azure/azure-resource-manager/management/resource-name-rules). So an id is
kept as found, for display, and compared through `key`.

Foundation module (imports nothing from auditor): every stage, from collection to the reports, reads ids.

Cost. `key`, `name_of`, `record_name` and `parent_of` run on hot paths (the estate build, the routing
engine, the flow analysis and the rules call `key` about 2.7 million times on tests/bench/scale.py's
10k-subnet estate), so they are plain string operations in plain functions. azure-mgmt-core's parser
(`parse_resource_id`, `is_valid_resource_id`) is imported lazily, by `ResourceId.parse` and
`is_resource_id` only: importing it loads azure.core (about 75 ms and 16 MB, measured), which an
offline audit otherwise never loads (`import auditor.cli` loads no Azure SDK, tests/bench/startup.py).
`type_of`, which the audit calls (ingest, NET001, NET002), therefore reads the text itself; tests/
test_ids.py checks it against `parse_resource_id` on every id of the demo estate and on edge cases.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "ResourceId",
    "is_resource_id",
    "key",
    "name_of",
    "parent_of",
    "qualified_name",
    "record_name",
    "type_of",
]


def key(rid: str) -> str:
    """The one comparison key of a resource id: estate dicts are keyed by it, ids compared through it.

    Lower case, because ARM ids are case-insensitive (module docstring) and the same resource arrives
    cased differently from Resource Graph, ARM GETs, az CLI and log tables. Nothing else is normalised
    (a trailing "/" is kept): the key of the id as found, so two casings of one id meet and no other
    spelling is guessed at.
    """
    return rid.lower()


def name_of(rid: str) -> str:
    """The last segment of an id, its resource's name: `.../subnets/snet-pe` -> `snet-pe`.

    A trailing "/" is tolerated (`.../snet-pe/` -> `snet-pe`); text with no "/" is its own name; "" for
    "". For display and for records that carry no `name` (`record_name`, where a record's own `name`
    wins). Text only: the name of a child resource is its own, not its parent's.
    """
    return rid.rstrip("/").rsplit("/", 1)[-1]


def qualified_name(rid: str) -> str:
    """A resource's name with its parents', as ARM names child resources: `.../virtualNetworks/vnet-a/
    subnets/snet-pe` -> `vnet-a/snet-pe`, `.../routeTables/rt-x/routes/route-y` -> `rt-x/route-y`; a
    top-level resource's own name. Two subnets called snet-pe in different VNets read apart. Read after
    the last `/providers/` (any case), so an extension resource is named with its own parents only. Text
    that is no resource id (`on-premises`) is its own name (`name_of`). For display: reports, plans and
    whatif's reasons name resources this way."""
    trimmed = rid.rstrip("/")
    at = trimmed.lower().rfind("/providers/")
    parts = trimmed[at + len("/providers/") :].split("/") if at >= 0 else []
    if len(parts) < 3 or len(parts) % 2 == 0 or not all(parts):
        return name_of(rid) or rid
    return "/".join(parts[2::2])


def record_name(rec: Mapping[str, Any]) -> Any:
    """A record's name: its `name` when it has a non-empty one, else the last segment of its `id`.

    ARM documents of child resources (routes, subnets, rules) sometimes omit `name`; the id carries
    it. The `name` is returned as found (typed Any, like the record's other values).
    """
    return rec.get("name") or name_of(rec["id"])


def parent_of(rid: str, levels: int = 1) -> str:
    """The id `levels` resources up: `.../virtualNetworks/v/subnets/s` -> `.../virtualNetworks/v`.

    One level is one `{type}/{name}` pair, so this drops 2 * levels segments (text only: it runs once
    per child record in the estate build). A trailing "/" is tolerated, as in `name_of`. It does not
    stop at the provider: "up" from a top-level resource is not a resource id (`ResourceId.parent` is
    None there).
    """
    return rid.rstrip("/").rsplit("/", 2 * levels)[0]


def type_of(rid: str) -> str:
    """The lower-case full type of the resource an id names: `microsoft.network/virtualnetworks/subnets`.

    The provider namespace after the last `/providers/` (any case), then every type segment after it:
    for an extension resource (`.../storageAccounts/sa/providers/Microsoft.Insights/diagnosticSettings/
    d`) that is the extension's own type, as `parse_resource_id` reads it too; tenant and
    management-group scoped ids (`/providers/Microsoft.Management/managementGroups/mg`, which
    `parse_resource_id` does not read) get theirs. "" when the text names no type: no `/providers/`
    (a name, an address, a subscription or resource group id), or a type without a name or a stray
    segment after it. Text only, not `parse_resource_id` (see the module docstring: the audit calls it).
    """
    _head, sep, tail = key(rid).rpartition("/providers/")
    if not sep:
        return ""
    parts = tail.strip("/").split("/")
    if len(parts) < 3 or len(parts) % 2 == 0:
        return ""
    return "/".join([parts[0], *parts[1::2]])


def is_resource_id(text: str) -> bool:
    """Whether text is a well-formed subscription-scoped ARM resource id: azure-mgmt-core's
    `is_valid_resource_id`, which parses the id, rebuilds it and compares the two case-insensitively
    (so a trailing "/", a type without a name or a tenant-scoped id is not one)."""
    from azure.mgmt.core.tools import is_valid_resource_id  # lazy: loads azure.core (module docstring)

    return bool(text) and is_valid_resource_id(text)


def _type(parts: Mapping[str, Any]) -> str:
    """The full type from `parse_resource_id`'s parts (the last provider's namespace and the types after it)."""
    namespace, types = parts["namespace"], [parts["type"]]
    for level in range(1, (parts.get("last_child_num") or 0) + 1):
        child_namespace = parts.get(f"child_namespace_{level}")
        if child_namespace:  # an extension resource: its type starts again at its own provider
            namespace, types = child_namespace, []
        types.append(parts[f"child_type_{level}"])
    return "/".join([namespace, *types]).lower()


def _segments(parts: Mapping[str, Any]) -> int:
    """How many "/"-separated segments `parse_resource_id` read: a complete id has no others."""
    count = 4 if parts.get("resource_group") else 2  # subscriptions/{s}[/resourceGroups/{g}]
    count += 4  # providers/{ns}/{type}/{name}
    for level in range(1, (parts.get("last_child_num") or 0) + 1):
        count += 4 if parts.get(f"child_namespace_{level}") else 2
    return count


@dataclass(frozen=True, slots=True)
class ResourceId:
    """An id read into its parts by azure-mgmt-core's `parse_resource_id`, for code that needs several
    of them at once (live collection: the subscription, resource group and name an SDK call takes).

    `text` is the id as found and `key` its comparison key (`key`); `subscription`, `resource_group`,
    `namespace` (the provider of `type`: an extension resource's own) and `name` are spelled as in the
    id; `type` is the lower-case full type (as `type_of`); `parent` is the id of the resource this one
    belongs to (a child's parent, the resource an extension resource extends), None for a top-level one.
    """

    text: str
    key: str
    subscription: str
    resource_group: str | None  # None for a subscription-level resource
    namespace: str
    type: str
    name: str
    parent: str | None

    @classmethod
    def parse(cls, text: str) -> ResourceId | None:
        """The parts of a subscription-scoped resource id (a trailing "/" tolerated), or None when
        `parse_resource_id` does not read the whole text as one: not an ARM id, a type without a name, a
        stray segment (the parser reads a leading match and would ignore the rest), a tenant-scoped id."""
        from azure.mgmt.core.tools import parse_resource_id  # lazy: loads azure.core (module docstring)

        if not text:
            return None
        parts: Mapping[str, Any] = parse_resource_id(text)
        if "namespace" not in parts or text.rstrip("/").count("/") != _segments(parts):
            return None
        last = parts.get("last_child_num")
        namespace = parts["namespace"]
        for level in range(1, (last or 0) + 1):
            namespace = parts.get(f"child_namespace_{level}") or namespace
        parent = None
        if last:
            drop = 4 if parts.get(f"child_namespace_{last}") else 2
            parent = text.rstrip("/").rsplit("/", drop)[0]
        return cls(
            text=text,
            key=key(text),
            subscription=str(parts["subscription"]),
            resource_group=str(parts["resource_group"]) if parts.get("resource_group") else None,
            namespace=str(namespace),
            type=_type(parts),
            name=str(parts["resource_name"]),
            parent=parent,
        )
