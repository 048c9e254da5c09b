"""Every input shape reads to the same estate (same records, same hash, same model).

One small but complete estate (hub/spoke VNets, NVA, firewall, private endpoint, APIM, AI account,
VMSS as Resource Graph's ComputeResources table returns it) is written in ARM form, then converted
by tests/helpers/estate_shapes.py (independently of auditor/estate/normalize.py) to every other shape
the contract lists. Each shape must load without problems and canonicalise to the ARM array's records.
"""

from __future__ import annotations

import copy
import gzip
import json
from pathlib import Path
from typing import Any

import pytest
from conftest import unexpected, write_json
from helpers.estate_shapes import (
    AI,
    APP,
    APP_NIC,
    HUB,
    NSG,
    NVA_NIC,
    RT,
    SHAPES,
    base_estate,
    rg_row,
    write_shape,
)

from auditor.audit import estate_sha256, load_estate
from auditor.problems import EXPORT_INCOMPLETE, SCOPE_FAILED

# resources + the children nested in them that the contract merges by id (subnets, peerings, routes, NSG rules)
EXPECTED_RECORDS = 22 + 7 + 1 + 2 + 1


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory):
    estate = load_estate(write_shape("arm-array", tmp_path_factory.mktemp("ref")))
    assert unexpected(estate.problems) == []
    return estate


@pytest.mark.parametrize("shape", SHAPES)
def test_every_shape_reads_to_the_same_estate(shape: str, tmp_path: Path, reference) -> None:
    estate = load_estate(write_shape(shape, tmp_path))
    assert [p.line() for p in estate.problems] == []
    assert estate.resource_count == EXPECTED_RECORDS
    assert set(estate.records) == set(reference.records)
    for key, rec in reference.records.items():
        assert estate.records[key] == rec, f"{shape}: canonical record differs for {key}"
    assert estate_sha256(estate) == estate_sha256(reference)
    assert estate.unknown_types == {}
    # the typed model is shape-independent too
    assert set(estate.subnets) == set(reference.subnets)
    assert {k: (v.kind, v.id) for k, vs in estate.ip_owners.items() for v in vs} == {
        k: (v.kind, v.id) for k, vs in reference.ip_owners.items() for v in vs
    }


# ---------------------------------------------------------------- shape-specific behaviour


def test_resource_graph_bookkeeping_is_ignored_but_paging_leftovers_are_not(tmp_path: Path) -> None:
    rows = [rg_row(r) for r in base_estate()]
    # az graph query prints `skip_token: null` and `total_records`; REST prints `$skipToken` only when paging
    clean = load_estate(
        [
            write_json(
                tmp_path,
                "clean.json",
                {
                    "count": 3,
                    "data": rows,
                    "skip_token": None,
                    "totalRecords": 999,
                    "resultTruncated": "false",
                },
            )
        ]
    )
    assert unexpected(clean.problems) == []
    # a non-empty skip token means later pages were never exported: never "complete" on partial data
    paged = load_estate(
        [write_json(tmp_path, "paged.json", {"data": rows, "$skipToken": "ew0KICAiJGlkIjogIjEiLA0K"})]
    )
    truncated = load_estate([write_json(tmp_path, "trunc.json", {"data": rows, "resultTruncated": "true"})])
    for estate, field in ((paged, "$skipToken"), (truncated, "resultTruncated")):
        [problem] = estate.problems
        assert (problem.field, problem.effect) == (field, EXPORT_INCOMPLETE)
        assert estate.resource_count == EXPECTED_RECORDS  # what was exported is still audited


def test_arm_list_next_link_marks_the_export_incomplete(tmp_path: Path) -> None:
    estate = base_estate()
    path = write_json(
        tmp_path,
        "vnets.json",
        {
            "value": estate[:3],
            "nextLink": "https://management.azure.com/subscriptions/x/providers/Microsoft.Network/virtualNetworks?api-version=2024-05-01&$skipToken=abc",
        },
    )
    model = load_estate([path])
    [problem] = unexpected(model.problems)  # the VNets' route tables are not in this one file either
    assert (problem.file, problem.field, problem.effect) == (str(path), "nextLink", EXPORT_INCOMPLETE)
    assert set(model.vnets) == {HUB.lower(), APP.lower(), AI.lower()}


