"""Issue #4 at scenario level, complementing tests/test_posture_rules.py.

test_posture_rules.py already compares every scenario's (rule_id, resource_id, source) triples, their
severities, `not_assessed` and the exit code with expected.json for every implemented rule; the first
test here makes sure that the catalog holds all thirteen rules of the contract, so that comparison covers
NET001-NET008 and AOAI005 and cannot silently narrow. The rest checks what the triples do not show:
the flows behind the path findings (docs/findings.md), AOAI005's bypassing sources, determinism across
processes, and the az CLI shape of six scenarios (README, inputs).
"""

from __future__ import annotations

import json
import os
import re
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from conftest import REPO, run_cli
from helpers.findings_schema import validator
from helpers.scenarios import SCENARIO_DIRS, audit, scenario
from jsonschema import Draft202012Validator

from auditor.catalog import load_catalog

ALL_RULES = {"AOAI001", "AOAI002", "AOAI003", "AOAI004", "AOAI005", *(f"NET00{i}" for i in range(1, 9))}
PATH_RULES = ("NET001", "NET005", "NET008")
APPLIANCES = {"nva", "azure-firewall"}
AZCLI = REPO / "fixtures" / "scenarios-azcli"
DEMO = REPO / "fixtures" / "estates" / "demo-contoso"


def test_every_rule_is_in_the_catalog_so_the_scenario_comparison_covers_them_all() -> None:
    assert set(load_catalog()) >= ALL_RULES


@cache
def rows(number: str) -> dict[str, dict[str, Any]]:
    return {r["name"]: r for r in json.loads((scenario(number) / "resources.json").read_text("utf-8"))}


def doc_of(number: str) -> dict[str, Any]:
    return audit(scenario(number))[1]


def findings(number: str, rule: str) -> list[dict[str, Any]]:
    return [f for f in doc_of(number)["findings"] if f["rule_id"] == rule]


def names(ids: list[str]) -> set[str]:
    return {i.rsplit("/", 1)[-1] for i in ids}


# ---------------------------------------------------------------------------------------------------
# severity and not_assessed of AOAI005 (rules/)


def test_aoai005_is_high_when_keys_are_enabled() -> None:
    """S14: disableLocalAuth false (AOAI001 holds) makes AOAI005 high; S01 (keys off) keeps it medium."""
    [f14] = findings("S14", "AOAI005")
    [f01] = findings("S01", "AOAI005")
    assert (f14["severity"], f01["severity"]) == ("high", "medium")
    assert f14["resource_id"] == rows("S14")["aoai1"]["id"]
    assert "keys" in f14["message"].lower()


def test_aoai005_not_assessed_without_a_gateway() -> None:
    """S19 has no API Management and no [[gateways]]: gateway traffic cannot be told from bypass."""
    doc = doc_of("S19")
    [na] = [n for n in doc["coverage"]["not_assessed"] if n["rule_id"] == "AOAI005"]
    assert "gateway" in na["reason"].lower()
    assert not findings("S19", "AOAI005")
    # and scenarios with APIM assess it
    assert not [n for n in doc_of("S01")["coverage"]["not_assessed"] if n["rule_id"] == "AOAI005"]


# ---------------------------------------------------------------------------------------------------
# AOAI005's bypassing sources (R9c)


def bypass_sources(number: str) -> set[str]:
    [f] = findings(number, "AOAI005")
    out = set()
    for e in f["evidence"]:
        assert e["kind"] == "path"
        subnets = e["value"]["source_subnets"]
        out |= names(subnets) if subnets else {e["id"]}
        assert e["value"]["forward"], "each bypassing source carries its forward path"
        assert e["value"]["forward"][-1]["kind"] == "private-endpoint"
    return out


def test_s01_bypassing_sources_are_everything_but_the_gateway() -> None:
    """fixtures/scenarios/README.md S01: snet-app, snet-work, hub subnets and on-premises reach the PE, not
    only snet-apim.
    Platform subnets (GatewaySubnet, AzureFirewallSubnet) are not workload sources; on-premises stands
    for what enters through the gateway. snet-pe holds only the private endpoint: nothing there opens a
    connection, so it is no source (a subnet of only private endpoints or private link services)."""
    assert bypass_sources("S01") == {"snet-app", "snet-work", "snet-nva", "on-premises"}


