"""Issue #3 acceptance 4: `pathaudit routes --compare` against real-format effective-route exports.

fixtures/routing/compare-s21/ holds what Azure shows for scenario S21's spoke-app/snet-app (with a
Microsoft.Storage service endpoint added), written by hand from Microsoft's documentation in the shape of
`az network nic show-effective-route-table`, and a copy with five known differences
(fixtures/routing/README.md lists them and the facts behind every route).
"""

from __future__ import annotations

import json
from pathlib import Path

from conftest import REPO, run_cli
from helpers.routing_rows import RowEstate

from auditor.audit import load_estate
from auditor.estate.lookup import resolve_subnet
from auditor.routing.compare import compare
from auditor.routing.engine import RoutingModel

S21 = REPO / "fixtures" / "scenarios" / "S21-direct-spoke-peering" / "resources.json"
HERE = REPO / "fixtures" / "routing" / "compare-s21"
BASELINE = HERE / "snet-app.effective-routes.json"
ALTERED = HERE / "snet-app.effective-routes.altered.json"
SUBNET = "spoke-app/snet-app"


def estate_with_service_endpoint(tmp_path: Path) -> Path:
    rows = json.loads(S21.read_text(encoding="utf-8"))
    vnet = next(
        r for r in rows if r["type"] == "microsoft.network/virtualnetworks" and r["name"] == "spoke-app"
    )
    subnet = next(s for s in vnet["properties"]["subnets"] if s["name"] == "snet-app")
    subnet["properties"]["serviceEndpoints"] = [
        {
            "provisioningState": "Succeeded",
            "service": "Microsoft.Storage",
            "locations": ["westeurope", "northeurope"],
        }
    ]
    out = tmp_path / "s21-with-se.json"
    out.write_text(json.dumps(rows), encoding="utf-8")
    return out


def diff_tuples(differences: list[dict]) -> set[tuple]:
    return {(d["kind"], d["prefix"], d["source"], d["azure"], d["model"]) for d in differences}


def test_exports_are_in_the_real_output_shape() -> None:
    for path in (BASELINE, ALTERED):
        doc = json.loads(path.read_text(encoding="utf-8"))
        assert set(doc) == {"nextLink", "value"}
        for item in doc["value"]:
            assert set(item) == {
                "disableBgpRoutePropagation",
                "hasBgpOverride",
                "name",
                "source",
                "state",
                "addressPrefix",
                "nextHopIpAddress",
                "nextHopType",
            }
            assert isinstance(item["addressPrefix"], list) and isinstance(item["nextHopIpAddress"], list)


def test_hand_written_export_matches_the_model(tmp_path: Path) -> None:
    estate = estate_with_service_endpoint(tmp_path)
    code, out, err = run_cli("routes", estate, "--subnet", SUBNET, "--compare", BASELINE, "--format", "json")
    assert code == 0, err
    diffs = json.loads(out)["differences"]
    # only the labelled service-endpoint note: the model keeps the tag, Azure lists 8 prefixes
    assert [(d["kind"], d["prefix"], d["azure"], d["model"]) for d in diffs] == [
        ("note", "Microsoft.Storage", "8 prefixes", "Microsoft.Storage")
    ]
    assert "service endpoint" in diffs[0]["note"]


