"""Issue #3 acceptance 1: the azure-rest-api-specs effective-route example, reproduced exactly.

The expected routes are the REST example itself (https://learn.microsoft.com/rest/api/virtualnetwork/network-interfaces/get-effective-route-table), read from the stored upstream
copy when it is present and from our verbatim copy otherwise; the estate is the VNet the example
implies (fixtures/routing/README.md).
"""

from __future__ import annotations

import json
from pathlib import Path

from conftest import REPO, run_cli

HERE = REPO / "fixtures" / "routing" / "rest-example"
ESTATE = HERE / "resources.json"
AZURE = HERE / "nic1.effective-routes.json"
UPSTREAM = (
    REPO.parent
    / "shared"
    / "real-world"
    / "arm-examples"
    / "network"
    / "2024-07-01"
    / "NetworkInterfaceEffectiveRouteTableList.json"
)
KEYS = ("source", "state", "addressPrefix", "nextHopType", "nextHopIpAddress")


def example_routes() -> list[dict]:
    return json.loads(AZURE.read_text(encoding="utf-8"))["value"]


def project(items: list[dict]) -> list[tuple]:
    return [tuple(json.dumps(item[k]) for k in KEYS) for item in items]


def test_fixture_is_a_verbatim_copy_of_the_upstream_example() -> None:
    if not UPSTREAM.is_file():  # the shared folder is not shipped with the repository
        return
    upstream = json.loads(UPSTREAM.read_text(encoding="utf-8"))
    assert upstream["parameters"]["networkInterfaceName"] == "nic1"
    assert example_routes() == upstream["responses"]["200"]["body"]["value"]


def test_the_example_is_the_six_documented_defaults() -> None:
    # https://learn.microsoft.com/azure/virtual-network/virtual-networks-udr-overview and the REST API example
    # NetworkInterfaceEffectiveRouteTableList.json (Azure/azure-rest-api-specs,
    # Microsoft.Network stable/2023-09-01):
    # VnetLocal for the VNet range, Internet, and None for four reserved ranges
    got = [(r["addressPrefix"][0], r["nextHopType"]) for r in example_routes()]
    assert got == [
        ("172.20.2.0/24", "VnetLocal"),
        ("0.0.0.0/0", "Internet"),
        ("10.0.0.0/8", "None"),
        ("100.64.0.0/10", "None"),
        ("172.16.0.0/12", "None"),
        ("192.168.0.0/16", "None"),
    ]


def test_routes_json_reproduces_the_example_entries_and_order() -> None:
    code, out, err = run_cli("routes", ESTATE, "--subnet", "vnet1/default", "--format", "json")
    assert code == 0, err
    assert err == ""
    got = json.loads(out)["value"]
    assert project(got) == project(example_routes())


def test_routes_by_subnet_id_gives_the_same_table() -> None:
    sid = "/subscriptions/subid/resourceGroups/rg1/providers/Microsoft.Network/virtualNetworks/vnet1/subnets/default"
    code, out, _ = run_cli("routes", ESTATE, "--subnet", sid.upper(), "--format", "json")
    assert code == 0
    assert project(json.loads(out)["value"]) == project(example_routes())


def test_compare_with_the_real_example_reports_no_difference(tmp_path: Path) -> None:
    code, out, err = run_cli(
        "routes", ESTATE, "--subnet", "vnet1/default", "--compare", AZURE, "--format", "json"
    )
    assert code == 0, err
    doc = json.loads(out)
    assert doc["differences"] == []
    assert doc["subnet"].endswith("/virtualNetworks/vnet1/subnets/default")

    code, out, _ = run_cli("routes", ESTATE, "--subnet", "vnet1/default", "--compare", AZURE)
    assert code == 0
    assert ": 0 difference(s)" in out