def test_s17_blackholed_sources_do_not_bypass() -> None:
    """snet-app's route to the PE is blackholed at 10.0.2.9
    (https://learn.microsoft.com/azure/virtual-network/virtual-networks-udr-overview): it no longer reaches the PE."""
    assert bypass_sources("S17") == {"snet-work", "snet-nva", "on-premises"}


def test_s13_enforced_nsg_leaves_only_apim() -> None:
    """S13: NSG enforced on snet-pe (https://learn.microsoft.com/azure/private-link/private-endpoint-overview)
    admits 10.1.2.0/24 only: no AOAI005; NET001 lists snet-apim."""
    assert not findings("S13", "AOAI005")
    [f] = findings("S13", "NET001")
    assert names(f["flow"]["example"]["source_subnets"]) == {"snet-apim"}
    assert f["flow"]["example"]["source_prefixes"] == ["10.1.2.0/24"]


# ---------------------------------------------------------------------------------------------------
# The flows behind path findings (docs/findings.md, acceptance 6)


def path_findings() -> list[tuple[str, dict[str, Any]]]:
    out = []
    for folder in [*SCENARIO_DIRS, DEMO]:
        doc = audit(folder)[1] if folder != DEMO else demo_doc()
        out += [(folder.name, f) for f in doc["findings"] if f["rule_id"] in PATH_RULES]
    return out


@cache
def demo_doc() -> dict[str, Any]:
    code, out, err = run_cli("audit", DEMO, "--format", "json")
    assert code == 1 and "Traceback" not in err  # the demo has high findings
    return json.loads(out)


@cache
def flow_validator() -> Draft202012Validator:
    """findings-v2.schema.json's `flow` definition, with the schema's $defs for its $refs."""
    root = validator().schema
    flow = root["$defs"]["finding"]["properties"]["flow"]
    assert flow.get("required"), "the flow schema is not vacuous"
    return Draft202012Validator({"$defs": root["$defs"], **flow})


def test_path_findings_carry_valid_flows() -> None:
    found = path_findings()
    assert {f["rule_id"] for _, f in found} == set(PATH_RULES)
    for where, f in found:
        grouped = f["flow"]
        errors = list(flow_validator().iter_errors(grouped))
        assert not errors, (where, f["rule_id"], errors[0].message)
        flow = grouped["example"]
        assert flow["forward"], (where, f["rule_id"])
        assert flow["forward"][-1]["kind"] == "private-endpoint"
        assert flow["destination"].lower() == flow["forward"][-1]["id"].lower()
        # findings@2: the example is one of the listed flows, the first destination in sort order
        assert {"id": flow["destination"], "ip": flow["destination_ip"], "port": flow["port"]} == grouped[
            "destinations"
        ][0]
        assert grouped["destinations_total"] == len(grouped["destinations"]) >= 1
        assert flow["source"] in grouped["sources"]
        if f["rule_id"] == "NET001":
            assert f["resource_id"] == flow["source"] or flow["source"] == "on-premises"  # the route table
        if f["rule_id"] == "NET005":
            assert (
                f["resource_id"].lower().endswith("/subnets/" + f["resource_id"].rsplit("/", 1)[-1].lower())
            )


def test_net001_flows_cross_an_appliance_forward_but_not_back() -> None:
    found = [(w, f) for w, f in path_findings() if f["rule_id"] == "NET001"]
    assert len(found) >= 15
    for where, f in found:
        flow = f["flow"]["example"]
        fwd = [h for h in flow["forward"] if h["kind"] in APPLIANCES]
        assert fwd, where
        assert not [h for h in flow["return"] if h["kind"] in APPLIANCES], where
        assert flow["verdict"] in ("asymmetric", "return-unroutable")
        assert {h["id"] for h in fwd} <= set(f["related_ids"]), where
        if flow["verdict"] == "asymmetric":
            assert flow["return"][0]["kind"] == "private-endpoint"


def test_net005_flows_skip_the_appliance() -> None:
    found = [(w, f) for w, f in path_findings() if f["rule_id"] == "NET005"]
    assert found
    for where, f in found:
        flow = f["flow"]["example"]
        assert not [h for h in flow["forward"] if h["kind"] in APPLIANCES], where
        assert flow["forward"][0]["route"]["next_hop_type"] == "InterfaceEndpoint", where
        assert flow["verdict"] == "symmetric"


