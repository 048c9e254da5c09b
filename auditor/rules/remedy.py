"""Remediation plans: what a rule proposes to fix one of its findings, as change sets `whatif` can try.

A rule's check.py may define `fixes(finding, ctx) -> list[Fix]` (finding: the findings-document dict,
ctx: the AuditContext of the audit that produced it). Fixes come smallest blast radius first: the
first one is what `pathaudit whatif --plan` applies. Each carries the change set (docs/whatif.md),
the az CLI command and the Bicep property beside it, and the side effects the model can see. A fix
ARM cannot express (SNAT configured inside a vendor NVA) is expressed as the pathaudit.toml
declaration that models it, and says so; a finding nothing can fix mechanically says why.

Every fix that changes traffic says what it costs (`side_effects`): who loses access, which flows
move through which appliance, what a log stops showing, what needs a maintenance window.

Bicep: one snippet per resource the fix changes, each headed by a `//` comment naming the resource,
values written as Bicep writes them (https://learn.microsoft.com/azure/azure-resource-manager/bicep/
data-types): strings single-quoted with `\\`, `'`, `${` and control characters escaped, booleans,
integers and null bare, objects and arrays one property or item a line with no commas. A snippet is
the fragment to merge into the resource's declaration, as `az` merges tags.

az: one command a line for a POSIX shell (the az docs write bash), built by `az_command`: every
argument goes through `shlex.quote`, so a resource id, tag key or value, or JSON value holding `$(...)`,
backticks, `;`, quotes, spaces or newlines stays one argument when the line is pasted, and
`shlex.split` gives back exactly the values the change set holds. `--set path=value` is one argument
whose value is JSON (az parses it as JSON when it can, so strings stay strings: `'x="true"'`).
"""

from __future__ import annotations

import json
import re
import shlex
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

# re-exported: the rules' fixes() name resources through remedy (the helpers are auditor.ids's)
from auditor.ids import name_of as name_of
from auditor.ids import qualified_name as qualified_name

if TYPE_CHECKING:
    from auditor.paths.appliances import Appliance
    from auditor.rules.context import AuditContext


@dataclass(frozen=True)
class Fix:
    title: str
    changes: tuple[dict[str, Any], ...] = ()  # change-set entries (auditor/schemas/changeset.schema.json)
    az: tuple[str, ...] = ()  # the same change as az CLI commands
    bicep: str = ""  # ... and as Bicep: one `// id` headed snippet per resource (bicep())
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


# --- az -----------------------------------------------------------------------------------------------


def az_command(command: str, options: dict[str, str | Sequence[str]]) -> str:
    """`az {command}` (words of this module's own) with its options, each option's value or values
    quoted for a POSIX shell: `shlex.split` of the line gives back every value exactly, as one argument."""
    words = ["az", *command.split()]
    for option, value in options.items():
        words += [option, *([value] if isinstance(value, str) else value)]
    return shlex.join(words)


def az_set(path: str, value: Any) -> str:
    """The `--set` argument setting the dotted `path` to `value`, as JSON (compact, ASCII: a non-ASCII
    or invisible character is a `\\uXXXX` escape az decodes)."""
    return f"{path}={json.dumps(value, separators=(',', ':'))}"


def tag_command(rid: str, tags: dict[str, str]) -> str:
    """`az tag update` merging `tags` into the resource's tags (one `key=value` argument a tag)."""
    pairs = [f"{k}={v}" for k, v in tags.items()]
    return az_command("tag update", {"--resource-id": rid, "--operation": "Merge", "--tags": pairs})


def untag_command(rid: str, keys: Sequence[str]) -> str:
    """`az tag update` deleting the tags named `keys` (by name, whatever their value)."""
    return az_command("tag update", {"--resource-id": rid, "--operation": "Delete", "--tags": keys})


# --- Bicep --------------------------------------------------------------------------------------------

_BICEP_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_BICEP_ESCAPES = {"\\": "\\\\", "'": "\\'", "\n": "\\n", "\r": "\\r", "\t": "\\t"}
_UNSEEN = ("Cc", "Cf", "Cs", "Zl", "Zp")  # control, format (bidi overrides), surrogate, line/paragraph


