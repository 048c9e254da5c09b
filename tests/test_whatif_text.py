"""`pathaudit whatif` as text (table and Markdown): resources named with their parents, appliance
changes shown, no double blank lines, every estate string escaped; `--only` that names nothing,
`--change plan.json`, and the exit codes its help lists."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from conftest import run_cli

from auditor.report.whatif_report import render_whatif
from auditor.safetext import terminal

SUB_AI = "/subscriptions/a8e2d6c4-3b1f-4e9a-8c7d-61f0b5a3e2d8"
SNET_PE_AI = f"{SUB_AI}/resourceGroups/rg-ai-prod-weu/providers/Microsoft.Network/virtualNetworks/vnet-ai-weu/subnets/snet-pe"
SNET_PE_LEGACY = f"{SUB_AI}/resourceGroups/rg-ai-prod-weu/providers/Microsoft.Network/virtualNetworks/vnet-ai-weu/subnets/snet-pe-legacy"
SNET_PE_VWAN = f"{SUB_AI}/resourceGroups/rg-finance-prod-weu/providers/Microsoft.Network/virtualNetworks/vnet-vwan-spoke/subnets/snet-pe"
ROUTE = f"{SUB_AI}/resourceGroups/rg-data-prod-weu/providers/Microsoft.Network/routeTables/rt-data/routes/default-via-legacy-nva"
POLICY = "/subscriptions/5c3f8a2e-9d41-4b7a-a6e3-2f8b1c0d7e95/resourceGroups/rg-connectivity-hub-weu/providers/Microsoft.Network/firewallPolicies/afwp-hub"
PE_POLICIES = "properties.privateEndpointNetworkPolicies"


def whatif(*args: str | Path) -> tuple[int, str, str]:
    code, out, err = run_cli("whatif", "--demo", *args)
    assert code in (0, 1, 3), err
    return code, out, err


@pytest.fixture(scope="module")
def findings(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("whatif") / "findings.json"
    code, _, err = run_cli("audit", "--demo", "--format", "json", "-o", path, "--fail-on", "never")
    assert code in (0, 3), err
    return path


def test_two_subnets_of_one_name_read_apart_and_routes_name_their_table() -> None:
    args = (
        "--set",
        SNET_PE_AI,
        f"{PE_POLICIES}=Enabled",
        "--set",
        SNET_PE_VWAN,
        f"{PE_POLICIES}=RouteTableEnabled",
    )
    args += ("--set", ROUTE, "properties.nextHopIpAddress=10.0.2.6")
    _, table, _ = whatif(*args)
    assert (
        '- vnet-ai-weu/snet-pe: set properties.privateEndpointNetworkPolicies="Enabled"' in table.splitlines()
    )
    assert (
        '- vnet-vwan-spoke/snet-pe: set properties.privateEndpointNetworkPolicies="RouteTableEnabled"'
        in table.splitlines()
    )
    assert (
        '- rt-data/default-via-legacy-nva: set properties.nextHopIpAddress="10.0.2.6"' in table.splitlines()
    )
    # the findings are named the same way: NET006 and NET008 are both on a subnet called snet-pe
    assert re.search(r"^- resolved: NET006 \[medium\] vnet-ai-weu/snet-pe \(", table, re.M)
    assert re.search(r"^- resolved: NET008 \[high\] vnet-vwan-spoke/snet-pe \(", table, re.M)
    # a subnet without a route table is a route context of its own: named with its VNet
    assert re.search(r"^- vnet-hub-weu/AzureBastionSubnet: symmetric -> blocked to ", table, re.M)
    _, markdown, _ = whatif(*args, "--format", "markdown")
    assert (
        '- vnet-vwan-spoke/snet-pe: set properties.privateEndpointNetworkPolicies="RouteTableEnabled"'
        in markdown.splitlines()
    )
    assert "- rt-data/default-via-legacy-nva: set" in markdown
    # JSON: Change.describe's text, with the qualified name too, and the resource's id
    _, out, _ = whatif(*args, "--format", "json")
    changes = json.loads(out)["changes"]
    assert [c["id"] for c in changes] == [SNET_PE_AI, SNET_PE_VWAN, ROUTE]
    assert changes[0]["change"].startswith("vnet-ai-weu/snet-pe: set ")
    assert changes[1]["change"].startswith("vnet-vwan-spoke/snet-pe: set ")


def test_a_flow_group_that_only_changes_appliance_shows_them() -> None:
    """NET005's fix puts the hub firewall on on-premises' path to the blob endpoint: symmetric before
    and after, through no appliance before and afw-hub-weu after."""
    args = ("--set", SNET_PE_LEGACY, f"{PE_POLICIES}=RouteTableEnabled")
    args += ("--set", POLICY, 'properties.snat.privateRanges=["255.255.255.255/32"]')
    _, out, _ = whatif(*args, "--format", "json")
    doc = json.loads(out)
    same = [x for x in doc["flows"] if x["before"] == x["after"]]
    assert same and all(x["appliances_before"] != x["appliances_after"] for x in same)
    for fmt in ("table", "markdown"):
        _, text, _ = whatif(*args, "--format", fmt)
        assert (
            "- on-premises: symmetric (no appliance) -> symmetric via afw-hub-weu to pe-stcontosoaiprod-blob"
            in text
        )
        for verdict in ("symmetric", "asymmetric", "blocked"):
            assert not re.search(rf"(?<![\w-]){verdict} -> {verdict} to", text), text


def test_no_double_blank_lines(findings: Path) -> None:
    for args in (
        ("--plan", findings, "--only", "NET001"),  # no route changes: an empty section
        ("--set", SNET_PE_LEGACY, f"{PE_POLICIES}=RouteTableEnabled"),
    ):
        for fmt in ("table", "markdown"):
            _, out, _ = whatif(*args, "--format", fmt)
            assert "\n\n\n" not in out and out.endswith(")\n"), out
            assert not out.startswith("\n")
    _, out, _ = whatif("--plan", findings, "--only", "NET001")
    assert "ROUTE CONTEXTS WHOSE EFFECTIVE ROUTES CHANGE: 0\n\nVERDICT\n\n- " in out


def hostile_doc() -> dict[str, Any]:
    evil = "x<img src=x onerror=alert(1)>\x1b[31m*_[a](b)|"
    vnet = f"/subscriptions/s/resourceGroups/g/providers/Microsoft.Network/virtualNetworks/{evil}"
    return {
        "schema": "pathaudit/whatif@1",
        "changes": [
            {
                "where": "t",
                "id": f"{vnet}/subnets/{evil}",
                "change": f"{evil}/{evil}: tag a={evil}",
                "reason": evil,
            }
        ],
        "findings": {"resolved": [], "unchanged": [], "new": []},
        "flows": [
            {
                "context": f"{vnet}/subnets/{evil}",
                "before": "symmetric",
                "after": "symmetric",
                "appliances_before": [f"{vnet}/x/{evil}"],
                "appliances_after": [],
                "subnets": [],
                "subnets_total": 0,
                "destinations": [{"id": f"{vnet}/pe/{evil}", "port": 443}],
                "destinations_total": 1,
                "breaks": [],
            }
        ],
        "flows_compared": "every flow",
        "routes": [{"context": f"{vnet}/subnets/{evil}", "subnets": [], "added": [evil], "removed": []}],
        "coverage": {"before_complete": True, "after_complete": True},
        "verdict": {"fail_on": "medium", "worse": [evil], "exit": 1},
    }


def test_estate_strings_are_escaped_in_table_and_markdown() -> None:
    doc = hostile_doc()
    table = render_whatif(doc, "table").decode("utf-8")
    assert "\x1b" not in table
    evil = terminal(hostile_doc()["flows"][0]["destinations"][0]["id"].rsplit("/", 1)[1])
    assert f"- {evil}/{evil}: tag a={evil} ({evil})" in table.splitlines()  # named with its parent
    assert f"- {evil}/{evil}: symmetric via {evil}/{evil} -> symmetric (no appliance) to {evil}" in table
    markdown = render_whatif(doc, "markdown").decode("utf-8")
    assert "<img" not in markdown and "\x1b" not in markdown and "[a](b)" not in markdown
    assert "&lt;img" in markdown and "\\[a\\]" in markdown


def test_only_that_names_nothing_says_so(findings: Path) -> None:
    code, out, err = run_cli("whatif", "--demo", "--plan", findings, "--only", "NOPE", "--only", "NET001")
    assert code == 2 and out == ""
    assert f"--only NOPE matches no rule id or fingerprint of the findings in {findings}" in err
    assert "NET001" in err and "fingerprint" in err and "no finding selected" not in err
    # a rule that has findings but no fix a change set can express keeps its own message
    code, _, err = run_cli("whatif", "--demo", "--plan", findings, "--only", "NET007")
    assert code == 2 and "no finding selected has a fix a change set can express" in err


def test_help_lists_exit_3() -> None:
    code, out, _ = run_cli("whatif", "--help")
    assert code == 0
    codes = dict(re.findall(r"^\s+([0-3])\s{2,}(\S.*)$", out.split("Exit codes:", 1)[1], re.M))
    assert set(codes) == {"0", "1", "2", "3"}
    assert "incomplete" in codes["3"] and "coverage complete" in codes["0"]


def test_change_reads_a_plan_document(findings: Path, tmp_path: Path) -> None:
    plan = tmp_path / "plan.json"
    code, _, err = run_cli(
        "plan", findings, "--only", "NET002", "--only", "NET005", "--format", "json", "-o", plan
    )
    assert code == 0, err
    code, out, err = run_cli("whatif", "--demo", "--change", plan, "--format", "json")
    assert code in (0, 1, 3), err
    via_plan_file = json.loads(out)
    code, out, err = run_cli(
        "whatif", "--demo", "--plan", findings, "--only", "NET002", "--only", "NET005", "--format", "json"
    )
    via_findings = json.loads(out)
    assert [(c["id"], c["change"], c["reason"]) for c in via_plan_file["changes"]] == [
        (c["id"], c["change"], c["reason"]) for c in via_findings["changes"]
    ]
    assert via_plan_file["changes"][0]["where"] == f"{plan} plan for NET002 nic-nva-fw01 (1) change 1"
    assert {k: v for k, v in via_plan_file.items() if k != "changes"} == {
        k: v for k, v in via_findings.items() if k != "changes"
    }
    assert {"NET002", "NET005"} <= {f["rule_id"] for f in via_plan_file["findings"]["resolved"]}
    # a plan with no change-set fix, and a broken plan document: usage errors, one line, no traceback
    code, _, err = run_cli("plan", findings, "--only", "NET007", "--format", "json", "-o", plan)
    assert code == 0, err
    code, out, err = run_cli("whatif", "--demo", "--change", plan)
    assert code == 2 and out == "" and "no plan of this pathaudit/plan@1 document has a fix" in err
    plan.write_text(json.dumps({"schema": "pathaudit/plan@1", "plans": "x"}), encoding="utf-8")
    code, out, err = run_cli("whatif", "--demo", "--change", plan)
    assert code == 2 and out == "" and "Traceback" not in err and "needs `plans`" in err
    bad = {"schema": "pathaudit/plan@1", "plans": [{"rule_id": "X", "fixes": [{"changes": [{"id": "/x"}]}]}]}
    plan.write_text(json.dumps(bad), encoding="utf-8")
    code, out, err = run_cli("whatif", "--demo", "--change", plan)
    assert code == 2 and out == "" and "Traceback" not in err and f"{plan} plan for X" in err


def test_a_risen_finding_is_listed_with_the_findings_in_every_format() -> None:
    """Keys back on aoai-contoso-prod: its AOAI005 keeps its fingerprint and rises from medium to high.
    The verdict says so, and so does the findings section (not only the verdict)."""
    prod = f"{SUB_AI}/resourceGroups/rg-ai-prod-weu/providers/Microsoft.CognitiveServices/accounts/aoai-contoso-prod"
    args = ("--demo", "--set", prod, "properties.disableLocalAuth=false")
    code, table, _ = whatif(*args)
    assert code == 1
    risen = [line for line in table.splitlines() if line.startswith("- risen: ")]
    assert len(risen) == 1 and "AOAI005 [medium -> high] aoai-contoso-prod" in risen[0]
    _, html, _ = whatif(*args, "--format", "html")
    assert "<h3>Risen (1)</h3>" in html and "medium &rarr; " in html
    _, markdown, _ = whatif(*args, "--format", "markdown")
    assert any(line.startswith("- risen: AOAI005 [medium -> high]") for line in markdown.splitlines())