def test_s09_net005_source_and_route() -> None:
    """S09: rt-work's 10.2.1.0/24 UDR loses to the PE /32 because snet-pe policies are Disabled
    (https://learn.microsoft.com/azure/private-link/disable-private-endpoint-network-policy)."""
    [f] = findings("S09", "NET005")
    assert f["resource_id"] == rows("S09")["spoke-ai"]["id"] + "/subnets/snet-pe"  # one per PE subnet
    assert f["flow"]["sources"] == [rows("S09")["rt-work"]["id"]]
    assert names(f["flow"]["example"]["source_subnets"]) == {"snet-work"}
    assert f["flow"]["example"]["forward"][0]["route"]["prefix"] == "10.2.1.4/32"
    assert "10.2.1.0/24" in f["message"] and "Disabled" in f["message"]


def test_s08_same_vnet_udr_sends_snet_work_through_nva1() -> None:
    """S08: the /24 UDR is no wider than the PE VNet's /16 and policies are on, so the /32 is invalid
    (https://learn.microsoft.com/azure/private-link/disable-private-endpoint-network-policy)."""
    [f] = [f for f in findings("S08", "NET001") if f["flow"]["sources"] == [rows("S08")["rt-work"]["id"]]]
    assert f["resource_id"] == rows("S08")["rt-work"]["id"]
    route = f["flow"]["example"]["forward"][0]["route"]
    assert (route["prefix"], route["next_hop_type"], route["source"]) == (
        "10.2.1.0/24",
        "VirtualAppliance",
        "User",
    )


def test_s11_on_premises_net001_flow() -> None:
    [f] = [f for f in findings("S11", "NET001") if f["flow"]["sources"] == ["on-premises"]]
    assert f["resource_id"] == rows("S11")["rt-gw"]["id"]  # the GatewaySubnet's route table
    flow = f["flow"]["example"]
    assert flow["source_prefixes"] == ["192.168.0.0/16"] and flow["source_subnets"] == []
    assert [h["kind"] for h in flow["forward"]] == ["gateway", "nva", "private-endpoint"]
    assert flow["forward"][0]["id"] == rows("S11")["vpngw-hub"]["id"]
    assert flow["return"][0]["route"]["next_hop_type"] == "VirtualNetworkGateway"
    assert flow["return"][-1]["id"] == rows("S11")["vpngw-hub"]["id"]
    assert rows("S11")["vpngw-hub"]["id"] in f["related_ids"]


def test_s21_udr_ties_the_peering_route_and_wins() -> None:
    """S21: the /16 UDR and the direct peering /16 tie on prefix, the UDR wins
    (https://learn.microsoft.com/azure/virtual-network/virtual-networks-udr-overview) and invalidates the /32."""
    [f] = findings("S21", "NET001")
    route = f["flow"]["example"]["forward"][0]["route"]
    assert (route["prefix"], route["next_hop_type"], route["source"]) == (
        "10.2.0.0/16",
        "VirtualAppliance",
        "User",
    )


def test_s22_direct_peering_is_symmetric_and_silent() -> None:
    """S22: the /32 reaches spoke-app over the direct peering and beats 0.0.0.0/0
    (https://learn.microsoft.com/azure/virtual-network/virtual-networks-udr-overview,
    https://learn.microsoft.com/azure/private-link/disable-private-endpoint-network-policy)."""
    [f] = findings("S22", "AOAI005")
    [ev] = [e for e in f["evidence"] if "snet-app" in names(e["value"]["source_subnets"])]
    assert [h["kind"] for h in ev["value"]["forward"]] == ["subnet", "private-endpoint"]
    assert ev["value"]["forward"][0]["route"]["prefix"] == "10.2.1.4/32"


def test_s19_net008_flow_bypasses_forward_and_returns_through_the_firewall() -> None:
    """On-premises -> PE bypasses the routing-intent next hop; the PE's replies go through it
    (https://learn.microsoft.com/azure/virtual-wan/how-to-routing-policies)."""
    [f] = findings("S19", "NET008")
    flow = f["flow"]["example"]
    assert flow["source"] == "on-premises"
    assert not [h for h in flow["forward"] if h["kind"] in APPLIANCES]
    assert [h for h in flow["return"] if h["kind"] == "azure-firewall"]
    assert flow["verdict"] == "asymmetric"
    assert rows("S19")["vhub1"]["id"] in f["related_ids"]


