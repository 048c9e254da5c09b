"""Change sets: proposed edits to an estate, applied in memory before the model is built.

A change set is a list of changes keyed by resource id (auditor/schemas/changeset.schema.json,
docs/whatif.md). The edits are made to the canonical records the estate is built from (after ingest
has split nested children such as subnets and routes into records of their own), so a change
to a subnet, a route or a tag is seen by every later stage exactly as if the export had said it. So
an added resource is split as an export is (a route table's inline routes become route records), and
a change to a subnet's route table or NSG is made on the other side too (the table or NSG that lists
the subnet in `properties.subnets`), since the estate build reads both sides.

A change that names no resource of the estate, or a property path that does not exist on that
resource type, is a usage error naming the change: a typo must never look like a harmless change.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from auditor.errors import UsageError
from auditor.ids import key, qualified_name
from auditor.ingest.normalize import EXTRACTED_CHILDREN, canonical, extract_children
from auditor.packaged import PACKAGE_DIR
from auditor.report.plan_text import PLAN_SCHEMA
from auditor.safetext import terminal

SCHEMA_FILE = PACKAGE_DIR / "schemas" / "changeset.schema.json"
ROUTE_TYPE = "microsoft.network/routetables/routes"
SUBNET_TYPE = "microsoft.network/virtualnetworks/subnets"
# A subnet's association (its property) and the resource type that lists the subnet back in its own
# `properties.subnets`. The estate build reads both sides (auditor/estate/build.py `link`), so a change
# to one side is made to the other too, as an export after the change would show it.
ASSOCIATIONS = (
    ("routeTable", "microsoft.network/routetables"),
    ("networkSecurityGroup", "microsoft.network/networksecuritygroups"),
)

# Property paths a change may set on a resource type even where the export leaves them out (ARM omits
# unset properties). Any other path must already exist on the resource.
SETTABLE: dict[str, tuple[str, ...]] = {
    "microsoft.network/virtualnetworks/subnets": (
        "properties.privateEndpointNetworkPolicies",
        "properties.routeTable",
        "properties.networkSecurityGroup",
    ),
    "microsoft.network/networkinterfaces": ("properties.enableIPForwarding",),
    "microsoft.network/firewallpolicies": (
        "properties.snat",
        "properties.snat.privateRanges",
        "properties.snat.autoLearnPrivateRanges",
        "properties.dnsSettings",
        "properties.dnsSettings.enableProxy",
    ),
    "microsoft.network/azurefirewalls": ("properties.additionalProperties",),
    "microsoft.network/routetables": ("properties.disableBgpRoutePropagation",),
    "microsoft.network/virtualnetworks/virtualnetworkpeerings": (
        "properties.allowForwardedTraffic",
        "properties.allowVirtualNetworkAccess",
        "properties.allowGatewayTransit",
        "properties.useRemoteGateways",
    ),
    "microsoft.cognitiveservices/accounts": (
        "properties.disableLocalAuth",
        "properties.publicNetworkAccess",
        "properties.networkAcls",
        "properties.networkAcls.defaultAction",
        "properties.networkAcls.ipRules",
        "properties.customSubDomainName",
    ),
}


@dataclass(frozen=True)
class Change:
    """One edit. `where` names it in errors and reports ("changes.json change 2", "--tag")."""

    where: str
    resource_id: str = ""
    tags: dict[str, str | None] = field(default_factory=dict)
    set: dict[str, Any] = field(default_factory=dict)
    unset: tuple[str, ...] = ()
    add_route: dict[str, Any] | None = None
    remove_route: str | None = None
    add: dict[str, Any] | None = None
    reason: str = ""

    def describe(self) -> str:
        """One line a change ticket can carry."""
        name = qualified_name(self.resource_id) if self.resource_id else ""
        parts = [f"tag {k}={v}" if v is not None else f"remove tag {k}" for k, v in sorted(self.tags.items())]
        parts += [f"set {p}={json.dumps(v)}" for p, v in sorted(self.set.items())]
        parts += [f"unset {p}" for p in self.unset]
        if self.add_route is not None:
            r = self.add_route
            hop = r.get("nextHopType", "")
            ip = f" {r['nextHopIpAddress']}" if r.get("nextHopIpAddress") else ""
            parts.append(f"add route {r.get('name')} {r.get('addressPrefix')} -> {hop}{ip}")
        if self.remove_route is not None:
            parts.append(f"remove route {self.remove_route}")
        if self.add is not None:
            return f"add {self.add.get('type')} {qualified_name(str(self.add.get('id') or '')) or self.add.get('name')}"
        return f"{name}: {', '.join(parts)}"


@cache
def _validator() -> Any:
    from jsonschema import Draft202012Validator

    return Draft202012Validator(json.loads(SCHEMA_FILE.read_text(encoding="utf-8")))


def parse_changes(doc: Any, source: str) -> list[Change]:
    """A change-set document (already parsed JSON/YAML) -> changes; invalid: one-line UsageError."""
    errors = sorted(_validator().iter_errors(doc), key=lambda e: [str(p) for p in e.absolute_path])
    if errors:
        err = errors[0]
        path = list(err.absolute_path)
        if err.validator == "oneOf":
            err.message = (
                "a change has an `id` and at least one of tags, set, unset, add_route, remove_route; "
                "or only `add` with a whole resource"
            )
        where = f"change {path[1] + 1}" if len(path) >= 2 and path[0] == "changes" else "(top level)"
        field_path = ".".join(str(p) for p in path[2:])
        raise UsageError(f"{source}: {where}{': ' + field_path if field_path else ''}: {err.message}")
    out = []
    for i, c in enumerate(doc["changes"], 1):
        out.append(
            Change(
                where=f"{source} change {i}",
                resource_id=c.get("id", ""),
                tags=dict(c.get("tags") or {}),
                set=dict(c.get("set") or {}),
                unset=tuple(c.get("unset") or ()),
                add_route=c.get("add_route"),
                remove_route=c.get("remove_route"),
                add=c.get("add"),
                reason=c.get("reason", ""),
            )
        )
    return out


def load_changes(path: Path) -> list[Change]:
    """Read a change file (JSON, or YAML by its ending)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: cannot read the change file ({exc.__class__.__name__})") from None
    try:
        if path.suffix.lower() in (".yaml", ".yml"):
            import yaml

            doc = yaml.safe_load(text)
        else:
            doc = json.loads(text)
    except ValueError as exc:  # json.JSONDecodeError and yaml.YAMLError's text
        raise UsageError(f"{path}: not a change set: {str(exc).splitlines()[0]}") from None
    except Exception as exc:  # yaml.YAMLError
        raise UsageError(f"{path}: not a change set: {str(exc).splitlines()[0]}") from None
    if isinstance(doc, dict) and doc.get("schema") == PLAN_SCHEMA:
        return plan_document_changes(doc, str(path))
    return parse_changes(doc, str(path))


