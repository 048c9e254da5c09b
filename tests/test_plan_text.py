"""`pathaudit plan`: Bicep written as Bicep (single-quoted strings, bare booleans, multi-line objects
without commas), one snippet per resource a fix changes, a cost on every fix that changes something,
and resources named with their parents in the table."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from conftest import run_cli
from helpers.scenarios import SCENARIO_DIRS

from auditor.config import load_config
from auditor.ingest.files import read_inputs
from auditor.report.plan_text import render_plan
from auditor.rules.remedy import bicep, bicep_string, bicep_value, qualified_name
from auditor.whatif.run import audit_raw, plans

VNET_AI = "/subscriptions/a8e2d6c4-3b1f-4e9a-8c7d-61f0b5a3e2d8/resourceGroups/rg-ai-prod-weu/providers/Microsoft.Network/virtualNetworks/vnet-ai-weu"


@cache
def demo_plan(tmp: str) -> tuple[dict[str, Any], str]:
    """The demo's findings document planned, as JSON and as the table."""
    findings = Path(tmp) / "findings.json"
    code, _, err = run_cli("audit", "--demo", "--format", "json", "-o", findings, "--fail-on", "never")
    assert code in (0, 3), err
    code, out, err = run_cli("plan", findings, "--format", "json")
    assert code == 0, err
    code, table, err = run_cli("plan", findings)
    assert code == 0, err
    return json.loads(out), table


@pytest.fixture(scope="module")
def plan(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], str]:
    return demo_plan(str(tmp_path_factory.mktemp("plan")))


def fixes_of(doc: dict[str, Any], rule: str) -> list[dict[str, Any]]:
    [item] = [p for p in doc["plans"] if p["rule_id"] == rule]
    return item["fixes"]


def test_bicep_values() -> None:
    assert bicep_string("Disabled") == "'Disabled'"
    assert bicep_string("it's a \\ ${x} $y\n\t\r") == "'it\\'s a \\\\ \\${x} $y\\n\\t\\r'"
    assert bicep_string("rtl\u202eevil\x1b[31m") == "'rtl\\u{202E}evil\\u{1B}[31m'"  # nothing hides
    assert [bicep_value(v) for v in (True, False, None, 443, -1, 1.5)] == [
        "true",
        "false",
        "null",
        "443",
        "-1",
        "json('1.5')",  # Bicep has integers only
    ]
    assert bicep_value({}) == "{}" and bicep_value([]) == "[]"
    assert bicep_value({"a": [1, "x"], "Network.SNAT.PrivateRanges": "255.255.255.255/32", "b": {}}) == (
        "{\n  a: [\n    1\n    'x'\n  ]\n  'Network.SNAT.PrivateRanges': '255.255.255.255/32'\n  b: {}\n}"
    )
    assert bicep("/x/providers/A.B/c/d", "properties.snat.privateRanges", ["255.255.255.255/32"]) == (
        "// /x/providers/A.B/c/d\n"
        "properties: {\n  snat: {\n    privateRanges: [\n      '255.255.255.255/32'\n    ]\n  }\n}"
    )
    # the header comment stays one line whatever the id holds: the next line is never the id's text
    assert bicep("/x/providers/A.B/c/d\n}\nevil: 1", "tags", {"k": "v"}).splitlines()[:2] == [
        "// /x/providers/A.B/c/d } evil: 1",
        "tags: {",
    ]


def test_qualified_names() -> None:
    assert qualified_name(f"{VNET_AI}/subnets/snet-pe") == "vnet-ai-weu/snet-pe"
    assert qualified_name(f"{VNET_AI}/subnets/snet-pe/") == "vnet-ai-weu/snet-pe"
    assert qualified_name(VNET_AI) == "vnet-ai-weu"
    assert qualified_name(
        "/subscriptions/s/resourceGroups/g/PROVIDERS/Microsoft.Network/routeTables/rt-x/routes/r"
    ) == ("rt-x/r")
    assert qualified_name("on-premises") == "on-premises" and qualified_name("") == ""


def test_demo_bicep_is_bicep_one_snippet_per_resource(plan: tuple[dict[str, Any], str]) -> None:
    doc, _ = plan
    [aoai002] = fixes_of(doc, "AOAI002")
    account = aoai002["changes"][0]["id"]
    assert aoai002["bicep"] == f"// {account}\nproperties: {{\n  publicNetworkAccess: 'Disabled'\n}}"
    seen = 0
    for item in doc["plans"]:
        for fix in item["fixes"]:
            if not fix.get("bicep"):
                continue
            seen += 1
            lines = fix["bicep"].splitlines()
            assert '"' not in fix["bicep"], fix["bicep"]
            assert not any(line.rstrip().endswith(",") for line in lines), fix["bicep"]
            headers = [line[3:] for line in lines if line.startswith("// ")]
            assert lines[0].startswith("// ") and set(headers) == {c["id"] for c in fix["changes"]}, fix
    assert seen >= 10
    # NET005's first fix changes the endpoints' subnet and the firewall policy: both snippets are shown
    first = fixes_of(doc, "NET005")[0]
    ids = [c["id"] for c in first["changes"]]
    assert len(set(ids)) == 2 and ids[0].endswith("/subnets/snet-pe-legacy")
    assert first["bicep"] == (
        f"// {ids[0]}\nproperties: {{\n  privateEndpointNetworkPolicies: 'RouteTableEnabled'\n}}\n"
        f"// {ids[1]}\nproperties: {{\n  snat: {{\n    privateRanges: [\n      '255.255.255.255/32'\n"
        "    ]\n  }\n}"
    )


