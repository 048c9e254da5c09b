"""auditor.ids: the comparison key, names, parents and types of resource ids, read one way.

Real cases: every id the demo estate holds (resources and the references between them) is read by
azure-mgmt-core's `parse_resource_id`, and `name_of` / `type_of` / `parent_of` must agree with it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest
from azure.mgmt.core.tools import parse_resource_id
from conftest import REPO

from auditor.audit import load_estate
from auditor.ids import ResourceId, is_resource_id, key, name_of, parent_of, record_name, type_of

DEMO = REPO / "fixtures" / "estates" / "demo-contoso"
RECORDS: list[dict[str, Any]] = json.loads((DEMO / "resources.json").read_text("utf-8"))["data"]

HUB = "/subscriptions/5c3f8a2e-9d41-4b7a-a6e3-2f8b1c0d7e95/resourceGroups/rg-connectivity-hub-weu"
VNET = f"{HUB}/providers/Microsoft.Network/virtualNetworks/vnet-hub-weu"
SUBNET = f"{VNET}/subnets/AzureFirewallSubnet"
ROUTE_TABLE = f"{HUB}/providers/Microsoft.Network/routeTables/rt-gateway-weu"
ROUTE = f"{ROUTE_TABLE}/routes/onprem-to-ai-via-afw"
VMSS_IPCONFIG = (
    "/subscriptions/3f2c8a71-5b0e-4d2a-9c7e-1a2b3c4d5e6f/resourceGroups/rg-hub/providers/Microsoft.Compute/"
    "virtualMachineScaleSets/vmss-nva/virtualMachines/1/networkInterfaces/nic-nva/ipConfigurations/ipconfig1"
)
EXTENSION = (
    f"{HUB}/providers/Microsoft.Storage/storageAccounts/stlogs/providers/Microsoft.Insights/"
    "diagnosticSettings/to-workspace"
)


def demo_ids() -> list[str]:
    """Every resource id in the demo estate: the records' own and every reference (`{"id": ...}`)."""
    found: set[str] = set()

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            for v in value.values():
                walk(v)
        elif isinstance(value, list):
            for v in value:
                walk(v)
        elif isinstance(value, str) and value.startswith("/subscriptions/") and "/providers/" in value:
            found.add(value)

    walk(RECORDS)
    return sorted(found)


IDS = demo_ids()


def test_the_demo_holds_resources_children_and_references() -> None:
    assert len(IDS) > 150
    assert {SUBNET, ROUTE, ROUTE_TABLE, VNET} <= set(IDS)
    assert sum(parse_resource_id(i).get("last_child_num") is not None for i in IDS) > 50  # child resources


@pytest.mark.parametrize("rid", IDS)
def test_every_demo_id_parses_and_the_text_readings_agree_with_parse_resource_id(rid: str) -> None:
    parts = parse_resource_id(rid)
    parsed = ResourceId.parse(rid)
    assert parsed is not None and is_resource_id(rid)
    assert parsed.text == rid and parsed.key == key(rid) == rid.lower()
    assert name_of(rid) == parsed.name == parts["resource_name"]
    assert parsed.subscription == parts["subscription"] and parsed.resource_group == parts["resource_group"]
    assert type_of(rid) == parsed.type
    assert type_of(rid).startswith(f"{str(parts['resource_namespace']).lower()}/{str(parts['type']).lower()}")
    assert type_of(rid).endswith("/" + str(parts["resource_type"]).lower())
    if parts.get("last_child_num"):  # a child: its parent is one level up, and a resource id itself
        assert parent_of(rid) == parsed.parent and is_resource_id(parent_of(rid))
    else:
        assert parsed.parent is None


def test_type_of_is_the_records_type() -> None:
    for rec in RECORDS:
        assert type_of(rec["id"]) == rec["type"], rec["id"]


def test_children_subnets_routes_and_deeper() -> None:
    assert name_of(SUBNET) == "AzureFirewallSubnet"
    assert parent_of(SUBNET) == VNET
    assert type_of(SUBNET) == "microsoft.network/virtualnetworks/subnets"
    assert name_of(ROUTE) == "onprem-to-ai-via-afw"
    assert parent_of(ROUTE) == ROUTE_TABLE
    assert type_of(ROUTE) == "microsoft.network/routetables/routes"
    route = ResourceId.parse(ROUTE)
    assert route is not None
    assert (route.namespace, route.resource_group, route.parent) == (
        "Microsoft.Network",
        "rg-connectivity-hub-weu",
        ROUTE_TABLE,
    )
    # a scale-set instance's NIC's IP configuration: three levels below the scale set
    assert type_of(VMSS_IPCONFIG) == (
        "microsoft.compute/virtualmachinescalesets/virtualmachines/networkinterfaces/ipconfigurations"
    )
    assert parent_of(VMSS_IPCONFIG) == VMSS_IPCONFIG.rsplit("/ipConfigurations/", 1)[0]
    assert parent_of(VMSS_IPCONFIG, levels=2).endswith("/virtualMachineScaleSets/vmss-nva/virtualMachines/1")
    vmss = ResourceId.parse(VMSS_IPCONFIG)
    assert vmss is not None and vmss.type == type_of(VMSS_IPCONFIG) and vmss.name == "ipconfig1"