def bicep_string(value: str) -> str:
    """A Bicep string literal: single quotes; `\\` and `'` escaped, `${` (interpolation) as `\\${`, line
    breaks and tabs as `\\n` `\\r` `\\t`, any other control or invisible character as `\\u{X}`."""
    out = []
    for i, ch in enumerate(value):
        if ch in _BICEP_ESCAPES:
            out.append(_BICEP_ESCAPES[ch])
        elif ch == "$" and value.startswith("{", i + 1):
            out.append("\\$")
        elif unicodedata.category(ch) in _UNSEEN:
            out.append(f"\\u{{{ord(ch):X}}}")
        else:
            out.append(ch)
    return "'" + "".join(out) + "'"


def bicep_key(name: str) -> str:
    """An object property name: bare when it is an identifier, else a string (`'Network.SNAT.PrivateRanges'`)."""
    return name if _BICEP_IDENTIFIER.match(name) else bicep_string(name)


def bicep_value(value: Any, level: int = 0) -> str:
    """A JSON value as a Bicep expression; objects and arrays span lines, indented two spaces a level."""
    inner, outer = "  " * (level + 1), "  " * level
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):  # Bicep has integers only: a decimal goes through json()
        return f"json({bicep_string(json.dumps(value))})"
    if isinstance(value, dict):
        if not value:
            return "{}"
        rows = [f"{inner}{bicep_key(str(k))}: {bicep_value(v, level + 1)}" for k, v in value.items()]
        return "{\n" + "\n".join(rows) + f"\n{outer}}}"
    if isinstance(value, (list, tuple)):
        if not value:
            return "[]"
        rows = [f"{inner}{bicep_value(v, level + 1)}" for v in value]
        return "[\n" + "\n".join(rows) + f"\n{outer}]"
    return bicep_string(str(value))


def bicep(rid: str, path: str, value: Any) -> str:
    """The snippet setting the dotted `path` (`properties.snat.privateRanges`, `tags`) to `value` on the
    resource `rid`, headed by a comment naming the resource (one line, whatever the id holds)."""
    head, *rest = path.split(".")
    for part in reversed(rest):
        value = {part: value}
    label = "".join(ch if unicodedata.category(ch) not in _UNSEEN else " " for ch in rid)
    return f"// {' '.join(label.split())}\n{bicep_key(head)}: {bicep_value(value)}"


def tag(rid: str, key: str, value: str, reason: str, side_effects: tuple[str, ...] = ()) -> Fix:
    return Fix(
        title=f"tag {qualified_name(rid)} with {key}={value}",
        changes=({"id": rid, "tags": {key: value}, "reason": reason},),
        az=(tag_command(rid, {key: value}),),
        bicep=bicep(rid, "tags", {key: value}),
        side_effects=side_effects,
    )


def set_property(rid: str, path: str, value: Any, reason: str, side_effects: tuple[str, ...] = ()) -> Fix:
    return Fix(
        title=f"set {path} = {json.dumps(value)} on {qualified_name(rid)}",
        changes=({"id": rid, "set": {path: value}, "reason": reason},),
        az=(az_command("resource update", {"--ids": rid, "--set": az_set(path, value)}),),
        bicep=bicep(rid, path, value),
        side_effects=side_effects,
    )


def combine(title: str, fixes: list[Fix]) -> Fix:
    """Several fixes applied as one: every change, command, snippet and cost, in order (costs once each)."""
    return Fix(
        title=title,
        changes=tuple(c for x in fixes for c in x.changes),
        az=tuple(a for x in fixes for a in x.az),
        bicep="\n".join(x.bicep for x in fixes if x.bicep),
        side_effects=tuple(dict.fromkeys(e for x in fixes for e in x.side_effects)),
    )


def costing(fix: Fix, *costs: str) -> Fix:
    """`fix` with more side effects."""
    return replace(fix, side_effects=fix.side_effects + costs)


def toml_string(value: str) -> str:
    """A TOML basic string (JSON's escapes are TOML's; DEL, which JSON leaves alone, escaped too)."""
    return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")


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
    name = qualified_name(firewall_id)
    if fw is not None and fw.policy_id:
        fix = set_property(fw.policy_id, "properties.snat.privateRanges", ALWAYS_SNAT, reason)
        return Fix(
            title=f"make firewall policy {qualified_name(fw.policy_id)} always SNAT (used by {name})",
            changes=fix.changes,
            az=(
                az_command(
                    "network firewall policy update", {"--ids": fw.policy_id, "--private-ranges": ALWAYS_SNAT}
                ),
            ),
            bicep=fix.bicep,
            side_effects=(SNAT_COST.format(name=name),),
        )
    extra = dict(fw.additional_properties) if fw is not None else {}
    extra["Network.SNAT.PrivateRanges"] = "255.255.255.255/32"
    return Fix(
        title=f"make firewall {name} always SNAT (classic rules: Network.SNAT.PrivateRanges)",
        changes=({"id": firewall_id, "set": {"properties.additionalProperties": extra}, "reason": reason},),
        az=(az_command("network firewall update", {"--ids": firewall_id, "--private-ranges": ALWAYS_SNAT}),),
        bicep=bicep(firewall_id, "properties.additionalProperties", extra),
        side_effects=(SNAT_COST.format(name=name),),
    )