def test_every_fix_that_changes_traffic_says_what_it_costs(plan: tuple[dict[str, Any], str]) -> None:
    doc, _ = plan
    for item in doc["plans"]:
        for fix in item["fixes"]:
            if fix["changes"] or fix.get("declaration"):
                assert fix.get("side_effects"), (item["rule_id"], fix["title"])
    # NET002's "SNAT on the NVA itself" costs what NET001's same fix for the same NVA costs
    net002 = fixes_of(doc, "NET002")[1]
    [rt_app] = [p for p in doc["plans"] if p["rule_id"] == "NET001" and p["resource_id"].endswith("/rt-app")]
    net001 = rt_app["fixes"][1]
    assert net002["declaration"] == net001["declaration"]
    assert net002["side_effects"] == [
        s.replace("vm-nva-fw01", "nic-nva-fw01") for s in net001["side_effects"]
    ]
    assert net002["cannot"] == net001["cannot"]
    # NET005's fix 2 alone moves the flows through a firewall that does not SNAT: it says so
    assert any("asymmetric" in s for s in fixes_of(doc, "NET005")[1]["side_effects"])
    # NET008: on-premises traffic starts to pass the routing intent's next hop
    [net008] = fixes_of(doc, "NET008")
    assert any("afw-vhub-weu" in s and "on-premises" in s for s in net008["side_effects"])


@pytest.mark.parametrize("folder", SCENARIO_DIRS, ids=[p.name[:3] for p in SCENARIO_DIRS])
def test_every_scenario_fix_with_changes_has_a_cost(folder: Path) -> None:
    config = folder / "pathaudit.toml"
    current = audit_raw(
        read_inputs([folder / "resources.json"], None), load_config(config if config.is_file() else None)
    )
    for fingerprint, fixes in plans(current, current.document()).items():
        for fix in fixes:
            if fix.changes or fix.declaration:
                assert fix.side_effects, (folder.name, fingerprint, fix.title)
            if fix.bicep:
                assert set(line[3:] for line in fix.bicep.splitlines() if line.startswith("// ")) == {
                    c["id"] for c in fix.changes
                }, fix.bicep


def test_plan_table_names_children_with_parents_and_lists_bicep(plan: tuple[dict[str, Any], str]) -> None:
    doc, table = plan
    lines = table.splitlines()
    assert "NET006 [medium] vnet-ai-weu/snet-pe" in lines
    assert "NET008 [high] vnet-vwan-spoke/snet-pe" in lines
    account = fixes_of(doc, "AOAI002")[0]["changes"][0]["id"]
    at = lines.index("     bicep:", lines.index("AOAI002 [high] aoai-contoso-dev"))
    assert lines[at + 1 : at + 5] == [
        f"       // {account}",
        "       properties: {",
        "         publicNetworkAccess: 'Disabled'",
        "       }",
    ]
    assert lines[at + 5].startswith("     cost: ")
    assert not any(line != line.rstrip() for line in lines)


def test_plan_table_is_terminal_safe() -> None:
    evil = "\x1b]8;;http://x\x07name\x1b[31m"
    doc = {
        "plans": [
            {
                "rule_id": "NET001",
                "severity": "high",
                "resource_id": f"/s/providers/A.B/c/{evil}",
                "fixes": [
                    {
                        "title": evil,
                        "changes": [],
                        "az": [evil],
                        "bicep": bicep(f"/s/providers/A.B/c/{evil}", "tags", {evil: evil}),
                        "declaration": evil,
                        "side_effects": [evil],
                        "cannot": evil,
                    }
                ],
            }
        ]
    }
    out = render_plan(doc, "table").decode("utf-8")
    assert "\x1b" not in out and "\x07" not in out and "name" in out


def test_plan_only_must_name_a_finding_of_the_document(tmp_path: Path) -> None:
    code, _, err = run_cli(
        "audit", "--demo", "--format", "json", "-o", tmp_path / "f.json", "--fail-on", "never"
    )
    assert code in (0, 3), err
    code, out, err = run_cli("plan", tmp_path / "f.json", "--only", "NOPE")
    assert code == 2 and out == ""
    assert "NOPE matches no rule id or fingerprint of the findings in" in err and "NET001" in err