def test_an_extension_resource_has_its_own_provider_and_type() -> None:
    parsed = ResourceId.parse(EXTENSION)
    assert parsed is not None
    assert type_of(EXTENSION) == parsed.type == "microsoft.insights/diagnosticsettings"
    assert parsed.namespace == "Microsoft.Insights"
    assert parsed.parent == f"{HUB}/providers/Microsoft.Storage/storageAccounts/stlogs"
    assert name_of(EXTENSION) == parsed.name == "to-workspace"


def test_mixed_case_ids_share_a_key_and_find_the_same_resource() -> None:
    shouted = SUBNET.upper()
    lowered = SUBNET.lower()
    assert key(shouted) == key(lowered) == key(SUBNET)
    assert type_of(shouted) == type_of(SUBNET)  # `/PROVIDERS/` is the provider keyword too
    estate = load_estate([DEMO])
    for spelling in (SUBNET, shouted, lowered):
        assert estate.subnets[key(spelling)].id == SUBNET
        assert estate.record(spelling) is estate.record(SUBNET) is not None
        assert estate.name_of(spelling) == "AzureFirewallSubnet"
    # a subnet's VNet is found whatever the casing of the reference
    assert estate.vnets[key(parent_of(shouted))].id == VNET


def test_a_trailing_slash_is_tolerated_by_the_readings_not_by_the_key() -> None:
    slashed = SUBNET + "/"
    assert name_of(slashed) == "AzureFirewallSubnet"
    assert parent_of(slashed) == VNET
    assert type_of(slashed) == type_of(SUBNET)
    parsed = ResourceId.parse(slashed)
    assert parsed is not None and (parsed.name, parsed.parent, parsed.type) == (
        "AzureFirewallSubnet",
        VNET,
        "microsoft.network/virtualnetworks/subnets",
    )
    assert key(slashed) != key(SUBNET)  # the key of the id as found: no other spelling is guessed at
    assert not is_resource_id(slashed)  # is_valid_resource_id rebuilds the id without it


@pytest.mark.parametrize(
    "text",
    [
        "",
        "snet-app",
        "vnet-hub-weu/snet-app",
        "10.20.0.4",
        "on-premises",
        "Microsoft.Network/virtualNetworks/vnet-hub-weu",
        "/subscriptions/5c3f8a2e-9d41-4b7a-a6e3-2f8b1c0d7e95",
        HUB,
        f"{HUB}/providers/Microsoft.Network/virtualNetworks",  # a type without a name
        f"{VNET}/subnets",  # the same, one level down
        f"{SUBNET}/stray",  # a segment left over
    ],
)
def test_text_that_is_not_a_resource_id(text: str) -> None:
    assert type_of(text) == ""
    assert ResourceId.parse(text) is None
    assert name_of(text) == text.rstrip("/").rsplit("/", 1)[-1]
    assert key(text) == text.lower()


def test_tenant_scoped_ids_have_a_type_but_are_not_parsed() -> None:
    mg = "/providers/Microsoft.Management/managementGroups/mg-platform"
    assert type_of(mg) == "microsoft.management/managementgroups"
    assert name_of(mg) == "mg-platform"
    assert ResourceId.parse(mg) is None and not is_resource_id(mg)  # azure-mgmt-core reads subscriptions only


def test_record_name_prefers_the_records_own_name() -> None:
    assert record_name({"id": ROUTE}) == "onprem-to-ai-via-afw"
    assert record_name({"id": ROUTE, "name": ""}) == "onprem-to-ai-via-afw"
    assert record_name({"id": ROUTE, "name": "Shown-Name"}) == "Shown-Name"
    assert record_name({"id": ROUTE + "/"}) == "onprem-to-ai-via-afw"
    for rec in RECORDS:
        assert record_name(rec) == (rec.get("name") or parse_resource_id(rec["id"])["resource_name"])


def test_importing_ids_loads_no_azure_sdk() -> None:
    """The offline audit reads ids everywhere; azure-mgmt-core (and azure.core with it) loads only when
    ResourceId.parse or is_resource_id is called (live collection)."""
    probe = (
        "import sys, auditor.ids as i; i.key('A'); i.name_of('/a/b'); i.type_of('/providers/N/t/n'); "
        "print([m for m in sys.modules if m.split('.')[0] == 'azure'])"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, cwd=REPO, check=True
    ).stdout
    assert out.strip() == "[]"