def opt_in(units: list[str], name: str, reason: str) -> Fix:
    """The disableSnatOnPL=true tag on each NVA (NIC or scale set) behind `name`, as one fix."""
    tags = [tag(u, "disableSnatOnPL", "true", reason) for u in units]
    fix = (
        tags[0] if len(tags) == 1 else combine(f"opt {name} in to disableSnatOnPL ({len(units)} NVAs)", tags)
    )
    return replace(fix, side_effects=(TAG_COST.format(name=name),))


def snat_declaration(units: list[str], name: str) -> Fix:
    """SNAT configured on the NVA itself: vendor configuration, declared in pathaudit.toml so audits model it."""
    return Fix(
        title=f"SNAT private-endpoint traffic on {name} itself (vendor configuration) and declare it",
        declaration="\n".join(f"[[appliances]]\nnic = {toml_string(u)}\nsnat = true" for u in units),
        cannot="SNAT inside a vendor NVA is not an Azure resource property: configure it on the appliance, "
        "then declare it in pathaudit.toml so audits model it",
        side_effects=(
            f"flows through {name} to private endpoints are SNATed: the endpoints and their logs see {name}'s "
            "address instead of the client's",
        ),
    )


def nva_opt_in(ctx: AuditContext, app: Appliance, reason: str) -> list[Fix]:
    """An NVA's replies come back when every NVA behind the next hop opts in (disableSnatOnPL=true on
    its NIC or scale set, https://learn.microsoft.com/azure/private-link/private-link-disable-snat) or
    SNATs; the second is vendor configuration, modelled by declaring it in pathaudit.toml."""
    units = sorted(app.units) or sorted(app.nic_ids) or [app.id]
    first = replace(
        opt_in(units, app.name, reason),
        title=f"opt {app.name} in to disableSnatOnPL ({len(units)} NVA{'s' if len(units) > 1 else ''})",
    )
    return [first, snat_declaration(units, app.name)]


def pe_subnet_policies(
    ctx: AuditContext, subnet_id: str, need: str, reason: str, traffic: tuple[str, ...] = ()
) -> Fix:
    """Turn on `need` ("RouteTable" or "NetworkSecurityGroup") in a subnet's
    privateEndpointNetworkPolicies, keeping what is on (https://learn.microsoft.com/azure/private-link/disable-private-endpoint-network-policy).
    `traffic`: what the rule knows the change does to flows (which appliance they now pass), a cost too."""
    subnet = ctx.estate.subnets.get(subnet_id.lower())
    now = subnet.pe_policies if subnet is not None else "Disabled"
    had = {
        "Enabled": {"RouteTable", "NetworkSecurityGroup"},
        "RouteTableEnabled": {"RouteTable"},
        "NetworkSecurityGroupEnabled": {"NetworkSecurityGroup"},
    }.get(now, set())
    has = had | {need}
    value = "Enabled" if len(has) == 2 else f"{need}Enabled"
    where = qualified_name(subnet_id)
    costs = []
    if "NetworkSecurityGroup" in has - had and subnet is not None and subnet.nsg_id:
        from auditor.rules.nsg_effects import cost_line

        costs.append(cost_line(ctx, subnet_id, qualified_name(subnet.nsg_id), where))
    if "RouteTable" in has - had and subnet is not None and subnet.route_table_id:
        costs.append(
            f"the UDRs of {qualified_name(subnet.route_table_id)} start to apply to the private endpoints' routes"
        )
    costs += traffic
    fix = set_property(subnet_id, "properties.privateEndpointNetworkPolicies", value, reason, tuple(costs))
    return Fix(
        title=f"set privateEndpointNetworkPolicies = {value} on subnet {where} (was {now})",
        changes=fix.changes,
        az=(  # by id: the id as the change set holds it, whatever its resource group and VNet are called
            az_command(
                "network vnet subnet update",
                {"--ids": subnet_id, "--private-endpoint-network-policies": value},
            ),
        ),
        bicep=fix.bicep,
        side_effects=fix.side_effects,
    )