def test_known_differences_are_reported_exactly(tmp_path: Path) -> None:
    estate = estate_with_service_endpoint(tmp_path)
    code, out, err = run_cli("routes", estate, "--subnet", SUBNET, "--compare", ALTERED, "--format", "json")
    assert code == 1, err
    diffs = json.loads(out)["differences"]
    real = [d for d in diffs if d["kind"] != "note"]
    assert diff_tuples(real) == {
        ("missing", "10.99.0.0/16", "User", "VirtualAppliance 10.0.2.4 Active", None),
        ("extra", "10.0.0.0/16", "Default", None, "VNetPeering Active"),
        ("next-hop", "10.2.0.0/16", "User", "VirtualAppliance 10.0.2.5", "VirtualAppliance 10.0.2.4"),
        ("state", "10.2.1.4/32", "Default", "Active", "Invalid"),
        ("missing", "127.0.0.0/8", "Default", "None Active", None),
    }
    assert len(real) == 5
    by_prefix = {d["prefix"]: d for d in real}
    assert (
        "newer Default route" in by_prefix["127.0.0.0/8"]["note"]
        and "virtual-networks-udr-overview" in by_prefix["127.0.0.0/8"]["note"]
    )
    assert by_prefix["10.99.0.0/16"]["note"] == ""  # an unknown UDR is not excused
    assert (
        "disable-private-endpoint-network-policy" in by_prefix["10.2.1.4/32"]["note"]
    )  # the model says why it is Invalid
    notes = [d for d in diffs if d["kind"] == "note"]
    assert len(notes) == 1 and notes[0]["prefix"] == "Microsoft.Storage"


def test_known_differences_in_the_table_output(tmp_path: Path) -> None:
    estate = estate_with_service_endpoint(tmp_path)
    code, out, _ = run_cli("routes", estate, "--subnet", SUBNET, "--compare", ALTERED)
    assert code == 1
    assert ": 5 difference(s)" in out
    lines = [ln.strip() for ln in out.splitlines()]
    assert any(
        ln.startswith("missing  127.0.0.0/8 [Default]") and "newer Default route" in ln for ln in lines
    )
    assert any(ln.startswith("note") and "Microsoft.Storage" in ln for ln in lines)


def test_compare_ignores_gateway_instance_ips_and_unknown_keys(tmp_path: Path) -> None:
    # the baseline's gateway route carries 10.0.255.4, which ARM does not export: not a difference
    est = load_estate([estate_with_service_endpoint(tmp_path)])
    view = RoutingModel(est).table_for_subnet(resolve_subnet(est, SUBNET).id)
    items = json.loads(BASELINE.read_text(encoding="utf-8"))["value"]
    gw = [i for i in items if i["source"] == "VirtualNetworkGateway"]
    assert gw and gw[0]["nextHopIpAddress"] == ["10.0.255.4"]
    assert [d.kind for d in compare(view, items)] == ["note"]
    # case and spelling variants Azure tools use compare equal, enums case-insensitively
    # (https://learn.microsoft.com/azure/virtual-network/virtual-networks-udr-overview, "Next hop types across
    # Azure tools")
    variant = json.loads(json.dumps(items))
    for i in variant:
        i["source"] = i["source"].lower()
        i["state"] = i["state"].upper()
        if i["nextHopType"] == "VNetPeering":
            i["nextHopType"] = "VirtualNetworkPeering"
    assert [d.kind for d in compare(view, variant)] == ["note"]


def test_compare_without_service_endpoints_has_no_note(tmp_path: Path) -> None:
    b = RowEstate()
    b.vnet("v", "10.9.0.0/16")
    sid = b.subnet("v", "s", "10.9.0.0/24")
    est = b.load(tmp_path)
    view = RoutingModel(est).table_for_subnet(sid)
    items = [r.to_azure() for r in view.routes]
    assert compare(view, items) == []
    # a Default None route the model does not know is labelled, a Default VnetLocal one is not
    extra = [
        *items,
        {"source": "Default", "state": "Active", "addressPrefix": ["127.0.0.0/8"], "nextHopType": "None"},
        {
            "source": "Default",
            "state": "Active",
            "addressPrefix": ["10.8.0.0/16"],
            "nextHopType": "VnetLocal",
        },
    ]
    got = {d.prefix: d for d in compare(view, extra)}
    assert got["127.0.0.0/8"].kind == "missing" and "virtual-networks-udr-overview" in got["127.0.0.0/8"].note
    assert got["10.8.0.0/16"].kind == "missing" and got["10.8.0.0/16"].note == ""