def test_snapshot_failed_scopes_collected_at_and_effective_routes(tmp_path: Path) -> None:
    route = {
        "source": "User",
        "state": "Active",
        "addressPrefix": ["10.2.0.0/16"],
        "nextHopType": "VirtualAppliance",
        "nextHopIpAddress": ["10.0.2.4"],
    }
    path = write_json(
        tmp_path,
        "snap.json",
        {
            "schema": "pathaudit/snapshot@1",
            "collected_at": "2026-11-23T10:00:00Z",
            "coverage": {
                "complete": False,
                "failed": [
                    {
                        "scope": "/subscriptions/00000000-0000-0000-0000-000000000002",
                        "type": "microsoft.network/routetables",
                        "error": "AuthorizationFailed: no read permission",
                    }
                ],
            },
            "resources": base_estate(),
            "extras": {"effective_routes": {APP_NIC: [route], NVA_NIC: {"value": [route, route]}}},
        },
    )
    estate = load_estate([path])
    assert estate.collected_at == "2026-11-23T10:00:00Z"
    [problem] = estate.problems
    assert problem.effect == SCOPE_FAILED
    assert (problem.resource_id, problem.field) == (
        "/subscriptions/00000000-0000-0000-0000-000000000002",
        "microsoft.network/routetables",
    )
    assert "AuthorizationFailed" in problem.problem
    assert estate.effective_routes == {APP_NIC.lower(): [route], NVA_NIC.lower(): [route, route]}
    assert estate.resource_count == EXPECTED_RECORDS
    # in the findings document: under coverage.skipped, and the audit exits 3 (README, exit codes)
    from conftest import run_cli

    code, out, _ = run_cli("audit", path, "--format", "json", "--fail-on", "never")
    doc = json.loads(out)
    assert code == 3
    assert doc["estate"]["collected_at"] == "2026-11-23T10:00:00Z"
    assert [(s["resource_id"], s["effect"]) for s in doc["coverage"]["skipped"]] == [
        ("/subscriptions/00000000-0000-0000-0000-000000000002", "scope not collected")
    ]
    # a snapshot that says it is incomplete without naming a scope is still incomplete
    bare = load_estate(
        [
            write_json(
                tmp_path,
                "bare.json",
                {"schema": "pathaudit/snapshot@1", "resources": [], "coverage": {"complete": False}},
            )
        ]
    )
    assert [p.effect for p in bare.problems] == [SCOPE_FAILED]


def test_directories_are_read_recursively_json_and_json_gz_only(tmp_path: Path) -> None:
    estate = base_estate()
    root = tmp_path / "export"
    write_json(root, "a/b/c/hub.json", estate[0])
    (root / "a" / "spokes.json.gz").write_bytes(gzip.compress(json.dumps(estate[1:3]).encode()))
    (root / "notes.txt").write_text("not an estate")
    (root / "a" / "b" / "old.json.bak").write_text("{broken")
    (root / "a" / "rows.csv").write_text("id,type\n")
    model = load_estate([root])
    assert unexpected(model.problems) == []
    assert set(model.vnets) == {HUB.lower(), APP.lower(), AI.lower()}
    assert model.inputs == [str(root / "a" / "b" / "c" / "hub.json"), str(root / "a" / "spokes.json.gz")]


def subnet_pair(vnet_first: bool) -> list[dict[str, Any]]:
    """A VNet with a nested subnet and the same subnet exported on its own with different id/type casing."""
    nested = {
        "id": f"{AI}/subnets/snet-pe",
        "name": "snet-pe",
        "properties": {"addressPrefix": "10.2.1.0/24"},
    }
    vnet = {
        "id": AI,
        "name": "spoke-ai",
        "type": "Microsoft.Network/virtualNetworks",
        "location": "westeurope",
        "properties": {"addressSpace": {"addressPrefixes": ["10.2.0.0/16"]}, "subnets": [nested]},
    }
    standalone = {
        "id": f"{AI}/SUBNETS/SNET-PE".replace("/resourceGroups/rg-net/", "/resourcegroups/RG-NET/"),
        "name": "snet-pe",
        "type": "MICROSOFT.NETWORK/VIRTUALNETWORKS/SUBNETS",
        "properties": {
            "addressPrefix": "10.2.1.0/24",
            "privateEndpointNetworkPolicies": "routetableenabled",
            "networkSecurityGroup": {"id": NSG},
            "routeTable": {"id": RT},
        },
    }
    return [vnet, standalone] if vnet_first else [standalone, vnet]