def edit_signature(change: Any) -> str:
    """Two findings, one fix (the NIC tag resolves NET001 and NET002): the same edit whatever its reason,
    made once."""
    if isinstance(change, dict):
        change = {k: v for k, v in change.items() if k != "reason"}
    return json.dumps(change, sort_keys=True)


def first_fixes(picked: Iterable[tuple[str, str, list[Any]]], source: str = "") -> list[Change]:
    """(rule id, resource id, change-set entries of its first fix) per finding -> the changes, each edit
    once: what `whatif --plan` applies and what `whatif --change plan.json` reads."""
    changes: list[Change] = []
    seen: set[str] = set()
    prefix = f"{source} " if source else ""
    for rule_id, resource_id, entries in picked:
        label = f"{prefix}plan for {terminal(rule_id)} {terminal(qualified_name(resource_id))}"
        for i, entry in enumerate(entries, 1):
            sig = edit_signature(entry)
            if sig not in seen:
                seen.add(sig)
                changes += parse_changes({"changes": [entry]}, f"{label} ({i})")
    return changes


def plan_document_changes(doc: dict[str, Any], source: str) -> list[Change]:
    """A pathaudit/plan@1 document (`pathaudit plan --format json`) as the change set `whatif --plan` would
    apply: the first fix with changes of each plan."""
    plans = doc.get("plans")
    if not isinstance(plans, list) or not all(
        isinstance(p, dict) and isinstance(p.get("fixes"), list) for p in plans
    ):
        raise UsageError(f"{source}: a {PLAN_SCHEMA} document needs `plans`, each with a `fixes` list")
    picked = []
    for item in plans:
        fix = next(
            (
                f
                for f in item["fixes"]
                if isinstance(f, dict) and isinstance(f.get("changes"), list) and f["changes"]
            ),
            None,
        )
        if fix is not None:
            picked.append((str(item.get("rule_id")), str(item.get("resource_id") or ""), fix["changes"]))
    changes = first_fixes(picked, source)
    if not changes:
        raise UsageError(
            f"{source}: no plan of this {PLAN_SCHEMA} document has a fix a change set can express"
        )
    return changes


