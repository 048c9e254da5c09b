"""`pathaudit plan`'s az commands are for pasting into a POSIX shell: every argument is quoted
(`shlex.quote`), so a resource id or tag holding `$(...)`, backticks, `;`, quotes or newlines stays one
argument, and the commands do what the fix's change set does, on the resources it names."""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
from functools import cache
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from helpers.whatif_cases import estates

from auditor.catalog import load_catalog
from auditor.config import load_config
from auditor.ingest.files import read_inputs
from auditor.report.plan_text import az_line, render_plan
from auditor.rules import remedy
from auditor.safetext import terminal
from auditor.whatif.run import audit_raw, plans

ACCOUNT = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.CognitiveServices/accounts/aoai"
HOSTILE_ID = (
    "/subscriptions/x/resourceGroups/r/providers/Microsoft.Network/networkInterfaces/"
    "n$(touch /tmp/pwned)`id`;rm -rf ~"
)
HOSTILE_SUBNET = (
    "/subscriptions/x/resourceGroups/r g/providers/Microsoft.Network/virtualNetworks/v'n/subnets/"
    "s$(touch /tmp/pwned)\n`id`"
)
HOSTILE_VALUE = "a'b\"c\n$(x)"
NO_ESTATE = SimpleNamespace(estate=SimpleNamespace(subnets={}, firewalls={}))


# --- what the az commands do, read back as a change set --------------------------------------------


def options(words: list[str]) -> dict[str, list[str]]:
    """`--option value...` -> {option: [values]} (every option of these commands takes a value)."""
    out: dict[str, list[str]] = {}
    current = ""
    for w in words:
        if w.startswith("--"):
            current = w
            assert current not in out, f"{current} given twice"
            out[current] = []
        else:
            assert current, f"{w!r} before any option"
            out[current].append(w)
    return out


def az_effect(line: str) -> tuple[str, dict[str, Any]]:
    """(the resource id, what the command changes as change-set keys): `tags` (None deletes a key) or
    `set` (path -> value). A command this does not know fails the test: a new kind of command needs
    reading here."""
    words = shlex.split(line)
    assert words[0] == "az", line
    at = next(i for i, w in enumerate(words) if w.startswith("--"))
    command, opts = " ".join(words[1:at]), options(words[at:])
    if command == "tag update":
        [rid], [op] = opts["--resource-id"], opts["--operation"]
        if op == "Delete":
            return rid, {"tags": dict.fromkeys(opts["--tags"])}
        assert op == "Merge", line
        return rid, {"tags": dict(t.split("=", 1) for t in opts["--tags"])}
    [rid] = opts["--ids"]
    if command == "resource update":
        [expression] = opts["--set"]
        path, value = expression.split("=", 1)
        return rid, {"set": {path: json.loads(value)}}  # az parses the value as JSON when it can
    if command == "network vnet subnet update":
        [value] = opts["--private-endpoint-network-policies"]
        return rid, {"set": {"properties.privateEndpointNetworkPolicies": value}}
    if command == "network firewall policy update":
        return rid, {"set": {"properties.snat.privateRanges": opts["--private-ranges"]}}
    if command == "network firewall update":  # classic rules: one of the firewall's additionalProperties
        return rid, {"set": {"Network.SNAT.PrivateRanges": ",".join(opts["--private-ranges"])}}
    raise AssertionError(f"unknown az command: {line}")


def comparable(change: dict[str, Any]) -> dict[str, Any]:
    """A change-set entry as `az_effect` reads a command (a classic firewall's SNAT ranges, which az
    sets on their own, picked out of the additionalProperties the change set writes whole)."""
    out: dict[str, Any] = {}
    if "tags" in change:
        out["tags"] = change["tags"]
    if "set" in change:
        values = dict(change["set"])
        extra = values.pop("properties.additionalProperties", None)
        if extra is not None:
            values["Network.SNAT.PrivateRanges"] = extra["Network.SNAT.PrivateRanges"]
        out["set"] = values
    return out


def replay(az: tuple[str, ...] | list[str]) -> dict[str, dict[str, Any]]:
    """Every command of a fix applied in order: resource id -> tags and properties it ends with."""
    out: dict[str, dict[str, Any]] = {}
    for line in az:
        rid, effect = az_effect(line)
        now = out.setdefault(rid, {})
        for part, values in effect.items():
            now.setdefault(part, {}).update(values)
    return out