# ---------------------------------------------------------------------------------------------------
# Same input, same bytes (acceptance 4): every scenario and the demo, in two processes with different
# hash seeds (set and dict iteration orders differ between them)


def cli_bytes(folder: Path, seed: str) -> tuple[int, str]:
    args: list[Any] = ["audit", folder if folder == DEMO else folder / "resources.json", "--format", "json"]
    if (folder / "pathaudit.toml").is_file():
        args += ["--config", folder / "pathaudit.toml"]
    code, out, err = run_cli(*args, env={"PYTHONHASHSEED": seed})
    assert "Traceback" not in err
    return code, out


@pytest.mark.parametrize("folder", [*SCENARIO_DIRS, DEMO], ids=[*(p.name[:3] for p in SCENARIO_DIRS), "demo"])
def test_audit_twice_gives_the_same_bytes(folder: Path) -> None:
    first, second = cli_bytes(folder, "1"), cli_bytes(folder, "2")
    assert first == second
    assert json.loads(first[1])["schema"] == "pathaudit/findings@2"


# ---------------------------------------------------------------------------------------------------
# az CLI flattened shape (acceptance 2, README, inputs)

AZCLI_DIRS = sorted(p for p in AZCLI.glob("S[0-9][0-9]-*") if (p / "resources.json").is_file())


def test_there_are_at_least_three_az_cli_scenarios_and_they_are_flattened() -> None:
    assert len(AZCLI_DIRS) >= 3
    for folder in AZCLI_DIRS:
        data = json.loads((folder / "resources.json").read_text("utf-8"))
        vnets = [r for r in data if r["type"] == "Microsoft.Network/virtualNetworks"]
        assert vnets and all("properties" not in v and "subnets" in v for v in vnets), folder.name
        subnet = vnets[0]["subnets"][0]
        assert "properties" not in subnet and "addressPrefix" in subnet
        assert all(r["type"] != r["type"].lower() for r in data), "ARM type casing, not Resource Graph's"


def test_az_cli_fixtures_are_up_to_date() -> None:
    """They are generated by fixtures/tools/to_az_cli.py from the scenario rows (README there)."""
    import sys

    sys.path.insert(0, str(REPO / "fixtures" / "tools"))
    try:
        from armtypes import load_resources
        from to_az_cli import convert
    finally:
        sys.path.pop(0)
    for folder in AZCLI_DIRS:
        want, _ = convert(
            load_resources(str(REPO / "fixtures" / "scenarios" / folder.name / "resources.json"))
        )
        text = json.dumps(want, indent=1, sort_keys=True, ensure_ascii=False) + "\n"
        assert (folder / "resources.json").read_text("utf-8") == text, f"{folder.name}: regenerate (README)"


@pytest.mark.parametrize("folder", AZCLI_DIRS, ids=[p.name[:3] for p in AZCLI_DIRS])
def test_az_cli_shape_gives_identical_findings(folder: Path) -> None:
    original = REPO / "fixtures" / "scenarios" / folder.name
    runs = {}
    for name, path in (("azcli", folder), ("graph", original)):
        args: list[Any] = ["audit", path / "resources.json", "--format", "json"]
        if (original / "pathaudit.toml").is_file():
            args += ["--config", original / "pathaudit.toml"]
        runs[name] = run_cli(*args)
    (code_a, out_a, err_a), (code_g, out_g, err_g) = runs["azcli"], runs["graph"]
    assert code_a == code_g and "Traceback" not in err_a + err_g
    doc_a, doc_g = json.loads(out_a), json.loads(out_g)
    assert doc_a["estate"].pop("inputs") != doc_g["estate"].pop("inputs")
    assert doc_a == doc_g
    assert doc_a["coverage"]["complete"] is True and doc_a["findings"]
    # byte for byte, once the inputs array is blanked out
    blank = [re.subn(r'"inputs": \[[^\]]*\]', '"inputs": []', out) for out in (out_a, out_g)]
    assert [n for _, n in blank] == [1, 1]
    assert blank[0][0] == blank[1][0]


def test_hash_seeds_really_differ() -> None:
    """Guard for test_audit_twice_gives_the_same_bytes: the two seeds change str hashing (hence set order)."""
    import subprocess
    import sys

    outs = {
        subprocess.run(
            [sys.executable, "-c", "print(hash('pathaudit'))"],
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONHASHSEED": seed},
            check=True,
        ).stdout
        for seed in ("1", "2")
    }
    assert len(outs) == 2