def parse_value(text: str) -> Any:
    """`--set ID PATH=VALUE`: JSON when it parses (true, 3, ["a"]), else the string itself."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def short_form(kind: str, resource_id: str, assignment: str) -> Change:
    """`--tag ID KEY=VALUE` and `--set ID PATH=VALUE` as changes."""
    name, sep, value = assignment.partition("=")
    if not sep or not name:
        raise UsageError(f"--{kind} {resource_id} {assignment!r}: expected KEY=VALUE")
    if kind == "tag":
        return Change(where=f"--tag {name}", resource_id=resource_id, tags={name: value})
    return Change(where=f"--set {name}", resource_id=resource_id, set={name: parse_value(value)})


def _exists(rec: dict[str, Any], path: str) -> bool:
    node: Any = rec
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


def _set(rec: dict[str, Any], path: str, value: Any) -> None:
    parts = path.split(".")
    node = rec
    for part in parts[:-1]:
        nxt = node.get(part)
        if not isinstance(nxt, dict):
            nxt = node[part] = {}
        node = nxt
    node[parts[-1]] = copy.deepcopy(value)


def _unset(rec: dict[str, Any], path: str) -> None:
    parts = path.split(".")
    node: Any = rec
    for part in parts[:-1]:
        node = node.get(part) if isinstance(node, dict) else None
    if isinstance(node, dict):
        node.pop(parts[-1], None)


def _settable(rtype: str, path: str) -> bool:
    return any(path == p or path.startswith(p + ".") for p in SETTABLE.get(rtype, ()))


def _ref_key(value: Any) -> str | None:
    """An ARM reference `{"id": ...}` (or a bare id string), as the estate build reads it -> key."""
    if isinstance(value, dict):
        value = value.get("id")
    return key(value) if isinstance(value, str) and value else None


def _added_records(change: Change) -> list[dict[str, Any]]:
    """The canonical records of an added resource: the resource and its nested children (a route
    table's routes, an NSG's security rules, a VNet's subnets), split as ingest splits an export
    (auditor/ingest/normalize.py). A child written without an id (as in an ARM template) gets the one
    ARM gives it, `<parent id>/<list>/<name>`."""
    where = f"{change.where}: add"
    row = copy.deepcopy(change.add or {})
    props = row.get("properties")
    if props is not None and not isinstance(props, dict):
        raise UsageError(f"{where}: properties: expected an object, got {type(props).__name__}")
    rec = canonical(row)
    parent = rec["id"].rstrip("/")
    for prop, _child_type in EXTRACTED_CHILDREN.get(rec["type"], ()):
        items = rec["properties"].get(prop)
        if items is None:
            continue
        if not isinstance(items, list):
            raise UsageError(f"{where}: properties.{prop}: expected a list, got {type(items).__name__}")
        for i, item in enumerate(items):
            field = f"properties.{prop}[{i}]"
            if not isinstance(item, dict):
                raise UsageError(f"{where}: {field}: expected an object, got {type(item).__name__}")
            if not isinstance(item.get("id"), str) or not item["id"]:
                name = item.get("name")
                if not isinstance(name, str) or not name:
                    raise UsageError(f"{where}: {field}: a child needs an `id` or a `name`")
                item["id"] = f"{parent}/{prop}/{name}"
            elif key(item["id"].rstrip("/").rsplit("/", 1)[0]) != key(f"{parent}/{prop}"):
                raise UsageError(f"{where}: {field}: {item['id']} is not a child of {rec['id']}")
    children = extract_children(rec)
    seen: set[str] = set()
    for child in children:
        if key(child["id"]) in seen:
            raise UsageError(f"{where}: {child['id']} is given twice")
        seen.add(key(child["id"]))
    return [rec, *children]


def apply_changes(
    records: dict[str, dict[str, Any]], files: dict[str, str], changes: list[Change]
) -> set[str]:
    """Apply `changes` to the canonical records in place (each touched record is copied first, so the
    records of the estate before the change are untouched). Returns the keys of the changed records."""
    touched: set[str] = set()

    def own(k: str) -> dict[str, Any]:
        if k not in touched:
            records[k] = copy.deepcopy(records[k])
            touched.add(k)
        return records[k]

    # keys of the route tables and NSGs, found on the first change to a subnet's association
    listing: dict[str, list[str]] = {}

    def associate(k: str, prop: str, list_type: str) -> None:
        """Subnet `k` is associated with what its `properties.<prop>` names (or nothing): every other
        `list_type` record stops listing it in `properties.subnets`, and the one it names lists it."""
        if not listing:
            for rtype in (t for _, t in ASSOCIATIONS):
                listing[rtype] = []
            for rk, rec in records.items():
                if rec.get("type") in listing:
                    listing[rec["type"]].append(rk)
        subnet = records[k]
        props = subnet.get("properties")
        new = _ref_key(props.get(prop)) if isinstance(props, dict) else None
        for rk in listing[list_type]:
            if rk == new:
                continue
            props = records[rk].get("properties")
            named = props.get("subnets") if isinstance(props, dict) else None
            if isinstance(named, list) and any(_ref_key(s) == k for s in named):
                own(rk)["properties"]["subnets"] = [s for s in named if _ref_key(s) != k]
        target = records.get(new) if new is not None else None
        if new is not None and target is not None and target.get("type") == list_type:
            props = target.get("properties")
            named = props.get("subnets") if isinstance(props, dict) else None
            if named is None or (isinstance(named, list) and all(_ref_key(s) != k for s in named)):
                rec = own(new)
                if not isinstance(rec.get("properties"), dict):
                    rec["properties"] = {}
                rec["properties"]["subnets"] = [*(named or []), {"id": subnet["id"]}]

    for change in changes:
        if change.add is not None:
            added = _added_records(change)
            for rec in added:
                if key(rec["id"]) in records:
                    raise UsageError(f"{change.where}: add: {rec['id']} already exists in the estate")
            for rec in added:
                k = key(rec["id"])
                records[k] = rec
                files[k] = change.where
                touched.add(k)
                if rec["type"] in listing:
                    listing[rec["type"]].append(k)
            for rec in added:
                if rec["type"] == SUBNET_TYPE:
                    for prop, list_type in ASSOCIATIONS:
                        if _ref_key(rec["properties"].get(prop)) is not None:
                            associate(key(rec["id"]), prop, list_type)
            continue
        k = key(change.resource_id)
        if k not in records:
            raise UsageError(f"{change.where}: no resource {change.resource_id} in the estate")
        rtype = records[k]["type"]
        for path in [*change.set, *change.unset]:
            if not path.startswith(("properties.", "tags.")) and path not in ("tags",):
                raise UsageError(f"{change.where}: {path}: only properties.* and tags.* can be changed")
            if not _exists(records[k], path) and not _settable(rtype, path) and not path.startswith("tags."):
                settable = ", ".join(SETTABLE.get(rtype, ())) or "none beyond what the export holds"
                raise UsageError(f"{change.where}: {path} does not exist on {rtype} (settable: {settable})")
        if (
            change.add_route is not None or change.remove_route is not None
        ) and rtype != "microsoft.network/routetables":
            raise UsageError(
                f"{change.where}: routes are added to and removed from route tables, not {rtype}"
            )
        if change.tags:
            rec = own(k)
            tags = dict(rec.get("tags") or {})
            for name, value in change.tags.items():
                if value is None:
                    tags.pop(name, None)
                else:
                    tags[name] = str(value)
            rec["tags"] = tags
        for path, value in change.set.items():
            _set(own(k), path, value)
        for path in change.unset:
            _unset(own(k), path)
        if rtype == SUBNET_TYPE:
            for prop, list_type in ASSOCIATIONS:
                p = f"properties.{prop}"
                if any(x == p or x.startswith(p + ".") for x in [*change.set, *change.unset]):
                    associate(k, prop, list_type)
        if change.add_route is not None:
            route = change.add_route
            rid = f"{records[k]['id'].rstrip('/')}/routes/{route['name']}"
            rk = key(rid)
            if rk in records:
                raise UsageError(f"{change.where}: add_route: route {route['name']} already exists")
            props = {p: v for p, v in route.items() if p != "name"}
            records[rk] = {"id": rid, "name": route["name"], "type": ROUTE_TYPE, "properties": props}
            files[rk] = change.where
            touched.add(rk)
        if change.remove_route is not None:
            rk = key(f"{records[k]['id'].rstrip('/')}/routes/{change.remove_route}")
            if rk not in records:
                raise UsageError(
                    f"{change.where}: remove_route: no route {change.remove_route} in that table"
                )
            del records[rk]
            touched.add(rk)
    return touched
