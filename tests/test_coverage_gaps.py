"""Issue #13, item 2: a partial export never comes out clean. Every dangling reference that can change a
verdict makes coverage incomplete (exit 3, never 0), names the missing id, and the findings that name
the referring resource carry it as `unresolved` evidence; the same for an unknown next-hop type, a
snapshot that says its collection was incomplete, and an export with nothing any rule assesses."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import REPO, run_cli, write_json

S01 = REPO / "fixtures" / "scenarios" / "S01-base" / "resources.json"


def rows() -> list[dict[str, Any]]:
    return json.loads(S01.read_text("utf-8"))


def audit(tmp_path: Path, data: Any, *extra: str) -> tuple[int, dict[str, Any], str]:
    code, out, err = run_cli("audit", write_json(tmp_path, "estate.json", data), "--format", "json", *extra)
    assert "Traceback" not in err
    return code, json.loads(out), err


def drop_type(kind: str) -> list[dict[str, Any]]:
    return [r for r in rows() if r["type"] != kind]


@pytest.mark.parametrize(
    ("kind", "missing"),
    [
        ("microsoft.network/routetables", "rt-spoke"),  # the README recipe without route-tables.json
        ("microsoft.network/networkinterfaces", "pe-aoai.nic"),  # the PE's NIC (and its address)
    ],
)
def test_a_missing_referenced_resource_is_named_and_never_clean(
    tmp_path: Path, kind: str, missing: str
) -> None:
    code, doc, err = audit(tmp_path, drop_type(kind), "--fail-on", "never")
    assert code == 3, err
    assert doc["coverage"]["complete"] is False
    gaps = [p for p in doc["coverage"]["skipped"] if p["effect"] == "referenced resource missing"]
    assert any(missing in p["problem"] for p in gaps), gaps
    assert "coverage incomplete" in err


def test_findings_naming_the_referring_resource_carry_unresolved_evidence(tmp_path: Path) -> None:
    """Without rt-spoke, snet-app and snet-apim route as if they had no UDRs: they reach the PE over the
    hub's peering? No: not peered with spoke-ai, so AOAI005 lists what it can, and says what it lacks."""
    _, doc, _ = audit(tmp_path, drop_type("microsoft.network/routetables"), "--fail-on", "never")
    unresolved = [
        (f["rule_id"], e["id"]) for f in doc["findings"] for e in f["evidence"] if e["kind"] == "unresolved"
    ]
    assert not [f for f in doc["findings"] if f["rule_id"] == "NET001"]
    assert all("/subnets/snet-" in rid for _, rid in unresolved)


def test_a_peering_to_a_vnet_not_in_the_input(tmp_path: Path) -> None:
    data = [r for r in rows() if r["name"] != "spoke-ai" or r["type"] != "microsoft.network/virtualnetworks"]
    code, doc, _ = audit(tmp_path, data, "--fail-on", "never")
    assert code == 3
    assert any(
        "peered virtual network" in p["problem"] and "spoke-ai" in p["problem"]
        for p in doc["coverage"]["skipped"]
    )


def test_an_unknown_next_hop_type_decides_nothing_and_is_said(tmp_path: Path) -> None:
    data = rows()
    rt = next(r for r in data if r["name"] == "rt-spoke")
    rt["properties"]["routes"][1]["properties"]["nextHopType"] = "QuantumTunnel"
    code, doc, _ = audit(tmp_path, data, "--fail-on", "never")
    assert code == 3
    [p] = [p for p in doc["coverage"]["skipped"] if p["field"] == "properties.nextHopType"]
    assert "QuantumTunnel" in p["problem"]


def test_an_export_with_nothing_to_assess_is_not_clean(tmp_path: Path) -> None:
    for data in (
        [],
        [
            {
                "id": "/subscriptions/x/resourceGroups/rg/providers/Microsoft.Web/sites/app",
                "type": "microsoft.web/sites",
                "properties": {},
            }
        ],
    ):
        code, doc, err = audit(tmp_path, data, "--fail-on", "never")
        assert code == 3, err
        assert any("no resource that any rule assesses" in p["problem"] for p in doc["coverage"]["skipped"])


@pytest.mark.parametrize("coverage", [{"complete": False}, {"complete": False, "failed": []}])
def test_a_snapshot_that_says_it_is_incomplete(tmp_path: Path, coverage: dict[str, Any]) -> None:
    snap = {
        "schema": "pathaudit/snapshot@1",
        "collected_at": "2026-11-23T10:00:00Z",
        "coverage": coverage,
        "resources": rows(),
    }
    code, doc, _ = audit(tmp_path, snap, "--fail-on", "never")
    assert code == 3 and not doc["coverage"]["complete"]


S19 = REPO / "fixtures" / "scenarios" / "S19-vwan-routing-intent" / "resources.json"


@pytest.mark.parametrize(
    ("kind", "named"),
    [
        ("microsoft.network/azurefirewalls", "routing-intent next hop"),  # the hub firewall not exported
        ("microsoft.network/vpnsites", "VPN site"),  # the branch behind the hub gateway
    ],
)
def test_virtual_wan_references_the_input_lacks(tmp_path: Path, kind: str, named: str) -> None:
    data = [r for r in json.loads(S19.read_text("utf-8")) if r["type"] != kind]
    code, doc, err = audit(tmp_path, data, "--fail-on", "never")
    assert code == 3, err
    assert not doc["coverage"]["complete"]
    assert any(
        named in p["problem"] and "is not in the input" in p["problem"] for p in doc["coverage"]["skipped"]
    )


@pytest.mark.parametrize("bad_rule", ["not an object", {"name": "mystery", "ruleType": "FutureRule"}])
def test_a_firewall_rule_not_understood_is_a_gap_not_skipped(tmp_path: Path, bad_rule: Any) -> None:
    """Rules are terminating: one that cannot be read may be the Deny that decides, so it is never dropped."""
    data = json.loads(
        (REPO / "fixtures" / "scenarios" / "S05-azfw-default-snat" / "resources.json").read_text("utf-8")
    )
    rcg = next(r for r in data if r["type"] == "microsoft.network/firewallpolicies/rulecollectiongroups")
    rcg["properties"]["ruleCollections"][0]["rules"].insert(0, bad_rule)
    code, doc, err = audit(tmp_path, data, "--fail-on", "never")
    assert code == 3, err
    assert any(
        "rule" in p["problem"] and p["effect"] == "decided nothing (unresolved)"
        for p in doc["coverage"]["skipped"]
    )


def test_a_gateway_whose_gateway_subnet_is_not_in_the_input(tmp_path: Path) -> None:
    """On-premises flows through the gateway cannot be followed: said in coverage, never dropped quietly."""
    data = rows()
    gw = next(r for r in data if r["type"] == "microsoft.network/virtualnetworkgateways")
    for c in gw["properties"]["ipConfigurations"]:
        c["properties"]["subnet"] = {
            "id": c["properties"]["subnet"]["id"].replace("/virtualNetworks/", "/virtualNetworks/gone-")
        }
    code, doc, err = audit(tmp_path, data, "--fail-on", "never")
    assert code == 3, err
    assert any(
        "GatewaySubnet" in p["problem"] and "not analysed" in p["problem"] for p in doc["coverage"]["skipped"]
    )