def expected(changes: tuple[dict[str, Any], ...] | list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for c in changes:
        now = out.setdefault(c["id"], {})
        for part, values in comparable(c).items():
            now.setdefault(part, {}).update(values)
    return out


@cache
def estate_fixes() -> list[tuple[str, str, remedy.Fix]]:
    out = []
    for name, paths, display, config_path in estates():
        current = audit_raw(read_inputs(paths, display), load_config(config_path))
        doc = current.document()
        rule_of = {f["fingerprint"]: f["rule_id"] for f in doc["findings"]}
        for fingerprint, fixes in plans(current, doc).items():
            out += [(name, rule_of[fingerprint], fix) for fix in fixes]
    return out


@pytest.mark.parametrize(
    ("name", "paths", "display", "config_path"), estates(), ids=[e[0] for e in estates()]
)
def test_every_planned_az_command_does_what_its_change_set_does(name, paths, display, config_path) -> None:
    fixes = [(rule, fix) for estate, rule, fix in estate_fixes() if estate == name]
    for rule, fix in fixes:
        if not fix.changes:
            assert not fix.az, (name, rule, fix.title)
            continue
        assert fix.az, (name, rule, fix.title)
        for line in fix.az:
            assert shlex.join(shlex.split(line)) == line  # every argument quoted as shlex.quote does
        assert {az_effect(line)[0] for line in fix.az} == {c["id"] for c in fix.changes}, (name, rule)
        assert replay(fix.az) == expected(fix.changes), (name, rule, fix.title, fix.az)


def test_the_estates_have_fixes_of_every_kind() -> None:
    commands = {" ".join(shlex.split(a)[1:3]) for _, _, fix in estate_fixes() for a in fix.az}
    assert {"resource update", "tag update", "network vnet", "network firewall"} <= commands
    rules = {rule for _, rule, fix in estate_fixes() if fix.az}
    assert {"AOAI001", "AOAI002", "NET001", "NET002", "NET004", "NET005", "NET006"} <= rules


def test_wrong_case_tag_is_deleted_then_the_exact_key_merged() -> None:
    """NET003's fix for a mis-cased key: the change set removes it and adds `disableSnatOnPL`, and so do
    the az commands, in that order (Azure compares tag names case-insensitively)."""
    module = load_catalog()["NET003"].module()
    nic = "/subscriptions/s/resourceGroups/g/providers/Microsoft.Network/networkInterfaces/nic-nva"
    estate = SimpleNamespace(
        records={nic.lower(): {"tags": {"DisableSnatOnPl": "true", "owner": "net"}}},
        firewalls={},
        hub_nvas={},
    )
    [fix] = module.fixes({"resource_id": nic}, SimpleNamespace(estate=estate))
    assert fix.changes[0]["tags"] == {"DisableSnatOnPl": None, "disableSnatOnPL": "true"}
    assert [shlex.split(a)[4:] for a in fix.az] == [
        [nic, "--operation", "Delete", "--tags", "DisableSnatOnPl"],
        [nic, "--operation", "Merge", "--tags", "disableSnatOnPL=true"],
    ]
    assert replay(fix.az) == expected(fix.changes)


# --- the commands as written, for ordinary and hostile values -------------------------------------


def test_ordinary_commands_read_as_the_az_docs_write_them() -> None:
    fix = remedy.set_property(ACCOUNT, "properties.publicNetworkAccess", "Disabled", "r")
    assert fix.az == (
        f"az resource update --ids {ACCOUNT} --set 'properties.publicNetworkAccess=\"Disabled\"'",
    )
    fix = remedy.set_property(ACCOUNT, "properties.disableLocalAuth", True, "r")
    assert fix.az == (f"az resource update --ids {ACCOUNT} --set properties.disableLocalAuth=true",)
    fix = remedy.set_property(ACCOUNT, "properties.networkAcls.ipRules", [{"value": "1.2.3.4"}], "r")
    assert fix.az == (
        f'az resource update --ids {ACCOUNT} --set \'properties.networkAcls.ipRules=[{{"value":"1.2.3.4"}}]\'',
    )
    # a string that reads as another JSON type stays a string
    fix = remedy.set_property(ACCOUNT, "properties.customSubDomainName", "true", "r")
    assert json.loads(shlex.split(fix.az[0])[-1].split("=", 1)[1]) == "true"
    fix = remedy.tag(ACCOUNT, "disableSnatOnPL", "true", "r")
    assert fix.az == (f"az tag update --resource-id {ACCOUNT} --operation Merge --tags disableSnatOnPL=true",)


def hostile_fixes() -> list[remedy.Fix]:
    return [
        remedy.tag(HOSTILE_ID, "note", HOSTILE_VALUE, "r"),
        remedy.tag(HOSTILE_ID, HOSTILE_VALUE, HOSTILE_VALUE, "r"),
        remedy.set_property(HOSTILE_ID, "properties.x", HOSTILE_VALUE, "r"),
        remedy.set_property(HOSTILE_ID, "properties.y", [{"value": HOSTILE_VALUE}, {"k": True}], "r"),
        remedy.pe_subnet_policies(NO_ESTATE, HOSTILE_SUBNET, "RouteTable", "r"),  # type: ignore[arg-type]
        remedy.firewall_snat(NO_ESTATE, HOSTILE_ID, "r"),  # type: ignore[arg-type]
        remedy.opt_in([HOSTILE_ID, HOSTILE_SUBNET], "nva", "r"),
        remedy.Fix(
            "untag",
            ({"id": HOSTILE_ID, "tags": {HOSTILE_VALUE: None, "k": None}},),
            az=(remedy.untag_command(HOSTILE_ID, [HOSTILE_VALUE, "k"]),),
        ),
    ]


def test_hostile_ids_tags_and_values_stay_one_argument_each() -> None:
    fix = remedy.tag(HOSTILE_ID, "note", HOSTILE_VALUE, "r")
    assert shlex.split(fix.az[0]) == [
        *["az", "tag", "update", "--resource-id"],
        HOSTILE_ID,
        *["--operation", "Merge", "--tags"],
        f"note={HOSTILE_VALUE}",
    ]
    fix = remedy.set_property(HOSTILE_ID, "properties.x", HOSTILE_VALUE, "r")
    words = shlex.split(fix.az[0])
    assert words[:5] == ["az", "resource", "update", "--ids", HOSTILE_ID] and words[5] == "--set"
    path, value = words[6].split("=", 1)
    assert path == "properties.x" and json.loads(value) == HOSTILE_VALUE and len(words) == 7
    for fix in hostile_fixes():
        assert replay(fix.az) == expected(fix.changes), fix.az


SHELLS = [s for s in ("sh", "bash", "dash") if shutil.which(s)]


@pytest.mark.parametrize("shell", SHELLS)
def test_a_shell_runs_no_part_of_a_hostile_value(shell: str, tmp_path: Path) -> None:
    """Pasted into a real shell (az a function printing its arguments): nothing runs, every argument
    arrives whole. The payloads only touch files in tmp_path, in case they did run."""
    rid = "/subscriptions/x/resourceGroups/r/providers/A.B/c/n$(touch p1)`touch p2`;touch p3\n touch p4 #'"
    value = "a'b\"c\n$(touch p5)`touch p6` ; touch p7 & touch p8 | touch p9 > p10 \\"
    fixes = [
        remedy.tag(rid, "note", value, "r"),
        remedy.set_property(rid, "properties.x", [value, {"v": value}], "r"),
        remedy.pe_subnet_policies(NO_ESTATE, rid + "/subnets/s", "RouteTable", "r"),  # type: ignore[arg-type]
        remedy.Fix("untag", az=(remedy.untag_command(rid, [value]),)),
    ]
    for fix in fixes:
        for line in fix.az:
            run = subprocess.run(
                [shell, "-c", 'az() { printf "%s\\0" "$@"; }\n' + line],
                cwd=tmp_path,
                capture_output=True,
                check=True,
                env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
            )
            assert run.stdout.decode("utf-8").split("\0")[:-1] == shlex.split(line)[1:]
    assert list(tmp_path.iterdir()) == []


# --- the plan table ------------------------------------------------------------------------------------


def test_plan_table_shows_the_plan_documents_commands_unchanged() -> None:
    fixes = [fix for estate, _, fix in estate_fixes() if estate == "demo" and fix.az]
    assert fixes
    for fix in fixes:
        for line in fix.az:
            assert az_line(line) == line


def test_plan_table_az_lines_are_terminal_safe_and_still_one_word_an_argument() -> None:
    evil = "\x1b]8;;http://x\x1b\\'$(x)\x1b]8;;\x1b\\\x1b[31m'\x9b2J\u202e\n;`id`"
    fixes = [*hostile_fixes(), remedy.tag(HOSTILE_ID + evil, evil, evil, "r")]
    fixes.append(remedy.set_property(HOSTILE_ID + evil, "properties.z", evil, "r"))
    for fix in fixes:
        for line in fix.az:
            shown = az_line(line)
            assert not any(ch in shown for ch in "\x1b\x07\x9b\n\r\u202e")
            assert shlex.split(shown) == [terminal(w) for w in shlex.split(line)]
    doc = {
        "plans": [
            {
                "rule_id": "NET002",
                "severity": "high",
                "resource_id": HOSTILE_ID + evil,
                "fixes": [fix.to_dict() for fix in fixes],
            }
        ]
    }
    table = render_plan(doc, "table").decode("utf-8")
    assert not any(ch in table for ch in "\x1b\x07\x9b\r\u202e")
    shown = [line.split("az: ", 1)[1] for line in table.splitlines() if line.startswith("     az: ")]
    assert shown == [az_line(a) for fix in fixes for a in fix.az]
    # a hand-edited plan whose az line is no shell command is still made terminal-safe
    assert az_line("az 'unclosed \x1b[31m") == "az 'unclosed "