@pytest.mark.parametrize("vnet_first", [True, False])
def test_nested_and_standalone_subnet_merge_keeping_the_richer_copy(vnet_first: bool, tmp_path: Path) -> None:
    estate = load_estate([write_json(tmp_path, "e.json", subnet_pair(vnet_first))])
    assert unexpected(estate.problems) == []  # the nested copy is contained in the standalone one
    assert estate.resource_count == 2
    [subnet] = estate.subnets.values()
    assert (subnet.pe_policies, subnet.pe_policies_set) == ("RouteTableEnabled", True)
    assert (subnet.nsg_id, subnet.route_table_id) == (NSG, RT)
    assert [s.lower() for s in estate.vnets[AI.lower()].subnet_ids] == [f"{AI}/subnets/snet-pe".lower()]
    # ... and the merge does not depend on which file or position came first
    other = load_estate([write_json(tmp_path, "f.json", subnet_pair(not vnet_first))])
    assert estate_sha256(other) == estate_sha256(estate)


def test_standalone_children_in_separate_files_merge_with_their_parents(tmp_path: Path) -> None:
    estate = base_estate()
    rt = next(r for r in estate if r["id"] == RT)
    # `az network route-table route show`: the same route, with a property the nested copy lacks
    standalone_route = copy.deepcopy(
        {**rt["properties"]["routes"][0], "type": "Microsoft.Network/routeTables/routes"}
    )
    standalone_route["id"] = standalone_route["id"].upper()
    standalone_route["properties"]["hasBgpOverride"] = False
    files = [write_json(tmp_path, "rt.json", rt), write_json(tmp_path, "route.json", standalone_route)]
    model = load_estate(files)
    assert unexpected(model.problems) == []
    assert [r.name for r in model.route_tables[RT.lower()].routes] == ["default", "to-ai"]
    kept = model.records[f"{RT}/routes/default".lower()]
    assert kept["properties"]["hasBgpOverride"] is False
    assert model.files[f"{RT}/routes/default".lower()] == str(tmp_path / "route.json")


# ---------------------------------------------------------------- same estate, three shapes, same bytes

DEMO = Path(__file__).resolve().parent.parent / "fixtures" / "estates"
DEMO_SHAPES = {
    "resource-graph": DEMO / "demo-contoso" / "resources.json",
    "arm-array": DEMO / "demo-contoso-shapes" / "arm-array" / "resources.json",
    "az-cli": DEMO / "demo-contoso-shapes" / "az-cli" / "resources.json",
}


def test_demo_estate_in_three_shapes_audits_to_the_same_bytes() -> None:
    import re

    from conftest import run_cli

    missing = [str(p) for p in DEMO_SHAPES.values() if not p.is_file()]
    assert not missing, f"demo estate shapes missing: {missing}"
    runs = {name: run_cli("audit", path, "--format", "json") for name, path in DEMO_SHAPES.items()}
    codes = {name: code for name, (code, _, _) in runs.items()}
    assert len(set(codes.values())) == 1, codes
    docs = {}
    raws = {}
    for name, (_, out, err) in runs.items():
        assert "Traceback" not in err
        doc = json.loads(out)
        assert doc["estate"]["inputs"] == [str(DEMO_SHAPES[name])]
        doc["estate"].pop("inputs")
        docs[name] = json.dumps(doc, sort_keys=True)
        # raw bytes, with only the inputs array replaced
        raw, n = re.subn(r'"inputs": \[[^\]]*\]', '"inputs": []', out)
        assert n == 1
        raws[name] = raw.encode()
    assert docs["arm-array"] == docs["resource-graph"]
    assert docs["az-cli"] == docs["resource-graph"]
    assert raws["arm-array"] == raws["resource-graph"]
    assert raws["az-cli"] == raws["resource-graph"]
    parsed = json.loads(docs["resource-graph"])
    assert parsed["coverage"]["complete"] is True
    assert parsed["findings"], "the demo estate is meant to have findings"
